import { EventEmitter } from 'node:events';
import type { AckStatus } from '../../protocol/acks.js';
import type { Clock } from '../clock.js';
import type { Db } from './database.js';
import { Commits } from './commits.js';
import { silentLogger } from '../log.js';
import { SEALED_RECORD_SCHEMA, type StoredRecord } from '../../protocol/records.js';
import { GENESIS } from '../../protocol/seal/seal.js';
import type { RecordSealer } from '../identity/record-sealer.js';

export interface OutboxEntry {
  seq: number;
  /** The record as stored; a sealed one also carries its layout's fields (schema 2, seq, prev, sig, grade code). */
  record: StoredRecord;
  /** A record sealed at commit: the message to publish, byte for byte. */
  sealed?: string;
}

export interface OutboxCounts {
  pending: number;
  acked: number;
  quarantined: number;
  /** created_at of the oldest pending record, if any. */
  oldestPendingAt: string | null;
}

export interface QuarantinedEntry {
  seq: number;
  id: string;
  reason: string | null;
}

/**
 * Every record the terminal makes, in the order made. A record stays `pending` until the
 * province acknowledges it; rejected ones are quarantined, never deleted.
 *
 * It announces what it stores once it is committed (`appended`), and records made pending again
 * (`requeued`): whoever sends records on listens, and no caller has to remember to tell it.
 *
 * Given a sealer (a sealed record layout, the default), it stores each record sealed in the same
 * commit (protocol/seal/): laid out for the wire with its `seq` (the row's, gapless in commit
 * order), chained to the previous sealed record by `prev` and signed. A row edited afterwards no
 * longer verifies at the receiver; a row deleted leaves a gap in the chain there.
 */
