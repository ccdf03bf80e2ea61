import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeskError } from '../../bridge/desk/invitation-desk.js';
import { createApiServer, listenApi, type ApiContext } from '../../bridge/http/api.js';
import { StaffSignIn } from '../../bridge/http/staff-sign-in.js';
import type { DailyStats } from '../../bridge/desk/daily-stats.js';
import { hashPin } from '../../bridge/province/staff-pin.js';
import { ConfigError } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { ALARMS } from '../../protocol/alarms.js';
import { BUTTON_COUNT, GRADES } from '../../protocol/grades.js';
import { API_META, TECHNICIAN_HEADER } from '../../protocol/http-api.js';
import type { StaffRoster } from '../../protocol/province-config.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { PRINTER_CONDITIONS } from '../../protocol/printer.js';
import { INVITATION_MODES } from '../../protocol/records.js';
import { REFUSALS, type Refusal } from '../../protocol/refusals.js';

/** The API's own rules (routes, token, refusals), against a desk that refuses everything. */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function start(token?: string, overrides: Partial<ApiContext> = {}): Promise<{ url: string; rejected: string[] }> {
  const rejected: string[] = [];
  const refuse = (): never => {
    throw new DeskError(409, 'not_signed_in', 'no staff member is signed in');
  };
  const ctx: ApiContext = {
    desk: { signIn: refuse, signOut: refuse, invite: refuse, cancel: refuse, current: () => undefined, lookup: () => undefined, staffId: null, paused: false, setPaused: refuse },
    staffSignIn: new StaffSignIn({ roster: () => null, allowUnverified: false, now: () => 0 }),
    businessToken: undefined,
    technicianToken: undefined,
    reprint: () => {
      throw new DeskError(409, 'no_printer', 'this terminal has no receipt printer configured');
    },
    today: refuse,
    token,
    allowedHosts: [],
    logger: silentLogger,
    status: () => ({}),
    countRejected: (code) => rejected.push(code),
    announce: () => undefined,
    ...overrides,
  };
  const server = createApiServer(ctx).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rejected };
}

async function call(url: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  // As the console calls: a call that changes something says so (X-HCP-Request), or is refused.
  const res = await fetch(url, { method, ...(method !== 'GET' && { headers: { 'x-hcp-request': '1' } }) });
  return { status: res.status, body: await res.json() };
}

describe('HTTP API', () => {
  it('serves the alarm, refusal, printer and mode words, the grades and the button count from protocol/, without a token', async () => {
    const { url } = await start('a-token-of-sixteen-chars');
    const { status, body } = await call(`${url}/api/v1/meta`);
    expect(status).toBe(200);
    expect(body).toEqual(JSON.parse(JSON.stringify(API_META)));
    expect(body).toMatchObject({
      alarms: ALARMS,
      refusals: REFUSALS,
      printerConditions: PRINTER_CONDITIONS,
      modes: INVITATION_MODES,
      buttonCount: BUTTON_COUNT,
    });
    expect((body as typeof API_META).grades.map((g) => g.grade)).toEqual(GRADES);
    expect((await call(`${url}/api/v1/status`)).status).toBe(401);
  });

  it('answers each refusal with the status its code has in protocol/refusals.ts, and counts it', async () => {
    const { url, rejected } = await start();
    const answers = [
      await call(`${url}/api/v1/staff/sign-out`, 'POST'),
      await call(`${url}/api/v1/invitations/x/receipt`, 'POST'),
      await call(`${url}/api/v1/invitations/x`),
      await call(`${url}/api/v1/nowhere`),
      await call(`${url}/api/v1/status`, 'POST'),
    ];
    const codes = answers.map((a) => (a.body as { error: { code: Refusal } }).error.code);
    expect(codes).toEqual(['not_signed_in', 'no_printer', 'not_found', 'not_found', 'method_not_allowed']);
    expect(answers.map((a) => a.status)).toEqual(codes.map((code) => REFUSALS[code].status));
    expect(rejected).toEqual(codes);
  });
});

