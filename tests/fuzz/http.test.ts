import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathChars, printedShort, send, short, type Junk } from '../support/fuzz-http.js';
import { createApiServer, type ApiContext } from '../../bridge/http/api.js';
import { StaffSignIn } from '../../bridge/http/staff-sign-in.js';
import { hashPin } from '../../bridge/province/staff-pin.js';
import { CANCEL_REASONS } from '../../protocol/cancel-reasons.js';
import { apiRefusalSchema } from '../../protocol/http-api.js';
import type { StaffRoster } from '../../protocol/province-config.js';
import { REFUSALS } from '../../protocol/refusals.js';
import { ANNOUNCEMENTS } from '../../protocol/voice-prompts.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { HallFixture } from '../support/hall-fixture.js';

/**
 * The bridge's HTTP API, fuzzed from outside against a real bridge (SimWindow: virtual terminal,
 * SQLite, broker, province): random paths (`//`, %-encodings, very long), methods, headers and
 * bodies on every route, while a citizen rates. Invariants: the bridge lives and answers; every
 * refusal is `{error:{code,message}}` with its code's status, says where (the path or the field),
 * and is counted; nothing junk is a 500; each legitimate rating reaches the province exactly once.
 */
const SEED = 20261130;
const NUM_RUNS = 60;

const segment = fc.oneof(fc.string({ unit: pathChars, maxLength: 12 }), fc.uuid(), fc.constant(''));
const ROUTES = [
  '/api/v1/status',
  '/api/v1/meta',
  '/api/v1/staff/sign-in',
  '/api/v1/staff/sign-out',
  '/api/v1/staff/pause',
  '/api/v1/staff/resume',
  '/api/v1/announce',
  '/api/v1/stats/today',
  '/api/v1/invitations',
  '/api/v1/invitations/current',
  '/api/v1/invitations/:id',
  '/api/v1/invitations/:id/receipt',
  '/api/v1/invitations/:id/cancel',
  '/',
  '/console.js',
];
const path = fc.oneof(
  fc.tuple(fc.constantFrom(...ROUTES), segment).map(([route, id]) => route.replace(':id', id)),
  fc.tuple(fc.constantFrom('', '/', '//', '///'), fc.constantFrom(...ROUTES), fc.string({ unit: pathChars, maxLength: 6 })).map(([pre, route, post]) => `${pre}${route}${post}`),
  fc.string({ unit: pathChars, maxLength: 40 }).map((p) => `/${p}`),
  fc.constantFrom('//', '///', '//[', '//@', '//host:99999/x', '/%', '/api/v1/invitations/%E0%A4%A/cancel'),
  fc.integer({ min: 1000, max: 7000 }).map((n) => `/api/v1/${'a%2F'.repeat(n / 4)}`),
);
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.record({ staffId: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()) }).map((v) => JSON.stringify(v)),
  fc
    .record({
      services: fc.array(fc.record({ itemCode: fc.string({ maxLength: 10 }), caseNo: fc.string({ maxLength: 10 }) }, { requiredKeys: [] }), { maxLength: 3 }),
      mode: fc.constantFrom('single', 'batch', 'theme', 'x'),
      test: fc.boolean(),
      extra: fc.anything(),
    }, { requiredKeys: [] })
    .map((v) => JSON.stringify(v)),
  // A cancel: a known reason code or any text.
  fc.record({ reason: fc.oneof(fc.constantFrom(...Object.keys(CANCEL_REASONS)), fc.string({ maxLength: 30 })) }).map((v) => JSON.stringify(v)),
  fc.record({ prompt: fc.oneof(fc.constantFrom(...ANNOUNCEMENTS, 'invite', 'GREETING', '__proto__'), fc.string({ maxLength: 30 }), fc.integer()), extra: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
);
const body = fc.oneof(
  fc.constant(undefined),
  jsonBody,
  fc.string({ maxLength: 100 }),
  fc.constantFrom('{', '[[[[', '\uFEFF{}', 'null', '"x"'),
  fc.integer({ min: 64 * 1024, max: 200 * 1024 }).map((n) => `{"staffId":"${'x'.repeat(n)}"}`),
);

const junk: fc.Arbitrary<Junk> = fc
  .record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), fc.stringMatching(/^[A-Z]{1,10}$/)),
  path,
  headers: fc.record(
    {
      'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'APPLICATION/JSON', 'multipart/form-data', ''),
      authorization: fc.constantFrom('Bearer x', 'Basic a', ''),
      // What another page or a rebound name sends: refused as such, never a 500.
      // PORT: the bridge's own port, filled in when sent (a name in http.allowedHosts, at another port or without one).
      host: fc.constantFrom('window3.hall.local:PORT', 'WINDOW3.hall.local.:PORT', 'window3.hall.local', 'WINDOW3.hall.local.', 'window3.hall.local:1', 'evil.example', 'evil.example:8080', 'localhost', 'localhost:1', '[::1]', '[::1', 'a:b:c', '127.0.0.1.nip.io', '127.0.0.1:99999', ''),
      origin: fc.constantFrom('null', 'http://evil.example', 'https://localhost', 'http://', 'http://127.0.0.1:1', 'x', ''),
      'x-hcp-request': fc.constantFrom('1', '0', ''),
      // TOKEN: the window's real technician token, filled in when sent.
      'x-hcp-technician-token': fc.constantFrom('', 'x', 'TOKEN'),
      'x-junk': fc.string({ unit: fc.constantFrom(...'abc-=;, '.split('')), maxLength: 30 }),
    },
    { requiredKeys: [] },
  ),
  body,
}).map(printedShort);
/** The request with its placeholders filled in: PORT in Host (the bridge's port), TOKEN (the real technician token). */
function filledIn(j: Junk, w: SimWindow): Junk {
  const port = new URL(w.bridge.httpUrl).port;
  const token = Object.values(w.asTechnician())[0] ?? '';
  const headers = Object.fromEntries(
    Object.entries(j.headers).map(([name, value]) => [name, name === 'host' ? value.replace('PORT', port) : name === 'x-hcp-technician-token' && value === 'TOKEN' ? token : value]),
  );
  return printedShort({ ...j, headers });
}

