import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import { API_META, API_META_PATH, cancelRequestSchema, invitationRequestSchema, signInRequestSchema, TECHNICIAN_HEADER, type ApiRefusal } from '../../protocol/http-api.js';
import { REFUSALS, type Refusal } from '../../protocol/refusals.js';
import { ConfigError, isLoopbackHost } from '../config.js';
import { DeskError, type InvitationDesk } from '../desk/invitation-desk.js';
import type { DailyStats } from '../desk/daily-stats.js';
import type { Logger } from '../log.js';
import { serveConsole } from './console-files.js';
import type { StaffSignIn } from './staff-sign-in.js';
import { invitationForStaff, openForStaff, statsForStaff } from './staff-views.js';

const MAX_BODY_BYTES = 64 * 1024;

/** What the API serves; the Bridge provides it. */
export interface ApiContext {
  desk: Pick<InvitationDesk, 'signIn' | 'signOut' | 'invite' | 'cancel' | 'current' | 'lookup' | 'staffId'>;
  /** Checks a sign-in (the PIN on the province's roster) before the desk takes it. */
  staffSignIn: Pick<StaffSignIn, 'verify'>;
  /** Queues the invitation's receipt again; throws DeskError 404/409. */
  /** Queues the invitation's receipt again and announces it for the audit as `reprint` by `actor`. */
  reprint(invitationId: string, actor: string | null): { receiptId: string };
  today(): DailyStats;
  /** When set, every /api request must carry `Authorization: Bearer <token>`. */
  token: string | undefined;
  /**
   * The business system's own bearer token (http.businessTokenFile): it passes where the token does,
   * and signs staff in without a PIN, since the business system signed them in itself.
   */
  businessToken: string | undefined;
  /** The technician's token (http.technicianTokenFile), sent in X-HCP-Technician-Token: a `test` invitation needs it. */
  technicianToken: string | undefined;
  /** Host names, besides loopback ones, the API answers under (http.allowedHosts). */
  allowedHosts: readonly string[];
  logger: Logger;
  status(): unknown;
  /** Counts refused requests, by error code, for status and telemetry. */
  countRejected(code: Refusal): void;
}

/** A refusal; its HTTP status is the one protocol/refusals.ts gives its code. */
class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: Refusal,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.status = REFUSALS[code].status;
  }
}

/** Who is calling: the window's staff (console, or a program with http.token) or the business system (its own token). */
type Caller = 'staff' | 'business';

type Handler = (ctx: ApiContext, req: IncomingMessage, params: string[], caller: Caller) => Promise<[number, unknown]> | [number, unknown];

