import type { Queryable } from '../db/database.js';
import type { Gap } from '../../protocol/seal/chain.js';
import { GENESIS } from '../../protocol/seal/seal.js';
import type { ChainLink } from '../../protocol/seal/verify.js';

/** The seqs around which one terminal's records of a batch will be verified, under one key. */
export interface ChainNeeds {
  terminalId: string;
  publicKey: string;
  /** The batch's seqs of this terminal; seq-1, seq and seq+1 of each are loaded. */
  seqs: readonly number[];
}

/** The largest seq the table holds (integer). */
export const MAX_STORED_SEQ = 2_147_483_647;

/**
 * The links a batch's verification reads (protocol/seal/verify.ts): for each record the held
 * neighbours (seq-1, seq, seq+1), in one query for the whole batch; then, in a second one, the
 * key's newest link, only for the terminals with a record whose predecessor is not held (the
 * verifier reads the newest only then: is the record late into a gap, or after one). A live
 * terminal's record follows one that is held, so most batches need only the first query.
 * By terminal id; each terminal's links are under the key given for it.
 */
export async function loadChainLinks(tx: Queryable, needs: readonly ChainNeeds[]): Promise<Map<string, ChainLink[]>> {
  const byTerminal = new Map<string, ChainLink[]>();
  if (needs.length === 0) return byTerminal;
  const [terminals, keys, froms, tos] = [[] as string[], [] as string[], [] as number[], [] as number[]];
  for (const need of needs) {
    for (const [from, to] of neighbourhoods(need.seqs)) {
      terminals.push(need.terminalId);
      keys.push(need.publicKey);
      froms.push(from);
      tos.push(to);
    }
  }
  const keep = (rows: readonly { terminal_id: string; seq: number; hash: string; prev: string }[]): void => {
    for (const row of rows) {
      let links = byTerminal.get(row.terminal_id);
      if (!links) byTerminal.set(row.terminal_id, (links = []));
      links.push({ seq: row.seq, hash: row.hash, prev: row.prev });
    }
  };
  keep(
    (
      await tx.query<{ terminal_id: string; seq: number; hash: string; prev: string }>(
        `SELECT c.terminal_id, c.seq, c.hash, c.prev
           FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS w(terminal_id, public_key, seq_from, seq_to)
           JOIN chain_links c ON c.terminal_id = w.terminal_id AND c.public_key = w.public_key AND c.seq BETWEEN w.seq_from AND w.seq_to`,
        [terminals, keys, froms, tos],
      )
    ).rows,
  );
  const unplaced = needs.filter((need) => {
    const held = new Set(byTerminal.get(need.terminalId)?.map((l) => l.seq));
    return need.seqs.some((seq) => seq > 1 && !held.has(seq - 1));
  });
  if (unplaced.length === 0) return byTerminal;
  keep(
    (
      await tx.query<{ terminal_id: string; seq: number; hash: string; prev: string }>(
        `SELECT l.terminal_id, l.seq, l.hash, l.prev
           FROM unnest($1::text[], $2::text[]) AS k(terminal_id, public_key)
           CROSS JOIN LATERAL (SELECT terminal_id, seq, hash, prev FROM chain_links c
                                WHERE c.terminal_id = k.terminal_id AND c.public_key = k.public_key
                                ORDER BY c.seq DESC LIMIT 1) l`,
        [unplaced.map((n) => n.terminalId), unplaced.map((n) => n.publicKey)],
      )
    ).rows,
  );
  return byTerminal;
}

/**
 * seq-1, seq and seq+1 of each seq (within 1..MAX_STORED_SEQ), as the fewest ranges of
 * consecutive seqs holding exactly those: a terminal's records of one batch are mostly
 * consecutive, so one range scan replaces three probes a record.
 */
export function neighbourhoods(seqs: readonly number[]): [from: number, to: number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const from = Math.max(1, seq - 1);
    const to = Math.min(MAX_STORED_SEQ, seq + 1);
    if (from > to) continue;
    const last = ranges[ranges.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else ranges.push([from, to]);
  }
  return ranges;
}

