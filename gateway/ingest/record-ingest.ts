import { EventEmitter } from 'node:events';
import type { UpstreamRecord } from '../../protocol/records.js';
import { SEALED_RECORD_SCHEMA } from '../../protocol/records.js';
import type { Ed25519Verify, Sha256Hex } from '../../protocol/seal/seal.js';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import { terminalTopics } from '../../protocol/topics.js';
import type { Database, Queryable } from '../db/database.js';
import type { Clock, Logger, Publisher } from '../ports.js';
import { clearGapFlags, firstSealedSeqs, loadChainLinks, MAX_STORED_SEQ, insertChainLinks, type ChainNeeds } from '../store/chain-store.js';
import { insertRecords, loadRelations, markSuperseded } from '../store/records.js';
import { resolveHeld, upsertRefusals, type RefusalRow } from '../store/refusals.js';
import { lockIngestTerminals } from '../store/terminals.js';
import { ackMessages, type AckItem } from './ack-batches.js';
import { classifyBatch, type BatchPlan, type Outcome } from './classify.js';
import { gatewayEd25519Verify, nodeSha256Hex } from './ed25519.js';
import { MessagePreparer, type Preparable } from './ahead.js';
import type { BatchVerifier } from './verify-thread.js';
import type { ReadableMessage, ReadMessage } from './incoming.js';
import { MessageQueue } from './message-queue.js';

export interface RecordIngestDeps {
  db: Database;
  publisher: Publisher;
  /** Topic prefix: records are read from `<prefix>/<terminal>/records`, acked on `…/acks`. */
  prefix: string;
  /** This instance's name, kept with each record it stores. */
  instance: string;
  /** Wall time: receivedAt, refusal times, serverTime in acks. */
  clock: Clock;
  logger: Logger;
  /** Most messages settled in one transaction. */
  maxBatch: number;
  /** Most messages waiting; beyond it the oldest are let go unacknowledged (their bridges publish them again). */
  maxQueue: number;
  /** Retry timers and batch durations. Default: the host's. */
  timers?: Timers;
  /** Default: libsodium's, else node:crypto's (ed25519.ts). */
  verify?: Ed25519Verify;
  /** Default: node:crypto's. */
  hash?: Sha256Hex;
  /** Backoff after a database failure: first wait, doubled up to the last. Default 250 ms to 10 s. */
  retryMs?: { first: number; max: number };
  /**
   * Batches settled at once on PostgreSQL, each in its own transaction (while one batch's records
   * are classified, or its commit waits for the disk, the others' statements run): config
   * ingest.concurrency. Default 2 on PostgreSQL, 1 on PGlite (one connection: its transactions
   * run one after another anyway, so the gateway gives it 1).
   */
  concurrency?: number;
  /** Where seals' signatures are checked ahead, if not on the main thread (verify-thread.ts): config ingest.verifyThread. Closed by stop(). */
  verifyThread?: BatchVerifier;
}

/**
 * Every message on a records topic is counted once: received = accepted + duplicates + rejected
 * + invalid + held + unreadable + failed + shed + queued.
 */
export interface IngestStats {
  received: number;
  /** Stored (acked accepted). */
  accepted: number;
  /** Already stored (acked duplicate). */
  duplicates: number;
  /** Refused with a reason and kept in `refusals` (acked rejected): seal, revoked, topic, supersede, unstorable. */
  rejected: number;
  /** Not a valid record (acked rejected with the reason; nothing kept). */
  invalid: number;
  /** Not acked, kept in `refusals`: unknown terminal, or a key waiting for the operator. */
  held: number;
  /** Not a records topic, a terminal id, JSON or with an id: cannot be acked; logged. */
  unreadable: number;
  /** Its classification threw, or the database refused it alone: logged, left unacked (its bridge publishes it again). */
  failed: number;
  /** Let go unacked because the queue was full. */
  shed: number;
  /** Waiting or in the batch in flight. */
  queued: number;
  /** Transactions committed. */
  batches: number;
  /** The last transaction committed (false after a failure until one commits). */
  dbUp: boolean;
  dbFailures: number;
  /** The last database failure, without secrets. */
  lastDbError: string | null;
  acksSent: number;
  ackFailures: number;
}

