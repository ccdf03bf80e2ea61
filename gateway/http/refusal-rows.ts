import { z } from 'zod';
import { terminalIdSchema } from '../../protocol/records.js';
import type { Queryable } from '../db/database.js';
import { listRefusals, type Refusal } from '../store/refusals.js';

/* The refusals the admin API lists: its query string read, the ingest's listRefusals asked. */

const flag = z.enum(['true', 'false'], { error: 'true or false' }).transform((v) => v === 'true');

export const refusalQuerySchema = z.strictObject({
  terminal: terminalIdSchema.optional(),
  disposition: z.enum(['rejected', 'held']).optional(),
  /** true: only those not resolved; false: only those resolved. */
  open: flag.optional(),
  limit: z
    .string()
    .regex(/^\d{1,5}$/, 'a number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'a number from 1 to 1000').max(1000, 'a number from 1 to 1000'))
    .default(100),
});
export type RefusalQuery = z.output<typeof refusalQuerySchema>;

export interface RefusalView extends Omit<Refusal, 'firstAt' | 'lastAt' | 'resolvedAt'> {
  firstAt: string;
  lastAt: string;
  resolvedAt: string | null;
}

/** A listing shows the start of each record as received; the whole is in the database. */
const PAYLOAD_PREVIEW = 500;

/** Newest first. */
export async function listRefusalRows(db: Queryable, query: RefusalQuery): Promise<RefusalView[]> {
  const refusals = await listRefusals(db, { terminalId: query.terminal, disposition: query.disposition, open: query.open, limit: query.limit });
  return refusals.map((r) => ({
    ...r,
    payload: r.payload.slice(0, PAYLOAD_PREVIEW),
    firstAt: r.firstAt.toISOString(),
    lastAt: r.lastAt.toISOString(),
    resolvedAt: r.resolvedAt ? r.resolvedAt.toISOString() : null,
  }));
}
