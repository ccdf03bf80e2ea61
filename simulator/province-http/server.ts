import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { explain } from '../../protocol/issues.js';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import { FaultBoard, faultSpecSchema, type ActiveFault, type FaultPlan, type FaultSpec } from './faults.js';
import { callerMap, parseCall, shown, type Caller } from './request.js';
import { RATING_PAGE_PATH, ratingPageTemplate, serveRatingPage } from './rating-page.js';
import { applyEvaluation, applyService, type GradeDirection, type RuleOutcome } from './rules.js';
import type { TimeFormat } from '../../gateway/province/time-format.js';
import { DEFAULT_USER_ID, type SignatureFormat } from './signature.js';
import { FAULT_KINDS, ProvinceLedger, type FaultKind, type ProvinceHttpStats, type ReceivedCall, type StoredEvaluation, type StoredService } from './state.js';
import { OK_ANSWER, REFUSALS, refusalAnswer, type Phase, type ProvinceAnswer, type RefusalReason } from './wire.js';

export interface ProvinceHttpOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1 (a lab tool: the `/_emulator/` API has no password). */
  host?: string;
  /** The callers it knows, by appMark: the appWord and the SM2 public key each registered. */
  callers: Record<string, Caller> | ReadonlyMap<string, Caller>;
  /** Which end of `satisfaction` is best, as the profile says. Default five_is_best. */
  satisfaction?: GradeDirection;
  /** The signature's encoding, as the profile's sm2.signatureFormat: raw_hex (r‖s, default), der_hex, der_base64. */
  signatureFormat?: SignatureFormat;
  /** The signer's user id in SM2's Z, as the profile's sm2.userId. Default 1234567812345678. */
  userId?: string;
  /** The envelope's `time`. Default yyyyMMddHHmmss (Asia/Shanghai). */
  timeFormat?: TimeFormat;
  /** How far `time` may be from the clock, either way. Default 300 000 (5 minutes). */
  timeWindowMs?: number;
  /** The area code's length, as the profile's areaCodeDigits. Default 12. */
  areaCodeDigits?: number;
  /** The two endpoints' paths. Default /api/hcp/service and /api/hcp/evaluation. */
  paths?: { service?: string; evaluation?: string };
  /** Largest body read; a bigger one is answered 413. Default 64 KiB. */
  maxBodyBytes?: number;
  clock?: { now(): Date };
  /** For slow answers and faults set with forMs. */
  timers?: Timers;
  /** Its memory; pass the one of a stopped emulator to restart with its state. */
  ledger?: ProvinceLedger;
  /**
   * Keep connections open between calls. Default false: every answer closes its connection, so
   * that a down fault is seen the same way by every call (connection refused, or closed without an
   * answer) and never as a pooled socket found dead on its next use.
   */
  keepAlive?: boolean;
  /** The data source its own rating page writes (rating-page.ts). Default "000". */
  ratingPageDataSource?: string;
}

export type ProvinceHttpEvents = {
  /** Every call to the interface, after it was answered (or its connection closed). */
  call: [call: ReceivedCall];
};

const DEFAULT_PATHS = { service: '/api/hcp/service', evaluation: '/api/hcp/evaluation' };
const DEFAULT_MAX_BODY = 64 * 1024;
const ADMIN_PREFIX = '/_emulator/';


/**
 * Plays a province's 好差评 HTTP interface (issue 14, item 3): two endpoints (service push,
 * evaluation push) taking the SM2-signed envelope, the province's rules, faults set at run time,
 * and a query API under `/_emulator/` (docs/province-emulator.md).
 */
export class ProvinceHttpEmulator extends EventEmitter<ProvinceHttpEvents> {
  readonly faults: FaultBoard;
  readonly ledger: ProvinceLedger;
  readonly #server: Server;
  readonly #host: string;
  #port: number;
  readonly #callers: Map<string, Caller>;
  readonly #direction: GradeDirection;
  readonly #signatureFormat: SignatureFormat;
  readonly #userId: string;
  readonly #timeFormat: TimeFormat;
  readonly #timeWindowMs: number;
  readonly #areaCodeDigits: number;
  readonly #paths: { service: string; evaluation: string };
  readonly #maxBody: number;
  readonly #now: () => Date;
  readonly #timers: Timers;
  readonly #keepAlive: boolean;
  readonly #ratingPageDataSource: string;
  readonly #delays = new Map<unknown, () => void>();
  #listening = false;
  #stopped = false;
  /** Why the port could not listen again after a refused fault, if it could not. */
  listenError: Error | undefined;
  /** Listening and closing for the refused fault, one after the other. */
  #transition: Promise<void> = Promise.resolve();

