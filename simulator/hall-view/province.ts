import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../../bridge/config.js';
import { deliveryStatus } from '../../gateway/delivery/status.js';
import { explain } from '../../protocol/issues.js';
import type { SimulatedHall } from '../hall.js';
import { faultSpecSchema, type ActiveFault } from '../province-http/faults.js';
import { FAULT_KINDS, type FaultKind } from '../province-http/state.js';
import { REFUSALS, REFUSAL_REASONS, type RefusalReason } from '../province-http/wire.js';

/**
 * The hall view's chain to the province (issue 14, item 3): what the province emulator received,
 * what the gateway's delivery has done, the faults set on the province, and the route by which the
 * page sets and clears them through the emulator's own `/_emulator/faults` API.
 */

/** What `GET /hall.json` shows of the province, under `province`. */
export interface HallViewProvince {
  /** The emulator's address (its `/_emulator/` API is there). */
  url: string;
  /** False while a `down` fault in mode `refused` keeps its port closed. */
  listening: boolean;
  /** From the emulator's ledger: what reached it and what it made of it. */
  received: {
    calls: number;
    services: number;
    evaluations: number;
    /** Services pushed again (answered success) and evaluations pushed again (answered 本次服务已存在评价). */
    duplicates: { service: number; evaluation: number };
    /** Ratings on the province's own page (pf 3), not calls. */
    pageRatings: number;
    /** Refusals with at least one call, with the province's code and message. */
    refused: Array<{ reason: RefusalReason; code: string; msg: string; n: number }>;
    /** Calls a fault shaped, by kind (only kinds that did). */
    faulted: Partial<Record<FaultKind, number>>;
  };
  faults: ActiveFault[];
  /** The gateway's delivery to it; null when the gateway has no province section. */
  delivery: HallViewDelivery | null;
  /** The rate-later page the receipts' QR codes lead to. */
  rateLaterUrl: string | null;
}

export interface HallViewDelivery {
  profile: string;
  deliver: boolean;
  running: boolean;
  /** Cases (one `deliveries` row each) by state, from the gateway's database. */
  delivered: number;
  waiting: number;
  rejected: number;
  skipped: number;
  /** When the oldest case still to be sent came (how far behind the province is). */
  oldestWaitingSince: string | null;
  /** Calls this gateway made since it started, and how many failed for a while (each retried after a backoff). */
  pushes: number;
  transient: number;
  /** The latest failure, the worker's own or the one kept on a row still waiting or rejected. */
  lastError: { at: string; message: string } | null;
  /** After a failure the worker waits until then. */
  pausedUntil: string | null;
}

/** Everything the page shows of the province: read from the emulator in this process and the gateway's database. */
export async function provinceFigures(hall: SimulatedHall): Promise<HallViewProvince> {
  const { emulator } = hall.province;
  const stats = emulator.stats;
  const refused = REFUSAL_REASONS.filter((reason) => stats.refused[reason] > 0).map((reason) => ({
    reason,
    code: REFUSALS[reason].code,
    msg: REFUSALS[reason].msg,
    n: stats.refused[reason],
  }));
  const faulted = Object.fromEntries(FAULT_KINDS.filter((kind) => stats.faulted[kind] > 0).map((kind) => [kind, stats.faulted[kind]]));
  const status = hall.gateway.status();
  return {
    url: emulator.url,
    listening: emulator.listening,
    received: {
      calls: stats.calls,
      services: emulator.services.length,
      evaluations: emulator.evaluations.length,
      duplicates: { ...stats.duplicates },
      pageRatings: stats.pageRatings,
      refused,
      faulted,
    },
    faults: emulator.faults.list(),
    delivery: status.province && (await deliveryFigures(hall, status.province)),
    rateLaterUrl: status.rateLater?.publicUrl ?? hall.gateway.rateLaterUrl ?? null,
  };
}

type WorkerStatus = NonNullable<ReturnType<SimulatedHall['gateway']['status']>['province']>;

async function deliveryFigures(hall: SimulatedHall, worker: WorkerStatus): Promise<HallViewDelivery> {
  const alertAfterAttempts = hall.gateway.province?.profile.http.maxAttemptsBeforeAlert ?? 5;
  const queue = await deliveryStatus(hall.gateway.db, { now: new Date(), alertAfterAttempts });
  const kept = queue.lastError && { at: queue.lastError.at, message: `${queue.lastError.key.caseNo}: ${queue.lastError.code ? `${queue.lastError.code} ` : ''}${queue.lastError.message}` };
  // The more recent of the two: the worker's (a province down leaves none on a row it put back in time) or the row's.
  const last = [worker.lastError, kept].filter((e) => e !== null).sort((a, b) => b.at.getTime() - a.at.getTime())[0];
  return {
    profile: worker.profile,
    deliver: worker.deliver,
    running: worker.running,
    delivered: queue.counts.delivered,
    waiting: queue.counts.service + queue.counts.evaluation,
    rejected: queue.counts.rejected,
    skipped: queue.counts.skipped,
    oldestWaitingSince: queue.oldestWaitingSince?.toISOString() ?? null,
    pushes: worker.pushes,
    transient: worker.transient,
    lastError: last ? { at: last.at.toISOString(), message: last.message } : null,
    pausedUntil: worker.pausedUntil && worker.pausedUntil.getTime() > Date.now() ? worker.pausedUntil.toISOString() : null,
  };
}