export class Outbox extends EventEmitter<{ appended: [StoredRecord]; requeued: [number] }> {
  private readonly insert;
  private readonly byId;
  private readonly bySupersedes;
  private readonly pendingInRange;
  private readonly lastSeq;
  private readonly countInRange;
  private readonly pruneAcked;
  private readonly setState;
  private readonly counts;
  private readonly quarantinedList;
  private readonly countsSince;
  private readonly caseSince;
  private readonly requeue;
  private readonly caseInvited;
  private readonly pruneCases;
  private readonly lastRated;
  private readonly insertSealed;
  private readonly nextSeq;
  private readonly chainHead;
  private readonly setChainHead;
  private readonly stored;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Where its own transactions commit: the bridge's, so that a full disk is one fault it raises. */
    private readonly commits = new Commits(db, clock, silentLogger),
    /** Seals each record at commit; none: records are stored unsealed (layout 1). */
    private readonly sealer: Pick<RecordSealer, 'seal'> | null = null,
  ) {
    super();
    this.insert = db.prepare(
      `INSERT INTO records (id, kind, body, source_key, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    this.insertSealed = db.prepare(`INSERT INTO records (seq, id, kind, body, source_key, created_at) VALUES (?, ?, ?, ?, ?, ?)`);
    this.stored = db.prepare(`SELECT 1 FROM records WHERE id = ? OR source_key = ?`);
    // AUTOINCREMENT's counter, not MAX(seq): a seq is never reused, even after its row was pruned or deleted.
    this.nextSeq = db.prepare(`SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'records'), 0) + 1 AS seq`);
    this.chainHead = db.prepare(`SELECT seq, hash FROM chain_head WHERE id = 1`);
    this.setChainHead = db.prepare(
      `INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
    );
    this.byId = db.prepare(`SELECT seq, body, state FROM records WHERE id = ?`);
    this.bySupersedes = db.prepare(
      `SELECT seq, body, state FROM records WHERE kind = 'invitation' AND json_extract(body, '$.supersedes') = ? ORDER BY seq LIMIT 1`,
    );
    this.pendingInRange = db.prepare(
      `SELECT seq, body FROM records WHERE state = 'pending' AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
    this.lastSeq = db.prepare(`SELECT COALESCE(MAX(seq), 0) AS seq FROM records`);
    this.countInRange = db.prepare(`SELECT COUNT(*) AS n FROM records WHERE state = 'pending' AND seq > ? AND seq <= ?`);
    this.pruneAcked = db.prepare(`DELETE FROM records WHERE state = 'acked' AND acked_at < ?`);
    this.setState = db.prepare(
      `UPDATE records SET state = ?, ack_status = ?, ack_reason = ?, acked_at = ? WHERE id = ? AND state = 'pending'`,
    );
    this.counts = db.prepare(
      `SELECT
         SUM(state = 'pending') AS pending, SUM(state = 'acked') AS acked,
         SUM(state = 'quarantined') AS quarantined,
         MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldestPendingAt
       FROM records`,
    );
    this.countsSince = db.prepare(
      `SELECT json_extract(body, '$.outcome') AS outcome, json_extract(body, '$.rating.grade') AS grade, COUNT(*) AS n
       FROM records WHERE kind = 'invitation' AND created_at >= ? AND json_extract(body, '$.test') = 0
       GROUP BY 1, 2`,
    );
    this.requeue = db.prepare(
      `UPDATE records SET state = 'pending', ack_status = NULL, ack_reason = NULL, acked_at = NULL
       WHERE seq BETWEEN ? AND ? AND state = 'acked'`,
    );
    this.caseSince = db.prepare(`SELECT 1 FROM invited_cases WHERE case_no = ? AND invited_at >= ? LIMIT 1`);
    this.caseInvited = db.prepare(`INSERT INTO invited_cases (case_no, invited_at) VALUES (?, ?)`);
    this.pruneCases = db.prepare(`DELETE FROM invited_cases WHERE invited_at < ?`);
    this.lastRated = db.prepare(
      `SELECT json_extract(body, '$.rating.grade') AS grade, json_extract(body, '$.closedAt') AS closedAt
       FROM records WHERE kind = 'invitation' AND json_extract(body, '$.outcome') = 'rated' AND json_extract(body, '$.test') = 0
       ORDER BY seq DESC LIMIT ?`,
    );
    this.quarantinedList = db.prepare(
      `SELECT seq, id, ack_reason AS reason FROM records WHERE state = 'quarantined' ORDER BY seq DESC LIMIT ?`,
    );
  }

  /**
   * Durably stores a record (one synchronous=FULL commit). Storing the same id, or the same
   * source key (a terminal's event resent), again is a no-op: returns false.
   */
  append(record: StoredRecord, sourceKey: string | null = null): boolean {
    const createdAt = this.clock.now().toISOString();
    const { sealer } = this;
    const stored = sealer
      ? this.db.transaction(() => this.appendSealed(sealer, record, sourceKey, createdAt))()
      : this.insert.run(record.id, record.kind, JSON.stringify(record), sourceKey, createdAt).changes === 1;
    if (!stored) return false;
    if (this.db.inTransaction) this.announceIfCommitted(record);
    else this.emit('appended', record);
    return true;
  }

  /** Seals the record as the next of the chain and stores it; the chain head moves only if it was stored. */
  private appendSealed(sealer: Pick<RecordSealer, 'seal'>, record: StoredRecord, sourceKey: string | null, createdAt: string): boolean {
    // Looked up first: an insert that conflicts would still move AUTOINCREMENT's counter, a gap in the chain.
    if (this.stored.get(record.id, sourceKey)) return false;
    const seq = (this.nextSeq.get() as { seq: number }).seq;
    const head = this.chainHead.get() as { seq: number; hash: string } | undefined;
    // After unsealed rows (an upgraded bridge, or layout 1 for a while) a new chain starts.
    const prev = head?.seq === seq - 1 ? head.hash : GENESIS;
    const sealed = sealer.seal(record, seq, prev);
    this.insertSealed.run(seq, record.id, record.kind, sealed.body, sourceKey, createdAt);
    this.setChainHead.run(seq, sealed.hash);
    return true;
  }

  /**
   * Appended inside a transaction (e.g. an invitation's record with its closing): announced once
   * committed. better-sqlite3 transactions are synchronous, so by the next microtask this one has
   * committed or rolled back, and the row tells which.
   */
  private announceIfCommitted(record: StoredRecord): void {
    // Nobody listening (a bulk load): no row to look up again, and the database may be closed by then.
    if (this.listenerCount('appended') === 0) return;
    queueMicrotask(() => {
      if (this.byId.get(record.id)) this.emit('appended', record);
    });
  }

  get(id: string): (OutboxEntry & { state: string }) | undefined {
    const row = this.byId.get(id) as { seq: number; body: string; state: string } | undefined;
    return row && { ...entryOf(row), state: row.state };
  }

  /** The record that reconciles the one with this id (its `supersedes`), if one was made. */
  supersededBy(id: string): (OutboxEntry & { state: string }) | undefined {
    const row = this.bySupersedes.get(id) as { seq: number; body: string; state: string } | undefined;
    return row && { ...entryOf(row), state: row.state };
  }

  /** Pending records with afterSeq < seq <= upToSeq, oldest first. */
  pending(afterSeq: number, upToSeq: number, limit: number): OutboxEntry[] {
    const rows = this.pendingInRange.all(afterSeq, Math.min(upToSeq, Number.MAX_SAFE_INTEGER), limit) as { seq: number; body: string }[];
    return rows.map(entryOf);
  }

  /** How many pending records have afterSeq < seq <= upToSeq. */
  countPending(afterSeq: number, upToSeq: number): number {
    return (this.countInRange.get(afterSeq, Math.min(upToSeq, Number.MAX_SAFE_INTEGER)) as { n: number }).n;
  }

  /**
   * Makes acknowledged records in a sequence range pending again, to be published once more (the
   * province asked: it lost them). Pruned records are gone; quarantined ones stay quarantined.
   */
  requeueRange(fromSeq: number, toSeq: number): number {
    const requeued = this.requeue.run(fromSeq, toSeq).changes;
    if (requeued > 0) this.emit('requeued', requeued);
    return requeued;
  }

  /** The sequence number of the newest record (0 when there is none). */
  maxSeq(): number {
    return (this.lastSeq.get() as { seq: number }).seq;
  }

  /** Deletes acknowledged records settled before `before`; pending and quarantined ones are never pruned. */
  prune(before: Date): number {
    // Through the commits: a disk that cannot take even a delete is a storage fault, not a crash.
    return this.commits.run(() => {
      this.pruneCases.run(before.toISOString());
      return this.pruneAcked.run(before.toISOString()).changes;
    });
  }

  /**
   * Applies province acknowledgements, all in one transaction (one commit however many arrived
   * together); returns, per acknowledgement, how many pending records it settled. Throws
   * StorageFailure, settling nothing, when the disk cannot take the commit.
   */
  settle(acks: ReadonlyArray<{ ids: readonly string[]; status: AckStatus; reason?: string | undefined }>, at: Date): number[] {
    const when = at.toISOString();
    const settle = (): number[] =>
      acks.map(({ ids, status, reason }) => {
        const state = status === 'rejected' ? 'quarantined' : 'acked';
        let changed = 0;
        for (const id of ids) changed += this.setState.run(state, status, reason ?? null, when, id).changes;
        return changed;
      });
    return this.commits.run(settle);
  }

  stats(): OutboxCounts {
    const row = this.counts.get() as Record<keyof OutboxCounts, number | string | null>;
    return {
      pending: Number(row.pending ?? 0),
      acked: Number(row.acked ?? 0),
      quarantined: Number(row.quarantined ?? 0),
      oldestPendingAt: (row.oldestPendingAt as string | null) ?? null,
    };
  }

  /** Invitations stored since `since`, by outcome and grade; test records never count. */
  invitationCounts(since: Date): Array<{ outcome: string; grade: string | null; n: number }> {
    return this.countsSince.all(since.toISOString()) as Array<{ outcome: string; grade: string | null; n: number }>;
  }

  /** Whether this case number was invited since `since` (an index lookup). */
  caseInvitedSince(caseNo: string, since: Date): boolean {
    return this.caseSince.get(caseNo, since.toISOString()) !== undefined;
  }

  /** Notes that these case numbers were invited at `at`, for repeat_case. */
  noteInvitedCases(caseNos: readonly string[], at: Date): void {
    for (const caseNo of caseNos) this.caseInvited.run(caseNo, at.toISOString());
  }

  /** The grades of the latest rated (non-test) invitations, newest first. */
  latestRatings(limit: number): Array<{ grade: string; closedAt: string }> {
    return this.lastRated.all(limit) as Array<{ grade: string; closedAt: string }>;
  }

  quarantined(limit = 20): QuarantinedEntry[] {
    return this.quarantinedList.all(limit) as QuarantinedEntry[];
  }
}

/** A row as an entry: a sealed body (schema 2) is also the message to publish as it is. */
function entryOf(row: { seq: number; body: string }): OutboxEntry {
  const record = JSON.parse(row.body) as StoredRecord;
  return record.schema === SEALED_RECORD_SCHEMA ? { seq: row.seq, record, sealed: row.body } : { seq: row.seq, record };
}
