import { z } from 'zod';
import { scopeCondition, type Scope } from '../accounts/scope.js';
import type { Database, Queryable } from '../db/database.js';
import { storableText } from '../delivery/storable.js';
import { ALERT_KIND_NAMES, ALERT_KINDS, FOLLOW_UP_NAMES, FOLLOW_UP_STATUSES, readAlertDetail, type AlertDetail, type AlertKind, type FollowUpStatus } from './detail.js';
import { followUpClocks, type FollowUpClocks, type FollowUpSettings, type WorkingCalendar } from './working-days.js';

/*
 * The alerts as the dashboard reads and changes them. Every function takes the user's scope and
 * filters by it in SQL: an alert outside it is answered exactly as one that does not exist.
 */

export const ALERT_STATES = ['open', 'unacknowledged', 'all'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** The list's query as a client may give it (the dashboard's `GET /api/alerts`): parse it with explain(). */
export const alertQuerySchema = z.strictObject({
  state: z.enum(ALERT_STATES).default('open'),
  kinds: z.array(z.enum(ALERT_KINDS)).max(ALERT_KINDS.length).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type AlertQuery = z.infer<typeof alertQuerySchema>;

/** A follow-up as the hall enters it (`POST /api/alerts/:id/follow-up`). "open" is where every review starts, never entered. */
export const followUpInputSchema = z.strictObject({
  status: z.enum(FOLLOW_UP_STATUSES).exclude(['open']),
  note: z.string().max(500).default(''),
});
export type FollowUpInput = z.input<typeof followUpInputSchema>;

/** An alert's id as the API carries it (a bigint, as text). */
export const alertIdSchema = z.union([z.string().regex(/^[1-9]\d{0,17}$/), z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).transform(String)]);

export interface AlertView {
  id: string;
  kind: AlertKind;
  kindZh: string;
  terminalId: string | null;
  areaCode: string;
  hallCode: string;
  windowNo: string | null;
  detail: AlertDetail;
  occurredAt: Date;
  raisedAt: Date;
  clearedAt: Date | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  /** Times sent to every channel (the first and the repeats). */
  notifyCount: number;
  notifiedAt: Date | null;
  /** The last send's failure, channel by channel (no address, no key). */
  notifyError: string | null;
  /** Bad reviews: the follow-up as the hall recorded it, and its clocks. Null for faults. */
  followUp: FollowUpStatus | null;
  followUpZh: string | null;
  clocks: FollowUpClocks | null;
}

export interface ListAlertsOptions {
  scope: Scope;
  state: AlertState;
  kinds?: readonly AlertKind[];
  limit: number;
  offset: number;
  timeZone: string;
  followUp: FollowUpSettings;
  calendar: WorkingCalendar;
  now: Date;
}

/** An alerts row as read (id as text). */
export type AlertRow = {
  id: string;
  kind: string;
  terminal_id: string | null;
  area_code: string;
  hall_code: string;
  window_no: string | null;
  detail: unknown;
  occurred_at: Date;
  raised_at: Date;
  cleared_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  notify_count: number;
  notified_at: Date | null;
  notify_error: string | null;
  follow_up: string | null;
};

const STATE_CONDITIONS: Record<AlertState, string> = {
  open: 'cleared_at IS NULL',
  unacknowledged: 'cleared_at IS NULL AND acknowledged_at IS NULL',
  all: 'TRUE',
};

/** Alerts in the scope, unacknowledged first, then the newest; with the total for paging. */
export async function listAlerts(db: Queryable, options: ListAlertsOptions): Promise<{ rows: AlertView[]; total: number }> {
  const params: unknown[] = [];
  const conditions = [STATE_CONDITIONS[options.state], scopeCondition(options.scope, { area: 'area_code', hall: 'hall_code' }, params)];
  if (options.kinds !== undefined) {
    params.push(options.kinds.filter((k) => (ALERT_KINDS as readonly string[]).includes(k)));
    conditions.push(`kind = ANY($${params.length}::text[])`);
  }
  const where = conditions.join(' AND ');
  const limit = Math.min(Math.max(1, Math.floor(options.limit) || 1), 500);
  const offset = Math.max(0, Math.floor(options.offset) || 0);
  const { rows } = await db.query<AlertRow>(
    `SELECT id::text AS id, kind, terminal_id, area_code, hall_code, window_no, detail, occurred_at, raised_at, cleared_at, acknowledged_at,
            acknowledged_by, notify_count, notified_at, notify_error, follow_up
       FROM alerts WHERE ${where}
      ORDER BY (acknowledged_at IS NULL AND cleared_at IS NULL) DESC, raised_at DESC, id DESC
      LIMIT ${limit} OFFSET ${offset}`,
    params,
  );
  const counted = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM alerts WHERE ${where}`, params);
  return { rows: rows.map((row) => alertView(row, options)), total: counted.rows[0]?.total ?? 0 };
}

function alertView(row: AlertRow, options: Pick<ListAlertsOptions, 'timeZone' | 'followUp' | 'calendar' | 'now'>): AlertView {
  const kind = row.kind as AlertKind;
  const followUp = (FOLLOW_UP_STATUSES as readonly string[]).includes(row.follow_up ?? '') ? (row.follow_up as FollowUpStatus) : null;
  return {
    id: row.id,
    kind,
    kindZh: ALERT_KIND_NAMES[kind] ?? kind,
    terminalId: row.terminal_id,
    areaCode: row.area_code,
    hallCode: row.hall_code,
    windowNo: row.window_no,
    detail: readAlertDetail(row.detail),
    occurredAt: row.occurred_at,
    raisedAt: row.raised_at,
    clearedAt: row.cleared_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
    notifyCount: row.notify_count,
    notifiedAt: row.notified_at,
    notifyError: row.notify_error,
    followUp,
    followUpZh: followUp === null ? null : FOLLOW_UP_NAMES[followUp],
    clocks: kind === 'bad_review' ? followUpClocks(row.occurred_at, options.followUp, options.calendar, options.timeZone, options.now) : null,
  };
}

/** A duty manager has seen it: no more repeats. */
export async function acknowledge(db: Queryable, options: { id: string | number; actor: string; scope: Scope; now: Date }): Promise<'ok' | 'not_found' | 'already'> {
  const id = alertIdSchema.safeParse(options.id);
  if (!id.success) return 'not_found';
  const params: unknown[] = [id.data, options.now, storableText(options.actor, 64)];
  const scoped = scopeCondition(options.scope, { area: 'area_code', hall: 'hall_code' }, params);
  const { rows } = await db.query(
    `UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3, notify_due_at = NULL
      WHERE id = $1::bigint AND acknowledged_at IS NULL AND ${scoped} RETURNING 1 AS one`,
    params,
  );
  if (rows.length > 0) return 'ok';
  return (await exists(db, id.data, options.scope)) ? 'already' : 'not_found';
}

/**
 * The hall records what it did about a bad review (called back, appealed, rectifying, rectified,
 * closed), appended to follow_up_events. Entering one acknowledges the alert; "closed" ends it
 * (cleared: nothing more is sent) and no entry follows it.
 */
export async function recordFollowUp(
  db: Database,
  options: { id: string | number; status: Exclude<FollowUpStatus, 'open'>; note: string; actor: string; scope: Scope; now: Date },
): Promise<'ok' | 'not_found' | 'not_bad_review' | 'closed'> {
  const id = alertIdSchema.safeParse(options.id);
  if (!id.success) return 'not_found';
  const input = followUpInputSchema.safeParse({ status: options.status, note: options.note });
  if (!input.success) throw new Error(`a follow-up is a status (${FOLLOW_UP_STATUSES.filter((s) => s !== 'open').join(', ')}) and a note of at most 500 characters`);
  const { status, note } = input.data;
  const actor = storableText(options.actor, 64);
  return db.transaction(async (tx) => {
    const params: unknown[] = [id.data];
    const scoped = scopeCondition(options.scope, { area: 'area_code', hall: 'hall_code' }, params);
    const { rows } = await tx.query<{ kind: string; follow_up: string | null }>(`SELECT kind, follow_up FROM alerts WHERE id = $1::bigint AND ${scoped} FOR UPDATE`, params);
    const row = rows[0];
    if (!row) return 'not_found';
    if (row.kind !== 'bad_review') return 'not_bad_review';
    if (row.follow_up === 'closed') return 'closed';
    await tx.query(`INSERT INTO follow_up_events (alert_id, at, actor, status, note) VALUES ($1::bigint, $2, $3, $4, $5)`, [id.data, options.now, actor, status, storableText(note, 500)]);
    await tx.query(
      `UPDATE alerts SET follow_up = $2, acknowledged_at = COALESCE(acknowledged_at, $3), acknowledged_by = COALESCE(acknowledged_by, $4), notify_due_at = NULL,
              cleared_at = CASE WHEN $2 = 'closed' THEN COALESCE(cleared_at, $3) ELSE cleared_at END
        WHERE id = $1::bigint`,
      [id.data, status, options.now, actor],
    );
    return 'ok';
  });
}

export interface FollowUpEvent {
  at: Date;
  actor: string;
  status: string;
  statusZh: string;
  note: string;
}

/** What the hall recorded about an alert, oldest first; null when it is not found in the scope. */
export async function followUpHistory(db: Queryable, id: string | number, scope: Scope): Promise<FollowUpEvent[] | null> {
  const parsed = alertIdSchema.safeParse(id);
  if (!parsed.success || !(await exists(db, parsed.data, scope))) return null;
  const { rows } = await db.query<{ at: Date; actor: string; status: string; note: string }>(
    `SELECT at, actor, status, note FROM follow_up_events WHERE alert_id = $1::bigint ORDER BY at, ctid`,
    [parsed.data],
  );
  return rows.map((r) => ({ ...r, statusZh: FOLLOW_UP_NAMES[r.status as FollowUpStatus] ?? r.status }));
}

async function exists(db: Queryable, id: string, scope: Scope): Promise<boolean> {
  const params: unknown[] = [id];
  const scoped = scopeCondition(scope, { area: 'area_code', hall: 'hall_code' }, params);
  const { rows } = await db.query(`SELECT 1 AS one FROM alerts WHERE id = $1::bigint AND ${scoped}`, params);
  return rows.length > 0;
}
