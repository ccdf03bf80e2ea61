import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { silentLogger } from '../../bridge/log.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import type { Sessions } from '../accounts/sessions.js';
import type { WorkingCalendar } from '../alerts/working-days.js';
import type { GatewayConfig } from '../config.js';
import { DatabaseUnavailable, type Database } from '../db/database.js';
import { listenOrRefuse, type ListeningServer } from '../http/listen.js';
import type { ChangeWatch } from '../live/changes.js';
import { systemClock, type Clock, type Logger } from '../ports.js';
import { TokenBucketLimiter, type RateLimiter } from '../rate-later/rate-limit.js';
import { DashboardRefusal, sendJson, sendRefusal, shown } from './answers.js';
import { EventStreams } from './events.js';
import { isPageFile, servePageFile } from './page-files.js';
import { ROUTES, type Answer, type Call } from './routes.js';
import { checkSameOrigin } from './same-origin.js';
import { clientAddress } from '../http/request-origin.js';
import { cookieSettings, tokenOf, type CookieSettings } from './session-cookie.js';

/*
 * The managers' dashboard (issue 15): the page (gateway/dashboard/page/) and its JSON API, every
 * answer within the signed-in user's scope (gateway/accounts/scope.ts). A table of routes with
 * one error exit, like the admin API. For managers only: the bridge serves none of it, and the
 * counter's staff have no account.
 */

export interface DashboardHttpOptions {
  db: Database;
  host: string;
  port: number;
  sessions: Pick<Sessions, 'signIn' | 'authenticate' | 'signOut'>;
  /** The hall's time zone (config timeZone): the days of statistics and exports. */
  timeZone: string;
  /** dashboard.publicUrl: an https address marks the cookie Secure; its origin may POST. */
  publicUrl?: string;
  /** Behind the hall's reverse proxy: sign-in limits go by the last X-Forwarded-For address. */
  trustForwardedFor: boolean;
  /** misuse.cancelsPerDay */
  cancelsPerDay: number;
  /** alerts.followUp */
  followUp: GatewayConfig['alerts']['followUp'];
  /** The working-day calendar (alerts.followUp.calendarFile, loaded). */
  calendar: WorkingCalendar;
  /** The reason catalogue the gateway publishes to its terminals (a function when it may change): the page names reasons by it. */
  reasonCatalog?: ReasonCatalog | undefined | (() => ReasonCatalog | undefined);
  /** What tells open pages that something changed (started and stopped by the caller). */
  changes: Pick<ChangeWatch, 'on' | 'off'>;
  clock?: Clock;
  timers?: Timers;
  logger?: Logger;
  /** Default: 10 sign-ins at once, then 10 a minute, per client address. */
  signInLimiter?: RateLimiter;
  /** Open event streams at most (default 200). */
  maxStreams?: number;
  /** How often each event stream is kept alive and its session checked again (default 25 s). */
  streamKeepAliveMs?: number;
}

/** What the routes get: the options settled, and the server's own parts. */
export interface DashboardContext extends DashboardHttpOptions {
  clock: Clock;
  logger: Logger;
  cookie: CookieSettings;
  signInLimiter: RateLimiter;
  streams: EventStreams;
}

/** Starts the dashboard; an address it cannot listen on is refused as a bad setting (ConfigError naming dashboard.port). */
export async function startDashboardHttp(options: DashboardHttpOptions): Promise<ListeningServer> {
  const { server, close } = createDashboardServer(options);
  const listening = await listenOrRefuse(server, options.host, options.port, 'dashboard', '');
  return {
    url: listening.url,
    stop: async () => {
      close();
      await listening.stop();
    },
  };
}

/** The server, not yet listening, and what to call before closing it (ends the event streams). */
export function createDashboardServer(options: DashboardHttpOptions): { server: Server; close: () => void } {
  const clock = options.clock ?? systemClock;
  const ctx: DashboardContext = {
    ...options,
    clock,
    logger: options.logger ?? silentLogger,
    cookie: cookieSettings(options.publicUrl),
    signInLimiter: options.signInLimiter ?? new TokenBucketLimiter({ burst: 10, perMinute: 10, clock }),
    streams: new EventStreams({
      timers: options.timers ?? hostTimers,
      ...(options.maxStreams !== undefined && { maxStreams: options.maxStreams }),
      ...(options.streamKeepAliveMs !== undefined && { keepAliveMs: options.streamKeepAliveMs }),
    }),
  };
  const onChanged = (what: { records: boolean; alerts: boolean; terminals: boolean }): void => ctx.streams.changed(what);
  options.changes.on('changed', onChanged);
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      ctx.logger.error({ err }, 'dashboard: answering a request failed; dropped');
      res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const text = JSON.stringify({ error: { code: 'bad_request', message: '无法读取的 HTTP 请求', problems: [] } });
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  });
  return {
    server,
    close: () => {
      options.changes.off('changed', onChanged);
      ctx.streams.close();
    },
  };
}

async function route(ctx: DashboardContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('#', 1)[0]!.split(/\?(.*)/s, 2);
  try {
    if (isPageFile(rawPath)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new DashboardRefusal('method_not_allowed', `${String(req.method).slice(0, 16)} 不适用于 ${rawPath}`, [], { allow: 'GET, HEAD' });
      servePageFile(rawPath, req, res);
      return;
    }
    const matches = ROUTES.filter((r) => r.pattern.test(rawPath));
    if (matches.length === 0) throw new DashboardRefusal('not_found', `没有这个地址：${shown(rawPath)}`);
    const match = matches.find((r) => r.method === req.method);
    if (!match) throw new DashboardRefusal('method_not_allowed', `${String(req.method).slice(0, 16)} 不适用于 ${shown(rawPath)}`, [], { allow: matches.map((r) => r.method).join(', ') });
    if (match.method === 'POST') checkSameOrigin(req, ctx.publicUrl);
    const token = tokenOf(req, ctx.cookie);
    // Sign-in and sign-out need no session looked up: only the token (sign-out ends it).
    const user = token === undefined || !match.auth ? undefined : await ctx.sessions.authenticate(token);
    if (match.auth && user === undefined) throw new DashboardRefusal('unauthorized', token === undefined ? '请先登录' : '登录已过期，请重新登录');
    const call: Call = { req, res, params: (match.pattern.exec(rawPath) ?? []).slice(1), query: new URLSearchParams(rawQuery), client: clientAddress(req, ctx.trustForwardedFor), token, user };
    answer(res, await match.handle(ctx, call));
  } catch (err) {
    const refusal = asRefusal(err);
    if (refusal.status >= 500 && refusal.code !== 'too_many_streams') ctx.logger.error({ err, path: shown(rawPath) }, 'dashboard: request failed');
    if (res.headersSent) res.destroy();
    else sendRefusal(res, refusal);
  }
}

function answer(res: ServerResponse, result: Answer): void {
  if (result === 'streamed') return;
  if ('download' in result) {
    const { filename, contentType, body } = result.download;
    // RFC 6266: an ASCII fallback, and the UTF-8 name for browsers that read it.
    const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': body.length,
      'content-disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
    return;
  }
  sendJson(res, result.status, result.body, result.headers);
}

function asRefusal(err: unknown): DashboardRefusal {
  if (err instanceof DashboardRefusal) return err;
  // Its message names host:port/database and what to check, never the password; managers read "unavailable".
  if (err instanceof DatabaseUnavailable) return new DashboardRefusal('unavailable', '数据库暂时无法访问，请稍后再试', [], { 'retry-after': '10' });
  return new DashboardRefusal('internal', '内部错误，请查看网关日志');
}

