import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ALARMS } from '../../protocol/alarms.js';
import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import { MISUSE_FLAGS } from '../../protocol/misuse-flags.js';
import { LOCK_MINUTES, type SessionUser } from '../accounts/sessions.js';
import { describeScope, ROLE_NAMES } from '../accounts/scope.js';
import { acknowledge, alertIdSchema, alertQuerySchema, followUpHistory, followUpInputSchema, listAlerts, recordFollowUp } from '../alerts/alert-store.js';
import { buildExport, exportFormatSchema, exportWhatSchema, ExportTooLarge, MAX_EXPORT_ROWS, monthTextSchema } from '../exports/export.js';
import { liveWindows } from '../live/windows.js';
import { figureBySchema, statistics } from '../stats/figures.js';
import { listFlagged, MAX_FLAGGED_PAGE } from '../stats/misuse.js';
import { parsePeriod, todayPeriod, type Period } from '../stats/period.js';
import { DashboardRefusal, parsed, queryObject, readJsonBody } from './answers.js';
import type { DashboardContext } from './dashboard-http.js';
import { clearedCookie, sessionCookie } from './session-cookie.js';

/** One request as a route's handler sees it; `user` is set on routes that need a session. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  /** The client's address (sign-in limits). */
  client: string;
  token: string | undefined;
  user: SessionUser | undefined;
}

export type Answer =
  | { status: number; body: unknown; headers?: Record<string, string | string[]> }
  | { download: { filename: string; contentType: string; body: Buffer } }
  /** The handler answered itself (the event stream). */
  | 'streamed';

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Whether the route needs a session (all but sign-in and sign-out). */
  auth: boolean;
  handle: (ctx: DashboardContext, call: Call) => Promise<Answer>;
}

const loginBodySchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** A script's sign-in: the token in the answer (for Authorization: Bearer), no cookie. */
  bearer: z.boolean().optional(),
});

const SIGN_IN_REFUSALS = {
  bad_credentials: new DashboardRefusal('bad_credentials', '用户名或密码错误'),
  locked: new DashboardRefusal('locked', `密码连续输错次数过多，账户已暂时锁定，请 ${LOCK_MINUTES} 分钟后再试`),
  disabled: new DashboardRefusal('disabled', '该账户已停用，请联系管理员'),
} as const;

/** The words the page shows for codes: from the project's one list of each, never a copy in the page. */
const WORDS = {
  grades: GRADES.map((grade) => ({ code: grade, zh: GRADE_INFO[grade].zh, class: GRADE_INFO[grade].class })),
  misuseFlags: MISUSE_FLAGS,
  alarms: ALARMS,
  roles: ROLE_NAMES,
};

/** `true`/`false` (or 1/0) in a query. */
const flagText = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** A period's days, YYYY-MM-DD inclusive (stats/period.ts checks them); both or neither (today). */
const periodFields = { from: z.string().max(10).optional(), to: z.string().max(10).optional() };

const statsQuerySchema = z.strictObject({ ...periodFields, by: figureBySchema.default('total'), flagged: flagText.default(false) });

