import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeskError } from '../../bridge/desk/invitation-desk.js';
import { createApiServer, listenApi, type ApiContext } from '../../bridge/http/api.js';
import { ConfigError } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { ALARMS } from '../../protocol/alarms.js';
import { BUTTON_COUNT, GRADES } from '../../protocol/grades.js';
import { API_META } from '../../protocol/http-api.js';
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
    desk: { signIn: refuse, signOut: refuse, invite: refuse, cancel: refuse, current: () => undefined, lookup: () => undefined },
    reprint: () => {
      throw new DeskError(409, 'no_printer', 'this terminal has no receipt printer configured');
    },
    today: refuse,
    token,
    allowedHosts: [],
    logger: silentLogger,
    status: () => ({}),
    countRejected: (code) => rejected.push(code),
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
    const desk = { signIn: none, invite: none, cancel: none, current: () => undefined, lookup: () => undefined, signOut: () => void signOuts.push(1) };
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