/** What a refusal must say about where: the path it was sent to, or the field of the body. */
function checkRefusal(j: Junk, status: number, text: string): void {
  const refusal = apiRefusalSchema.parse(JSON.parse(text));
  const { code, message, field } = refusal.error;
  expect(status, short(j)).toBe(REFUSALS[code].status);
  expect(code, short(j)).not.toBe('internal');
  expect(message.length).toBeGreaterThan(5);
  const where = j.path.split(/[?#]/, 1)[0] ?? '';
  if (code === 'not_found' && !message.startsWith('no invitation')) expect(message).toContain(where.slice(0, 100));
  if (code === 'method_not_allowed') expect(message).toContain(j.method);
  if (code === 'host_not_allowed' && j.headers.host !== undefined) expect(message).toContain(j.headers.host);
  if (code === 'invalid_request') expect(field ?? message).toMatch(/\w/);
}

describe('HTTP API, fuzzed from outside while a citizen rates', () => {
  let broker: EmbeddedBroker;
  let hall: HallFixture;
  let w: SimWindow;

  beforeAll(async () => {
    broker = await EmbeddedBroker.start({ port: 0 });
    hall = await HallFixture.start(broker.url);
    w = await hall.window({ config: { http: { allowedHosts: ['window3.hall.local'] } } });
  });
  afterAll(async () => {
    await hall.close();
    await broker.stop();
  });

  it('lives, refuses each junk request with what and where, and delivers each rating once', async () => {
    const ratings: string[] = [];
    let refused = 0;
    const rejectedBefore = Object.values(w.bridge.status().http.rejected).reduce((a, b) => a + b, 0);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(junk, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 4 }), async (requests, button) => {
        n += 1;
        // Junk staff may have signed out or in, or paused the window; the window's own staff signs in again and resumes.
        await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S-FUZZ' });
        await w.api('POST', '/api/v1/staff/resume');
        const id = await w.invite({ services: [{ itemCode: '330106-XK-0012', caseNo: `C-HTTP-${n}` }] });
        await waitUntil(() => w.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
        // The junk and the press at once: the citizen does not wait for the junk.
        const sent = requests.map((j) => filledIn(j, w));
        const [answers] = await Promise.all([Promise.all(sent.map((j) => send(w.bridge.httpUrl, j))), w.terminal.press(button)]);
        answers.forEach(({ status, text }, i) => {
          const j = sent[i]!;
          expect(status, short(j)).toBeGreaterThanOrEqual(200);
          expect(status, short(j)).toBeLessThan(500);
          if (status >= 400 && j.method !== 'HEAD') checkRefusal(j, status, text);
          if (status >= 400) refused += 1;
        });
        ratings.push(id);
        await waitUntil(() => w.bridge.desk.current() === undefined, `invitation ${id} to close`);
      }),
      { seed: SEED, numRuns: NUM_RUNS, endOnFailure: true },
    );
    const records = await hall.expectExactlyOnce(w, ratings);
    expect(records.every((r) => r.kind === 'invitation' && r.outcome === 'rated')).toBe(true);
    const status = w.bridge.status();
    // Every refusal counted once: the window's own calls above were all accepted.
    expect(Object.values(status.http.rejected).reduce((a, b) => a + b, 0) - rejectedBefore).toBe(refused);
    expect((await w.api('GET', '/api/v1/status')).status).toBe(200);
    // The name in http.allowedHosts opens the API at the bridge's port; another name does not.
    const at = (host: string): Junk => filledIn({ method: 'GET', path: '/api/v1/status', headers: { host }, body: undefined }, w);
    expect((await send(w.bridge.httpUrl, at('window3.hall.local:PORT'))).status).toBe(200);
    expect((await send(w.bridge.httpUrl, at('evil.example:PORT'))).status).toBe(REFUSALS.host_not_allowed.status);
  });
});

