import { hostTimers, type Timers } from '../../protocol/timers.js';
import type { Database } from '../db/database.js';
import { withoutSecrets } from '../ingest/record-ingest.js';
import type { Clock, Logger } from '../ports.js';
import type { ProvinceClient, PushAnswer } from '../province/client.js';
import type { EvaluationBody, EvaluationSource, ServiceBody } from '../province/payloads.js';
import type { ProvinceProfile } from '../province/profile.js';
import { backoffDelay, Pacer, Sleeper } from './backoff.js';
import { claimDue, markDelivered, markRejected, markServiceDone, markSkipped, markTransient, releaseClaims, releaseStaleClaims, type Claim, type Phase } from './claims.js';
import type { DeliveryPayloads } from './payloads.js';
import { storableJson, storableText } from './storable.js';

/** The profile's http section: pace, backoff, the call's timeout, attempts before an alert. */
export type DeliverySettings = Pick<ProvinceProfile['http'], 'perSecond' | 'backoff' | 'timeoutMs' | 'maxAttemptsBeforeAlert'>;

export interface DeliveryWorkerDeps {
  db: Database;
  client: ProvinceClient;
  payloads: DeliveryPayloads;
  /** This instance's name (gateway.yaml `instance`, unique on the database): its claims carry it. */
  instance: string;
  /** Wall time: due times, claims, what the rows say. */
  clock: Clock;
  logger: Logger;
  settings: DeliverySettings;
  /** Pace and waits. Default: the host's. */
  timers?: Timers;
  /** [0, 1): the backoff's jitter. Default Math.random. */
  random?: () => number;
  /** Rows claimed at a time. Default 10. */
  batchSize?: number;
  /** How often to look for due rows when there were none. Default 1 s. */
  pollMs?: number;
  /** A later rating whose invitation record has not come yet looks again after this. Default 60 s. */
  recordWaitMs?: number;
  /** A claim's lease. Default: long enough for a batch's pushes at the pace, each up to its timeout, and a minute more. */
  leaseMs?: number;
}

export interface DeliveryWorkerStatus {
  instance: string;
  running: boolean;
  /** Calls made to the province. */
  pushes: number;
  /** Rows delivered by this instance since start (duplicates among them). */
  delivered: number;
  duplicates: number;
  rejected: number;
  /** Transient failures (each puts a row back with a backoff). */
  transient: number;
  skipped: number;
  /** Later ratings put back to wait for their invitation record. */
  waitingForRecord: number;
  /** A row changed while this instance was sending it (superseded, or its lease ran out): left as it was. */
  lostClaims: number;
  dbFailures: number;
  lastError: { at: Date; message: string } | null;
  lastPushAt: Date | null;
  /** After a transient failure or a database failure the worker waits until then. */
  pausedUntil: Date | null;
}

type Built<T> = { ok: true; body: T } | { ok: false; message: string };

/**
 * Sends the `deliveries` rows to the provincial interface: claims due rows (claims.ts), pushes each
 * row's service, then its evaluation, through the ProvinceClient, paced (settings.perSecond, per
 * instance), and writes each outcome:
 *   delivered / duplicate  the phase is done (a duplicate means the province has it);
 *   rejected               kept with the province's code and message, state 'rejected', never
 *                          retried until an operator does (status.ts retryRejected);
 *   transient              attempts + 1, due again after the backoff with jitter; the worker then
 *                          pauses too (the province is likely down for every row) and puts the
 *                          rest of its batch back.
 * State lives in the table: a restarted worker resumes where the rows stand.
 *
 * A later rating (source 'later') sends no service when a record of its case has reached the
 * province (that record sent it). When the gateway has no record of the invitation yet, the
 * service is NOT made up from what the later rating knows: the receipt carries no item code, and
 * the province files a service under its item code. The row waits for the terminal's record
 * (put back every recordWaitMs, counted as attempts, alerting like a failure), which a terminal
 * sends once it is back online; then the service goes from that record.
 */
