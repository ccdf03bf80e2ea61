import { z } from 'zod';
import { terminalIdSchema } from '../../protocol/records.js';
import type { Database } from '../db/database.js';

/*
 * The refusals the admin API lists, read from the `refusals` table. (Until the ingest's own
 * gateway/store/refusals.ts listRefusals is there to share; then this reads through it.)
 */

export const refusalQuerySchema = z.strictObject({
  terminal: terminalIdSchema.optional(),
  disposition: z.enum(['rejected', 'held']).optional(),
  limit: z
    .string()
    .regex(/^\d{1,5}$/, 'a number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'a number from 1 to 1000').max(1000, 'a number from 1 to 1000'))
    .default(100),
});
export type RefusalQuery = z.output<typeof refusalQuerySchema>;

export interface RefusalView {
  id: string;
  terminalId: string;
  disposition: 'rejected' | 'held';
  verdict: string;
  reason: string;
  /** The first 500 characters of the record as received. */
  payload: string;
  firstAt: string;
  lastAt: string;
  attempts: number;
  resolvedAt: string | null;
}

const PAYLOAD_PREVIEW = 500;

/** Newest first. */
export async function listRefusalRows(db: Database, query: RefusalQuery): Promise<RefusalView[]> {
  const { rows } = await db.query<{
    id: string;
    terminal_id: string;
    disposition: 'rejected' | 'held';
    verdict: string;
    reason: string;
    payload: string;
    first_at: Date;
    last_at: Date;
    attempts: number;
    resolved_at: Date | null;
  }>(
    `SELECT id, terminal_id, disposition, verdict, reason, left(payload, ${PAYLOAD_PREVIEW}) AS payload, first_at, last_at, attempts::int AS attempts, resolved_at
     FROM refusals
     WHERE ($1::text IS NULL OR terminal_id = $1) AND ($2::text IS NULL OR disposition = $2)
     ORDER BY last_at DESC, terminal_id, id
     LIMIT $3`,
    [query.terminal ?? null, query.disposition ?? null, query.limit],
  );
  return rows.map((row) => ({
    id: row.id,
    terminalId: row.terminal_id,
    disposition: row.disposition,
    verdict: row.verdict,
    reason: row.reason,
    payload: row.payload,
    firstAt: row.first_at.toISOString(),
    lastAt: row.last_at.toISOString(),
    attempts: row.attempts,
    resolvedAt: row.resolved_at ? row.resolved_at.toISOString() : null,
  }));
}
