import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Announcement } from '../../protocol/voice-prompts.js';
import { announceRequestSchema, API_META, API_META_PATH, cancelRequestSchema, invitationRequestSchema, signInRequestSchema, TECHNICIAN_HEADER } from '../../protocol/http-api.js';
import type { Refusal } from '../../protocol/refusals.js';
import { isLoopbackHost } from '../config.js';
import { DeskError, type InvitationDesk } from '../desk/invitation-desk.js';
import type { DailyStats } from '../desk/daily-stats.js';
import type { Logger } from '../log.js';
import { serveConsole } from './console-files.js';
import { checkCaller, checkHost, HttpError, listenAt, refuseUnreadable, parseBody, pathOf, readJson as readJsonUpTo, SECURITY_HEADERS, sameSecret, sendJson as send, sendRefusal, shown } from './request-guard.js';
import type { StaffSignIn } from './staff-sign-in.js';
import { invitationForStaff, openForStaff, statsForStaff } from './staff-views.js';

const MAX_BODY_BYTES = 64 * 1024;

/** What the API serves; the Bridge provides it. */
export interface ApiContext {
  desk: Pick<InvitationDesk, 'signIn' | 'signOut' | 'invite' | 'cancel' | 'current' | 'lookup' | 'staffId' | 'setPaused' | 'paused'>;
  /** Staff ask the terminal to say a greeting or 请在一米线外等候 (the bridge's `announce` event). */
  announce(prompt: Announcement): void;
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
  /** Keeps the name and photo the business system gives at sign-in, for the customer screen's staff card. */
  staffCards?: { vouched(staffId: string, card: { name?: string | undefined; photo?: string | undefined }): void };
  logger: Logger;
  status(): unknown;
  /** Counts refused requests, by error code, for status and telemetry. */
  countRejected(code: Refusal): void;
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
      const { staffId, pin, name, photo } = parseBody(signInRequestSchema, await readJson(req));
      if (caller !== 'business' && (name !== undefined || photo !== undefined)) {
        throw new HttpError('invalid_request', "name and photo are the business system's to give (with its token): staff's own come from the province's roster", name !== undefined ? 'name' : 'photo');
      }
      const verdict = await ctx.staffSignIn.verify(staffId, pin, caller === 'business');
      if (!verdict.ok) {
        ctx.logger.warn({ staffId, refused: verdict.code }, 'staff sign-in refused');
        throw new HttpError(verdict.code, verdict.message, verdict.field);
      }
      // Before the desk announces the sign-in: the customer screen's card shows what was given.
      if (caller === 'business') ctx.staffCards?.vouched(staffId, { name, photo });
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
  // 暂停服务 and back, in the signed-in staff member's name (audited): no body.
  ['POST', /^\/api\/v1\/staff\/pause$/, (ctx) => pause(ctx, true)],
  ['POST', /^\/api\/v1\/staff\/resume$/, (ctx) => pause(ctx, false)],
  [
    'POST',
    /^\/api\/v1\/announce$/,
    async (ctx, req) => {
      const { prompt } = parseBody(announceRequestSchema, await readJson(req));
      ctx.announce(prompt);
      return [202, { prompt }];
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

function pause(ctx: ApiContext, paused: boolean): [number, unknown] {
  ctx.desk.setPaused(paused, ctx.desk.staffId);
  return [200, { paused: ctx.desk.paused }];
}

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
  refuseUnreadable(server, (code) => ctx.countRejected(code));
  return server;
}

/** Starts the API listening; an address it cannot have is refused like any bad setting (http.host, http.port). */
export function listenApi(server: Server, at: { host: string; port: number }): Promise<void> {
  return listenAt(server, at, 'http');
}

async function route(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  try {
    const host = checkHost(req, (name) => isLoopbackHost(name) || ctx.allowedHosts.includes(name), `open it as localhost or 127.0.0.1 at port ${req.socket.localPort}, or add the name to http.allowedHosts`);
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
    sendRefusal(res, error);
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

function decodeParam(param: string, path: string): string {
  try {
    return decodeURIComponent(param);
  } catch {
    throw new HttpError('invalid_request', `${shown(path)}: "${param.slice(0, 80)}" is not valid percent-encoding (UTF-8, %XX)`, 'path');
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return readJsonUpTo(req, MAX_BODY_BYTES);
}
