import { z } from 'zod';
import type { Database, Queryable } from '../db/database.js';
import type { Clock } from '../ports.js';
import { recordOperatorAction } from '../registry/terminal-rows.js';
import type { DeliveryKey, DeliverySource, Phase } from './claims.js';

/** What the admin API shows of the queue: for GET /api/v1/deliveries and POST …/retry (wired in the admin API). */

export const deliveryStateSchema = z.enum(['service', 'evaluation', 'delivered', 'rejected', 'skipped']);
export type DeliveryState = z.infer<typeof deliveryStateSchema>;

export interface DeliveryStatus {
  /** Rows per state ('service' and 'evaluation': still to be sent). */
  counts: Record<DeliveryState, number>;
  /** Claimed by an instance and being sent now. */
  inFlight: number;
  /** The earliest due time among rows still to be sent. */
  oldestDueAt: Date | null;
  /** When the oldest row still to be sent came: how far behind the province is. */
  oldestWaitingSince: Date | null;
  /** Rows the province refused, waiting for an operator. */
  rejected: number;
  /** Rows still to be sent that failed at least `alertAfterAttempts` times in a row. */
  alerting: number;
  /** The latest failure kept on a row still to be sent or rejected. */
  lastError: { at: Date; key: DeliveryKey; state: DeliveryState; code: string | null; message: string } | null;
}

export async function deliveryStatus(db: Queryable, options: { now: Date; alertAfterAttempts: number }): Promise<DeliveryStatus> {
  const { rows: counts } = await db.query<{ state: DeliveryState; n: number; in_flight: number; oldest_due: Date | null; oldest_since: Date | null; alerting: number }>(
    `SELECT state, count(*)::int AS n,
            count(*) FILTER (WHERE claimed_at IS NOT NULL AND due_at > $1)::int AS in_flight,
            min(due_at) AS oldest_due, min(created_at) AS oldest_since,
            count(*) FILTER (WHERE attempts >= $2)::int AS alerting
       FROM deliveries GROUP BY state`,
    [options.now, options.alertAfterAttempts],
  );
  const status: DeliveryStatus = {
    counts: { service: 0, evaluation: 0, delivered: 0, rejected: 0, skipped: 0 },
    inFlight: 0,
    oldestDueAt: null,
    oldestWaitingSince: null,
    rejected: 0,
    alerting: 0,
    lastError: null,
  };
  for (const row of counts) {
    status.counts[row.state] = row.n;
    if (row.state !== 'service' && row.state !== 'evaluation') continue;
    status.inFlight += row.in_flight;
    status.alerting += row.alerting;
    status.oldestDueAt = earliest(status.oldestDueAt, row.oldest_due);
    status.oldestWaitingSince = earliest(status.oldestWaitingSince, row.oldest_since);
  }
  status.rejected = status.counts.rejected;
  const { rows: last } = await db.query<{ source: DeliverySource; id: string; case_no: string; state: DeliveryState; code: string | null; last_error: string; updated_at: Date }>(
    `SELECT source, id, case_no, state, code, last_error, updated_at FROM deliveries
      WHERE last_error IS NOT NULL AND state IN ('service', 'evaluation', 'rejected')
      ORDER BY updated_at DESC LIMIT 1`,
  );
  const l = last[0];
  if (l) status.lastError = { at: l.updated_at, key: { source: l.source, id: l.id, caseNo: l.case_no }, state: l.state, code: l.code, message: l.last_error };
  return status;
}

function earliest(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a <= b ? a : b;
}

export interface DeliveryRow extends DeliveryKey {
  terminalId: string;
  state: DeliveryState;
  /** For 'rejected': the phase the province refused. */
  rejectedPhase: Phase | null;
  /** The province's code and message of the last answer that was not a success (ours: 'payload', 'unreadable'). */
  code: string | null;
  message: string | null;
  attempts: number;
  dueAt: Date;
  claimedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
  /** The last answer kept (made storable: gateway/delivery/storable.ts). */
  answer: unknown;
}

/** Rows in `state` (all states when absent), the latest changed first; `limit` at most 1000. */
export async function listDeliveries(db: Queryable, options: { state?: DeliveryState; caseNo?: string; limit?: number } = {}): Promise<DeliveryRow[]> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
  const { rows } = await db.query<{
    source: DeliverySource;
    id: string;
    case_no: string;
    terminal_id: string;
    state: DeliveryState;
    rejected_phase: Phase | null;
    code: string | null;
    last_error: string | null;
    attempts: number;
    due_at: Date;
    claimed_by: string | null;
    created_at: Date;
    updated_at: Date;
    delivered_at: Date | null;
    answer: unknown;
  }>(
    `SELECT source, id, case_no, terminal_id, state, rejected_phase, code, last_error, attempts, due_at, claimed_by, created_at, updated_at, delivered_at, answer
       FROM deliveries
      WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR case_no = $2)
      ORDER BY updated_at DESC, position DESC LIMIT $3`,
    [options.state ?? null, options.caseNo ?? null, limit],
  );
  return rows.map((r) => ({
    source: r.source,
    id: r.id,
    caseNo: r.case_no,
    terminalId: r.terminal_id,
    state: r.state,
    rejectedPhase: r.rejected_phase,
    code: r.code,
    message: r.last_error,
    attempts: r.attempts,
    dueAt: r.due_at,
    claimedBy: r.claimed_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
    answer: r.answer,
  }));
}

export interface RetryResult {
  /** Put back at the phase the province refused, due now. */
  retried: DeliveryKey[];
  /** Not rejected (or not there): left as they are. */
  notRejected: DeliveryKey[];
}

/**
 * An operator's decision to send rejected rows again (the profile or the data was mended): each
 * goes back to the phase the province refused, due now, its attempts cleared, and one line per
 * row in operator_actions (action 'delivery_retry', with the refusal it answers).
 */
export async function retryRejected(db: Database, keys: readonly DeliveryKey[], actor: string, clock: Clock): Promise<RetryResult> {
  if (keys.length === 0) return { retried: [], notRejected: [] };
  const now = clock.now();
  const retried = await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ source: DeliverySource; id: string; case_no: string; terminal_id: string; rejected_phase: Phase; code: string | null; last_error: string | null }>(
      `UPDATE deliveries d SET state = COALESCE(d.rejected_phase, 'service'), attempts = 0, due_at = $4, claimed_at = NULL, updated_at = $4
         FROM unnest($1::text[], $2::uuid[], $3::text[]) AS k(source, id, case_no)
        WHERE d.source = k.source AND d.id = k.id AND d.case_no = k.case_no AND d.state = 'rejected'
        RETURNING d.source, d.id, d.case_no, d.terminal_id, d.state AS rejected_phase, d.code, d.last_error`,
      [keys.map((k) => k.source), keys.map((k) => k.id), keys.map((k) => k.caseNo), now],
    );
    for (const r of rows) {
      await recordOperatorAction(tx, {
        at: now,
        actor,
        action: 'delivery_retry',
        terminalId: r.terminal_id,
        detail: { source: r.source, id: r.id, caseNo: r.case_no, phase: r.rejected_phase, code: r.code, message: r.last_error },
      });
    }
    return rows.map((r) => ({ source: r.source, id: r.id, caseNo: r.case_no }));
  });
  const done = new Set(retried.map(keyText));
  return { retried, notRejected: keys.filter((k) => !done.has(keyText(k))) };
}

function keyText(k: DeliveryKey): string {
  return JSON.stringify([k.source, k.id.toLowerCase(), k.caseNo]);
}
