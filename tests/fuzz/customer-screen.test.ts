import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeConfig } from '../../bridge/config.js';
import { askRunningService } from '../../bridge/diagnose/running-service.js';
import { DeskError } from '../../bridge/desk/invitation-desk.js';
import { silentLogger } from '../../bridge/log.js';
import { screenConfigSchema } from '../../bridge/screen/config.js';
import { checkScreen } from '../../bridge/screen/probe.js';
import { ScreenPairing } from '../../bridge/screen/screen-pairing.js';
import { ScreenServer } from '../../bridge/screen/screen-server.js';
import { ScreenState } from '../../bridge/screen/screen-state.js';
import { GRADES, type Grade } from '../../protocol/grades.js';
import { apiRefusalSchema } from '../../protocol/http-api.js';
import { REFUSALS } from '../../protocol/refusals.js';
import { STAFF_PHOTO_MAX_BYTES, staffPhotoSchema } from '../../protocol/staff-photo.js';
import { pathChars, printedShort, send, short, type Junk } from '../support/fuzz-http.js';
import { ManualTimers } from '../support/manual-timers.js';

/**
 * The customer screen's server, fuzzed from outside: random methods, paths, headers (Host,
 * Origin, cookies, content types) and bodies on every route. Invariants: it answers every request
 * with a page, its state, or a refusal in the API's shape with its code's status, never an
 * internal error; the desk hears only well-formed touches (an open invitation's id, a grade, a
 * reason button or null); junk never pairs a tablet; and it keeps answering.
 */
const SEED = 20261130;
const NUM_RUNS = 150;
const OPEN = 'inv-open';

const touches: Array<{ kind: 'press'; id: string; grade: Grade } | { kind: 'reason'; id: string; button: number | null }> = [];
/** The desk as the contract has it: the open invitation takes touches, any other id is refused. */
const desk = {
  screenPress(invitationId: string, grade: Grade) {
    touches.push({ kind: 'press', id: invitationId, grade });
    if (invitationId !== OPEN) throw new DeskError(404, 'not_found', `no invitation ${invitationId} at window 3`);
    return { reasons: [{ button: 0, code: 'R01', label: '服务态度差' }] };
  },
  screenReason(invitationId: string, button: number | null) {
    touches.push({ kind: 'reason', id: invitationId, button });
    if (invitationId !== OPEN) throw new DeskError(409, 'invitation_closed', `invitation ${invitationId} is already closed: rated`);
  },
};

const settings = new Map<string, string>();
const pairing = new ScreenPairing({
  settings: { get: (key) => settings.get(key), set: (key, value) => (value === null ? settings.delete(key) : settings.set(key, value)) },
  transaction: (fn) => fn(),
  now: () => new Date(),
});
const timers = new ManualTimers();
const state = new ScreenState({ hallName: '市民中心', windowNo: '3', timers, thanksMs: 15_000 });
const server = new ScreenServer({ state, desk, pairing, allowedHosts: ['screen3.hall.local'], timers, logger: silentLogger });
let base = '';
let port = '';

beforeAll(async () => {
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = server.url.replace(/\/$/, '');
  port = new URL(base).port;
});
afterAll(async () => {
  await server.stop();
});