/** One committed batch's share of the counts. */
export type SettledBatch = Pick<IngestStats, 'accepted' | 'duplicates' | 'rejected' | 'invalid' | 'held' | 'unreadable' | 'failed'> & {
  /** From taking the batch to its commit. */
  ms: number;
};

export type RecordIngestEvents = {
  /** A batch committed (before its acks are published). */
  settled: [batch: SettledBatch];
  /** A record stored by this instance, after its commit. */
  record: [record: UpstreamRecord, terminalId: string];
  /** A refusal written (rejected or held), after its commit. */
  refused: [refusal: RefusalRow];
};

interface Received extends Preparable {
  receivedAt: Date;
  /** Arrival number: what is put back after a failure keeps its place. */
  n: number;
}

const PREVIEW_BYTES = 120;
/** Transactions the database rolled back (class 40) tried again at once, in a row, before backing off. */
const MAX_IMMEDIATE_RETRIES = 3;

/**
 * Validate, then store, then ack. Messages are queued as they come and settled in batches (up to
 * maxBatch, whatever has arrived), one transaction at a time: each record classified as the
 * province emulator would (classify.ts), stored with its chain link, refusals kept; only after
 * the commit are the acks published, grouped by terminal, status and reason. A failed
 * transaction acks nothing: its messages go back to the head of the queue and are tried again
 * after a backoff.
 */