const ROUTES: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['GET', /^\/api\/v1\/status$/, (ctx) => [200, ctx.status()]],
  ['GET', new RegExp(`^${API_META_PATH}$`), () => [200, API_META]],
  [
    'POST',
    /^\/api\/v1\/staff\/sign-in$/,
    async (ctx, req, _params, caller) => {
      const { staffId, pin } = parseBody(signInRequestSchema, await readJson(req));
      const verdict = await ctx.staffSignIn.verify(staffId, pin, caller === 'business');
      if (!verdict.ok) {
        ctx.logger.warn({ staffId, refused: verdict.code }, 'staff sign-in refused');
        throw new HttpError(verdict.code, verdict.message, verdict.field);
      }
      ctx.desk.signIn(staffId);
      return [200, { staffId }];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/staff\/sign-out$/,
    (ctx) => {
      ctx.desk.signOut();
      return [200, { staffId: null }];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/invitations$/,
    async (ctx, req) => {
      const request = parseBody(invitationRequestSchema, await readJson(req));
      if (request.test) checkTechnician(ctx, req);
      return [201, openForStaff(ctx.desk.invite(request))];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/invitations\/([^/]+)\/receipt$/,
    // The bridge's reprint announces it for the audit, in the signed-in staff member's name.
    (ctx, _req, [id]) => [202, ctx.reprint(id ?? '', ctx.desk.staffId)],
  ],
  [
    'POST',
    /^\/api\/v1\/invitations\/([^/]+)\/cancel$/,
    async (ctx, req, [id]) => {
      const { reason } = parseBody(cancelRequestSchema, await readJson(req));
      return [202, openForStaff(ctx.desk.cancel(id ?? '', reason))];
    },
  ],
  ['GET', /^\/api\/v1\/stats\/today$/, (ctx) => [200, statsForStaff(ctx.today())]],
  [
    'GET',
    /^\/api\/v1\/invitations\/current$/,
    (ctx) => {
      const open = ctx.desk.current();
      return [200, { invitation: open ? openForStaff(open) : null }];
    },
  ],
  [
    'GET',
    /^\/api\/v1\/invitations\/([^/]+)$/,
    (ctx, _req, [id]) => {
      const view = ctx.desk.lookup(id ?? '');
      if (!view) throw new HttpError('not_found', `no invitation ${id} at this window`);
      return [200, invitationForStaff(view)];
    },
  ],
];

/** The bridge's local HTTP API, v1: staff sign-in, invitations, status. */
export function createApiServer(ctx: ApiContext): Server {
  const server = createServer((req, res) => {
    // The last resort: route() answers every failure itself, so this is only reached when
    // answering failed too (a part that throws while refusing); the request is dropped, never the bridge.
    route(ctx, req, res).catch((err: unknown) => {
      res.destroy();
      ctx.logger.error({ err, url: req.url }, 'request failed while answering it; dropped');
    });
  });
  // What Node's parser refuses before route() sees it (an unknown method, headers past 16 KB) is
  // refused in the API's own shape, and counted, instead of Node's bare 400 or 431.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const why = err.code === 'HPE_HEADER_OVERFLOW' ? 'its path and headers exceed 16 KB' : `it is not HTTP/1.1 this API reads (${err.code ?? err.message})`;
    const error = new HttpError('invalid_request', `request refused: ${why}`);
    ctx.countRejected(error.code);
    const text = JSON.stringify({ error: { code: error.code, message: error.message } } satisfies ApiRefusal);
    // An answer to HEAD has no body: its bytes would be read as the next response.
    const head = err.rawPacket?.toString('latin1', 0, 5) === 'HEAD ';
    const headers = Object.entries({ ...SECURITY_HEADERS, ...API_HEADERS }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.end(`HTTP/1.1 ${error.status} Bad Request\r\n${headers}content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${head ? '' : text}`);
  });
  return server;
}

/** Why the API cannot listen where http says, by the system's error code: a setting to fix. */
const LISTEN_FAILURES: Record<string, (at: { host: string; port: number }) => string> = {
  EADDRINUSE: ({ host, port }) => `http.port: ${host}:${port} is in use by another program (another hcp run?): stop it, or choose another port`,
  EADDRNOTAVAIL: ({ host }) => `http.host: this machine has no address ${host}: give one of its own addresses, 0.0.0.0 (all) or 127.0.0.1`,
  EACCES: ({ port }) => `http.port: ${port} needs root (ports below 1024): choose 1024 or above`,
  ENOTFOUND: ({ host }) => `http.host: ${host} is not a name this machine can resolve: give an address`,
};

/** Starts the API listening; an address it cannot have is refused like any bad setting, never a stack trace. */
export async function listenApi(server: Server, at: { host: string; port: number }): Promise<void> {
  server.listen(at.port, at.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const failure = LISTEN_FAILURES[(err as NodeJS.ErrnoException).code ?? ''];
    throw new ConfigError(failure ? failure(at) : `http: cannot listen on ${at.host}:${at.port}: ${(err as Error).message}`, []);
  }
}

async function route(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The path exactly as sent: a URL parser would read `//x` as a host and throw on `//[`.
  const path = (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  try {
    const host = checkHost(ctx, req);
    const reads = req.method === 'GET' || req.method === 'HEAD';
    if (!reads) checkCaller(req, host);
    if (!path.startsWith('/api/') && reads && serveConsole(path, res)) return;
    const caller = callerOf(ctx, req, path);
    const matches = ROUTES.filter(([, pattern]) => pattern.test(path));
    if (matches.length === 0) throw new HttpError('not_found', `no such endpoint: ${shown(path)}`);
    const match = matches.find(([method]) => method === req.method);
    if (!match) throw new HttpError('method_not_allowed', `${req.method} is not allowed on ${shown(path)}`);
    const [, pattern, handler] = match;
    const params = (pattern.exec(path) ?? []).slice(1).map((param) => decodeParam(param, path));
    const [status, body] = await handler(ctx, req, params, caller);
    send(res, status, body);
  } catch (err) {
    const error =
      err instanceof HttpError
        ? err
        : err instanceof DeskError
          ? new HttpError(err.code, err.message)
          : new HttpError('internal', 'internal error; see the bridge log');
    if (error.code === 'internal') ctx.logger.error({ err, path: shown(path) }, 'request failed');
    ctx.countRejected(error.code);
    const refusal: ApiRefusal = { error: { code: error.code, message: error.message, ...(error.field && { field: error.field }) } };
    send(res, error.status, refusal);
  }
}

/**
 * On every answer, console and API alike: no other page may frame the console (clickjacking),
 * and nothing it loads may come from elsewhere (but its empty `data:,` icon, which spares a
 * /favicon.ico request the API would refuse).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
/** API answers are the window's state now: a cached one would show staff a past state. */
const API_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** The custom header the console sends on calls without a body: a form or a no-cors fetch cannot set it. */
const CALLER_HEADER = 'x-hcp-request';

/** A Host or an Origin's host and port, `[::1]` kept bracketed; undefined when it is not one. */
function hostPort(value: string): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/i.exec(value);
  if (!match) return undefined;
  return { name: match[1]!.toLowerCase().replace(/\.$/, ''), port: match[2] === undefined ? 80 : Number(match[2]) };
}

/**
 * DNS rebinding points a name the attacker owns at this bridge, so that his page's calls reach it
 * with his name in Host: only loopback names and http.allowedHosts, at the port the bridge
 * listens on, are answered.
 */
function checkHost(ctx: ApiContext, req: IncomingMessage): { name: string; port: number } {
  const value = req.headers.host ?? '';
  const host = hostPort(value);
  if (!host || host.port !== req.socket.localPort || !(isLoopbackHost(host.name) || ctx.allowedHosts.includes(host.name))) {
    throw new HttpError('host_not_allowed', `this bridge does not answer to Host "${value.slice(0, 100)}": open it as localhost or 127.0.0.1 at port ${req.socket.localPort}, or add the name to http.allowedHosts`);
  }
  return host;
}

/**
 * A call that changes something must come from the console's own page or a program, never from
 * another page in the window PC's browser: its Origin, when sent, is the bridge's own, and it
 * carries JSON or the console's header, which an HTML form or a no-cors fetch cannot send.
 */
function checkCaller(req: IncomingMessage, host: { name: string; port: number }): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const from = /^http:\/\//i.test(origin) ? hostPort(origin.slice('http://'.length)) : undefined;
    if (!from || from.name !== host.name || from.port !== host.port) {
      throw new HttpError('origin_not_allowed', `a call from the page at ${origin.slice(0, 100)} is refused: only the bridge's own console (http://${req.headers.host}) may change anything`);
    }
  }
  if (!isJson(req) && req.headers[CALLER_HEADER] !== '1') {
    throw new HttpError('unsupported_media_type', `a ${req.method} call needs content-type: application/json, or X-HCP-Request: 1 when it has no body`);
  }
}