const misuseQuerySchema = z.strictObject({
  ...periodFields,
  limit: z.coerce.number().int().min(1).max(MAX_FLAGGED_PAGE).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const exportQuerySchema = z.strictObject({ month: monthTextSchema, what: exportWhatSchema.default('records'), format: exportFormatSchema.default('xlsx'), flagged: flagText.default(false) });

/** The alerts' query as alert-store takes it, `kinds` given comma-separated. */
function alertQuery(query: URLSearchParams): z.output<typeof alertQuerySchema> {
  const raw: Record<string, unknown> = queryObject(query);
  if (typeof raw.kinds === 'string') raw.kinds = raw.kinds.split(',');
  return parsed(alertQuerySchema, raw, 'query');
}

const ALERT_ID_IN_PATH = '([1-9][0-9]{0,17})';

/** The alert's id from the path (the route's pattern has shaped it already). */
function alertIdOf(call: Call): string {
  return parsed(alertIdSchema, call.params[0], 'path');
}

const NO_SUCH_ALERT = (): DashboardRefusal => new DashboardRefusal('not_found', '没有这条告警，或不在您的权限范围内');

/** The signed-in user (auth routes only run with one). */
const userOf = (call: Call): SessionUser => call.user!;

export const ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/api\/login$/,
    auth: false,
    handle: async (ctx, call) => {
      const allowed = ctx.signInLimiter.take(call.client);
      if (!allowed.ok) throw new DashboardRefusal('rate_limited', `登录尝试过于频繁，请 ${allowed.retryAfterSeconds} 秒后再试`, [], { 'retry-after': String(allowed.retryAfterSeconds) });
      const body = parsed(loginBodySchema, await readJsonBody(call.req), 'body');
      const result = await ctx.sessions.signIn(body.username, body.password);
      if (!result.ok) throw SIGN_IN_REFUSALS[result.reason];
      // Signing in again in the same browser ends the session it held: one cookie, one session.
      if (call.token !== undefined && !body.bearer) await ctx.sessions.signOut(call.token);
      ctx.logger.info({ username: result.user.username }, 'dashboard: signed in');
      const answer = { user: userView(result.user), expiresAt: result.expiresAt.toISOString() };
      if (body.bearer) return { status: 200, body: { ...answer, token: result.token } };
      return { status: 200, body: answer, headers: { 'set-cookie': sessionCookie(ctx.cookie, result.token, result.expiresAt, ctx.clock.now()) } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/logout$/,
    auth: false,
    handle: async (ctx, call) => {
      if (call.token !== undefined) await ctx.sessions.signOut(call.token);
      return { status: 200, body: { signedOut: true }, headers: { 'set-cookie': clearedCookie(ctx.cookie) } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/me$/,
    auth: true,
    handle: async (ctx, call) => ({ status: 200, body: { user: userView(userOf(call)), timeZone: ctx.timeZone, now: ctx.clock.now().toISOString(), words: { ...WORDS, reasons: reasonWords(ctx) } } }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/stats$/,
    auth: true,
    handle: async (ctx, call) => {
      const q = parsed(statsQuerySchema, queryObject(call.query), 'query');
      const period = periodOf(ctx, q);
      const rows = await statistics(ctx.db, { scope: userOf(call).scope, period, timeZone: ctx.timeZone, by: q.by, includeFlagged: q.flagged, cancelsPerDay: ctx.cancelsPerDay });
      return { status: 200, body: { period: periodView(period), by: q.by, includeFlagged: q.flagged, rows } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/windows$/,
    auth: true,
    handle: async (ctx, call) => {
      parsed(z.strictObject({}), queryObject(call.query), 'query');
      return { status: 200, body: { windows: await liveWindows(ctx.db, { scope: userOf(call).scope, now: ctx.clock.now() }) } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/misuse$/,
    auth: true,
    handle: async (ctx, call) => {
      const q = parsed(misuseQuerySchema, queryObject(call.query), 'query');
      const period = periodOf(ctx, q);
      const { rows, total } = await listFlagged(ctx.db, { scope: userOf(call).scope, period, timeZone: ctx.timeZone, cancelsPerDay: ctx.cancelsPerDay, limit: q.limit, offset: q.offset });
      return { status: 200, body: { period: periodView(period), rows, total } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/exports$/,
    auth: true,
    handle: async (ctx, call) => {
      const q = parsed(exportQuerySchema, queryObject(call.query), 'query');
      const user = userOf(call);
      try {
        const file = await buildExport(ctx.db, { scope: user.scope, month: q.month, timeZone: ctx.timeZone, cancelsPerDay: ctx.cancelsPerDay, includeFlagged: q.flagged, what: q.what, format: q.format });
        ctx.logger.info({ username: user.username, what: q.what, month: q.month, format: q.format, bytes: file.body.length }, 'dashboard: export downloaded');
        return { download: file };
      } catch (err) {
        if (err instanceof ExportTooLarge) throw new DashboardRefusal('too_many_rows', `该月记录超过 ${MAX_EXPORT_ROWS} 条，无法一次导出；请按窗口或工作人员导出统计`);
        throw err;
      }
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/alerts$/,
    auth: true,
    handle: async (ctx, call) => {
      const q = alertQuery(call.query);
      const { rows, total } = await listAlerts(ctx.db, { ...q, scope: userOf(call).scope, timeZone: ctx.timeZone, followUp: ctx.followUp, calendar: ctx.calendar, now: ctx.clock.now() });
      return { status: 200, body: { alerts: rows, total } };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/alerts/${ALERT_ID_IN_PATH}/ack$`),
    auth: true,
    handle: async (ctx, call) => {
      const id = alertIdOf(call);
      parsed(z.strictObject({}).optional(), await readJsonBody(call.req), 'body');
      const user = userOf(call);
      const result = await acknowledge(ctx.db, { id, actor: user.username, scope: user.scope, now: ctx.clock.now() });
      if (result === 'not_found') throw NO_SUCH_ALERT();
      if (result === 'ok') ctx.logger.info({ alert: id, username: user.username }, 'dashboard: alert acknowledged');
      return { status: 200, body: { id, acknowledged: true, already: result === 'already' } };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/alerts/${ALERT_ID_IN_PATH}/follow-up$`),
    auth: true,
    handle: async (ctx, call) => {
      const id = alertIdOf(call);
      const body = parsed(followUpInputSchema, await readJsonBody(call.req), 'body');
      const user = userOf(call);
      const result = await recordFollowUp(ctx.db, { id, ...body, actor: user.username, scope: user.scope, now: ctx.clock.now() });
      if (result === 'not_found') throw NO_SUCH_ALERT();
      if (result === 'not_bad_review') throw new DashboardRefusal('conflict', '只有差评需要登记跟进情况');
      if (result === 'closed') throw new DashboardRefusal('conflict', '该差评已办结，不能再登记');
      return { status: 200, body: { id, followUp: body.status, events: await followUpHistory(ctx.db, id, user.scope) } };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/alerts/${ALERT_ID_IN_PATH}/follow-up$`),
    auth: true,
    handle: async (ctx, call) => {
      const events = await followUpHistory(ctx.db, alertIdOf(call), userOf(call).scope);
      if (events === null) throw NO_SUCH_ALERT();
      return { status: 200, body: { events } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/events$/,
    auth: true,
    handle: async (ctx, call) => {
      if (ctx.streams.full) throw new DashboardRefusal('too_many_streams', '打开的页面过多，请关闭一些后再试', [], { 'retry-after': '30' });
      const token = call.token!;
      ctx.streams.open(call.res, async () => (await ctx.sessions.authenticate(token)) !== undefined);
      return 'streamed';
    },
  },
];

/** The period a query names: its from and to days, or today when it names neither. */
function periodOf(ctx: DashboardContext, q: { from?: string | undefined; to?: string | undefined }): Period {
  if (q.from === undefined && q.to === undefined) return todayPeriod(ctx.clock.now(), ctx.timeZone);
  const result = parsePeriod({ from: q.from, to: q.to }, ctx.timeZone);
  if (!result.ok) throw new DashboardRefusal('bad_request', '时间范围有误', [result.error]);
  return result.period;
}

function periodView(period: Period): { from: string; to: string } {
  return { from: period.from.toISOString(), to: period.to.toISOString() };
}

/** The catalogue's reasons by code (codes the catalogue no longer has are shown as codes). */
function reasonWords(ctx: DashboardContext): Record<string, string> {
  const catalog = typeof ctx.reasonCatalog === 'function' ? ctx.reasonCatalog() : ctx.reasonCatalog;
  return Object.fromEntries((catalog?.reasons ?? []).map((r) => [r.code, r.label]));
}

function userView(user: SessionUser): { username: string; displayName: string; scope: SessionUser['scope']; scopeText: string } {
  return { username: user.username, displayName: user.displayName, scope: user.scope, scopeText: describeScope(user.scope) };
}
