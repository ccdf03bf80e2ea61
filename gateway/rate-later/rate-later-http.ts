import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { ConfigError } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { gradeSchema, GRADE_INFO, type Grade } from '../../protocol/grades.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import { readReceiptToken } from '../../protocol/receipt-token.js';
import type { Ed25519Verify } from '../../protocol/seal/seal.js';
import type { Database } from '../db/database.js';
import { nodeEd25519Verify } from '../ingest/ed25519.js';
import { systemClock, type Clock, type Logger } from '../ports.js';
import { listenOrRefuse, type ListeningServer } from '../http/listen.js';
import { storeLaterRating } from './later-ratings.js';
import { CONTENT_SECURITY_POLICY, maskCaseNo, messagePage, ratingPage, windowCasesPage, type MessageKind, type RatingPageView } from './pages.js';
import { TokenBucketLimiter, type RateLimiter } from './rate-limit.js';
import { judgeReceipt, type ReceiptVerdict } from './receipt-case.js';
import { judgeWindowCase, offeredWindowCases } from './window-cases.js';
import { readWindowSign, type WindowSignPlace } from './window-sign.js';
import { clientAddress, crossSiteReason } from '../http/request-origin.js';

/*
 * The rate-later page: a citizen who left the counter without rating scans the receipt's QR code
 * and rates here (channel receipt_qr). Public, unlike the admin API: it trusts nothing but the
 * receipt's signature, checked against the terminal's registered key. The signed token in the
 * URL is the only authority a request carries (no cookie, no session), so a page elsewhere can
 * make a browser post nothing its author could not post himself; a POST a browser marks as sent
 * from another site is refused all the same. A window's static QR sign leads here too, to that
 * window's recent cases not rated at the counter (windowSign below): weaker, and marked so.
 */

export interface RateLaterDeps {
  db: Database;
  host: string;
  port: number;
  /** The catalogue the gateway publishes to its terminals (gateway/terminal-config.ts); a function when it may change while running. */
  reasonCatalog: ReasonCatalog | undefined | (() => ReasonCatalog | undefined);
  /** Days a receipt may be rated after the service (the province profile's rateLater.periodDays). */
  periodDays?: number;
  /** Minutes a case closed not rated at the counter is offered on its window's sign page (rateLater.windowRecentMinutes). */
  windowRecentMinutes?: number;
  /** Whether a case rated at the counter may get a follow-up here (追评, assessNumber 2: the profile's followUp.allowed). */
  followUpAllowed: boolean;
  /** This instance's name, stored with each rating. */
  instance: string;
  /** Default: 20 requests at once, then 30 a minute, per client address. */
  rateLimiter?: RateLimiter;
  /** Behind the hall's reverse proxy: the client is the last X-Forwarded-For address (the one the proxy added), not the socket's. */
  trustForwardedFor?: boolean;
  /** The page's public address (rateLater.publicUrl): a POST with an Origin other than it (or the Host it came to) is refused. */
  publicUrl?: string;
  clock?: Clock;
  logger?: Logger;
  newId?: () => string;
  verify?: Ed25519Verify;
}

/** The page's server: e.g. http://127.0.0.1:8471. */
export type RateLaterHttp = ListeningServer;

export const DEFAULT_PERIOD_DAYS = 7;
export const DEFAULT_WINDOW_RECENT_MINUTES = 15;
const MAX_BODY_BYTES = 4096;
const MAX_REASONS = 5;

const formSchema = z.object({
  grade: z.array(gradeSchema).length(1, 'choose one grade'),
  reason: z.array(z.string().min(1).max(32)).max(MAX_REASONS),
});