const ROUTES = ['/', '/screen.js', '/screen.css', '/api/meta', '/api/session', '/api/events', '/api/press', '/api/reason', '/api/pair'];
const path = fc.oneof(
  fc.constantFrom(...ROUTES),
  fc.tuple(fc.constantFrom('', '/', '//'), fc.constantFrom(...ROUTES), fc.string({ unit: pathChars, maxLength: 6 })).map(([pre, route, post]) => `${pre}${route}${post}`),
  fc.string({ unit: pathChars, maxLength: 40 }).map((p) => `/${p}`),
);
const id = fc.oneof(fc.constant(OPEN), fc.string({ maxLength: 70 }), fc.integer(), fc.constant(null));
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ invitationId: id, grade: fc.oneof(fc.constantFrom(...GRADES), fc.string({ maxLength: 20 }), fc.integer()), extra: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ invitationId: id, button: fc.oneof(fc.integer({ min: -3, max: 8 }), fc.double(), fc.constant(null), fc.string({ maxLength: 3 })) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ code: fc.oneof(fc.stringMatching(/^\d{6}$/), fc.string({ maxLength: 10 }), fc.integer()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
);
const body = fc.oneof(
  fc.constant(undefined),
  jsonBody,
  fc.string({ maxLength: 100 }),
  fc.constantFrom('{', '[[[[', 'null', '"x"'),
  fc.integer({ min: 1024, max: 20_000 }).map((n) => `{"invitationId":"${'x'.repeat(n)}","grade":"satisfied"}`),
);
/** A touch as the page sends it, its fields now and then wrong: most of these reach the desk. */
const touch: fc.Arbitrary<Junk> = fc.record({
  method: fc.constant('POST'),
  path: fc.constantFrom('/api/press', '/api/reason'),
  headers: fc.constant({ 'content-type': 'application/json', host: '127.0.0.1:PORT', origin: 'http://127.0.0.1:PORT' }),
  body: fc.oneof(
    fc.record({ invitationId: fc.oneof(fc.constant(OPEN), fc.string({ minLength: 1, maxLength: 64 })), grade: fc.constantFrom(...GRADES) }).map((v) => JSON.stringify(v)),
    fc.record({ invitationId: fc.oneof(fc.constant(OPEN), fc.string({ minLength: 1, maxLength: 64 })), button: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(null)) }).map((v) => JSON.stringify(v)),
    jsonBody,
  ),
});
const anything: fc.Arbitrary<Junk> = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'), fc.stringMatching(/^[A-Z]{1,8}$/)),
    path,
    headers: fc.record(
      {
        'content-type': fc.constantFrom('application/json', 'APPLICATION/JSON; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
        // PORT: the server's own, filled in when sent.
        host: fc.constantFrom('127.0.0.1:PORT', 'localhost:PORT', '192.168.1.23:PORT', '[fe80::1]:PORT', 'screen3.hall.local:PORT', 'evil.example:PORT', '127.0.0.1:1', '[::1', 'a:b:c', ''),
        origin: fc.constantFrom('http://127.0.0.1:PORT', 'http://evil.example', 'null', 'x', ''),
        cookie: fc.constantFrom('hcp_screen=abc', 'hcp_screen=', `hcp_screen=${'z'.repeat(500)}`, 'x=1; hcp_screen=1', ''),
        authorization: fc.constantFrom('Bearer 0123456789abcdef0123', ''),
        'x-hcp-request': fc.constantFrom('1', ''),
      },
      { requiredKeys: [] },
    ),
    body,
  });
const junk = fc.oneof(anything, touch).map(printedShort);

const filledIn = (j: Junk): Junk => printedShort({ ...j, headers: Object.fromEntries(Object.entries(j.headers).map(([name, value]) => [name, value.replace('PORT', port)])) });

describe('customer screen server, fuzzed', () => {
  it('answers junk with a page, its state or a clear refusal; the desk hears only well-formed touches; junk never pairs', async () => {
    const { code } = pairing.offer();
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(junk, async (raw) => {
        const j = filledIn(raw);
        touches.length = 0;
        const { status, text, headers } = await sendWithHeaders(j);
        expect(status, short(j)).not.toBe(500);
        // An answer to HEAD has no body to read.
        if (status >= 400 && j.method !== 'HEAD') {
          const { error } = apiRefusalSchema.parse(JSON.parse(text));
          expect(status, short(j)).toBe(REFUSALS[error.code].status);
          expect(error.message.length).toBeGreaterThan(5);
        }
        expect(headers['set-cookie'], short(j)).toBeUndefined();
        reached += touches.length;
        for (const touch of touches) {
          expect(typeof touch.id === 'string' && touch.id.length >= 1 && touch.id.length <= 64, short(j)).toBe(true);
          if (touch.kind === 'press') expect(GRADES).toContain(touch.grade);
          else expect(touch.button === null || (Number.isInteger(touch.button) && touch.button >= 0 && touch.button <= 4)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: NUM_RUNS, endOnFailure: true },
    );
    // Junk guessed no code (a six-digit guess uses a try: the code may be void now, never redeemed).
    expect(pairing.screens()).toEqual([]);
    const alive = await send(base, { method: 'GET', path: '/api/session', headers: {}, body: undefined });
    expect(JSON.parse(alive.text)).toEqual({ allowed: true, via: 'kiosk' });
    expect(code).toMatch(/^\d{6}$/);
    // The junk was good enough, now and then, to reach the desk.
    expect(reached).toBeGreaterThan(0);
  });
});

/** send() with the answer's headers too: a Set-Cookie would be a pairing. */
async function sendWithHeaders(j: Junk): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const length = j.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(j.body)) };
  const req = request(base, { method: j.method, path: j.path, headers: { ...j.headers, ...length } });
  req.on('error', () => undefined);
  req.end(j.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  // A stream of the state (GET /api/events) never ends: its first event is enough.
  if (String(res.headers['content-type']).startsWith('text/event-stream')) {
    const [first] = (await once(res, 'data')) as [Buffer];
    res.destroy();
    return { status: res.statusCode ?? 0, text: String(first), headers: res.headers };
  }
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, text, headers: res.headers };
}

