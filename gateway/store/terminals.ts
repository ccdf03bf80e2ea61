import type { Queryable } from '../db/database.js';

/** What ingest needs of a terminal's row: may its records be accepted, and under which key. */
export interface IngestTerminal {
  terminalId: string;
  status: 'pending' | 'approved' | 'revoked';
  /** The approved key (SPKI DER, base64): the one its records are verified with. */
  publicKey: string | null;
  /** A different key it brought, waiting for the operator. */
  pendingKey: string | null;
  /** When the operator last decided about it (the revocation's time, for a revoked one). */
  decidedAt: Date | null;
  /** Held records of it not yet resolved: accepting one of its records may resolve one. */
  holdsOpen: boolean;
}

/**
 * Reads and locks (FOR UPDATE) the rows of a batch's terminals, in terminal id order: one
 * terminal's chain is extended by one transaction at a time across every instance, and two
 * instances always lock in the same order, so they never deadlock. Absent ids are simply missing.
 */
export async function lockIngestTerminals(tx: Queryable, terminalIds: readonly string[]): Promise<Map<string, IngestTerminal>> {
  const terminals = new Map<string, IngestTerminal>();
  if (terminalIds.length === 0) return terminals;
  const { rows } = await tx.query<{ terminal_id: string; status: IngestTerminal['status']; public_key: string | null; pending_key: string | null; decided_at: Date | null; holds_open: boolean }>(
    `SELECT t.terminal_id, t.status, t.public_key, t.pending_key, t.decided_at,
            EXISTS (SELECT 1 FROM refusals r WHERE r.terminal_id = t.terminal_id AND r.disposition = 'held' AND r.resolved_at IS NULL) AS holds_open
       FROM terminals t
      WHERE t.terminal_id = ANY($1::text[])
      ORDER BY t.terminal_id
        FOR UPDATE OF t`,
    [[...new Set(terminalIds)]],
  );
  for (const row of rows) {
    terminals.set(row.terminal_id, {
      terminalId: row.terminal_id,
      status: row.status,
      publicKey: row.public_key,
      pendingKey: row.pending_key,
      decidedAt: row.decided_at,
      holdsOpen: row.holds_open,
    });
  }
  return terminals;
}
