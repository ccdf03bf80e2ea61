import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { provinceSummary } from '../../cli/start.js';
import { FAULTS_PATH, faultRoute } from '../../simulator/hall-view/province.js';
import { faultSpecSchema } from '../../simulator/province-http/faults.js';
import { printedShort, send, short, type Junk } from '../support/fuzz-http.js';

/**
 * The hall view's fault buttons: what its page sends is checked, then passed on to the province
 * emulator's /_emulator/faults, and its answer relayed; a call from anywhere but the page is
 * refused and never reaches the emulator. The emulator here is a fake fetch that records calls.
 */
const EMULATOR = 'http://127.0.0.1:1';
let forwarded: Array<{ url: string; method: string; body: string | undefined }> = [];
let emulatorDown = false;
const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  if (emulatorDown) throw new TypeError('fetch failed');
  const body = typeof init?.body === 'string' ? init.body : undefined;
  forwarded.push({ url: String(input), method: init?.method ?? 'GET', body });
  return new Response(JSON.stringify(init?.method === 'POST' ? { fault: JSON.parse(body ?? 'null') as unknown } : { faults: [] }), { status: 200 });
}) as typeof fetch;

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    faultRoute(req, path, { emulatorUrl: EMULATOR, fetch: fakeFetch }).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      () => res.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  forwarded = [];
  emulatorDown = false;
});

const json = { 'content-type': 'application/json' };
const post = (body: string, headers: Record<string, string> = json) => send(base, { method: 'POST', path: FAULTS_PATH, headers, body });

describe('the hall view passes faults on to the province emulator', () => {
  it('a fault from its page reaches /_emulator/faults as sent, and the answer comes back', async () => {
    const answer = await post('{"kind":"server_error","status":502,"calls":3}', { ...json, origin: base });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ fault: { kind: 'server_error', status: 502, calls: 3 } });
    expect(forwarded).toEqual([{ url: `${EMULATOR}/_emulator/faults`, method: 'POST', body: '{"kind":"server_error","status":502,"calls":3}' }]);
  });

  it('clears all faults, or one kind; an unknown kind is refused here', async () => {
    const header = { 'x-hcp-request': '1' };
    expect((await send(base, { method: 'DELETE', path: FAULTS_PATH, headers: header, body: undefined })).status).toBe(200);
    expect((await send(base, { method: 'DELETE', path: `${FAULTS_PATH}/slow`, headers: header, body: undefined })).status).toBe(200);
    const unknown = await send(base, { method: 'DELETE', path: `${FAULTS_PATH}/meteor`, headers: header, body: undefined });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('down|slow|server_error|rate_limited|malformed');
    expect(forwarded.map((f) => `${f.method} ${f.url}`)).toEqual([`DELETE ${EMULATOR}/_emulator/faults`, `DELETE ${EMULATOR}/_emulator/faults/slow`]);
  });

  it.each([
    ['another page (Origin)', { ...json, origin: 'http://evil.example' }, '{"kind":"down"}', 403, /only the hall view's own page/],
    ['a form post (no JSON type)', { 'content-type': 'text/plain' }, '{"kind":"down"}', 415, /content-type: application\/json/],
    ['a rebound name (Host)', { ...json, host: 'evil.example' }, '{"kind":"down"}', 421, /Host .*evil\.example.*open it as 127\.0\.0\.1 or localhost/],
    ['not JSON', json, '{kind: down}', 400, /not JSON/],
    ['not a fault', json, '{"kind":"slow"}', 400, /delayMs/],
    ['a fault with a field too many', json, '{"kind":"down","mode":"closed","forever":true}', 400, /forever/],
    ['too large', json, `{"kind":"down","x":"${'a'.repeat(5000)}"}`, 413, /at most 4096 bytes/],
  ])('refuses %s, and the emulator never hears of it', async (_what, headers, body, status, message) => {
    const answer = await post(body, headers);
    expect(answer.status).toBe(status);
    expect(answer.text).toMatch(message);
    expect(forwarded).toEqual([]);
  });

  it('says so when the emulator does not answer (its port closed by a refused fault)', async () => {
    emulatorDown = true;
    const answer = await post('{"kind":"slow","delayMs":100}');
    expect(answer.status).toBe(502);
    expect(answer.text).toContain(`the province emulator at ${EMULATOR}/_emulator/faults did not answer`);
  });

  it('answers any request, and passes on only a fault from a loopback page', async () => {
    const specs = fc.oneof(
      fc.constant({ kind: 'down', mode: 'closed' }),
      fc.record({ kind: fc.constant('slow'), delayMs: fc.integer({ min: -10, max: 700_000 }) }),
      fc.record({ kind: fc.constantFrom('server_error', 'rate_limited', 'malformed', 'meteor'), calls: fc.integer({ min: -1, max: 3 }) }, { requiredKeys: ['kind'] }),
      fc.jsonValue(),
    );
    const junk = fc.record({
      method: fc.constantFrom('POST', 'DELETE', 'GET', 'PUT'),
      path: fc.constantFrom(FAULTS_PATH, `${FAULTS_PATH}/down`, `${FAULTS_PATH}/`, `${FAULTS_PATH}/..`, `${FAULTS_PATH}/${'x'.repeat(300)}`),
      headers: fc.record(
        {
          'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'APPLICATION/JSON'),
          origin: fc.constantFrom('http://evil.example', 'null', 'https://127.0.0.1'),
          host: fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'evil.example', '127.0.0.1.nip.io', 'localhost:1'),
          'x-hcp-request': fc.constantFrom('1', '0'),
        },
        { requiredKeys: [] },
      ),
      body: fc.oneof(specs.map((v) => JSON.stringify(v)), fc.string({ maxLength: 200 })),
    }).map((j) => printedShort(j as Junk));
    let passedOn = 0;
    await fc.assert(
      fc.asyncProperty(junk, async (j) => {
        forwarded = [];
        const { status } = await send(base, j);
        passedOn += forwarded.length;
        expect(status, short(j)).toBeGreaterThanOrEqual(200);
        expect(status, short(j)).toBeLessThan(500);
        for (const call of forwarded) {
          if (call.method === 'POST') expect(faultSpecSchema.safeParse(JSON.parse(call.body ?? 'null')).success, short(j)).toBe(true);
        }
        if (forwarded.length) {
          expect(j.headers.origin, short(j)).toBeUndefined();
          expect(['localhost', '127.0.0.1', '[::1]', 'localhost:1', undefined], short(j)).toContain(j.headers.host);
        }
      }),
      { seed: 20261130, numRuns: 300 },
    );
    expect(passedOn).toBeGreaterThan(0); // not vacuous: some calls got through

  });
});

describe("hcp start's closing line on the province", () => {
  it('puts what the emulator holds beside the delivery rows by state', () => {
    const refused = { bad_signature: 1, unknown_service: 2 } as unknown as Parameters<typeof provinceSummary>[0]['refused'];
    const line = provinceSummary({ duplicates: { service: 0, evaluation: 1 }, refused }, { services: [1, 2, 3], evaluations: [1, 2] }, { delivered: 3, service: 1, evaluation: 1, rejected: 2 });
    expect(line).toBe('province emulator received 3 services and 2 evaluations (1 duplicate evaluations, 3 refused); gateway delivery: 3 cases delivered, 2 waiting, 2 rejected');
    expect(provinceSummary({ duplicates: { service: 0, evaluation: 0 }, refused }, { services: [], evaluations: [] }, { skipped: 4 })).toMatch(/0 cases delivered, 0 waiting, 0 rejected, 4 skipped$/);
  });
});