describe('staff photos, fuzzed', () => {
  const photoLike = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.tuple(fc.constantFrom('data:image/jpeg;base64,', 'data:image/png;base64,', 'data:image/gif;base64,', 'data:image/jpeg,', 'DATA:image/png;base64,'), fc.uint8Array({ maxLength: 200 }), fc.constantFrom('', '=', '@', ' ')).map(
      ([prefix, bytes, tail]) => `${prefix}${Buffer.from(bytes).toString('base64')}${tail}`,
    ),
    fc.tuple(fc.constantFrom([0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), fc.integer({ min: 0, max: STAFF_PHOTO_MAX_BYTES + 8 })).map(
      ([magic, size]) => `data:image/${magic[0] === 0xff ? 'jpeg' : 'png'};base64,${Buffer.concat([Buffer.from(magic), Buffer.alloc(size, 1)]).toString('base64')}`,
    ),
  );

  it('takes only a JPEG or PNG of its kind within the bound, and refuses anything else with a message', () => {
    fc.assert(
      fc.property(photoLike, (value) => {
        const parsed = staffPhotoSchema.safeParse(value);
        if (!parsed.success) {
          expect(parsed.error.issues[0]?.message.length).toBeGreaterThan(10);
          return;
        }
        const match = /^data:image\/(jpeg|png);base64,(.*)$/.exec(value);
        expect(match).not.toBeNull();
        const bytes = Buffer.from(match![2]!, 'base64');
        expect(bytes.length).toBeLessThanOrEqual(STAFF_PHOTO_MAX_BYTES);
        expect(bytes[0]).toBe(match![1] === 'jpeg' ? 0xff : 0x89);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('pairing codes, fuzzed', () => {
  it('no guess but the code pairs, and five wrong ones void it', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.stringMatching(/^\d{6}$/), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 8 }), (guesses) => {
        const store = new Map<string, string>();
        const p = new ScreenPairing({ settings: { get: (k) => store.get(k), set: (k, v) => (v === null ? store.delete(k) : store.set(k, v)) }, transaction: (fn) => fn(), now: () => new Date(0) });
        const { code } = p.offer();
        let wrong = 0;
        for (const guess of guesses) {
          const answer = p.redeem(guess);
          if (guess === code && wrong < 5) expect(answer.ok).toBe(true);
          else expect(answer.ok).toBe(false);
          if (answer.ok) return;
          wrong += 1;
        }
        expect(p.screens()).toEqual([]);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe("the running bridge's screen status, as doctor reads it, fuzzed", () => {
  it('any screen block (another program, an older or a broken bridge) gives doctor lines, never a throw; only a URL it gave is taken as served', async () => {
    const config = (host: string) =>
      ({ terminal: { id: 'T-1' }, http: { host: '127.0.0.1', port: 8080 }, database: { path: '/nonexistent/hcp.db' }, screen: screenConfigSchema.parse({ host }) }) as unknown as BridgeConfig;
    const block = fc.oneof(
      fc.jsonValue(),
      fc.record({ configured: fc.boolean(), url: fc.option(fc.webUrl()), listenError: fc.option(fc.string({ maxLength: 40 })), pairedTablets: fc.integer({ min: -2, max: 30 }) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(block, fc.boolean(), fc.constantFrom('127.0.0.1', '0.0.0.0'), fc.option(fc.string({ minLength: 1, maxLength: 40 })), async (screen, withScreen, host, refused) => {
        const body = { terminal: { id: 'T-1' }, broker: { connected: true, url: 'mqtt://x' }, ...(withScreen && { screen }) };
        const answer = await askRunningService(config(host), { fetch: () => Promise.resolve({ status: 200, json: () => Promise.resolve(body) }), timeoutMs: 1000 });
        // A broken screen block costs only itself: the service is still seen running.
        expect(answer.running).toBe(true);
        const lines = await checkScreen(config(host), answer, { tryListen: () => Promise.resolve(refused), pairedTablets: () => undefined });
        expect(lines).toHaveLength(host === '0.0.0.0' ? 2 : 1);
        for (const line of lines) expect(['ok', 'warn', 'fail']).toContain(line.level);
        const served = answer.running === true ? answer.status.screen?.url : undefined;
        expect(lines[0]!.message.startsWith('served by the running bridge')).toBe(typeof served === 'string' && served.length > 0);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
