import { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import type { Queryable } from '../db/database.js';

export type Disposition = 'rejected' | 'held';

/** A record not accepted, as one batch saw it. */
export interface RefusalRow {
  id: string;
  terminalId: string;
  /** rejected: acked, the bridge quarantines it; held: not acked, the bridge publishes it again. */
  disposition: Disposition;
  /** What was wrong: a seal verdict (bad_signature, broken_chain, malformed, unsigned), unknown_terminal, pending_key, revoked, terminal_mismatch, supersede, unstorable. */
  verdict: string;
  reason: string;
  /** The message as received. */
  payload: string;
  at: Date;
}

/** A refusal as kept: how often it came, and whether it was resolved (a held record accepted since). */
export interface Refusal extends Omit<RefusalRow, 'at'> {
  firstAt: Date;
  lastAt: Date;
  attempts: number;
  resolvedAt: Date | null;
}

/**
 * Records a batch's refusals in one statement: a new one is added, one seen before counts an
 * attempt more (and is open again). Several of the same in one batch become one row, counted.
 */
export async function upsertRefusals(tx: Queryable, refusals: readonly RefusalRow[]): Promise<void> {
  if (refusals.length === 0) return;
  const merged = new Map<string, { row: RefusalRow; attempts: number }>();
  for (const row of refusals) {
    const key = JSON.stringify([row.terminalId, row.id, row.verdict]);
    const seen = merged.get(key);
    if (seen) {
      seen.attempts += 1;
      seen.row = row;
    } else merged.set(key, { row, attempts: 1 });
  }
  // In key order: two instances upserting the same refusals lock their rows in one order, never in a cycle.
  const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  await tx.query(
    `INSERT INTO refusals (id, terminal_id, disposition, verdict, reason, payload, first_at, last_at, attempts)
     SELECT id, terminal_id, disposition, verdict, reason, payload, at, at, attempts
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::int[])
            AS u(id, terminal_id, disposition, verdict, reason, payload, at, attempts)
     ON CONFLICT (terminal_id, id, verdict) DO UPDATE
        SET attempts = refusals.attempts + EXCLUDED.attempts, last_at = EXCLUDED.last_at, disposition = EXCLUDED.disposition,
            reason = EXCLUDED.reason, payload = EXCLUDED.payload, resolved_at = NULL`,
    [
      rows.map((r) => r.row.id),
      rows.map((r) => r.row.terminalId),
      rows.map((r) => r.row.disposition),
      rows.map((r) => r.row.verdict),
      rows.map((r) => r.row.reason),
      rows.map((r) => r.row.payload),
      rows.map((r) => r.row.at.toISOString()),
      rows.map((r) => r.attempts),
    ],
  );
}

/** Held records now accepted (the operator approved their terminal or key): their refusals are resolved. */
export async function resolveHeld(tx: Queryable, accepted: readonly { terminalId: string; id: string }[], at: Date): Promise<void> {
  if (accepted.length === 0) return;
  await tx.query(
    `UPDATE refusals r SET resolved_at = $3
       FROM unnest($1::text[], $2::text[]) AS a(terminal_id, id)
      WHERE r.terminal_id = a.terminal_id AND r.id = a.id AND r.disposition = 'held' AND r.resolved_at IS NULL`,
    [accepted.map((a) => a.terminalId), accepted.map((a) => a.id), at.toISOString()],
  );
}

export const refusalFilterSchema = z.strictObject({
  terminalId: z.string().min(1).max(64).optional(),
  disposition: z.enum(['rejected', 'held']).optional(),
  /** Only those not resolved (true), or only those resolved (false). */
  open: z.boolean().optional(),
  limit: z.number().int().min(1).max(10_000),
});
export type RefusalFilter = z.infer<typeof refusalFilterSchema>;

/** The refusals kept, newest first (by their last attempt). */
export async function listRefusals(db: Queryable, filter: RefusalFilter): Promise<Refusal[]> {
  const parsed = explain(refusalFilterSchema, filter);
  if (!parsed.ok) throw new TypeError(`listRefusals: ${parsed.problems.join('; ')}`);
  const { terminalId, disposition, open, limit } = parsed.data;
  const { rows } = await db.query<{
    id: string;
    terminal_id: string;
    disposition: Disposition;
    verdict: string;
    reason: string;
    payload: string;
    first_at: Date;
    last_at: Date;
    attempts: number;
    resolved_at: Date | null;
  }>(
    `SELECT id, terminal_id, disposition, verdict, reason, payload, first_at, last_at, attempts::int AS attempts, resolved_at
       FROM refusals
      WHERE ($1::text IS NULL OR terminal_id = $1) AND ($2::text IS NULL OR disposition = $2)
        AND ($3::boolean IS NULL OR (resolved_at IS NULL) = $3)
      ORDER BY last_at DESC, terminal_id, id
      LIMIT $4`,
    [terminalId ?? null, disposition ?? null, open ?? null, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    terminalId: r.terminal_id,
    disposition: r.disposition,
    verdict: r.verdict,
    reason: r.reason,
    payload: r.payload,
    firstAt: r.first_at,
    lastAt: r.last_at,
    attempts: r.attempts,
    resolvedAt: r.resolved_at,
  }));
}