export class DeliveryWorker {
  readonly #deps: DeliveryWorkerDeps;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #recordWaitMs: number;
  readonly #leaseMs: number;
  readonly #pacer: Pacer;
  readonly #sleeper: Sleeper;
  readonly #stats: Omit<DeliveryWorkerStatus, 'instance' | 'running' | 'pausedUntil'> = {
    pushes: 0,
    delivered: 0,
    duplicates: 0,
    rejected: 0,
    transient: 0,
    skipped: 0,
    waitingForRecord: 0,
    lostClaims: 0,
    dbFailures: 0,
    lastError: null,
    lastPushAt: null,
  };
  #loop: Promise<void> | undefined;
  #stopping = false;
  #idle = false;
  /** Monotonic time (timers.now()) the worker waits until. */
  #pausedUntil = 0;
  /** Transient province failures in a row (the worker's pause grows with them). */
  #failuresInRow = 0;
  /** Database failures in a row. */
  #dbFailuresInRow = 0;

  constructor(deps: DeliveryWorkerDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? hostTimers;
    this.#random = deps.random ?? Math.random;
    this.#batchSize = Math.max(1, deps.batchSize ?? 10);
    this.#pollMs = deps.pollMs ?? 1000;
    this.#recordWaitMs = deps.recordWaitMs ?? 60_000;
    const { perSecond, timeoutMs } = deps.settings;
    this.#leaseMs = deps.leaseMs ?? this.#batchSize * 2 * (timeoutMs + 1000 / perSecond) + 60_000;
    this.#pacer = new Pacer(this.#timers, perSecond);
    this.#sleeper = new Sleeper(this.#timers);
  }

  /** Puts this instance's claims from before a restart back, then runs until stop(). */
  async start(): Promise<void> {
    if (this.#loop || this.#stopping) return;
    const released = await releaseStaleClaims(this.#deps.db, this.#deps.instance, this.#deps.clock.now());
    if (released > 0) this.#deps.logger.warn({ released }, 'province delivery: claims left by this instance before a restart are due again (the province answers duplicate for what it had)');
    this.#loop = this.#run().catch((err: unknown) => {
      this.#deps.logger.error({ err }, 'province delivery: the worker stopped on a bug');
    });
  }

  /** Ends after the push in flight; the rest of the batch is put back. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#sleeper.close();
    await this.#loop;
  }

  /** Looks for due rows now (a record was stored) instead of at the next poll. */
  kick(): void {
    if (this.#idle) this.#sleeper.wake();
  }

  status(): DeliveryWorkerStatus {
    const pause = this.#pausedUntil - this.#timers.now();
    return {
      instance: this.#deps.instance,
      running: this.#loop !== undefined && !this.#stopping,
      ...this.#stats,
      pausedUntil: pause > 0 ? new Date(this.#deps.clock.now().getTime() + pause) : null,
    };
  }

  async #run(): Promise<void> {
    const { db, clock, instance } = this.#deps;
    while (!this.#stopping) {
      const pause = this.#pausedUntil - this.#timers.now();
      if (pause > 0) {
        await this.#sleeper.sleep(pause);
        continue;
      }
      let claims: Claim[];
      try {
        const now = clock.now();
        claims = await claimDue(db, { instance, now, leaseEnd: new Date(now.getTime() + this.#leaseMs), limit: this.#batchSize });
        this.#dbFailuresInRow = 0;
      } catch (err) {
        this.#dbFailed(err, 'claiming due deliveries');
        continue;
      }
      if (claims.length === 0) {
        this.#idle = true;
        await this.#sleeper.sleep(this.#pollMs);
        this.#idle = false;
        continue;
      }
      for (const [i, claim] of claims.entries()) {
        if (this.#stopping || this.#pausedUntil > this.#timers.now()) {
          await this.#release(claims.slice(i));
          break;
        }
        try {
          await this.#deliver(claim);
        } catch (err) {
          // The database failed mid-row: that row's claim runs out by itself (and its push, if it was
          // made, is answered duplicate next time); the others are put back if the database lets us.
          this.#dbFailed(err, `delivering case ${claim.caseNo}`);
          await this.#release(claims.slice(i + 1));
          break;
        }
      }
    }
  }

  async #deliver(claim: Claim): Promise<void> {
    const { db, clock, payloads } = this.#deps;
    if (claim.unreadable !== null) return this.#reject(claim, claim.phase, 'unreadable', claim.unreadable, null);
    if (claim.source === 'later' && claim.record?.test) {
      await this.#settled(markSkipped(db, claim, claim.phase, clock.now(), 'the receipt is of a test invitation: never delivered'), claim);
      this.#stats.skipped += 1;
      return;
    }
    if (claim.later?.assessNumber === 1 && claim.record?.outcome === 'rated') {
      // Rated on the page while the counter's record was still on its way (the bridge offline): the
      // counter's rating is the case's first and goes with its record; two firsts would leave the
      // province to keep whichever came first. The page's rating stays in later_ratings, visible.
      await this.#settled(markSkipped(db, claim, claim.phase, clock.now(), 'the case was rated at the counter first (its record came after this rating): the counter rating is the one sent'), claim);
      this.#stats.skipped += 1;
      return;
    }
    const source: EvaluationSource = claim.later ? { later: claim.later } : { record: claim.record as NonNullable<Claim['record']>, caseNo: claim.caseNo };
    const evaluation = build(() => payloads.evaluation(source));
    if (claim.phase === 'service') {
      if (claim.source === 'later' && claim.serviceKnown) {
        if (!(await this.#settled(markServiceDone(db, claim, clock.now(), { phase: 'service', kind: 'known', message: "the case's record sent the service" }), claim))) return;
        claim.phase = 'evaluation';
      } else if (claim.record === null) {
        const dueAt = new Date(clock.now().getTime() + this.#recordWaitMs);
        const attempts = await markTransient(db, claim, 'service', clock.now(), { dueAt, message: "waiting for the terminal's invitation record (the service's item code is in it)" });
        if (attempts === undefined) return this.#lost(claim);
        this.#stats.waitingForRecord += 1;
        this.#alertIfDue(claim, attempts, 'the invitation record has not come');
        return;
      } else {
        const record = claim.record;
        const service = build(() => payloads.service(record, claim.caseNo));
        if (!service.ok) return this.#reject(claim, 'service', 'payload', service.message, null);
        const answer = await this.#push(claim, 'service', service.body);
        if (answer === undefined) return;
        const stored = storedAnswer('service', answer);
        if (evaluation.ok && evaluation.body === null) {
          if (await this.#settled(markDelivered(db, claim, 'service', clock.now(), stored), claim)) this.#stats.delivered += 1;
          return;
        }
        if (!(await this.#settled(markServiceDone(db, claim, clock.now(), stored), claim))) return;
        claim.phase = 'evaluation';
      }
    }
    if (!evaluation.ok) return this.#reject(claim, 'evaluation', 'payload', evaluation.message, null);
    if (evaluation.body === null) {
      if (await this.#settled(markDelivered(db, claim, 'evaluation', clock.now(), { phase: 'evaluation', kind: 'nothing_rated' }), claim)) this.#stats.delivered += 1;
      return;
    }
    const answer = await this.#push(claim, 'evaluation', evaluation.body);
    if (answer === undefined) return;
    if (await this.#settled(markDelivered(db, claim, 'evaluation', clock.now(), storedAnswer('evaluation', answer)), claim)) this.#stats.delivered += 1;
  }

  /**
   * One paced push. Resolves with the answer when the phase is done (delivered or duplicate);
   * undefined when the row was settled otherwise (rejected, transient) or put back.
   */
  async #push(claim: Claim, phase: Phase, body: ServiceBody | EvaluationBody): Promise<PushAnswer | undefined> {
    const { db, clock, client, settings, logger } = this.#deps;
    // Until the pace allows it: a host timer may fire a fraction of a millisecond early.
    for (let wait = this.#pacer.waitMs(); wait > 0 && !this.#stopping; wait = this.#pacer.waitMs()) await this.#sleeper.sleep(wait);
    if (this.#stopping || clock.now().getTime() + settings.timeoutMs > claim.leaseEnd.getTime()) {
      // Stopping, or too little of the lease is left for a call: another claim sends it.
      await this.#release([claim]);
      return undefined;
    }
    this.#pacer.mark();
    this.#stats.pushes += 1;
    this.#stats.lastPushAt = clock.now();
    let answer: PushAnswer;
    try {
      answer = readAnswer(await client.push(phase, body));
    } catch (err) {
      // The client never rejects by contract; if it does, nothing is known to have reached the province.
      answer = { kind: 'transient', message: `the province client failed: ${withoutSecrets(err)}` };
    }
    switch (answer.kind) {
      case 'delivered':
      case 'duplicate':
        this.#failuresInRow = 0;
        if (answer.kind === 'duplicate') this.#stats.duplicates += 1;
        return answer;
      case 'rejected':
        this.#failuresInRow = 0;
        await this.#reject(claim, phase, storableText(answer.code, 100), storableText(answer.message), answer.answer);
        return undefined;
      case 'transient': {
        this.#failuresInRow += 1;
        const retryAfter = answer.retryAfterMs !== undefined ? Math.min(answer.retryAfterMs, settings.backoff.maxMs) : 0;
        const message = storableText(answer.message);
        const now = clock.now();
        const rowDelay = Math.max(backoffDelay(claim.attempts + 1, settings.backoff, this.#random), retryAfter);
        const attempts = await markTransient(db, claim, phase, now, { dueAt: new Date(now.getTime() + rowDelay), message });
        this.#stats.transient += 1;
        this.#stats.lastError = { at: now, message: `case ${claim.caseNo} ${phase}: ${message}` };
        const pause = Math.max(backoffDelay(this.#failuresInRow, settings.backoff, this.#random), retryAfter);
        this.#pausedUntil = this.#timers.now() + pause;
        const log = { caseNo: claim.caseNo, phase, message, retryInMs: rowDelay, pauseMs: pause, failuresInRow: this.#failuresInRow };
        if (this.#failuresInRow === 1) logger.warn(log, 'province delivery: transient failure; tried again after a backoff');
        else logger.debug(log, 'province delivery: transient failure');
        if (attempts === undefined) this.#lost(claim);
        else this.#alertIfDue(claim, attempts, message);
        return undefined;
      }
    }
  }

  async #reject(claim: Claim, phase: Phase, code: string, message: string, answer: unknown): Promise<void> {
    const { db, clock, logger } = this.#deps;
    const now = clock.now();
    const settled = await this.#settled(markRejected(db, claim, phase, now, { code, message, answer: storableJson({ phase, kind: 'rejected', code, message, answer: answer ?? null }) }), claim);
    if (!settled) return;
    this.#stats.rejected += 1;
    this.#stats.lastError = { at: now, message: `case ${claim.caseNo} ${phase} rejected: ${code}: ${message}` };
    logger.error({ source: claim.source, id: claim.id, caseNo: claim.caseNo, terminalId: claim.terminalId, phase, code, message }, 'province delivery: rejected; kept for an operator (never retried blindly)');
  }

  async #settled(change: Promise<boolean>, claim: Claim): Promise<boolean> {
    if (await change) return true;
    this.#lost(claim);
    return false;
  }

  #lost(claim: Claim): void {
    this.#stats.lostClaims += 1;
    this.#deps.logger.warn({ source: claim.source, id: claim.id, caseNo: claim.caseNo }, 'province delivery: the row changed while it was being sent (superseded, or its claim ran out); left as it is');
  }

  #alertIfDue(claim: Claim, attempts: number, message: string): void {
    if (attempts !== this.#deps.settings.maxAttemptsBeforeAlert) return;
    this.#deps.logger.error({ source: claim.source, id: claim.id, caseNo: claim.caseNo, terminalId: claim.terminalId, attempts, message }, 'province delivery: still not delivered after the attempts that call for an alert (still retried)');
  }

  async #release(claims: readonly Claim[]): Promise<void> {
    if (claims.length === 0) return;
    try {
      await releaseClaims(this.#deps.db, claims, this.#deps.clock.now());
    } catch (err) {
      // Their leases run out by themselves.
      this.#deps.logger.warn({ error: withoutSecrets(err), claims: claims.length }, 'province delivery: could not put claimed rows back; they are due again when their claim runs out');
    }
  }

  #dbFailed(err: unknown, what: string): void {
    this.#stats.dbFailures += 1;
    this.#dbFailuresInRow += 1;
    const message = withoutSecrets(err);
    this.#stats.lastError = { at: this.#deps.clock.now(), message: `${what}: ${message}` };
    const pause = backoffDelay(this.#dbFailuresInRow, this.#deps.settings.backoff, this.#random);
    this.#pausedUntil = this.#timers.now() + pause;
    this.#deps.logger.error({ error: message, pauseMs: pause }, `province delivery: the database failed ${what}`);
  }
}

function build<T>(make: () => T): Built<T> {
  try {
    return { ok: true, body: make() };
  } catch (err) {
    return { ok: false, message: storableText(err instanceof Error ? err.message : err) };
  }
}

/** The client's answer as the worker trusts it: anything else is a transient failure (nothing known delivered). */
function readAnswer(answer: unknown): PushAnswer {
  const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  switch (a.kind) {
    case 'delivered':
      return answer as PushAnswer;
    case 'duplicate':
      return { kind: 'duplicate', message: storableText(a.message), answer: a.answer as never };
    case 'rejected':
      return { kind: 'rejected', code: storableText(a.code, 100), message: storableText(a.message), answer: a.answer as never };
    case 'transient': {
      const retry = a.retryAfterMs;
      return { kind: 'transient', message: storableText(a.message), ...(typeof retry === 'number' && Number.isFinite(retry) && retry >= 0 && { retryAfterMs: retry }) };
    }
    default:
      return { kind: 'transient', message: `the province client answered something unreadable: ${storableText(safeJson(answer), 200)}` };
  }
}

function storedAnswer(phase: Phase, answer: PushAnswer): unknown {
  return storableJson({ phase, ...answer });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '(unprintable)';
  }
}