/** A request exactly as written: fetch() would normalise the path first. */
async function raw(url: string, method: string, path: string): Promise<{ status: number; body: unknown }> {
  const req = request(url, { method, path });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, body: JSON.parse(text) as unknown };
}

describe('nothing a request carries escapes the one error exit', () => {
  it.each(['//', '///', '//[', '//@', '//host:99999/x', '/%', '/api/v1/invitations/%E0%A4%A/cancel', '/api/v1/invitations/%ZZ', `/${'a/'.repeat(3000)}`])(
    'GET %s is answered with a refusal naming the path',
    async (path) => {
      const { url, rejected } = await start();
      const answer = await raw(url, 'GET', path);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      const { error } = answer.body as { error: { code: Refusal; message: string } };
      expect(answer.status).toBe(REFUSALS[error.code].status);
      expect(error.message).toContain(path.length > 100 ? path.slice(0, 50) : path);
      expect(rejected).toEqual([error.code]);
    },
  );

  it.each([
    ['an unknown method', 'FOO', '/api/v1/status', /not HTTP\/1\.1 this API reads/],
    ['headers past 16 KB', 'GET', `/${'x'.repeat(17 * 1024)}`, /exceed 16 KB/],
  ])('refuses what Node cannot parse (%s) in the API\'s own shape, and counts it', async (_what, method, path, message) => {
    const { url, rejected } = await start();
    const answer = await raw(url, method, path);
    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', message: expect.stringMatching(message) } } });
    expect(rejected).toEqual(['invalid_request']);
  });

  it('refuses an unparsable HEAD without a body, which its client would read as the next answer', async () => {
    const { url } = await start();
    const req = request(url, { method: 'HEAD', path: '/\u00e9' });
    const errors: Error[] = [];
    req.on('error', (err) => errors.push(err));
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let text = '';
    for await (const chunk of res) text += String(chunk);
    if (!req.socket?.destroyed) await once(req.socket!, 'close');
    expect({ status: res.statusCode, text, errors }).toEqual({ status: 400, text: '', errors: [] });
  });

  it('answers 500 and lives on when a part of the bridge throws while refusing, too', async () => {
    let throws = 1;
    const { url } = await start(undefined, {
      status: () => {
        throw new Error('a broken part');
      },
      countRejected: () => {
        if (throws-- > 0) throw new Error('a broken counter');
      },
    });
    const first = await fetch(`${url}/api/v1/status`).then(
      (res) => res.status,
      () => 'dropped',
    );
    expect([500, 'dropped']).toContain(first);
    expect((await call(`${url}/api/v1/status`)).body).toMatchObject({ error: { code: 'internal' } });
  });
});

describe('an address the API cannot listen on', () => {
  const server = (): Server => {
    const s = createApiServer({} as ApiContext);
    servers.push(s);
    return s;
  };

  it('is refused as a setting, naming it, when the port is taken', async () => {
    const taken = server().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as AddressInfo).port;
    const refusal = listenApi(server(), { host: '127.0.0.1', port });
    await expect(refusal).rejects.toBeInstanceOf(ConfigError);
    await expect(refusal).rejects.toThrow(`http.port: 127.0.0.1:${port} is in use by another program`);
  });

  it('is refused as a setting, naming it, when this machine has no such address', async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, on no machine.
    await expect(listenApi(server(), { host: '192.0.2.1', port: 0 })).rejects.toThrow(/http\.host: this machine has no address 192\.0\.2\.1/);
  });
});

describe('one home for the words staff read', () => {
  const pages = ['../../bridge/console/console.js', '../../simulator/hall-view/index.html'].map((file) => [
    file.replace('../../', ''),
    readFileSync(new URL(file, import.meta.url), 'utf8'),
  ]);
  const words = [
    ...Object.values(ALARMS),
    ...Object.values(REFUSALS).map((r) => r.zh),
    ...API_META.grades.map((g) => g.zh),
    ...Object.values(PRINTER_CONDITIONS).map((c) => c.zh),
    ...Object.values(INVITATION_MODES),
  ];
  /** The same word saying something else: the console's terminal link state, not the printer's. */
  const otherMeaning: Record<string, string[]> = { 'bridge/console/console.js': [PRINTER_CONDITIONS.disconnected.zh] };

  it.each(pages)('%s takes them from the server, keeping no copy', (file, text) => {
    const copies = words.filter((word) => text.includes(`'${word}'`) && !otherMeaning[file]?.includes(word));
    expect(copies).toEqual([]);
  });
});

