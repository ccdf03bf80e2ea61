import type { Grade } from '../../protocol/grades.js';
import type { Database } from '../db/database.js';

/** One rating made on the page: it applies to every case on the receipt (a batch is rated once). */
export interface LaterRating {
  terminalId: string;
  invitationId: string;
  caseNos: readonly string[];
  assessNumber: 1 | 2;
  grade: Grade;
  reasons: readonly string[];
  /** The catalogue version the reasons come from; null without reasons. */
  reasonCatalog: string | null;
  receiptIssuedAt: Date;
  ratedAt: Date;
  instance: string;
  /** Where the citizen came from: the receipt's signed code (default), or a window's static QR sign (no proof of who scanned it). */
  via?: 'receipt' | 'window_sign';
}

class AlreadyRated extends Error {}

/**
 * Stores the rating, one `later_ratings` row per case, all or none: when any case already has a
 * rating with this assess number (another submit, on any instance, won the race: the UNIQUE key
 * decides), nothing is stored. Returns the first row's id (the thanks page's `done`).
 */
export async function storeLaterRating(db: Database, rating: LaterRating, newId: () => string): Promise<{ stored: true; id: string } | { stored: false }> {
  const ids = rating.caseNos.map(() => newId());
  try {
    await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO later_ratings (id, terminal_id, invitation_id, case_no, assess_number, grade, reasons, reason_catalog, receipt_issued_at, rated_at, instance, via)
         SELECT id, $3, $4, case_no, $5, $6, $7::jsonb, $8, $9, $10, $11, $12
           FROM unnest($1::uuid[], $2::text[]) AS c (id, case_no)
         ON CONFLICT (case_no, assess_number) DO NOTHING
         RETURNING id`,
        [ids, rating.caseNos, rating.terminalId, rating.invitationId, rating.assessNumber, rating.grade, JSON.stringify(rating.reasons), rating.reasonCatalog, rating.receiptIssuedAt, rating.ratedAt, rating.instance, rating.via ?? 'receipt'],
      );
      if (rows.length !== ids.length) throw new AlreadyRated();
    });
  } catch (err) {
    if (err instanceof AlreadyRated) return { stored: false };
    throw err;
  }
  return { stored: true, id: ids[0]! };
}