class PageAnswer {
  constructor(
    readonly status: number,
    readonly html: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

const message = (status: number, kind: MessageKind, headers?: Record<string, string>): PageAnswer => new PageAnswer(status, messagePage(kind), headers);

/** Starts the page; an address it cannot listen on is refused as a bad setting (ConfigError). */
export async function startRateLaterHttp(deps: RateLaterDeps): Promise<RateLaterHttp> {
  const periodDays = deps.periodDays ?? DEFAULT_PERIOD_DAYS;
  if (!Number.isInteger(periodDays) || periodDays < 1 || periodDays > 366) throw new ConfigError(`rateLater: periodDays ${periodDays} is not a whole number of days from 1 to 366`, []);
  const windowRecentMinutes = deps.windowRecentMinutes ?? DEFAULT_WINDOW_RECENT_MINUTES;
  if (!Number.isInteger(windowRecentMinutes) || windowRecentMinutes < 1 || windowRecentMinutes > 1440) {
    throw new ConfigError(`rateLater: windowRecentMinutes ${windowRecentMinutes} is not a whole number of minutes from 1 to 1440`, []);
  }
  return listenOrRefuse(createRateLaterServer({ ...deps, periodDays, windowRecentMinutes }), deps.host, deps.port, 'rateLater', '');
}

type Settled = RateLaterDeps & { periodDays: number; windowRecentMinutes: number };

export function createRateLaterServer(deps: Settled): Server {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const limiter = deps.rateLimiter ?? new TokenBucketLimiter({ burst: 20, perMinute: 30, clock });
  // Public: a client that trickles its request in is let go well before Node's five minutes.
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
    answer(deps, clock, logger, limiter, req)
      .catch((err: unknown) => {
        logger.error({ err }, 'rate-later page: answering a request failed');
        return message(503, 'unavailable', { 'retry-after': '30' });
      })
      .then((page) => send(res, page), () => res.destroy());
  });
  server.on('clientError', (_err, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const html = messagePage('bad_request');
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/html; charset=utf-8\r\ncontent-security-policy: ${CONTENT_SECURITY_POLICY}\r\ncontent-length: ${Buffer.byteLength(html)}\r\nconnection: close\r\n\r\n${html}`);
  });
  return server;
}

async function answer(deps: Settled, clock: Clock, logger: Logger, limiter: RateLimiter, req: IncomingMessage): Promise<PageAnswer> {
  const allowed = limiter.take(clientAddress(req, deps.trustForwardedFor === true));
  if (!allowed.ok) return message(429, 'rate_limited', { 'retry-after': String(allowed.retryAfterSeconds) });
  const method = req.method ?? '';
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return message(405, 'bad_request', { allow: 'GET, HEAD, POST' });
  const [path = '/', rawQuery = ''] = (req.url ?? '/').split('#', 1)[0]!.split(/\?(.*)/s, 2);
  if (path === '/favicon.ico') return message(404, 'not_found');
  if (path === '/robots.txt') return new PageAnswer(200, 'User-agent: *\nDisallow: /\n', { 'content-type': 'text/plain; charset=utf-8' });

  const query = new URLSearchParams(rawQuery);
  if (method === 'POST' && crossSiteReason(req, deps.publicUrl) !== undefined) return message(403, 'cross_site');
  const read = readReceiptToken(query);
  if (!read.ok) {
    if (read.reason !== 'no receipt token') return message(403, 'forged');
    const place = readWindowSign(query);
    return place ? windowSign(deps, clock, logger, req, method, place, query) : landing(method, query);
  }

  const now = clock.now();
  const doneValues = query.getAll('done');
  const verdict = await judgeReceipt(deps.db, read.token, {
    now,
    periodDays: deps.periodDays,
    followUpAllowed: deps.followUpAllowed,
    verify: deps.verify ?? nodeEd25519Verify,
    ...(method !== 'POST' && doneValues.length === 1 && { done: doneValues[0] }),
  });
  if (verdict.kind === 'forged') logger.warn({ terminalId: read.token.claims.terminalId.slice(0, 64), reason: verdict.reason }, 'rate-later page: a receipt that does not verify');
  if (verdict.kind !== 'open') return verdictPage(verdict);
  const catalog = typeof deps.reasonCatalog === 'function' ? deps.reasonCatalog() : deps.reasonCatalog;
  const view = { service: verdict.service, followUp: verdict.assessNumber === 2, catalog, periodDays: deps.periodDays };
  if (method !== 'POST') return new PageAnswer(200, ratingPage(view));

  const rating = await readRating(req, view);
  if (rating instanceof PageAnswer) return rating;
  const { grade, reasons } = rating;
  const stored = await storeLaterRating(
    deps.db,
    {
      terminalId: verdict.claims.terminalId,
      invitationId: verdict.claims.invitationId,
      caseNos: verdict.claims.caseNos,
      assessNumber: verdict.assessNumber,
      grade,
      reasons,
      reasonCatalog: reasons.length > 0 && view.catalog ? view.catalog.version : null,
      receiptIssuedAt: new Date(verdict.claims.issuedAt * 1000),
      ratedAt: now,
      instance: deps.instance,
    },
    deps.newId ?? uuidv7,
  );
  if (!stored.stored) return message(409, 'already_rated');
  // What was pressed is the citizen's: never logged (DOMAIN: confidential).
  logger.info({ terminalId: verdict.claims.terminalId, invitationId: verdict.claims.invitationId, cases: verdict.claims.caseNos.length, assessNumber: verdict.assessNumber }, 'rate-later page: rating stored');
  // Post/redirect/get: reloading the thanks page sends nothing again.
  query.delete('done');
  query.set('done', stored.id);
  return new PageAnswer(303, '', { location: `?${query.toString()}` });
}

/** The grade and reasons of a submitted form, or the form sent back saying what was wrong (the choices kept). */
async function readRating(req: IncomingMessage, view: RatingPageView): Promise<{ grade: Grade; reasons: string[] } | PageAnswer> {
  const body = await readForm(req);
  if (body instanceof PageAnswer) return body;
  const form = formSchema.safeParse({ grade: body.getAll('grade'), reason: body.getAll('reason') });
  const chosenGrade = gradeSchema.safeParse(body.get('grade'));
  const kept = { ...(chosenGrade.success && { grade: chosenGrade.data }), reasons: body.getAll('reason') };
  if (!form.success) return new PageAnswer(400, ratingPage({ ...view, error: '请选择一个评价等级后再提交。', chosen: kept }));
  const grade: Grade = form.data.grade[0]!;
  // Reasons belong to a bad grade only: ticked and then a better grade chosen, they are dropped.
  const reasons = GRADE_INFO[grade].class === 'bad' ? [...new Set(form.data.reason)] : [];
  if (reasons.some((code) => !view.catalog?.reasons.some((r) => r.code === code))) {
    return new PageAnswer(400, ratingPage({ ...view, error: '原因选项已更新，请重新选择。', chosen: { grade, reasons: [] } }));
  }
  return { grade, reasons };
}

/**
 * A window's static QR sign (gateway/qr-sign, `?hall=…&window=…`): the window's cases that closed
 * in the last few minutes not rated at the counter, masked; the citizen taps theirs (`case=`, the
 * invitation) and rates it as on the receipt's page. Nothing in the request proves the case was
 * offered, so every step asks the database again whether it is on the window's list now
 * (window-cases.ts): a crafted POST rates nothing else. Stored `via` window_sign.
 */
async function windowSign(deps: Settled, clock: Clock, logger: Logger, req: IncomingMessage, method: string, place: WindowSignPlace, query: URLSearchParams): Promise<PageAnswer> {
  const q = { ...place, now: clock.now(), recentMinutes: deps.windowRecentMinutes };
  const listHref = `?${new URLSearchParams({ hall: place.hallCode, window: place.windowNo }).toString()}`;
  const caseHref = (invitationId: string) => `${listHref}&${new URLSearchParams({ case: invitationId }).toString()}`;
  const chosen = query.getAll('case');
  if (chosen.length === 0) {
    if (method === 'POST') return message(400, 'bad_request');
    const cases = await offeredWindowCases(deps.db, q);
    return new PageAnswer(200, windowCasesPage({ place, cases, recentMinutes: deps.windowRecentMinutes, hrefOf: caseHref }));
  }
  const doneValues = query.getAll('done');
  const verdict =
    chosen.length === 1 ? await judgeWindowCase(deps.db, q, chosen[0]!, method !== 'POST' && doneValues.length === 1 ? doneValues[0] : undefined) : ({ kind: 'not_offered' } as const);
  switch (verdict.kind) {
    case 'thanks':
      return message(200, 'thanks');
    case 'already_rated':
      return message(409, verdict.at === 'counter' ? 'rated_at_counter' : 'already_rated');
    case 'expired':
      return new PageAnswer(410, messagePage('window_expired', undefined, listHref));
    case 'not_offered':
      return new PageAnswer(404, messagePage('not_offered', undefined, listHref));
    case 'open':
      break;
  }
  const { offered } = verdict;
  const catalog = typeof deps.reasonCatalog === 'function' ? deps.reasonCatalog() : deps.reasonCatalog;
  const view: RatingPageView = {
    service: { services: offered.services.map((s) => ({ ...s, caseNo: maskCaseNo(s.caseNo) })), ...place, servedAt: offered.closedAt, known: true },
    followUp: false,
    catalog,
    periodDays: deps.periodDays,
    intro: '请确认这是您刚刚办理的服务。每件办件评价一次。',
    backHref: listHref,
  };
  if (method !== 'POST') return new PageAnswer(200, ratingPage(view));

  const rating = await readRating(req, view);
  if (rating instanceof PageAnswer) return rating;
  const stored = await storeLaterRating(
    deps.db,
    {
      terminalId: offered.terminalId,
      invitationId: offered.invitationId,
      caseNos: offered.services.map((s) => s.caseNo),
      assessNumber: 1,
      grade: rating.grade,
      reasons: rating.reasons,
      reasonCatalog: rating.reasons.length > 0 && catalog ? catalog.version : null,
      // No receipt: the service's close stands in for its date.
      receiptIssuedAt: offered.closedAt,
      ratedAt: q.now,
      instance: deps.instance,
      via: 'window_sign',
    },
    deps.newId ?? uuidv7,
  );
  if (!stored.stored) return message(409, 'already_rated');
  logger.info({ terminalId: offered.terminalId, invitationId: offered.invitationId, cases: offered.services.length, via: 'window_sign' }, 'rate-later page: rating stored');
  return new PageAnswer(303, '', { location: `${caseHref(offered.invitationId)}&${new URLSearchParams({ done: stored.id }).toString()}` });
}

/**
 * Without a receipt or a window sign's hall and window: where to find a receipt. A sign's address
 * with the window alone (no hall) names the window but lists nothing: the list needs both.
 */
function landing(method: string, query: URLSearchParams): PageAnswer {
  const windows = query.getAll('window');
  const window = windows.length === 1 && /^[\p{L}\p{N}_-]{1,16}$/u.test(windows[0]!) ? windows[0] : undefined;
  return new PageAnswer(method === 'POST' ? 400 : 200, messagePage('landing', window && `窗口：${window}。若未取得办件回执，请向窗口工作人员索取。`));
}

function verdictPage(verdict: Exclude<ReceiptVerdict, { kind: 'open' }>): PageAnswer {
  switch (verdict.kind) {
    case 'thanks':
      return message(200, 'thanks');
    case 'test':
      return message(200, 'test');
    case 'already_rated':
      return message(409, verdict.at === 'counter' ? 'rated_at_counter' : 'already_rated');
    case 'expired':
      return message(410, 'expired');
    case 'forged':
      return message(403, 'forged');
    case 'unknown':
      return message(404, 'unknown');
  }
}

/** The form's fields, or the page that says why there are none. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | PageAnswer> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return message(415, 'bad_request');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return message(413, 'bad_request', { connection: 'close' });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}


function send(res: ServerResponse, page: PageAnswer): void {
  res.writeHead(page.status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(page.html),
    ...page.headers,
  });
  res.end(page.html);
}
