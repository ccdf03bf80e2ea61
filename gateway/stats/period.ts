import { z } from 'zod';
import { describeIssues, requiredFieldMessages } from '../../protocol/issues.js';
import { addDays, dayStart, daysBetween, localDay } from './zone.js';

/**
 * The span statistics cover: [from, to), instants. Made from whole local days in the configured
 * time zone (a day, a month, from=…&to=… inclusive), so "today" and "November" are the hall's.
 */
export interface Period {
  from: Date;
  to: Date;
}

/** The longest span one query may ask for, in days. */
export const MAX_PERIOD_DAYS = 366;

const DAY_MS = 86_400_000;

/** A calendar date, YYYY-MM-DD, that exists (no 2026-02-30), 2000 to 2999. */
export const dayTextSchema = z
  .string()
  .regex(/^2\d{3}-\d{2}-\d{2}$/, { error: 'expected a date YYYY-MM-DD (years 2000 to 2999)', abort: true })
  .refine(isCalendarDay, 'no such date');

/** A month, YYYY-MM. */
export const monthTextSchema = z.string().regex(/^2\d{3}-(0[1-9]|1[0-2])$/, 'expected a month YYYY-MM (years 2000 to 2999)');

/** `from` and `to`: the first and last day (inclusive), in order, at most MAX_PERIOD_DAYS. */
export const periodQuerySchema = z
  .object({ from: dayTextSchema, to: dayTextSchema })
  .refine((q) => q.from <= q.to, { path: ['to'], message: 'the last day comes before the first' })
  .refine((q) => spanDays(q.from, q.to) <= MAX_PERIOD_DAYS, { path: ['to'], message: `at most ${MAX_PERIOD_DAYS} days` });

export type PeriodParse = { ok: true; period: Period } | { ok: false; error: string };

/** A period from a query's `from` and `to` (YYYY-MM-DD, inclusive local days); an error names the field. */
export function parsePeriod(query: unknown, timeZone: string): PeriodParse {
  const parsed = periodQuerySchema.safeParse(query, { error: requiredFieldMessages });
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error.issues) };
  return { ok: true, period: daysPeriod(parsed.data.from, parsed.data.to, timeZone) };
}

/** From the start of local day `first` to the end of local day `last`. */
export function daysPeriod(first: string, last: string, timeZone: string): Period {
  return { from: dayStart(first, timeZone), to: dayStart(addDays(last, 1), timeZone) };
}

/** The local month `month` (YYYY-MM). Throws RangeError on anything else (parse with monthTextSchema first). */
export function monthPeriod(month: string, timeZone: string): Period {
  if (!monthTextSchema.safeParse(month).success) throw new RangeError(`not a month YYYY-MM: ${JSON.stringify(month).slice(0, 40)}`);
  const [year, mm] = month.split('-').map(Number) as [number, number];
  const next = mm === 12 ? `${year + 1}-01` : `${year}-${String(mm + 1).padStart(2, '0')}`;
  return { from: dayStart(`${month}-01`, timeZone), to: dayStart(`${next}-01`, timeZone) };
}

/** The local day `now` falls in. */
export function todayPeriod(now: Date, timeZone: string): Period {
  const today = localDay(now, timeZone);
  return daysPeriod(today, today, timeZone);
}

/** The local days a period touches, in order (a trend's x axis). */
export function periodDays(period: Period, timeZone: string): string[] {
  if (period.to.getTime() <= period.from.getTime()) return [];
  return daysBetween(localDay(period.from, timeZone), localDay(period.to.getTime() - 1, timeZone));
}

function isCalendarDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().startsWith(day);
}

function spanDays(first: string, last: string): number {
  return Math.round((Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / DAY_MS) + 1;
}
