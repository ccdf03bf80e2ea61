import { z } from 'zod';
import { serviceSchema } from '../../protocol/records.js';
import type { Queryable } from '../db/database.js';
import type { WindowSignPlace } from './window-sign.js';

/*
 * What a window's static QR sign offers: that window's invitations that closed in the last few
 * minutes without a rating at the counter, and not rated here since. The sign proves nothing of
 * who scans it, so the list is short (recent, at most MAX_OFFERED), shows no case in full and no
 * person, and a POST is checked again by the very same query: a case is rated only while it is
 * on the list.
 */

/** The most the list shows. */
export const MAX_OFFERED = 10;
/**
 * An invitation's prompt lasts minutes (the terminal's timeout), so one that closed recently was
 * invited less than this long ago: bounds the scan of the hall's records by their index
 * (records_by_hall_time: area, hall, occurred_at).
 */
const INVITATION_SPAN_MS = 24 * 3600_000;
/** A record closed a little ahead of the gateway's clock (a terminal's clock ahead) is still offered. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

export interface OfferedCase {
  invitationId: string;
  terminalId: string;
  closedAt: Date;
  services: Array<{ itemCode?: string; itemName?: string; caseNo: string }>;
}

export type WindowCaseVerdict =
  | { kind: 'open'; offered: OfferedCase }
  /** The rating this citizen just made (the page after the redirect). */
  | { kind: 'thanks' }
  | { kind: 'already_rated'; at: 'later' | 'counter' }
  /** The window's few minutes are over. */
  | { kind: 'expired' }
  /** Not a case of this window's list at all: another window or hall, a test, cancelled, unknown. */
  | { kind: 'not_offered' };

export interface WindowQuery extends WindowSignPlace {
  now: Date;
  recentMinutes: number;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const servicesSchema = z.array(serviceSchema.pick({ itemCode: true, itemName: true, caseNo: true })).min(1);

type OfferedRow = {
  id: string;
  terminal_id: string;
  closed_at: Date;
  services: unknown;
};

/** The window's offered cases, newest first (or the one named by `invitationId`, if it is offered). */
export async function offeredWindowCases(db: Queryable, q: WindowQuery, invitationId?: string): Promise<OfferedCase[]> {
  const since = new Date(q.now.getTime() - q.recentMinutes * 60_000);
  const { rows } = await db.query<OfferedRow>(
    `SELECT r.id, r.terminal_id, r.closed_at, r.record->'services' AS services
       FROM records r
      WHERE r.area_code IN (SELECT t.area_code FROM terminals t WHERE t.hall_code = $1 AND t.area_code IS NOT NULL)
        AND r.hall_code = $1 AND r.window_no = $2 AND r.occurred_at > $3
        AND r.closed_at > $4 AND r.closed_at <= $5
        AND r.kind = 'invitation' AND r.outcome = 'not_rated' AND NOT r.test AND r.superseded_by IS NULL
        AND ($6::uuid IS NULL OR r.id = $6::uuid)
        AND EXISTS (SELECT 1 FROM terminals t WHERE t.terminal_id = r.terminal_id AND t.status = 'approved')
        AND NOT EXISTS (SELECT 1 FROM later_ratings l
                         WHERE l.case_no IN (SELECT s->>'caseNo' FROM jsonb_array_elements(r.record->'services') s))
      ORDER BY r.closed_at DESC, r.id DESC
      LIMIT ${MAX_OFFERED}`,
    [q.hallCode, q.windowNo, new Date(since.getTime() - INVITATION_SPAN_MS), since, new Date(q.now.getTime() + FUTURE_TOLERANCE_MS), invitationId ?? null],
  );
  return rows.flatMap((row) => {
    // A record whose services cannot be read is not offered: there would be nothing to show or rate.
    const services = servicesSchema.safeParse(row.services);
    return services.success ? [{ invitationId: row.id, terminalId: row.terminal_id, closedAt: new Date(row.closed_at), services: services.data }] : [];
  });
}

/** What the sign's page may do with the case a citizen tapped (`invitationId`); `done`: the id of the rating just made. */
export async function judgeWindowCase(db: Queryable, q: WindowQuery, invitationId: string, done?: string): Promise<WindowCaseVerdict> {
  if (!uuidPattern.test(invitationId)) return { kind: 'not_offered' };
  if (done !== undefined && uuidPattern.test(done)) {
    const { rows } = await db.query("SELECT 1 AS one FROM later_ratings WHERE id = $1::uuid AND invitation_id = $2 AND via = 'window_sign'", [done, invitationId]);
    if (rows.length > 0) return { kind: 'thanks' };
  }
  const [offered] = await offeredWindowCases(db, q, invitationId);
  if (offered) return { kind: 'open', offered };

  // Not offered: why, for the page that says so (the same conditions, one by one).
  const { rows } = await db.query<{ outcome: string | null; closed_at: Date | null; listed: boolean; rated_later: boolean }>(
    `SELECT r.outcome, r.closed_at,
            (r.hall_code = $2 AND r.window_no = $3 AND r.kind = 'invitation' AND NOT r.test AND r.superseded_by IS NULL) AS listed,
            EXISTS (SELECT 1 FROM later_ratings l
                     WHERE l.case_no IN (SELECT s->>'caseNo' FROM jsonb_array_elements(r.record->'services') s)) AS rated_later
       FROM records r WHERE r.id = $1::uuid`,
    [invitationId, q.hallCode, q.windowNo],
  );
  const row = rows[0];
  if (!row?.listed) return { kind: 'not_offered' };
  if (row.outcome === 'rated') return { kind: 'already_rated', at: 'counter' };
  if (row.outcome !== 'not_rated') return { kind: 'not_offered' };
  if (row.rated_later) return { kind: 'already_rated', at: 'later' };
  if (row.closed_at !== null && new Date(row.closed_at).getTime() <= q.now.getTime() - q.recentMinutes * 60_000) return { kind: 'expired' };
  return { kind: 'not_offered' };
}
