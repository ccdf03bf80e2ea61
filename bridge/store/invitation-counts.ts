import type { Db } from './database.js';

/** One group of a day's invitations: who invited, the outcome, and staff's reason for a cancel. */
export interface OutcomeCount {
  staffId: string;
  outcome: string;
  cancelReason: string | null;
  n: number;
}

/**
 * Counts of the invitations stored in a span of time, for the participation figures. Test
 * invitations never count, and an invitation whose record was superseded by a reconciling one
 * (protocol/records.ts `supersedes`) counts once, by the record that replaced it.
 */
export class InvitationCounts {
  private readonly outcomes;
  private readonly grades;

  constructor(db: Db) {
    // @from and @to bound the span on created_at (indexed); a superseding record is always made later.
    const counted = `r.kind = 'invitation' AND r.created_at >= @from AND r.created_at < @to AND json_extract(r.body, '$.test') = 0
       AND NOT EXISTS (SELECT 1 FROM records s WHERE s.kind = 'invitation' AND s.created_at >= @from AND json_extract(s.body, '$.supersedes') = r.id)`;
    this.outcomes = db.prepare(
      `SELECT json_extract(r.body, '$.staffId') AS staffId, json_extract(r.body, '$.outcome') AS outcome,
         json_extract(r.body, '$.cancelReason') AS cancelReason, COUNT(*) AS n
       FROM records r WHERE ${counted} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
    this.grades = db.prepare(
      `SELECT json_extract(r.body, '$.rating.grade') AS grade, COUNT(*) AS n
       FROM records r WHERE ${counted} AND json_extract(r.body, '$.outcome') = 'rated' GROUP BY 1 ORDER BY 1`,
    );
  }

  /** Invitations stored from `from` up to (not including) `to`, grouped by staff member, outcome and cancel reason. */
  outcomesBetween(from: Date, to: Date): OutcomeCount[] {
    return this.outcomes.all(span(from, to)) as OutcomeCount[];
  }

  /**
   * Ratings by grade in the span: for the hall's and province's views only. The counter never
   * sees a grade (ARCHITECTURE invariant 8): the staff API serves dailyStats(), which has none.
   */
  gradesBetween(from: Date, to: Date): Array<{ grade: string; n: number }> {
    return this.grades.all(span(from, to)) as Array<{ grade: string; n: number }>;
  }
}

function span(from: Date, to: Date): { from: string; to: string } {
  return { from: from.toISOString(), to: to.toISOString() };
}