/** A request with the headers a browser page elsewhere would send; fetch() will not set Host. */
async function from(url: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingMessage['headers']; body: unknown }> {
  const req = request(url, { method, path, headers });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, headers: res.headers, body: res.headers['content-type']?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text };
}

describe("the window PC's browser cannot be turned against the API", () => {
  /** A desk with staff signed in, that records sign-outs. */
  async function window(allowedHosts: string[] = [], token?: string): Promise<{ url: string; port: string; signOuts: number[] }> {
    const signOuts: number[] = [];
    const none = (): never => {
      throw new Error('not called here');
    };
    const desk = { signIn: none, invite: none, cancel: none, current: () => undefined, lookup: () => undefined, signOut: () => void signOuts.push(1), staffId: 'S1', paused: false, setPaused: none };
    const { url } = await start(token, { desk, allowedHosts });
    return { url, port: new URL(url).port, signOuts };
  }

  it.each(['evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.5', ''])('refuses Host "%s:<port>", the name DNS rebinding would send, on the console and the API', async (name) => {
    const { url, port } = await window();
    for (const path of ['/', '/api/v1/status', '/api/v1/meta']) {
      const answer = await from(url, 'GET', path, { host: `${name}:${port}` });
      expect(answer).toMatchObject({ status: 421, body: { error: { code: 'host_not_allowed', message: expect.stringContaining(`"${name}:${port}"`) } } });
    }
  });

  it('answers loopback names and http.allowedHosts only at its own port', async () => {
    const { url, port } = await window(['window3.hall.local']);
    const status = async (host: string): Promise<number> => (await from(url, 'GET', '/api/v1/status', { host })).status;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.3.2.1:${port}`, `[::1]:${port}`, `WINDOW3.hall.local:${port}`]) expect(await status(host), host).toBe(200);
    for (const host of ['localhost:1', 'localhost', 'window3.hall.local', `[::2]:${port}`, `window4.hall.local:${port}`]) expect(await status(host), host).toBe(421);
  });

  it.each([
    ['a cross-origin fetch with JSON', { origin: 'http://evil.example', 'content-type': 'application/json' }, 403, 'origin_not_allowed'],
    ['a page on another port of this PC', { origin: 'http://127.0.0.1:1', 'x-hcp-request': '1' }, 403, 'origin_not_allowed'],
    ['a sandboxed or file: page', { origin: 'null', 'x-hcp-request': '1' }, 403, 'origin_not_allowed'],
    ['the console over https (not the bridge)', { origin: 'https://127.0.0.1:PORT', 'x-hcp-request': '1' }, 403, 'origin_not_allowed'],
    ['an HTML form', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    ['a no-cors fetch without an Origin', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['a bare POST', {}, 415, 'unsupported_media_type'],
  ])('refuses a sign-out from %s, and staff stay signed in', async (_what, headers, status, code) => {
    const { url, port, signOuts } = await window();
    const sent = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.replace('PORT', port)]));
    const answer = await from(url, 'POST', '/api/v1/staff/sign-out', sent);
    expect(answer).toMatchObject({ status, body: { error: { code } } });
    expect(answer.status).toBe(REFUSALS[code as Refusal].status);
    expect(signOuts).toEqual([]);
  });

  it("accepts the console's own sign-out (same origin, X-HCP-Request) and a program's JSON call without an Origin", async () => {
    const { url, port, signOuts } = await window();
    expect((await from(url, 'POST', '/api/v1/staff/sign-out', { origin: `http://127.0.0.1:${port}`, 'x-hcp-request': '1' })).status).toBe(200);
    expect((await from(url, 'POST', '/api/v1/staff/sign-out', { host: `localhost:${port}`, origin: `http://LOCALHOST:${port}`, 'content-type': 'application/json' })).status).toBe(200);
    expect((await from(url, 'POST', '/api/v1/staff/sign-out', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect(signOuts).toHaveLength(3);
  });

  it('sends the security headers on the console, the API and its refusals; API answers are never cached', async () => {
    const { url, port } = await window();
    const answers = {
      console: await from(url, 'GET', '/', {}),
      api: await from(url, 'GET', '/api/v1/status', {}),
      refusal: await from(url, 'GET', '/api/v1/status', { host: `evil.example:${port}` }),
      unparsable: await from(url, 'FOO', '/', {}),
    };
    for (const [what, answer] of Object.entries(answers)) {
      expect(answer.headers, what).toMatchObject({
        'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
      if (what !== 'console') expect(answer.headers['cache-control'], what).toBe('no-store');
    }
  });

  it('takes the token only whole: one of the same length that differs is refused', async () => {
    const token = 'a-token-of-sixteen-chars';
    const { url } = await window([], token);
    const status = async (authorization: string): Promise<number> => (await from(url, 'GET', '/api/v1/status', { authorization })).status;
    expect(await status(`Bearer ${token}`)).toBe(200);
    expect(await status(`Bearer ${token.slice(0, -1)}X`)).toBe(401);
    expect(await status(`Bearer ${token}x`)).toBe(401);
  });
});

/** A JSON call as a program or the console sends it, with extra headers. */
async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** The cheapest cost a roster may carry, so that these tests hash in milliseconds. */
const CHEAP = { N: 2 ** 12, r: 1, p: 1 };

describe('staff sign-in is verified', () => {
  let rosterOf: StaffRoster | null = null;
  beforeAll(async () => {
    rosterOf = { version: 'r1', staff: [{ staffId: 'S1001', name: '张三', pin: await hashPin('246810', CHEAP) }] };
  });

  /** An API whose desk records sign-ins, with the roster, clock and tokens a test gives. */
  async function signInDesk(options: { roster?: boolean; allowUnverified?: boolean; token?: string; businessToken?: string; logged?: string[] } = {}) {
    const signedIn: string[] = [];
    let nowMs = 0;
    const staffSignIn = new StaffSignIn({ roster: () => (options.roster === false ? null : rosterOf), allowUnverified: options.allowUnverified ?? false, now: () => nowMs });
    const logger = options.logged ? pino({ level: 'debug' }, { write: (line: string) => void options.logged!.push(line) }) : silentLogger;
    const none = (): never => {
      throw new Error('not called here');
    };
    const desk = { signIn: (id: string) => void signedIn.push(id), signOut: none, invite: none, cancel: none, current: () => undefined, lookup: () => undefined, staffId: null, paused: false, setPaused: none };
    const { url, rejected } = await start(options.token, { desk, staffSignIn, businessToken: options.businessToken, logger });
    return { url, rejected, signedIn, staffSignIn, advance: (ms: number) => (nowMs += ms) };
  }

  it('takes the right PIN; a wrong PIN and an unknown id are refused alike, counted, and sign nobody in', async () => {
    const { url, rejected, signedIn, staffSignIn } = await signInDesk();
    expect(await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' })).toEqual({ status: 200, body: { staffId: 'S1001' } });
    const wrong = await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246811' });
    const unknown = await post(url, '/api/v1/staff/sign-in', { staffId: 'S9999', pin: '246810' });
    for (const answer of [wrong, unknown]) expect(answer).toMatchObject({ status: 403, body: { error: { code: 'staff_not_verified' } } });
    expect(REFUSALS.staff_not_verified.status).toBe(403);
    expect(await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001' })).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field: 'pin' } } });
    expect(signedIn).toEqual(['S1001']);
    expect(rejected).toEqual(['staff_not_verified', 'staff_not_verified', 'invalid_request']);
    expect(staffSignIn.failures).toBe(2);
  });

  it('after 5 wrong PINs for one id in 5 minutes refuses even the right one (429) until the window has passed; other ids are not held', async () => {
    const { url, signedIn, advance } = await signInDesk();
    const attempts = await Promise.all(Array.from({ length: 7 }, (_, i) => post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: `00000${i}` })));
    // Sent together: the ones past five are refused before any PIN is hashed.
    expect(attempts.map((a) => a.status).sort()).toEqual([403, 403, 403, 403, 403, 429, 429]);
    expect(await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' })).toMatchObject({ status: 429, body: { error: { code: 'sign_in_locked' } } });
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S2002', pin: '1234' })).status).toBe(403);
    advance(5 * 60_000 - 1);
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' })).status).toBe(429);
    advance(1);
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' })).status).toBe(200);
    expect(signedIn).toEqual(['S1001']);
  });

  it('never logs the PIN, right or wrong', async () => {
    const logged: string[] = [];
    const { url } = await signInDesk({ logged });
    await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '97531' });
    await post(url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' });
    expect(logged.join('\n')).toContain('staff sign-in refused');
    expect(logged.join('\n')).not.toMatch(/97531|246810/);
  });

  it('without a roster refuses sign-in (409 no_staff_roster) unless http.allowUnverifiedStaff lets any id in', async () => {
    const refused = await signInDesk({ roster: false });
    expect(await post(refused.url, '/api/v1/staff/sign-in', { staffId: 'S1001', pin: '246810' })).toMatchObject({ status: 409, body: { error: { code: 'no_staff_roster' } } });
    expect(refused.signedIn).toEqual([]);
    expect(refused.staffSignIn.verification).toBe('refused_until_roster');
    const allowed = await signInDesk({ roster: false, allowUnverified: true });
    expect((await post(allowed.url, '/api/v1/staff/sign-in', { staffId: 'S7' })).status).toBe(200);
    expect(allowed.signedIn).toEqual(['S7']);
    expect(allowed.staffSignIn.verification).toBe('unverified_allowed');
  });

  it("the business system's token signs staff in without a PIN, and passes where http.token does; a wrong one does not", async () => {
    const businessToken = 'business-system-token-0001';
    const { url, signedIn } = await signInDesk({ roster: false, token: 'the-console-token-0001', businessToken });
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S5' }, { authorization: `Bearer ${businessToken}` })).status).toBe(200);
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S6' }, { authorization: `Bearer ${businessToken.slice(0, -1)}X` })).status).toBe(401);
    expect((await post(url, '/api/v1/staff/sign-in', { staffId: 'S6' }, { authorization: 'Bearer the-console-token-0001' })).status).toBe(409);
    expect(signedIn).toEqual(['S5']);
  });
});

describe('a test invitation needs the technician token', () => {
  const technicianToken = 'technician-token-000001';
  async function inviteDesk(withToken = true) {
    const invited: boolean[] = [];
    const invite = (request: { test: boolean }) => {
      invited.push(request.test);
      return { id: 'inv-1', staffId: 'S1', services: [{ itemCode: 'X', caseNo: 'C1' }], mode: 'single' as const, proxy: false, test: request.test, invitedAt: '2026-11-29T00:00:00.000Z', timeoutMs: 30_000, flags: [] };
    };
    const none = (): never => {
      throw new Error('not called here');
    };
    const desk = { signIn: none, signOut: none, invite, cancel: none, current: () => undefined, lookup: () => undefined, staffId: 'S1', paused: false, setPaused: none };
    const { url, rejected } = await start(undefined, { desk, technicianToken: withToken ? technicianToken : undefined });
    return { url, rejected, invited };
  }
  const body = (test: boolean) => ({ services: [{ itemCode: 'X', caseNo: 'C1' }], test });

  it('refuses it without the header or with a wrong one (403 technician_required), and makes nothing', async () => {
    const { url, rejected, invited } = await inviteDesk();
    expect(await post(url, '/api/v1/invitations', body(true))).toMatchObject({ status: 403, body: { error: { code: 'technician_required', message: expect.stringContaining(TECHNICIAN_HEADER) } } });
    expect((await post(url, '/api/v1/invitations', body(true), { [TECHNICIAN_HEADER]: `${technicianToken}x` })).status).toBe(403);
    expect(invited).toEqual([]);
    expect(rejected).toEqual(['technician_required', 'technician_required']);
  });

  it('makes it with the token, and an ordinary invitation needs none', async () => {
    const { url, invited } = await inviteDesk();
    expect(await post(url, '/api/v1/invitations', body(true), { [TECHNICIAN_HEADER]: technicianToken })).toMatchObject({ status: 201, body: { id: 'inv-1', test: true, state: 'open' } });
    expect((await post(url, '/api/v1/invitations', body(false))).status).toBe(201);
    expect(invited).toEqual([true, false]);
  });

  it('refuses every test invitation when the bridge has no technician token, naming the setting', async () => {
    const { url, invited } = await inviteDesk(false);
    expect(await post(url, '/api/v1/invitations', body(true), { [TECHNICIAN_HEADER]: technicianToken })).toMatchObject({ status: 403, body: { error: { code: 'technician_required', message: expect.stringContaining('http.technicianTokenFile') } } });
    expect(invited).toEqual([]);
  });
});

describe('the grade never reaches the counter', () => {
  const figures = { invitations: 1, rated: 1, notRated: 0, cancelled: 0, cancelledBy: { citizen_left: 0 } as DailyStats['cancelledBy'], participationRate: 1 };
  const TODAY: DailyStats = { date: '2026-11-29', ...figures, byStaff: [{ staffId: 'S1', ...figures }] };
  const rated: StoredInvitation = {
    id: 'inv-9',
    terminalId: 'T-1',
    areaCode: '330106',
    hallCode: 'H',
    windowNo: 'W1',
    staffId: 'S1',
    services: [{ itemCode: 'X', caseNo: 'C9' }],
    mode: 'single',
    proxy: false,
    invitedAt: '2026-11-29T01:00:00.000Z',
    closedAt: '2026-11-29T01:00:09.000Z',
    outcome: 'rated',
    rating: { grade: 'very_dissatisfied', reason: { code: 'R01', label: '服务态度差' }, latencyMs: 812 },
    channel: 'counter',
    flags: ['fast_press', 'no_reason', 'device_silent'],
    test: false,
  } as unknown as StoredInvitation;

  it('GET /invitations/{id} shows 已评价 (outcome rated) and the health flags, never the grade, reason, latency or honesty flags; /stats/today has no byGrade', async () => {
    const { url } = await start(undefined, {
      desk: { signIn: () => undefined, signOut: () => undefined, invite: () => undefined as never, cancel: () => undefined as never, current: () => undefined, lookup: () => ({ id: rated.id, state: 'closed', outcome: 'rated', record: rated }), staffId: 'S1', paused: false, setPaused: () => undefined },
      // As a part that one day knew grades would give them: the view lists what it shows.
      today: () => ({ ...TODAY, byGrade: { very_dissatisfied: 1 }, byStaff: [{ ...TODAY.byStaff[0]!, byGrade: { very_dissatisfied: 1 } }] }),
    });
    const view = await call(`${url}/api/v1/invitations/inv-9`);
    expect(view).toEqual({
      status: 200,
      body: { id: 'inv-9', staffId: 'S1', services: rated.services, mode: 'single', proxy: false, test: false, invitedAt: rated.invitedAt, state: 'closed', outcome: 'rated', closedAt: rated.closedAt, flags: ['device_silent'] },
    });
    const stats = await call(`${url}/api/v1/stats/today`);
    expect(stats.body).toEqual(TODAY);
    for (const text of [JSON.stringify(view.body), JSON.stringify(stats.body)]) {
      for (const { grade, zh } of API_META.grades) expect(text).not.toMatch(new RegExp(`${grade}|${zh}`));
      expect(text).not.toMatch(/grade|rating|reason|latency|服务态度差/i);
    }
  });

  it('a reprint from the API is asked of the bridge in the signed-in staff member\'s name (its reprint announces it for the audit: the API has no way to)', async () => {
    const reprints: unknown[] = [];
    const { url } = await start(undefined, {
      desk: { signIn: () => undefined, signOut: () => undefined, invite: () => undefined as never, cancel: () => undefined as never, current: () => undefined, lookup: () => undefined, staffId: 'S3', paused: false, setPaused: () => undefined },
      reprint: (invitationId, actor) => {
        reprints.push([invitationId, actor]);
        return { receiptId: 'rc-1' };
      },
    });
    expect(await call(`${url}/api/v1/invitations/inv-9/receipt`, 'POST')).toEqual({ status: 202, body: { receiptId: 'rc-1' } });
    expect(reprints).toEqual([['inv-9', 'S3']]);
  });
});

describe('staff controls at the counter: pause, resume, announce', () => {
  async function controlDesk() {
    const calls: Array<[boolean, string | null]> = [];
    const announced: string[] = [];
    const none = (): never => {
      throw new Error('not called here');
    };
    const desk = {
      signIn: none,
      signOut: none,
      invite: none,
      cancel: none,
      current: () => undefined,
      lookup: () => undefined,
      staffId: 'S1',
      paused: false,
      setPaused(paused: boolean, actor: string | null) {
        if (paused && calls.length > 0 && calls.at(-1)?.[0]) throw new DeskError(409, 'invitation_open', 'invitation inv-1 is still open');
        calls.push([paused, actor]);
        this.paused = paused;
      },
    };
    const businessToken = 'business-token-0000001';
    const { url, rejected } = await start('the-console-token-0001', { desk, businessToken, announce: (prompt) => void announced.push(prompt) });
    return { url, rejected, calls, announced, businessToken };
  }
  const staff = { authorization: 'Bearer the-console-token-0001' };

  it('pause and resume take no body, in the signed-in staff member\'s name, and answer the state', async () => {
    const { url, calls } = await controlDesk();
    const bare = (path: string, headers: Record<string, string>) => fetch(`${url}${path}`, { method: 'POST', headers: { 'x-hcp-request': '1', ...headers } }).then(async (res) => ({ status: res.status, body: await res.json() }));
    expect(await bare('/api/v1/staff/pause', staff)).toEqual({ status: 200, body: { paused: true } });
    expect(await bare('/api/v1/staff/resume', staff)).toEqual({ status: 200, body: { paused: false } });
    expect(calls).toEqual([
      [true, 'S1'],
      [false, 'S1'],
    ]);
  });

  it("the business system's token may pause; a refusal of the desk is the API's refusal; without a token nothing changes", async () => {
    const { url, calls, rejected, businessToken } = await controlDesk();
    expect((await post(url, '/api/v1/staff/pause', {}, { authorization: `Bearer ${businessToken}` })).status).toBe(200);
    expect(await post(url, '/api/v1/staff/pause', {}, staff)).toMatchObject({ status: 409, body: { error: { code: 'invitation_open' } } });
    expect((await post(url, '/api/v1/staff/resume', {})).status).toBe(401);
    expect(calls).toEqual([[true, 'S1']]);
    expect(rejected).toEqual(['invitation_open', 'unauthorized']);
  });

  it('announce says one of protocol/voice-prompts.ts ANNOUNCEMENTS; anything else is refused naming them', async () => {
    const { url, announced, rejected } = await controlDesk();
    expect(await post(url, '/api/v1/announce', { prompt: 'greeting' }, staff)).toEqual({ status: 202, body: { prompt: 'greeting' } });
    expect((await post(url, '/api/v1/announce', { prompt: 'one_metre_line' }, staff)).status).toBe(202);
    expect(await post(url, '/api/v1/announce', { prompt: 'invite' }, staff)).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field: 'prompt', message: expect.stringContaining('greeting, one_metre_line') } } });
    expect((await post(url, '/api/v1/announce', { prompt: 'greeting', loud: true }, staff)).status).toBe(400);
    expect(announced).toEqual(['greeting', 'one_metre_line']);
    expect(rejected).toEqual(['invalid_request', 'invalid_request']);
  });
});