/**
 * Per terminal, the lowest seq of a sealed record it has had verified (under any key): an
 * unsigned record after it is a sealed one stripped of its seal. From the table, not from
 * memory, so that every instance and every restart applies the same rule.
 */
export async function firstSealedSeqs(tx: Queryable, terminalIds: readonly string[]): Promise<Map<string, number>> {
  const first = new Map<string, number>();
  if (terminalIds.length === 0) return first;
  const { rows } = await tx.query<{ terminal_id: string; seq: number }>(
    `SELECT terminal_id, min(seq)::int AS seq FROM chain_links WHERE terminal_id = ANY($1::text[]) GROUP BY terminal_id`,
    [[...new Set(terminalIds)]],
  );
  for (const row of rows) first.set(row.terminal_id, row.seq);
  return first;
}

export interface NewLink {
  terminalId: string;
  publicKey: string;
  recordId: string;
  link: ChainLink;
}

/** Keeps the links of a batch's verified records, in one statement (a link already held stays). */
export async function insertChainLinks(tx: Queryable, links: readonly NewLink[]): Promise<void> {
  if (links.length === 0) return;
  await tx.query(
    `INSERT INTO chain_links (terminal_id, public_key, seq, hash, prev, record_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::uuid[])
     ON CONFLICT (terminal_id, public_key, seq) DO NOTHING`,
    [links.map((l) => l.terminalId), links.map((l) => l.publicKey), links.map((l) => l.link.seq), links.map((l) => l.link.hash), links.map((l) => l.link.prev), links.map((l) => l.recordId)],
  );
}

/**
 * The seqs of a terminal's chain (under its approved key) not received (yet), oldest first: the
 * same rule as HeldChain.gaps, in SQL. A chain that starts afresh (`prev` the genesis value,
 * after unsealed records) leaves no gap before it.
 */
export async function chainGaps(db: Queryable, terminalId: string): Promise<Gap[]> {
  const { rows } = await db.query<{ from: number; to: number }>(
    `SELECT before + 1 AS "from", seq - 1 AS "to"
       FROM (SELECT c.seq, c.prev, lag(c.seq, 1, 0) OVER (ORDER BY c.seq) AS before
               FROM chain_links c JOIN terminals t ON t.terminal_id = c.terminal_id AND t.public_key = c.public_key
              WHERE c.terminal_id = $1) links
      WHERE seq > before + 1 AND prev <> $2
      ORDER BY seq`,
    [terminalId, GENESIS],
  );
  return rows.map((r) => ({ from: Number(r.from), to: Number(r.to) }));
}

/** A stored link whose `prev` is the hash of a record just stored: its record's predecessor is verified now. */
export interface VerifiedPredecessor {
  terminalId: string;
  publicKey: string;
  /** The successor's seq. */
  seq: number;
  /** Its `prev`: the stored predecessor's hash. */
  prev: string;
}

/**
 * `seal = 'gap'` says a record's predecessor was not verified when it arrived. Once that
 * predecessor is stored (it came later: another batch, another instance, or held until its
 * terminal was approved), the successor chained to it is flagged 'ok', in the same transaction.
 * Returns how many records changed.
 */
export async function clearGapFlags(tx: Queryable, successors: readonly VerifiedPredecessor[]): Promise<number> {
  if (successors.length === 0) return 0;
  const { rows } = await tx.query<{ id: string }>(
    `UPDATE records r SET seal = 'ok'
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS s(terminal_id, public_key, seq, prev)
       JOIN chain_links c ON c.terminal_id = s.terminal_id AND c.public_key = s.public_key AND c.seq = s.seq AND c.prev = s.prev
      WHERE r.id = c.record_id AND r.terminal_id = s.terminal_id AND r.seal = 'gap'
     RETURNING r.id`,
    [successors.map((s) => s.terminalId), successors.map((s) => s.publicKey), successors.map((s) => s.seq), successors.map((s) => s.prev)],
  );
  return rows.length;
}
