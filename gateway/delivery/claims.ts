import { z } from 'zod';
import { gradeSchema } from '../../protocol/grades.js';
import { invitationRecordSchema, type InvitationRecord } from '../../protocol/records.js';
import type { Queryable } from '../db/database.js';
import type { PushPhase } from '../province/client.js';
import type { LaterRating } from '../province/payloads.js';

/**
 * The `deliveries` table as the worker uses it (rows are made by the triggers of schema v2).
 *
 * A claim is a lease: a short transaction takes due rows with FOR UPDATE SKIP LOCKED, and sets
 * claimed_by/claimed_at and due_at to the lease's end, so that no other instance sees them due
 * while the pushes run outside any transaction (on PGlite, one connection, a transaction held
 * across an HTTP call would stop the ingest). Every change afterwards names the claim
 * (claimed_by and claimed_at) and the phase: a row that changed meanwhile (superseded, or claimed
 * again after the lease ran out) is left as it is. The lease is longer than a batch's pushes.
 *
 * Order per case: a row is due only when no row of the same case that came before it
 * (`position`) is still to be sent or rejected. So a case's service goes before its evaluation
 * (one row, two phases), a later rating waits for the counter record's row, a follow-up for the
 * first evaluation; and a rejection holds what follows it until an operator retries it.
 */

export type DeliverySource = 'record' | 'later';
/** The phase a row is at: the push it needs next. */
export type Phase = PushPhase;

export interface DeliveryKey {
  source: DeliverySource;
  id: string;
  caseNo: string;
}

export const deliveryKeySchema = z.strictObject({
  source: z.enum(['record', 'later']),
  id: z.uuid(),
  caseNo: z.string().min(1).max(64),
});

export interface Claim extends DeliveryKey {
  terminalId: string;
  phase: Phase;
  /** Transient failures of this phase so far. */
  attempts: number;
  claimedBy: string;
  claimedAt: Date;
  leaseEnd: Date;
  /** The invitation record (the row's own, or the later rating's invitation): null when not stored, or unreadable. */
  record: InvitationRecord | null;
  /** For source 'later'. */
  later: LaterRating | null;
  /** What could not be read of the stored record or later rating (a permanent problem). */
  unreadable: string | null;
  /** A record row of this case has reached the province (its service is there). */
  serviceKnown: boolean;
}

const laterRowSchema = z.object({
  case_no: z.string().min(1),
  assess_number: z.union([z.literal(1), z.literal(2)]),
  grade: gradeSchema,
  reasons: z.array(z.string()),
  reason_catalog: z.string().nullable(),
  rated_at: z.date(),
});

type ClaimRow = {
  source: DeliverySource;
  id: string;
  case_no: string;
  terminal_id: string;
  state: Phase;
  attempts: number;
  record: unknown;
  later: unknown;
  service_known: boolean;
};

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Claims up to `limit` due rows for `instance` until `leaseEnd`, oldest due first, with what sending them needs. */
export async function claimDue(db: Queryable, options: { instance: string; now: Date; leaseEnd: Date; limit: number }): Promise<Claim[]> {
  const { rows } = await db.query<ClaimRow>(
    `WITH due AS (
       SELECT d.source, d.id, d.case_no FROM deliveries d
        WHERE d.state IN ('service', 'evaluation') AND d.due_at <= $1
          AND NOT EXISTS (SELECT 1 FROM deliveries e
                           WHERE e.case_no = d.case_no AND e.position < d.position AND e.state IN ('service', 'evaluation', 'rejected'))
        ORDER BY d.due_at, d.position
        LIMIT $2
        FOR UPDATE OF d SKIP LOCKED
     ), claimed AS (
       UPDATE deliveries d SET claimed_by = $3, claimed_at = $1, due_at = $4, updated_at = $1
         FROM due WHERE d.source = due.source AND d.id = due.id AND d.case_no = due.case_no
       RETURNING d.source, d.id, d.case_no, d.terminal_id, d.state, d.attempts, d.position
     )
     SELECT c.source, c.id, c.case_no, c.terminal_id, c.state, c.attempts, r.record,
            CASE WHEN l.id IS NULL THEN NULL ELSE to_jsonb(l) END AS later,
            EXISTS (SELECT 1 FROM deliveries e WHERE e.case_no = c.case_no AND e.source = 'record' AND e.state IN ('evaluation', 'delivered')) AS service_known
       FROM claimed c
       LEFT JOIN later_ratings l ON c.source = 'later' AND l.id = c.id
       LEFT JOIN records r ON r.id = CASE WHEN c.source = 'record' THEN c.id
                                          WHEN l.invitation_id ~ '${UUID}' THEN l.invitation_id::uuid END
      ORDER BY c.position`,
    [options.now, options.limit, options.instance, options.leaseEnd],
  );
  return rows.map((row) => readClaim(row, options));
}