export class RecordIngest extends EventEmitter<RecordIngestEvents> {
  readonly #deps: RecordIngestDeps;
  readonly #timers: Timers;
  readonly #verify: Ed25519Verify;
  readonly #hash: Sha256Hex;
  readonly #retry: { first: number; max: number };
  readonly #queue = new MessageQueue<Received>((m) => m.n);
  readonly #concurrency: number;
  #arrivals = 0;
  readonly #preparer: MessagePreparer;
  readonly #stats: Omit<IngestStats, 'queued'> = {
    received: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    invalid: 0,
    held: 0,
    unreadable: 0,
    failed: 0,
    shed: 0,
    batches: 0,
    dbUp: true,
    dbFailures: 0,
    lastDbError: null,
    acksSent: 0,
    ackFailures: 0,
  };
  #inFlight = 0;
  /** The lanes settling batches (at most #concurrency). */
  readonly #lanes = new Set<Promise<void>>();
  #kickScheduled = false;
  #retryHandle: unknown;
  #backoffMs: number;
  /** Lowered while a batch the database refused is split to find the message it refuses. */
  #batchLimit: number;
  /**
   * While a refused batch is split: the last arrival number it held, and which split this is (a
   * batch taken before the latest split neither ends it nor undoes it when it commits).
   */
  #isolating: { through: number; split: number } | undefined;
  #splits = 0;
  /** The arrival number of the last message read ahead: the next one to read is the first after it. */
  #preparedThrough = -1;
  #rollbacksInARow = 0;
  #offThreadFailures = 0;
  readonly #acks = new Set<Promise<void>>();
  readonly #idleWaiters = new Set<() => void>();
  #stopping: Promise<void> | undefined;

  constructor(deps: RecordIngestDeps) {
    super();
    this.#deps = deps;
    this.#timers = deps.timers ?? hostTimers;
    this.#verify = deps.verify ?? gatewayEd25519Verify;
    this.#hash = deps.hash ?? nodeSha256Hex;
    this.#preparer = new MessagePreparer({
      prefix: deps.prefix,
      verify: this.#verify,
      hash: this.#hash,
      ...(deps.verifyThread && { offThread: deps.verifyThread }),
      onOffThreadFailure: (err) => this.#offThreadFailed(err),
    });
    this.#retry = deps.retryMs ?? { first: 250, max: 10_000 };
    this.#backoffMs = this.#retry.first;
    this.#batchLimit = Math.max(1, deps.maxBatch);
    this.#concurrency = Math.max(1, deps.concurrency ?? (deps.db.kind === 'postgres' ? 2 : 1));
  }

  /** A message on a records topic. Never throws; queued, settled with its batch. Ignored once stopping. */
  receive(topic: string, payload: Buffer): void {
    if (this.#stopping) return;
    try {
      this.#stats.received += 1;
      this.#queue.push({ topic, payload, receivedAt: this.#deps.clock.now(), n: this.#arrivals++ });
      this.#shedBeyondLimit();
      this.#kick();
    } catch (err) {
      this.#deps.logger.error({ err, topic }, 'gateway ingest: could not queue a message');
    }
  }

  stats(): IngestStats {
    return { ...this.#stats, queued: this.#queue.size + this.#inFlight };
  }

  /** Resolves when nothing is queued, no batch is in flight and every ack is published (or when stopped). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#isIdle()) resolve();
      else this.#idleWaiters.add(resolve);
    });
  }

  /** Finishes the batch in flight and publishes its acks; what is still queued is left unacked (bridges publish it again). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#retryHandle !== undefined) this.#timers.clearTimeout(this.#retryHandle);
      this.#retryHandle = undefined;
      await Promise.all([...this.#lanes]);
      await Promise.all([...this.#acks]);
      await this.#deps.verifyThread?.close();
      for (const resolve of [...this.#idleWaiters]) resolve();
      this.#idleWaiters.clear();
    })();
    return this.#stopping;
  }

  #isIdle(): boolean {
    return this.#stopping !== undefined || (this.#queue.size === 0 && this.#lanes.size === 0 && this.#acks.size === 0);
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of [...this.#idleWaiters]) resolve();
    this.#idleWaiters.clear();
  }

  #shedBeyondLimit(): void {
    while (this.#queue.size + this.#inFlight > this.#deps.maxQueue && this.#queue.size > 0) {
      const dropped = this.#queue.dropOldest() as Received;
      this.#stats.shed += 1;
      if (this.#stats.shed === 1 || this.#stats.shed % 1000 === 0) {
        this.#deps.logger.warn({ shed: this.#stats.shed, maxQueue: this.#deps.maxQueue, topic: dropped.topic }, 'gateway ingest: queue full; the oldest messages are let go unacknowledged (their bridges publish them again)');
      }
    }
  }

  /** Starts a lane on the next turn (so that messages arriving together share a batch), unless every lane runs or it waits to retry. */
  #kick(): void {
    if (!this.#mayStartLane() || this.#kickScheduled) return;
    this.#kickScheduled = true;
    setImmediate(() => {
      this.#kickScheduled = false;
      if (!this.#mayStartLane() || this.#queue.size === 0) return;
      const lane: Promise<void> = this.#drain().finally(() => {
        this.#lanes.delete(lane);
        this.#notifyIdle();
        // Messages that came while every lane was busy and that the last lane left.
        if (this.#queue.size > 0) this.#kick();
      });
      this.#lanes.add(lane);
      // Another lane for what is queued beyond this one's batch.
      if (this.#queue.size > 0) this.#kick();
    });
  }

  /** Below the lanes allowed; one only while a batch the database refused is being split (its halves in order). */
  #mayStartLane(): boolean {
    const allowed = this.#isolating ? 1 : this.#concurrency;
    return this.#lanes.size < allowed && this.#retryHandle === undefined && !this.#stopping;
  }

  async #drain(): Promise<void> {
    while (!this.#stopping && this.#retryHandle === undefined && this.#queue.size > 0) {
      const batch = this.#queue.take(this.#batchLimit);
      const split = this.#isolating?.split;
      this.#inFlight += batch.length;
      try {
        const settling = this.#settle(batch);
        // While the database works on this batch, the main thread reads and checks the seals of what the lanes take next.
        await this.#preparer.prepareWhile(settling, this.#nextToPrepare);
        await settling;
        this.#inFlight -= batch.length;
        this.#rollbacksInARow = 0;
        this.#backoffMs = this.#retry.first;
        // The split batch's last message has been through: the message refused was not in it (a passing refusal).
        if (split !== undefined && split === this.#isolating?.split && (batch.at(-1) as Received).n >= this.#isolating.through) this.#endIsolation();
      } catch (err) {
        this.#inFlight -= batch.length;
        if (refusedByData(err)) {
          this.#isolate(batch, err, split);
          continue;
        }
        if (transactionRollback(err) && this.#rollbacksInARow < MAX_IMMEDIATE_RETRIES) {
          this.#rollbacksInARow += 1;
          // A deadlock or serialization failure with another instance: the database is fine; try again now.
          this.#queue.putBack(batch);
          this.#deps.logger.warn({ error: withoutSecrets(err) }, 'gateway ingest: transaction rolled back by the database (another instance); tried again');
          continue;
        }
        this.#rollbacksInARow = 0;
        this.#queue.putBack(batch);
        this.#shedBeyondLimit();
        this.#stats.dbUp = false;
        this.#stats.dbFailures += 1;
        this.#stats.lastDbError = withoutSecrets(err);
        this.#deps.logger.error({ error: this.#stats.lastDbError, retryInMs: this.#backoffMs, queued: this.#queue.size }, 'gateway ingest: database failed; nothing acknowledged, the batch is tried again');
        // The other lane's batch, if it fails too, waits for the same retry.
        if (this.#retryHandle === undefined) this.#scheduleRetry();
        return;
      }
    }
  }

  /**
   * The database refused the batch's data (not its connection): a message the classification let
   * through that it cannot keep. Halve the batch until the one it refuses is alone, and let that
   * one go unacknowledged, so that one message never stops the others.
   */
  #isolate(batch: Received[], err: unknown, split: number | undefined): void {
    if (batch.length > 1) {
      this.#queue.putBack(batch);
      this.#batchLimit = Math.min(this.#batchLimit, Math.ceil(batch.length / 2));
      this.#isolating = { through: Math.max(this.#isolating?.through ?? -1, (batch.at(-1) as Received).n), split: ++this.#splits };
      return;
    }
    // Found: unless it was a batch taken before the latest split (that split goes on).
    if (split === this.#isolating?.split) this.#endIsolation();
    this.#stats.failed += 1;
    const [message] = batch as [Received];
    this.#deps.logger.error({ error: withoutSecrets(err), topic: message.topic, preview: preview(message.payload) }, 'gateway ingest: the database refused this message; left unacknowledged');
  }

  /** Full batches and every lane again: the message refused is found (or was not refused again). */
  #endIsolation(): void {
    this.#isolating = undefined;
    this.#batchLimit = Math.max(1, this.#deps.maxBatch);
  }

  /** The next queued message to read ahead: the first after the last one read, among those the lanes take next. */
  readonly #nextToPrepare = (): Received | undefined => {
    const next = this.#queue.firstAfter(this.#preparedThrough, this.#batchLimit * this.#concurrency);
    if (next) this.#preparedThrough = next.n;
    return next;
  };

  #scheduleRetry(): void {
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#retry.max, this.#backoffMs * 2);
    this.#retryHandle = this.#timers.setTimeout(() => {
      this.#retryHandle = undefined;
      this.#kick();
    }, wait);
  }

  async #settle(batch: Received[]): Promise<void> {
    const started = this.#timers.now();
    const { clock, db } = this.#deps;
    // Before the transaction, so that none waits on it: the signatures the verify thread has not answered yet.
    await this.#preparer.checkOffThread(batch);
    const failedIndexes: number[] = [];
    const messages: (ReadMessage | undefined)[] = batch.map((m, i) => {
      const prepared = this.#preparer.prepare(m);
      if ('read' in prepared) return prepared.read;
      failedIndexes.push(i);
      this.#logFailure(m, prepared.error);
      return undefined;
    });
    const readable = messages.map((m) => (m?.kind === 'readable' ? m : undefined));
    const now = clock.now();
    const { plan, inserted } = await db.transaction(async (tx) => {
      const plan = classifyBatch(readable, await this.#readState(tx, readable), {
        instance: this.#deps.instance,
        receivedAt: (i) => (batch[i] as Received).receivedAt,
        now,
        verify: this.#verify,
        hash: this.#hash,
        onError: (i, err) => {
          failedIndexes.push(i);
          this.#logFailure(batch[i] as Received, err);
        },
      });
      return { plan, inserted: await this.#write(tx, plan, now) };
    });
    try {
      this.#committed(batch, messages, plan, inserted, failedIndexes.length, this.#timers.now() - started);
    } catch (err) {
      // Committed is committed: a bug past this point must not put the batch back (it would be stored as duplicates).
      this.#deps.logger.error({ err }, 'gateway ingest: a committed batch could not be fully counted or acknowledged');
    }
  }

  /** What classification reads, for the whole batch in four queries. */
  async #readState(tx: Queryable, readable: readonly (ReadableMessage | undefined)[]): Promise<Parameters<typeof classifyBatch>[1]> {
    const present = readable.filter((m): m is ReadableMessage => m !== undefined);
    const terminals = await lockIngestTerminals(tx, present.map((m) => m.terminalId));
    this.#preparer.learnKeys(terminals);
    const needs = new Map<string, ChainNeeds & { seqs: number[] }>();
    const unsigned = new Set<string>();
    const ids: string[] = [];
    const targets: string[] = [];
    for (const m of present) {
      const terminal = terminals.get(m.terminalId);
      if (terminal?.status !== 'approved') continue;
      const seq = m.body.seq;
      if (m.body.schema !== SEALED_RECORD_SCHEMA) unsigned.add(m.terminalId);
      else if (terminal.publicKey !== null && typeof seq === 'number' && Number.isInteger(seq) && seq >= 1 && seq <= MAX_STORED_SEQ) {
        let need = needs.get(m.terminalId);
        if (!need) needs.set(m.terminalId, (need = { terminalId: m.terminalId, publicKey: terminal.publicKey, seqs: [] }));
        need.seqs.push(seq);
      }
      if (m.decoded.kind === 'record') {
        ids.push(m.id);
        if (m.decoded.record.kind === 'invitation' && m.decoded.record.supersedes !== undefined) targets.push(m.decoded.record.supersedes);
      }
    }
    return {
      terminals,
      links: await loadChainLinks(tx, [...needs.values()]),
      firstSealed: await firstSealedSeqs(tx, [...unsigned]),
      relations: await loadRelations(tx, [...ids, ...targets], targets),
    };
  }

  async #write(tx: Queryable, plan: BatchPlan, now: Date): Promise<Set<string>> {
    const inserted = await insertRecords(tx, plan.rows);
    await insertChainLinks(tx, plan.links);
    await clearGapFlags(
      tx,
      plan.healed.filter((h) => inserted.has(h.cause)),
    );
    await markSuperseded(
      tx,
      plan.replaced.filter((r) => inserted.has(r.cause)),
    );
    await upsertRefusals(tx, plan.refusals);
    await resolveHeld(
      tx,
      plan.resolvable.filter((r) => inserted.has(r.id)),
      now,
    );
    return inserted;
  }

  #committed(batch: Received[], messages: (ReadMessage | undefined)[], plan: BatchPlan, inserted: Set<string>, failed: number, ms: number): void {
    const settled: SettledBatch = { accepted: 0, duplicates: 0, rejected: 0, invalid: 0, held: 0, unreadable: 0, failed, ms };
    for (const [i, m] of messages.entries()) {
      if (m?.kind !== 'unreadable') continue;
      settled.unreadable += 1;
      this.#deps.logger.warn({ topic: (batch[i] as Received).topic, reason: m.reason, bytes: (batch[i] as Received).payload.length, preview: preview((batch[i] as Received).payload) }, 'gateway ingest: unreadable message on a records topic (not acknowledged)');
    }
    const acks: AckItem[] = [];
    const stored: Outcome[] = [];
    for (const outcome of plan.outcomes) {
      const { terminalId, id } = outcome;
      const verdict = outcome.verdict === 'accepted' && !inserted.has(id) ? 'duplicate' : outcome.verdict;
      if (verdict === 'accepted') {
        settled.accepted += 1;
        stored.push(outcome);
        acks.push({ terminalId, id, status: 'accepted' });
      } else if (verdict === 'duplicate') {
        settled.duplicates += 1;
        acks.push({ terminalId, id, status: 'duplicate' });
      } else if (verdict === 'held') {
        settled.held += 1;
      } else {
        settled[verdict] += 1;
        acks.push({ terminalId, id, status: 'rejected', ...(outcome.reason !== undefined && { reason: outcome.reason }) });
      }
    }
    const s = this.#stats;
    s.accepted += settled.accepted;
    s.duplicates += settled.duplicates;
    s.rejected += settled.rejected;
    s.invalid += settled.invalid;
    s.held += settled.held;
    s.unreadable += settled.unreadable;
    s.failed += settled.failed;
    s.batches += 1;
    s.dbUp = true;
    this.#publishAcks(acks);
    this.#emitSafely(() => this.emit('settled', settled));
    for (const outcome of stored) this.#emitSafely(() => this.emit('record', outcome.record as UpstreamRecord, outcome.terminalId));
    for (const refusal of plan.refusals) this.#emitSafely(() => this.emit('refused', refusal));
  }

  /**
   * QoS 0: a bridge's session is clean, so the broker keeps nothing for a bridge that is away at
   * either QoS; an ack lost with a dropped connection only means the bridge publishes the record
   * again after its ack timeout, and it is acked duplicate (docs/protocol.md). QoS 1 would add two
   * PUBACKs per ack (gateway ← broker, broker ← bridge) to every record's cost, for nothing kept.
   */
  #publishAcks(items: AckItem[]): void {
    const { publisher, prefix, clock, logger } = this.#deps;
    for (const { terminalId, ack } of ackMessages(items, clock.now())) {
      const sending: Promise<void> = publisher
        .publish(terminalTopics(terminalId, prefix).acks, JSON.stringify(ack), { qos: 0 })
        .then(
          () => {
            this.#stats.acksSent += 1;
          },
          (err: unknown) => {
            this.#stats.ackFailures += 1;
            logger.warn({ err, terminalId, status: ack.status, ids: ack.ids.length }, 'gateway ingest: ack not published (the bridge publishes the records again; they will be acked duplicate)');
          },
        )
        .finally(() => {
          this.#acks.delete(sending);
          this.#notifyIdle();
        });
      this.#acks.add(sending);
    }
  }

  /** A listener's exception is its own: logged, never undoing a committed batch. */
  #emitSafely(emit: () => void): void {
    try {
      emit();
    } catch (err) {
      this.#deps.logger.error({ err }, 'gateway ingest: an event listener threw');
    }
  }

  #offThreadFailed(err: unknown): void {
    this.#offThreadFailures += 1;
    if (this.#offThreadFailures === 1 || this.#offThreadFailures % 1000 === 0) {
      this.#deps.logger.error({ err, failures: this.#offThreadFailures }, 'gateway ingest: the signature thread failed a batch; its seals are checked by their transactions on the main thread');
    }
  }

  #logFailure(message: Received, err: unknown): void {
    this.#deps.logger.error({ err, topic: message.topic, preview: preview(message.payload) }, 'gateway ingest: classifying a message failed (a bug); left unacknowledged');
  }
}

/** SQLSTATE classes of a statement refused for its data (22 data exception, 23 integrity, 54 program limit), not of a lost connection. */
function refusedByData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/** SQLSTATE class 40: the database rolled the transaction back (deadlock, serialization failure); trying again is the remedy. */
function transactionRollback(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('40');
}

/** An error's message for the status, any credentials in a URL or a password= masked. */
export function withoutSecrets(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@')
    .replace(/(password\s*[=:]\s*)\S+/gi, '$1***')
    .slice(0, 500);
}

function preview(payload: Buffer): string {
  return payload.subarray(0, PREVIEW_BYTES).toString('utf8');
}
