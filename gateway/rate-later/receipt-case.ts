import { z } from 'zod';
import { receiptSignatureValid, type ReceiptClaims, type ReceiptToken } from '../../protocol/receipt-token.js';
import { serviceSchema, terminalIdSchema } from '../../protocol/records.js';
import type { Ed25519Verify } from '../../protocol/seal/seal.js';
import type { Queryable } from '../db/database.js';

/**
 * What a scanned receipt may lead to, decided from the database: the terminal's registered key,
 * the invitation record the gateway holds (if it has it yet) and the ratings made already.
 */

/** The service as the page shows it: no personal data, no staff. */
export interface ServiceView {
  services: Array<{ itemCode?: string; itemName?: string; caseNo: string }>;
  hallCode?: string;
  windowNo?: string;
  /** When the service was (the invitation), or the receipt's time when the gateway has no record of it yet. */
  servedAt: Date;
  /** The gateway holds the invitation record. */
  known: boolean;
}

export type ReceiptVerdict =
  | { kind: 'forged'; reason: string }
  | { kind: 'unknown'; reason: string }
  | { kind: 'test' }
  | { kind: 'expired'; until: Date }
  /** The rating this receipt's holder just made (the page after the redirect). */
  | { kind: 'thanks' }
  | { kind: 'already_rated'; at: 'later' | 'counter' }
  | { kind: 'open'; claims: ReceiptClaims; assessNumber: 1 | 2; service: ServiceView };

export interface JudgeOptions {
  now: Date;
  periodDays: number;
  followUpAllowed: boolean;
  verify?: Ed25519Verify;
  /** `done` of the page after the redirect: the id of the rating just made. */
  done?: string;
}

/** The bridge names its self-test receipts' cases so (bridge/printer/receipt-service.ts queueTest). */
const SELFTEST_CASE = /^SELFTEST-/;
/** A receipt dated further ahead than this is not believed (a terminal's clock a little ahead is). */
const FUTURE_TOLERANCE_MS = 24 * 3600_000;
const MAX_CASES = 100;

const claimsSchema = z.object({
  terminalId: terminalIdSchema,
  invitationId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  caseNos: z.array(z.string().min(1).max(64).refine((c) => c.trim() === c)).min(1).max(MAX_CASES),
  issuedAt: z.number().int().min(0),
});
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const storedServicesSchema = z.array(serviceSchema.pick({ itemCode: true, itemName: true, caseNo: true }));

interface RecordFacts {
  terminalId: string;
  kind: string;
  test: boolean;
  outcome: string | null;
  hallCode: string;
  windowNo: string;
  occurredAt: Date;
  closedAt: Date | null;
  services: z.infer<typeof storedServicesSchema>;
}

export async function judgeReceipt(db: Queryable, token: ReceiptToken, options: JudgeOptions): Promise<ReceiptVerdict> {
  const parsed = claimsSchema.safeParse(token.claims);
  if (!parsed.success) return { kind: 'forged', reason: `token: ${parsed.error.issues[0]?.path.join('.') ?? ''} malformed` };
  const claims = { ...parsed.data, caseNos: [...new Set(parsed.data.caseNos)] };

  const { rows: terminals } = await db.query<{ status: string; public_key: string | null }>('SELECT status, public_key FROM terminals WHERE terminal_id = $1', [claims.terminalId]);
  const terminal = terminals[0];
  // A revoked terminal's key may be in the wrong hands: its receipts are no longer honoured.
  if (!terminal || terminal.status !== 'approved' || !terminal.public_key) return { kind: 'unknown', reason: `terminal ${claims.terminalId} is not an approved terminal of this gateway` };
  if (!receiptSignatureValid(token, terminal.public_key, options.verify)) return { kind: 'forged', reason: "signature does not match the terminal's registered key" };

  const record = await invitationRecord(db, claims.invitationId);
  if (record) {
    if (record.terminalId !== claims.terminalId) return { kind: 'forged', reason: 'the invitation is another terminal’s' };
    if (record.test) return { kind: 'test' };
    if (record.kind !== 'invitation') return { kind: 'forged', reason: 'the id names no invitation' };
    const served = new Set(record.services.map((s) => s.caseNo));
    if (!claims.caseNos.every((c) => served.has(c))) return { kind: 'forged', reason: 'a case on the receipt is not in its invitation' };
  } else if (claims.caseNos.some((c) => SELFTEST_CASE.test(c))) {
    return { kind: 'test' };
  }

  const issuedAt = new Date(claims.issuedAt * 1000);
  if (!record && issuedAt.getTime() > options.now.getTime() + FUTURE_TOLERANCE_MS) return { kind: 'forged', reason: 'issued in the future' };

  const { rows: rated } = await db.query<{ id: string; terminal_id: string }>('SELECT id, terminal_id FROM later_ratings WHERE case_no = ANY($1::text[])', [claims.caseNos]);
  if (options.done !== undefined && rated.some((r) => r.id === options.done && r.terminal_id === claims.terminalId)) return { kind: 'thanks' };
  // One rating on this page per case: a first one, or the follow-up after the counter's.
  if (rated.length > 0) return { kind: 'already_rated', at: 'later' };

  // The period runs from the service (the record's close, time-corrected by the gateway), not from a reprint.
  const from = record ? (record.closedAt ?? record.occurredAt) : issuedAt;
  const until = new Date(from.getTime() + options.periodDays * 86_400_000);
  if (options.now.getTime() > until.getTime()) return { kind: 'expired', until };

  const ratedAtCounter = record?.outcome === 'rated';
  if (ratedAtCounter && !options.followUpAllowed) return { kind: 'already_rated', at: 'counter' };
  const byCase = new Map(record?.services.map((s) => [s.caseNo, s]));
  return {
    kind: 'open',
    claims,
    assessNumber: ratedAtCounter ? 2 : 1,
    service: {
      services: claims.caseNos.map((caseNo) => byCase.get(caseNo) ?? { caseNo }),
      ...(record && { hallCode: record.hallCode, windowNo: record.windowNo }),
      servedAt: record?.occurredAt ?? issuedAt,
      known: record !== undefined,
    },
  };
}

/** The receipt's invitation, or the record that took its place (supersede: the reconciled outcome). */
async function invitationRecord(db: Queryable, invitationId: string): Promise<RecordFacts | undefined> {
  if (!uuidPattern.test(invitationId)) return undefined;
  const { rows } = await db.query<{
    terminal_id: string;
    kind: string;
    test: boolean;
    outcome: string | null;
    hall_code: string;
    window_no: string;
    occurred_at: Date;
    closed_at: Date | null;
    services: unknown;
  }>(
    `SELECT terminal_id, kind, test, outcome, hall_code, window_no, occurred_at, closed_at, record->'services' AS services
       FROM records
      WHERE id = $1::uuid OR supersedes = $1::uuid
      ORDER BY (superseded_by IS NULL) DESC, received_at DESC
      LIMIT 1`,
    [invitationId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const services = storedServicesSchema.safeParse(row.services ?? []);
  return {
    terminalId: row.terminal_id,
    kind: row.kind,
    test: row.test,
    outcome: row.outcome,
    hallCode: row.hall_code,
    windowNo: row.window_no,
    occurredAt: new Date(row.occurred_at),
    closedAt: row.closed_at === null ? null : new Date(row.closed_at),
    services: services.success ? services.data : [],
  };
}
