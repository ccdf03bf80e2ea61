import { CANCEL_REASONS, type CancelReason } from '../../protocol/cancel-reasons.js';
import type { InvitationCounts } from '../store/invitation-counts.js';

/** China Standard Time has no daylight saving: a day starts at 16:00 UTC the day before. */
const CHINA_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

/** Why invitations were cancelled: staff's reason codes, and `unstated` for a cancel without one (the terminal's own, or older records). */
export type CancelCounts = Record<CancelReason | 'unstated', number>;

/** Participation figures of a set of invitations. No grade: the counter must never learn one. */
export interface Participation {
  /** Every invitation made, cancelled ones included. */
  invitations: number;
  rated: number;
  notRated: number;
  cancelled: number;
  cancelledBy: CancelCounts;
  /** 参评率: rated ÷ invitations, cancels included in the denominator; null when there were none. */
  participationRate: number | null;
}

/** A window's day: the totals, and the same per staff member who invited. */
export interface DailyStats extends Participation {
  /** The day in China time, YYYY-MM-DD. */
  date: string;
  /** One entry per staff member with an invitation that day, ordered by staff id. */
  byStaff: Array<Participation & { staffId: string }>;
}

/**
 * Today's invitations at this window (China time), as the staff API and the hall view show them.
 * An invitation counts on the day its outcome was stored: one reconciled by a late rating, on the
 * day of that rating's record.
 */
export function dailyStats(counts: InvitationCounts, now: Date): DailyStats {
  const start = startOfChinaDay(now);
  const total = emptyParticipation();
  const byStaff = new Map<string, Participation>();
  for (const row of counts.outcomesBetween(start, new Date(start.getTime() + DAY_MS))) {
    let staff = byStaff.get(row.staffId);
    if (!staff) byStaff.set(row.staffId, (staff = emptyParticipation()));
    for (const figures of [total, staff]) add(figures, row.outcome, row.cancelReason, row.n);
  }
  return {
    date: new Date(start.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10),
    ...withRate(total),
    byStaff: [...byStaff].map(([staffId, figures]) => ({ staffId, ...withRate(figures) })),
  };
}

/** The start (UTC instant) of the China-time day `now` falls in. */
export function startOfChinaDay(now: Date): Date {
  return new Date(Math.floor((now.getTime() + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS - CHINA_OFFSET_MS);
}

function emptyParticipation(): Participation {
  const cancelledBy = Object.fromEntries([...Object.keys(CANCEL_REASONS), 'unstated'].map((code) => [code, 0])) as CancelCounts;
  return { invitations: 0, rated: 0, notRated: 0, cancelled: 0, cancelledBy, participationRate: null };
}

function add(figures: Participation, outcome: string, cancelReason: string | null, n: number): void {
  figures.invitations += n;
  if (outcome === 'rated') figures.rated += n;
  else if (outcome === 'not_rated') figures.notRated += n;
  else {
    figures.cancelled += n;
    const reason = cancelReason !== null && cancelReason in CANCEL_REASONS ? (cancelReason as CancelReason) : 'unstated';
    figures.cancelledBy[reason] += n;
  }
}

function withRate(figures: Participation): Participation {
  const { invitations, rated } = figures;
  return { ...figures, participationRate: invitations ? Math.round((rated / invitations) * 1000) / 1000 : null };
}