function readClaim(row: ClaimRow, options: { instance: string; now: Date; leaseEnd: Date }): Claim {
  const problems: string[] = [];
  let record: InvitationRecord | null = null;
  if (row.record !== null && row.record !== undefined) {
    const parsed = invitationRecordSchema.safeParse(row.record);
    if (parsed.success) record = parsed.data;
    else problems.push(`the stored record is not an invitation record: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ').slice(0, 300)}`);
  } else if (row.source === 'record') problems.push('the record is no longer stored');
  let later: LaterRating | null = null;
  if (row.source === 'later') {
    // to_jsonb made the time a string: back to a Date before the schema reads it.
    const raw = row.later as Record<string, unknown> | null;
    const parsed = laterRowSchema.safeParse(raw && { ...raw, rated_at: typeof raw.rated_at === 'string' ? new Date(raw.rated_at) : raw.rated_at });
    if (parsed.success) {
      const l = parsed.data;
      later = { caseNo: l.case_no, assessNumber: l.assess_number, grade: l.grade, reasons: l.reasons, reasonCatalog: l.reason_catalog, ratedAt: l.rated_at };
    } else problems.push(raw ? `the later rating is unreadable: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ').slice(0, 300)}` : 'the later rating is no longer stored');
  }
  return {
    source: row.source,
    id: row.id,
    caseNo: row.case_no,
    terminalId: row.terminal_id,
    phase: row.state,
    attempts: row.attempts,
    claimedBy: options.instance,
    claimedAt: options.now,
    leaseEnd: options.leaseEnd,
    record,
    later,
    unreadable: problems.length > 0 ? problems.join('; ') : null,
    serviceKnown: row.service_known,
  };
}

/** The claim still holds: same instance, same claim, same phase. */
const OURS = `source = $1 AND id = $2 AND case_no = $3 AND claimed_by = $4 AND claimed_at = $5 AND state = $6`;
function ours(claim: Claim, phase: Phase): unknown[] {
  return [claim.source, claim.id, claim.caseNo, claim.claimedBy, claim.claimedAt, phase];
}

async function changed(db: Queryable, claim: Claim, phase: Phase, set: string, params: unknown[]): Promise<boolean> {
  const { rows } = await db.query(`UPDATE deliveries SET ${set} WHERE ${OURS} RETURNING 1 AS one`, [...ours(claim, phase), ...params]);
  return rows.length > 0;
}

/** The service is at the province; the evaluation is next (same claim). */
export function markServiceDone(db: Queryable, claim: Claim, now: Date, answer: unknown): Promise<boolean> {
  return changed(db, claim, 'service', `state = 'evaluation', attempts = 0, code = NULL, answer = $8::jsonb, updated_at = $7`, [now, JSON.stringify(answer)]);
}

/** Both phases done (or the service alone, for nothing rated). */
export function markDelivered(db: Queryable, claim: Claim, phase: Phase, now: Date, answer: unknown): Promise<boolean> {
  return changed(db, claim, phase, `state = 'delivered', attempts = 0, code = NULL, claimed_at = NULL, delivered_at = $7, updated_at = $7, answer = $8::jsonb`, [now, JSON.stringify(answer)]);
}

/** Refused: kept with the province's code and message until an operator retries it. */
export function markRejected(db: Queryable, claim: Claim, phase: Phase, now: Date, refusal: { code: string; message: string; answer: unknown }): Promise<boolean> {
  return changed(db, claim, phase, `state = 'rejected', rejected_phase = state, code = $8, last_error = $9, answer = $10::jsonb, claimed_at = NULL, updated_at = $7`, [
    now,
    refusal.code,
    refusal.message,
    JSON.stringify(refusal.answer),
  ]);
}

/** Not to be sent (a test record's later rating). */
export function markSkipped(db: Queryable, claim: Claim, phase: Phase, now: Date, why: string): Promise<boolean> {
  return changed(db, claim, phase, `state = 'skipped', last_error = $8, claimed_at = NULL, updated_at = $7`, [now, why]);
}

/** A transient failure: tried again at `dueAt`. Resolves with the attempts so far, or undefined when the claim no longer holds. */
export async function markTransient(db: Queryable, claim: Claim, phase: Phase, now: Date, failure: { dueAt: Date; message: string }): Promise<number | undefined> {
  const { rows } = await db.query<{ attempts: number }>(
    `UPDATE deliveries SET attempts = attempts + 1, due_at = $8, last_error = $9, claimed_at = NULL, updated_at = $7 WHERE ${OURS} RETURNING attempts`,
    [...ours(claim, phase), now, failure.dueAt, failure.message],
  );
  return rows[0]?.attempts;
}

/** Claimed but not tried: due again now, attempts unchanged. */
export async function releaseClaims(db: Queryable, claims: readonly Claim[], now: Date): Promise<void> {
  for (const claim of claims) {
    await db.query(`UPDATE deliveries SET claimed_at = NULL, due_at = $7 WHERE ${OURS}`, [...ours(claim, claim.phase), now]);
  }
}

/**
 * At start: this instance's claims from before a restart (instance names are unique among the
 * instances on a database) are due again now; the pushes they were for may have reached the
 * province, which then answers duplicate.
 */
export async function releaseStaleClaims(db: Queryable, instance: string, now: Date): Promise<number> {
  const { rows } = await db.query(
    `UPDATE deliveries SET claimed_at = NULL, due_at = $2, updated_at = $2
      WHERE claimed_by = $1 AND claimed_at IS NOT NULL AND state IN ('service', 'evaluation') RETURNING 1 AS one`,
    [instance, now],
  );
  return rows.length;
}
