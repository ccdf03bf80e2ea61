import { z } from 'zod';
import { ConfigError, readConfigDocument } from '../../bridge/config.js';
import { explain } from '../../protocol/issues.js';
import type { GatewayConfig } from '../config.js';
import { addDays, dayStart, localDay } from '../stats/zone.js';

/*
 * The bad reviews' follow-up clocks (DOMAIN: call back within 1 working day, appeal within 5,
 * rectify within 15) count working days: Monday to Friday, less the public holidays, plus the
 * make-up working days (调休) the State Council announces each year. Those change every year, so
 * they come from a calendar file the hall keeps (YAML), never from code.
 */

/** A day as the hall's calendar names it, YYYY-MM-DD (a real date). */
const isoDaySchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD').refine(isRealDay, 'not a date in the calendar (month 01-12, day within the month)');

/** More than any decade of holidays: a bigger list is the wrong file. */
const MAX_DAYS = 4000;

export const calendarFileSchema = z
  .strictObject({
    /** Days off that would otherwise be working days (public holidays, 春节, 国庆…). */
    holidays: z.array(isoDaySchema).max(MAX_DAYS).default([]),
    /** Weekend days worked instead (调休 make-up working days). */
    workdays: z.array(isoDaySchema).max(MAX_DAYS).default([]),
  })
  .superRefine((file, ctx) => {
    const holidays = new Set(file.holidays);
    file.workdays.forEach((day, i) => {
      if (holidays.has(day)) ctx.addIssue({ code: 'custom', path: ['workdays', i], message: `${day} is listed as a holiday too: a day is one or the other` });
    });
  });
export type CalendarFile = z.input<typeof calendarFileSchema>;

export interface WorkingCalendar {
  readonly holidays: ReadonlySet<string>;
  readonly workdays: ReadonlySet<string>;
}

/** Monday to Friday, no holidays: the calendar without a file. */
export const WEEKDAYS_CALENDAR: WorkingCalendar = { holidays: new Set(), workdays: new Set() };

/** The calendar from a file's contents; a ConfigError names each wrong entry. */
export function parseWorkingCalendar(input: unknown, source = 'working-day calendar'): WorkingCalendar {
  const result = explain(calendarFileSchema, input ?? {});
  if (!result.ok) throw new ConfigError(`${source} is invalid:`, result.problems);
  return { holidays: new Set(result.data.holidays), workdays: new Set(result.data.workdays) };
}

/** alerts.followUp.calendarFile (YAML `holidays: [...]`, `workdays: [...]`); without a path, Monday to Friday. */
export function loadWorkingCalendar(path?: string): WorkingCalendar {
  if (path === undefined) return WEEKDAYS_CALENDAR;
  return parseWorkingCalendar(readConfigDocument(path), `working-day calendar ${path}`);
}

/** Whether a day (YYYY-MM-DD) is worked. */
export function isWorkingDay(day: string, calendar: WorkingCalendar): boolean {
  if (calendar.workdays.has(day)) return true;
  if (calendar.holidays.has(day)) return false;
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  return weekday !== 0 && weekday !== 6;
}

export type FollowUpSettings = Pick<GatewayConfig['alerts']['followUp'], 'callbackWorkingDays' | 'appealWorkingDays' | 'rectifyWorkingDays'>;

export interface FollowUpClock {
  /** The end of the last working day allowed: the next day's 00:00 in the hall's time zone (exclusive). */
  due: Date;
  /** That last day, YYYY-MM-DD in the hall's time zone (what a person is told: "截止 12月1日"). */
  dueDay: string;
  overdue: boolean;
  /**
   * Working days left, today counted when it is one (1 on the last day itself); when overdue, minus
   * the working days since the due day (0 when overdue only by days off).
   */
  workingDaysLeft: number;
}

export interface FollowUpClocks {
  callback: FollowUpClock;
  appeal: FollowUpClock;
  rectify: FollowUpClock;
}

/**
 * A bad review's three clocks. Each is due at the end of the Nth working day after the day it
 * happened (that day never counts, worked or not: a review on Friday evening with 1 working day
 * is due at the end of Monday), days in `timeZone`.
 */
export function followUpClocks(occurredAt: Date, settings: FollowUpSettings, calendar: WorkingCalendar, timeZone: string, now: Date): FollowUpClocks {
  const start = localDay(occurredAt, timeZone);
  const today = localDay(now, timeZone);
  const clock = (n: number): FollowUpClock => {
    const dueDay = addWorkingDays(start, n, calendar);
    const due = dayStart(addDays(dueDay, 1), timeZone);
    const overdue = now.getTime() >= due.getTime();
    // Left: from today (the day it happened never counts) through the due day.
    const from = today > start ? addDays(today, -1) : start;
    const workingDaysLeft = overdue ? 0 - workingDaysBetween(dueDay, today, calendar) || 0 : workingDaysBetween(from, dueDay, calendar);
    return { due, dueDay, overdue, workingDaysLeft };
  };
  return { callback: clock(settings.callbackWorkingDays), appeal: clock(settings.appealWorkingDays), rectify: clock(settings.rectifyWorkingDays) };
}

/** The Nth working day after `day` (YYYY-MM-DD). Bounded: a calendar of nothing but holidays ends after ten years. */
export function addWorkingDays(day: string, n: number, calendar: WorkingCalendar): string {
  let current = day;
  let left = Math.max(0, Math.floor(n));
  for (let guard = 0; left > 0 && guard < 3660; guard += 1) {
    current = addDays(current, 1);
    if (isWorkingDay(current, calendar)) left -= 1;
  }
  return current;
}

/** Working days in (from, to]: 0 when to ≤ from. */
function workingDaysBetween(from: string, to: string, calendar: WorkingCalendar): number {
  let count = 0;
  for (let day = addDays(from, 1), guard = 0; day <= to && guard < 3660; day = addDays(day, 1), guard += 1) if (isWorkingDay(day, calendar)) count += 1;
  return count;
}

function isRealDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === day;
}