  private constructor(options: ProvinceHttpOptions) {
    super();
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#callers = callerMap(options.callers);
    this.#direction = options.satisfaction ?? 'five_is_best';
    this.#signatureFormat = options.signatureFormat ?? 'raw_hex';
    this.#userId = options.userId ?? DEFAULT_USER_ID;
    this.#timeFormat = options.timeFormat ?? 'yyyyMMddHHmmss';
    this.#timeWindowMs = options.timeWindowMs ?? 300_000;
    this.#areaCodeDigits = options.areaCodeDigits ?? 12;
    this.#paths = { ...DEFAULT_PATHS, ...options.paths };
    if (this.#paths.service === this.#paths.evaluation || [this.#paths.service, this.#paths.evaluation].some((p) => !p.startsWith('/') || p.startsWith(ADMIN_PREFIX))) {
      throw new Error(`province emulator: paths must be two different absolute paths outside ${ADMIN_PREFIX} (got ${JSON.stringify(this.#paths)})`);
    }
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#keepAlive = options.keepAlive ?? false;
    this.#ratingPageDataSource = options.ratingPageDataSource ?? '000';
    const clock = options.clock ?? { now: () => new Date() };
    this.#now = () => clock.now();
    this.#timers = options.timers ?? hostTimers;
    this.ledger = options.ledger ?? new ProvinceLedger();
    this.faults = new FaultBoard(this.#timers, this.#now);
    this.faults.on('change', () => this.#followRefusal());
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        // #handle answers every error itself; this is the last guard so a bug never crashes the host
        // process, and is counted (refused.internal) so that a test sees it.
        const answer = refusalAnswer('internal', err instanceof Error ? err.message.slice(0, 200) : undefined);
        if (!res.headersSent) sendJson(res, 500, answer);
        else res.destroy();
        this.#record({ at: this.#now().toISOString(), method: (req.method ?? '').slice(0, 16), path: shownPath(pathOf(req.url)), phase: undefined, appMark: undefined, outcome: 'refused', reason: 'internal', faults: [], http: 500, answer });
      });
    });
    // A request Node's HTTP parser cannot read (an unknown method, a broken header): answered 400 in
    // the interface's own form and counted, as anything else hostile.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const answer = refusalAnswer('bad_request', err.code ?? err.message);
      const text = JSON.stringify(answer);
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
      this.#record({ at: this.#now().toISOString(), method: '', path: '', phase: undefined, appMark: undefined, outcome: 'refused', reason: 'bad_request', faults: [], http: 400, answer });
    });
  }

  static async start(options: ProvinceHttpOptions): Promise<ProvinceHttpEmulator> {
    const emulator = new ProvinceHttpEmulator(options);
    await emulator.#listen();
    return emulator;
  }

  /** http://host:port (without a trailing slash). */
  get url(): string {
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${this.#port}`;
  }

  /** The two endpoints, as a profile's `endpoints` names them. */
  get endpoints(): { service: string; evaluation: string } {
    return { service: `${this.url}${this.#paths.service}`, evaluation: `${this.url}${this.#paths.evaluation}` };
  }

  /** A profile's rateLater.urlTemplate leading to its own rating page (rateLater.mode: province). */
  get ratingPageTemplate(): string {
    return ratingPageTemplate(this.url);
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Every call, in arrival order (the latest 10 000). */
  get received(): readonly ReceivedCall[] {
    return this.ledger.received;
  }

  get services(): readonly StoredService[] {
    return this.ledger.services;
  }

  get evaluations(): readonly StoredEvaluation[] {
    return this.ledger.evaluations;
  }

  get stats(): ProvinceHttpStats {
    return this.ledger.stats;
  }

  /** Registers (or replaces) a caller at run time. */
  addCaller(appMark: string, caller: Caller): void {
    for (const [k, v] of callerMap({ [appMark]: caller })) this.#callers.set(k, v);
  }

  /** Sets a fault and waits until the port follows it (down/refused closes it). */
  async setFault(spec: FaultSpec): Promise<ActiveFault> {
    const active = this.faults.set(spec);
    await this.settled();
    return active;
  }

  async clearFaults(kind?: FaultKind): Promise<void> {
    this.faults.clear(kind);
    await this.settled();
  }

  /** Resolves once the port listens or not as the faults say. */
  async settled(): Promise<void> {
    await this.#transition;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.settled();
    this.#stopped = true;
    this.faults.dispose();
    for (const [handle, release] of this.#delays) {
      this.#timers.clearTimeout(handle);
      release();
    }
    this.#delays.clear();
    this.#transition = this.#transition.then(() => this.#close());
    await this.#transition;
  }

  #followRefusal(): void {
    this.#transition = this.#transition
      .then(async () => {
        if (this.#stopped) return;
        if (this.faults.refusing && this.#listening) await this.#close();
        else if (!this.faults.refusing && !this.#listening) await this.#listen();
      })
      .catch((err: unknown) => {
        // The port taken by another process while it was down: it stays down (`listening` false),
        // said in `listenError`, and the next change of faults tries again.
        this.listenError = err instanceof Error ? err : new Error(String(err));
      });
  }

  async #listen(): Promise<void> {
    this.listenError = undefined;
    this.#server.listen(this.#port, this.#host);
    await once(this.#server, 'listening');
    // The port chosen on the first start is kept: a province that comes back comes back where it was.
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
  }

  async #close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    // A caller's pooled keep-alive socket cut here is found dead only when it next sends on it
    // (undici: "other side closed"), as after a real server's restart.
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (!this.#keepAlive) res.setHeader('connection', 'close');
    if (path.startsWith(ADMIN_PREFIX)) return this.#admin(req, res, path);
    if (path === RATING_PAGE_PATH) {
      const query = (req.url ?? '').slice(path.length).replace(/^\?/, '');
      return serveRatingPage(req, res, query, { ledger: this.ledger, direction: this.#direction, dataSource: this.#ratingPageDataSource, now: this.#now });
    }
    const phase: Phase | undefined = path === this.#paths.service ? 'service' : path === this.#paths.evaluation ? 'evaluation' : undefined;
    const plan = this.faults.take(phase);
    const base = { at: this.#now().toISOString(), method: (req.method ?? '').slice(0, 16), path: shownPath(path), phase, faults: plan.kinds };
    if (plan.close) {
      req.socket.destroy();
      this.#record({ ...base, appMark: undefined, outcome: 'faulted', reason: undefined, http: 0, answer: undefined });
      return;
    }
    // Every body is read (a big one drained, not kept) before the answer: a body left unread would
    // be parsed as the next request on the connection.
    let read: string | typeof TOO_LARGE;
    try {
      read = await readBody(req, this.#maxBody);
    } catch {
      // The caller went away mid-body, or sent more than is worth draining: nothing to answer.
      req.socket.destroy();
      this.#record({ ...base, appMark: undefined, outcome: 'refused', reason: 'too_large', http: 0, answer: undefined });
      return;
    }
    const tooLarge = read === TOO_LARGE;
    const text = typeof read === 'string' ? read : undefined;
    const processed = plan.answer === undefined || (plan.answer.kind !== 'rate_limited' && plan.answer.applied);
    let result: { http: number; answer: ProvinceAnswer; appMark: string | undefined; outcome: ReceivedCall['outcome']; reason: RefusalReason | undefined } | undefined;
    if (processed) result = this.#process(req.method, phase, text, tooLarge);
    if (plan.delayMs > 0) await this.#delay(plan.delayMs);
    if (this.#stopped) {
      res.destroy();
      return;
    }
    const http = plan.answer ? sendFault(res, plan.answer, result?.answer) : sendJson(res, result!.http, result!.answer);
    this.#record({
      ...base,
      appMark: result?.appMark,
      outcome: result?.outcome ?? 'faulted',
      reason: result?.reason,
      http,
      answer: plan.answer ? undefined : result?.answer,
    });
  }

  /** The province's own answer to a call. */
  #process(method: string | undefined, phase: Phase | undefined, text: string | undefined, tooLarge: boolean) {
    const refused = (reason: RefusalReason, detail?: string, appMark?: string) => ({ http: REFUSALS[reason].http, answer: refusalAnswer(reason, detail), appMark, outcome: 'refused' as const, reason });
    if (!phase) return refused('not_found', `no endpoint here: the service push is ${this.#paths.service}, the evaluation push ${this.#paths.evaluation}`);
    if (method !== 'POST') return refused('wrong_method', `${shown(method ?? '', 16)} on ${phase === 'service' ? this.#paths.service : this.#paths.evaluation}`);
    if (tooLarge || text === undefined) return refused('too_large', `the limit is ${this.#maxBody} bytes`);
    const call = parseCall(text, phase, { callers: this.#callers, timeFormat: this.#timeFormat, signatureFormat: this.#signatureFormat, userId: this.#userId, timeWindowMs: this.#timeWindowMs, areaCodeDigits: this.#areaCodeDigits }, this.#now());
    if (!call.ok) return refused(call.reason, call.detail, call.appMark);
    const now = this.#now();
    const outcome: RuleOutcome = call.phase === 'service' ? applyService(this.ledger, call.body, call.appMark, now) : applyEvaluation(this.ledger, call.body, call.appMark, now, this.#direction);
    if (outcome.kind === 'refused') return refused(outcome.reason, outcome.detail, call.appMark);
    if (outcome.kind === 'duplicate' && call.phase === 'evaluation') {
      return { http: 200, answer: refusalAnswer('duplicate', `projectNo ${call.body.projectNo} assessNumber ${call.body.assessNumber}`), appMark: call.appMark, outcome: 'duplicate' as const, reason: undefined };
    }
    return { http: 200, answer: OK_ANSWER, appMark: call.appMark, outcome: outcome.kind, reason: undefined };
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#timers.setTimeout(() => {
        this.#delays.delete(handle);
        resolve();
      }, ms);
      this.#delays.set(handle, resolve);
    });
  }

  #record(call: Omit<ReceivedCall, 'seq'>): void {
    this.emit('call', this.ledger.record(call));
  }

  async #admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = path.slice(ADMIN_PREFIX.length);
    // The control API's answers close their connection even with keepAlive: no caller keeps a
    // pooled socket to it that a refusing port would cut.
    res.setHeader('connection', 'close');
    const refuse = (status: number, error: string, problems: string[] = []) => {
      this.ledger.stats.adminRefused += 1;
      sendJson(res, status, { error, problems });
    };
    if (req.method === 'GET') {
      const views: Record<string, () => unknown> = {
        services: () => ({ services: this.services }),
        evaluations: () => ({ evaluations: this.evaluations }),
        received: () => ({ received: this.received }),
        stats: () => this.stats,
        faults: () => ({ faults: this.faults.list() }),
        settings: () => ({ endpoints: this.endpoints, ratingPageTemplate: this.ratingPageTemplate, appMarks: [...this.#callers.keys()], satisfaction: this.#direction, signatureFormat: this.#signatureFormat, userId: this.#userId, timeFormat: this.#timeFormat, timeWindowMs: this.#timeWindowMs, areaCodeDigits: this.#areaCodeDigits, maxBodyBytes: this.#maxBody }),
      };
      const view = Object.hasOwn(views, route) ? views[route] : undefined;
      if (!view) return refuse(404, `no such view: GET ${ADMIN_PREFIX}{${Object.keys(views).join('|')}}`);
      sendJson(res, 200, view());
      return;
    }
    if (req.method === 'POST' && route === 'faults') {
      let read: string | typeof TOO_LARGE;
      try {
        read = await readBody(req, 16 * 1024);
      } catch {
        req.socket.destroy();
        return;
      }
      if (read === TOO_LARGE) return refuse(413, 'the body exceeds 16384 bytes');
      let body: unknown;
      try {
        body = JSON.parse(read);
      } catch {
        return refuse(400, 'the body is not JSON (a fault: {"kind": …})');
      }
      const spec = explain(faultSpecSchema, body);
      if (!spec.ok) return refuse(400, 'not a fault', spec.problems);
      // Over HTTP a refusing port must come back by itself: nothing can reach this API to clear it.
      if (spec.data.kind === 'down' && spec.data.mode === 'refused' && spec.data.forMs === undefined) return refuse(400, 'not a fault', ['forMs: required for mode "refused" over HTTP (the port stops listening, this API with it)']);
      if (spec.data.kind === 'down' && spec.data.mode === 'refused') {
        // Answered before the port closes, this very connection with it.
        sendJson(res, 200, { fault: { fault: spec.data, callsLeft: undefined, until: new Date(this.#now().getTime() + (spec.data.forMs ?? 0)).toISOString() } });
        await once(res, 'finish');
        this.faults.set(spec.data);
        return;
      }
      sendJson(res, 200, { fault: this.faults.set(spec.data) });
      return;
    }
    if (req.method === 'DELETE' && (route === 'faults' || route.startsWith('faults/'))) {
      const kind = route === 'faults' ? undefined : route.slice('faults/'.length);
      if (kind !== undefined && !(FAULT_KINDS as readonly string[]).includes(kind)) return refuse(404, `no such fault kind: ${shown(kind, 32)}`, [`expected one of ${FAULT_KINDS.join('|')}`]);
      this.faults.clear(kind as FaultKind | undefined);
      sendJson(res, 200, { faults: this.faults.list() });
      return;
    }
    refuse(405, `${shown(req.method ?? '', 16)} ${shownPath(path)}: the API is GET ${ADMIN_PREFIX}{services|evaluations|received|stats|faults|settings}, POST and DELETE ${ADMIN_PREFIX}faults`);
  }
}

/** The request's path as sent, without query (no URL parsing: `//host/x` is a path here, not a host). */
function pathOf(url: string | undefined): string {
  return (url ?? '/').split(/[?#]/, 1)[0] || '/';
}

const shownPath = (path: string) => (path.length > 200 ? `${path.slice(0, 200)}…` : path);

const TOO_LARGE = Symbol('too large');
/** Past this, a body is not even drained: the connection is cut. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/** The body's text, or TOO_LARGE when over `max` (the rest drained, not kept). Throws when the caller goes away or sends past DRAIN_LIMIT. */
async function readBody(req: IncomingMessage, max: number): Promise<string | typeof TOO_LARGE> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > DRAIN_LIMIT) throw new Error('body past the drain limit');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > DRAIN_LIMIT) throw new Error('body past the drain limit');
    if (size > max) chunks.length = 0;
    else chunks.push(chunk as Buffer);
  }
  return size > max ? TOO_LARGE : Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): number {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
  return status;
}

/** A fault's answer instead of the province's; `real` is what the province would have said (a malformed answer garbles it). */
function sendFault(res: ServerResponse, fault: NonNullable<FaultPlan['answer']>, real: ProvinceAnswer | undefined): number {
  const send = (status: number, contentType: string, text: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
    res.end(text);
    return status;
  };
  switch (fault.kind) {
    case 'rate_limited':
      return send(429, 'application/json; charset=utf-8', JSON.stringify({ code: '429', success: 'false', msg: '请求过于频繁，请稍后再试' }), { 'retry-after': String(fault.retryAfterSeconds) });
    case 'server_error':
      return send(fault.status, 'text/html; charset=utf-8', `<html><head><title>${fault.status}</title></head><body><h1>${fault.status} Server Error</h1></body></html>`);
    case 'malformed': {
      const realText = JSON.stringify(real ?? OK_ANSWER);
      const bodies = {
        not_json: 'OK',
        html: '<!DOCTYPE html><html><body>系统维护中</body></html>',
        wrong_shape: JSON.stringify({ result: real?.code === '0' ? 'ok' : 'fail', data: null }),
        truncated: realText.slice(0, Math.max(1, Math.floor(realText.length / 2))),
        empty: '',
      };
      return send(200, 'application/json; charset=utf-8', bodies[fault.variant]);
    }
  }
}

export { ProvinceLedger };
export type { Caller, FaultSpec, ActiveFault };
