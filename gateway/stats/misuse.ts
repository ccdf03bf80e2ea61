import { MISUSE_FLAG_CODES, type MisuseFlag } from '../../protocol/misuse-flags.js';
import type { Queryable } from '../db/database.js';
import { checkFactsQuery, factsSql, param, type FactsQuery } from './facts.js';

/**
 * The misuse list: every counted invitation with a misuse flag (the unit the figures hide), newest
 * first. Listed whether the figures show it or not; nothing here changes or deletes a record.
 */
export interface FlaggedRating {
  /** The record's id, or the later rating's when the rating that counts was made later (source 'later'). */
  id: string;
  source: 'record' | 'later';
  /** The invitation record (for source 'later', the one the later rating belongs to). */
  recordId: string;
  /** When: the later rating's time, or the invitation's. */
  at: Date;
  areaCode: string;
  hallCode: string;
  windowNo: string;
  staffId: string | null;
  outcome: 'rated' | 'not_rated' | 'cancelled';
  grade: string | null;
  flags: MisuseFlag[];
}

export interface FlaggedQuery extends FactsQuery {
  /** 1 to MAX_FLAGGED_PAGE. */
  limit: number;
  offset: number;
}

export const MAX_FLAGGED_PAGE = 500;

type FlaggedRow = {
  total: number;
  id: string | null;
  record_id: string;
  source: 'record' | 'later';
  at: Date | string;
  area_code: string;
  hall_code: string;
  window_no: string;
  staff_id: string | null;
  outcome: FlaggedRating['outcome'];
  grade: string | null;
  flags: string[];
};

/** One page of the scope's flagged invitations in the period, and how many there are in all. */
export async function listFlagged(db: Queryable, q: FlaggedQuery): Promise<{ rows: FlaggedRating[]; total: number }> {
  checkFactsQuery(q);
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_FLAGGED_PAGE) throw new RangeError(`limit: 1 to ${MAX_FLAGGED_PAGE}, not ${q.limit}`);
  if (!Number.isInteger(q.offset) || q.offset < 0) throw new RangeError(`offset: 0 or more, not ${q.offset}`);
  const params: unknown[] = [];
  const facts = factsSql(q, params);
  const limit = param(params, q.limit);
  const offset = param(params, q.offset);
  // One row even for an empty page, so the total is known beyond the last page too.
  const { rows } = await db.query<FlaggedRow>(
    `WITH ${facts}, flagged AS (
       SELECT COALESCE(f.later_id, f.id) AS id, f.id AS record_id, CASE WHEN f.later_id IS NULL THEN 'record' ELSE 'later' END AS source,
              COALESCE(f.later_at, f.occurred_at) AS at, f.area_code, f.hall_code, f.window_no, f.staff_id, f.outcome, f.grade, f.flags
         FROM facts f WHERE f.flagged
     )
     SELECT t.total, p.* FROM (SELECT count(*)::int AS total FROM flagged) t
       LEFT JOIN LATERAL (SELECT * FROM flagged ORDER BY at DESC, id DESC LIMIT ${limit} OFFSET ${offset}) p ON true`,
    params,
  );
  return { total: Number(rows[0]?.total ?? 0), rows: rows.filter((r) => r.id !== null).map(flaggedRating) };
}

function flaggedRating(row: FlaggedRow): FlaggedRating {
  const flags = new Set(row.flags);
  return {
    id: String(row.id),
    source: row.source,
    recordId: String(row.record_id),
    at: new Date(row.at),
    areaCode: row.area_code,
    hallCode: row.hall_code,
    windowNo: row.window_no,
    staffId: row.staff_id,
    outcome: row.outcome,
    grade: row.grade,
    flags: MISUSE_FLAG_CODES.filter((code) => flags.has(code)),
  };
}