describe('staff sign-in, fuzzed: hostile bodies and PINs against a roster', () => {
  const PIN = '246810';
  const CHEAP = { N: 2 ** 12, r: 1, p: 1 };
  let roster: StaffRoster;
  beforeAll(async () => {
    roster = { version: 'f1', staff: [{ staffId: 'S1001', name: '张三', pin: await hashPin(PIN, CHEAP) }, { staffId: 'S1002', name: '李四', pin: await hashPin('13579', CHEAP) }] };
  });

  const staffId = fc.oneof(fc.constantFrom('S1001', 'S1002', 's1001', 'S1001 ', ' S1001', 'S1001\u0000', '', '__proto__', 'constructor', 'S1001'.repeat(20)), fc.string({ maxLength: 70 }), fc.integer());
  /** Anything but the right PIN as a string: near misses, other digits, other types. */
  const pin = fc.oneof(
    fc.constantFrom('２４６８１０', '246810 ', ' 246810', '246810\u0000', '246810\n', '0246810', '24681', '2468100', '246810'.repeat(3), '٢٤٦٨١٠', '13579'),
    fc.stringMatching(/^\d{1,14}$/),
    fc.string({ maxLength: 40 }),
    fc.integer(),
    fc.constantFrom(246810, 246810.0, null, true, ['246810'], { pin: '246810' }),
  );
  const hostile = fc.oneof(
    fc.record({ staffId, pin }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
    fc.record({ staffId: fc.constant('S1001'), pin: fc.constant(PIN), extra: fc.jsonValue() }).map((b) => JSON.stringify(b)),
    fc.constantFrom(`{"__proto__":{"pin":"${PIN}"},"staffId":"S1001"}`, `{"staffId":"S1001","pin":"${PIN}"`, `["S1001","${PIN}"]`, `{"staffId":["S1001"],"pin":"${PIN}"}`, `{"staffId":"S1001","pin":{"toString":"${PIN}"}}`),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  ).filter((text) => text !== JSON.stringify({ staffId: 'S1001', pin: PIN }) && text !== JSON.stringify({ pin: PIN, staffId: 'S1001' }));

  /** A guesser at one id: well-formed wrong PINs, sent together. */
  const burst = fc.array(fc.stringMatching(/^\d{4,12}$/).filter((p) => p !== PIN), { maxLength: 10 }).map((pins) => pins.map((p) => JSON.stringify({ staffId: 'S1001', pin: p })));

  it('never signs anybody in, never answers 5xx, hashes at most 5 guesses per staff id per window, and never logs a PIN', async () => {
    const signedIn: string[] = [];
    const logged: string[] = [];
    let nowMs = 0;
    const none = (): never => {
      throw new Error('not called here');
    };
    const ctx: ApiContext = {
      desk: { signIn: (id) => void signedIn.push(id), signOut: none, invite: none, cancel: none, current: () => undefined, lookup: () => undefined, staffId: null, paused: false, setPaused: none },
      staffSignIn: new StaffSignIn({ roster: () => roster, allowUnverified: false, now: () => nowMs }),
      reprint: none,
      today: none,
      token: undefined,
      businessToken: undefined,
      technicianToken: undefined,
      allowedHosts: [],
      logger: pino({ level: 'debug', timestamp: false, base: undefined }, { write: (line: string) => void logged.push(line) }),
      status: () => ({}),
      countRejected: () => undefined,
      announce: () => undefined,
    };
    const server = createApiServer(ctx).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(hostile, { minLength: 1, maxLength: 8 }), burst, async (junkBodies, guesses) => {
          const bodies = [...junkBodies, ...guesses];
          nowMs += 10 * 60_000; // a fresh failure window each run
          logged.length = 0;
          const answers = await Promise.all(
            bodies.map(async (text) => {
              const res = await fetch(`${url}/api/v1/staff/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
              return { text, status: res.status, body: (await res.json()) as unknown };
            }),
          );
          const hashed = new Map<string, number>();
          for (const { text, status, body } of answers) {
            expect(status, text).toBeGreaterThanOrEqual(400);
            expect(status, text).toBeLessThan(500);
            const { code } = apiRefusalSchema.parse(body).error;
            expect(REFUSALS[code].status, text).toBe(status);
            if (code === 'staff_not_verified') {
              const id = (JSON.parse(text) as { staffId: string }).staffId;
              hashed.set(id, (hashed.get(id) ?? 0) + 1);
            }
          }
          for (const [id, n] of hashed) expect(n, id).toBeLessThanOrEqual(5);
          const ids = bodies.join(' ');
          const pins = bodies.flatMap((text) => [...text.matchAll(/"pin":"(\d{6,})"/g)].map((m) => m[1]!)).filter((p) => !ids.replace(/"pin":"\d+"/g, '').includes(p));
          for (const p of pins) expect(logged.join('\n'), p).not.toContain(p);
          expect(signedIn).toEqual([]);
        }),
        { seed: SEED, numRuns: 80 },
      );
      // And the right PIN still opens the door afterwards.
      nowMs += 10 * 60_000;
      const right = await fetch(`${url}/api/v1/staff/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ staffId: 'S1001', pin: PIN }) });
      expect(right.status).toBe(200);
      expect(signedIn).toEqual(['S1001']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
