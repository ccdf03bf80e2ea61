import { GRADES, type Grade } from '../../protocol/grades.js';
import type { Outbox } from '../store/outbox.js';

/** China Standard Time has no daylight saving: a day starts at 16:00 UTC the day before. */
const CHINA_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

export interface DailyStats {
  /** The day in China time, YYYY-MM-DD. */
  date: string;
  invitations: number;
  rated: number;
  notRated: number;
  cancelled: number;
  /** 参评率: rated ÷ (rated + not rated); cancelled invitations were never put to the citizen. */
  participationRate: number | null;
  byGrade: Record<Grade, number>;
}

/** Today's invitations at this window, as the staff console and status show them. */
export function dailyStats(outbox: Outbox, now: Date): DailyStats {
  const startOfDay = new Date(Math.floor((now.getTime() + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS - CHINA_OFFSET_MS);
  const byGrade = Object.fromEntries(GRADES.map((g) => [g, 0])) as Record<Grade, number>;
  const totals = { rated: 0, notRated: 0, cancelled: 0 };
  for (const { outcome, grade, n } of outbox.invitationCounts(startOfDay)) {
    if (outcome === 'rated') {
      totals.rated += n;
      if (grade && grade in byGrade) byGrade[grade as Grade] += n;
    } else if (outcome === 'not_rated') totals.notRated += n;
    else totals.cancelled += n;
  }
  const put = totals.rated + totals.notRated;
  return {
    date: new Date(startOfDay.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10),
    invitations: put + totals.cancelled,
    ...totals,
    participationRate: put ? Math.round((totals.rated / put) * 1000) / 1000 : null,
    byGrade,
  };
}