/** The hall view's paths that change the province's faults. */
export const FAULTS_PATH = '/province/faults';

/** What the hall view answers to a call on FAULTS_PATH. */
export interface FaultRouteAnswer {
  status: number;
  body: unknown;
}

export interface FaultRouteDeps {
  /** The emulator's address; its `/_emulator/faults` is called. */
  emulatorUrl: string;
  fetch?: typeof fetch;
}

const MAX_FAULT_BODY = 4096;

/**
 * `POST /province/faults` (a fault, JSON: `{"kind":"server_error","status":503}`),
 * `DELETE /province/faults` (all) and `DELETE /province/faults/<kind>`: checked here, then passed to
 * the emulator's `/_emulator/faults` and its answer relayed. Only the hall view's own page may call
 * them (a loopback Host, the same Origin, JSON or the X-HCP-Request header): another page in the
 * watcher's browser cannot take the province down.
 */
export async function faultRoute(req: IncomingMessage, path: string, deps: FaultRouteDeps): Promise<FaultRouteAnswer> {
  const refused = checkCaller(req);
  if (refused) return refused;
  const call = deps.fetch ?? fetch;
  const emulator = `${deps.emulatorUrl}/_emulator/faults`;
  if (req.method === 'POST' && path === FAULTS_PATH) {
    const text = await readLimited(req, MAX_FAULT_BODY);
    if (text === undefined) return { status: 413, body: { error: `a fault is at most ${MAX_FAULT_BODY} bytes` } };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { status: 400, body: { error: 'the body is not JSON (a fault: {"kind": …})' } };
    }
    const spec = explain(faultSpecSchema, json);
    if (!spec.ok) return { status: 400, body: { error: 'not a fault', problems: spec.problems } };
    return relay(call, emulator, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
  }
  if (req.method === 'DELETE') {
    if (path === FAULTS_PATH) return relay(call, emulator, { method: 'DELETE' });
    const kind = path.slice(FAULTS_PATH.length + 1);
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) return { status: 404, body: { error: `no such fault kind: ${kind.slice(0, 32)}`, problems: [`expected one of ${FAULT_KINDS.join('|')}`] } };
    return relay(call, `${emulator}/${kind}`, { method: 'DELETE' });
  }
  return { status: 405, body: { error: `${(req.method ?? '').slice(0, 16)} ${path.slice(0, 100)}: set a fault with POST ${FAULTS_PATH}, clear with DELETE ${FAULTS_PATH}[/<kind>]` } };
}

/** The emulator's answer, as it gave it; one it cannot give (its port closed by a refused fault) is a 502 naming why. */
async function relay(call: typeof fetch, url: string, init: RequestInit): Promise<FaultRouteAnswer> {
  try {
    const res = await call(url, { ...init, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: `the province emulator answered HTTP ${res.status} with no JSON` };
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 502, body: { error: `the province emulator at ${url} did not answer: ${(err as Error).message}` } };
  }
}

/** Undefined when a call may not change the faults; otherwise the refusal. */
function checkCaller(req: IncomingMessage): FaultRouteAnswer | undefined {
  const host = hostName(req.headers.host);
  // DNS rebinding brings another site's page here under its own name: only loopback names are answered.
  if (host === undefined || !(isLoopbackHost(host) || host === req.socket.localAddress)) {
    return { status: 421, body: { error: `this hall view does not answer to Host "${(req.headers.host ?? '').slice(0, 100)}": open it as 127.0.0.1 or localhost` } };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) {
    return { status: 403, body: { error: `a call from the page at ${origin.slice(0, 100)} is refused: only the hall view's own page may set the province's faults` } };
  }
  // An HTML form or a no-cors fetch can send neither: a cross-site page is stopped even without an Origin.
  const json = /^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');
  if (!json && req.headers['x-hcp-request'] !== '1') {
    return { status: 415, body: { error: `a ${(req.method ?? '').slice(0, 16)} needs content-type: application/json, or X-HCP-Request: 1 when it has no body` } };
  }
  return undefined;
}

function hostName(value: string | undefined): string | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(value ?? '');
  return match?.[1];
}

/** Past this a body is not even drained: the call fails and its connection is cut. */
const DRAIN_LIMIT = 1024 * 1024;

/** The body's text, or undefined past `max` bytes (the rest drained, so the connection stays readable). */
async function readLimited(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > DRAIN_LIMIT) throw new Error(`a body past ${DRAIN_LIMIT} bytes`);
    if (size <= max) chunks.push(chunk as Buffer);
  }
  return size > max ? undefined : Buffer.concat(chunks).toString('utf8');
}