/** The business system by its own token; otherwise staff, with http.token when the bridge has one. */
function callerOf(ctx: ApiContext, req: IncomingMessage, path: string): Caller {
  const authorization = req.headers.authorization ?? '';
  if (ctx.businessToken !== undefined && sameSecret(authorization, `Bearer ${ctx.businessToken}`)) return 'business';
  if (ctx.token !== undefined && path !== API_META_PATH && !sameSecret(authorization, `Bearer ${ctx.token}`)) {
    throw new HttpError('unauthorized', 'this API needs its token: send Authorization: Bearer <http.token>');
  }
  return 'staff';
}

/** A `test` invitation never counts: only a technician, by the technician token, may make one. */
function checkTechnician(ctx: ApiContext, req: IncomingMessage): void {
  if (ctx.technicianToken === undefined) {
    throw new HttpError('technician_required', 'a test invitation needs the technician token, and this bridge has none: a technician sets http.technicianTokenFile', 'test');
  }
  const given = req.headers[TECHNICIAN_HEADER];
  if (typeof given !== 'string' || !sameSecret(given, ctx.technicianToken)) {
    throw new HttpError('technician_required', `a test invitation needs the technician token in the ${TECHNICIAN_HEADER} header`, 'test');
  }
}

/** The token compared in constant time: digests have equal length, so timingSafeEqual applies. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A path as a refusal quotes it: long ones cut, so that a refusal stays a line. */
function shown(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}… (${path.length} characters)` : path;
}

function decodeParam(param: string, path: string): string {
  try {
    return decodeURIComponent(param);
  } catch {
    throw new HttpError('invalid_request', `${shown(path)}: "${param.slice(0, 80)}" is not valid percent-encoding (UTF-8, %XX)`, 'path');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...API_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function isJson(req: IncomingMessage): boolean {
  return /^application\/json\b/i.test(req.headers['content-type'] ?? '');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!isJson(req)) {
    throw new HttpError('unsupported_media_type', 'send the body as JSON with content-type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError('body_too_large', `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
}

function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = explain(schema, body);
  if (result.ok) return result.data;
  throw new HttpError('invalid_request', result.problems.join('; '), result.fields[0]);
}
