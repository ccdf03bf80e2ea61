import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { addWorkingDays, followUpClocks, isWorkingDay, loadWorkingCalendar, parseWorkingCalendar, WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import { dayStart, localDay } from '../../gateway/stats/zone.js';

const ZONE = 'Asia/Shanghai';
const SETTINGS = { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 };

/** 2025's National Day week as the State Council set it: Oct 1-8 off, Sunday Sep 28 and Saturday Oct 11 worked. */
const NATIONAL_DAY_2025 = parseWorkingCalendar({
  holidays: ['2025-10-01', '2025-10-02', '2025-10-03', '2025-10-06', '2025-10-07', '2025-10-08'],
  workdays: ['2025-09-28', '2025-10-11'],
});

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('working days', () => {
  it('are Monday to Friday without a calendar', () => {
    expect(['2026-11-27', '2026-11-28', '2026-11-29', '2026-11-30'].map((d) => isWorkingDay(d, WEEKDAYS_CALENDAR))).toEqual([true, false, false, true]);
  });

  it('follow the calendar: holidays off, make-up weekend days worked', () => {
    expect(isWorkingDay('2025-10-01', NATIONAL_DAY_2025)).toBe(false);
    expect(isWorkingDay('2025-09-28', NATIONAL_DAY_2025)).toBe(true);
    expect(isWorkingDay('2025-10-11', NATIONAL_DAY_2025)).toBe(true);
    expect(isWorkingDay('2025-10-12', NATIONAL_DAY_2025)).toBe(false);
    // Tuesday Sep 30 + 1 working day: the whole holiday passes, Thursday Oct 9.
    expect(addWorkingDays('2025-09-30', 1, NATIONAL_DAY_2025)).toBe('2025-10-09');
    // + 3: Oct 9, 10 and the make-up Saturday 11.
    expect(addWorkingDays('2025-09-30', 3, NATIONAL_DAY_2025)).toBe('2025-10-11');
  });

  it('days and midnights are the hall’s time zone’s', () => {
    expect(localDay(new Date('2026-11-27T16:30:00Z'), ZONE)).toBe('2026-11-28');
    expect(localDay(new Date('2026-11-27T15:59:59Z'), ZONE)).toBe('2026-11-27');
    expect(dayStart('2026-12-01', ZONE).toISOString()).toBe('2026-11-30T16:00:00.000Z');
    // A zone with summer time: 2026-03-29 begins at 00:00 GMT in London (the clocks go forward at 01:00).
    expect(dayStart('2026-03-30', 'Europe/London').toISOString()).toBe('2026-03-29T23:00:00.000Z');
    expect(dayStart('2026-03-29', 'Europe/London').toISOString()).toBe('2026-03-29T00:00:00.000Z');
  });
});

describe('follow-up clocks', () => {
  // Friday 27 Nov 2026, 19:30 in Shanghai.
  const fridayEvening = new Date('2026-11-27T11:30:00Z');

  it('a rating on Friday evening: call back by the end of Monday, appeal by Friday, rectify in three weeks', () => {
    const clocks = followUpClocks(fridayEvening, SETTINGS, WEEKDAYS_CALENDAR, ZONE, fridayEvening);
    expect(clocks.callback).toEqual({ due: new Date('2026-11-30T16:00:00Z'), dueDay: '2026-11-30', overdue: false, workingDaysLeft: 1 });
    expect(clocks.appeal.dueDay).toBe('2026-12-04');
    expect(clocks.appeal.workingDaysLeft).toBe(5);
    expect(clocks.rectify).toMatchObject({ dueDay: '2026-12-18', due: new Date('2026-12-18T16:00:00Z'), workingDaysLeft: 15 });
  });

  it('the end of the Nth working day is the next midnight in the zone: not overdue a millisecond before, overdue at it', () => {
    const before = followUpClocks(fridayEvening, SETTINGS, WEEKDAYS_CALENDAR, ZONE, new Date('2026-11-30T15:59:59.999Z'));
    expect(before.callback).toMatchObject({ overdue: false, workingDaysLeft: 1 });
    const at = followUpClocks(fridayEvening, SETTINGS, WEEKDAYS_CALENDAR, ZONE, new Date('2026-11-30T16:00:00Z'));
    expect(at.callback).toMatchObject({ overdue: true, workingDaysLeft: -1 });
    expect(at.appeal).toMatchObject({ overdue: false, workingDaysLeft: 4 });
    // Over the weekend nothing is used up: still 1 on Saturday and Sunday.
    expect(followUpClocks(fridayEvening, SETTINGS, WEEKDAYS_CALENDAR, ZONE, new Date('2026-11-29T03:00:00Z')).callback.workingDaysLeft).toBe(1);
    // Overdue by days off only: 0 (Saturday after a Friday due day).
    const thursday = new Date('2026-12-03T02:00:00Z');
    expect(followUpClocks(thursday, SETTINGS, WEEKDAYS_CALENDAR, ZONE, new Date('2026-12-05T02:00:00Z')).callback).toMatchObject({ dueDay: '2026-12-04', overdue: true, workingDaysLeft: 0 });
  });

  it('a rating just after midnight in Shanghai (still the day before in UTC) counts from the Shanghai day', () => {
    // Saturday 00:30 in Shanghai: the first working day after it is Monday.
    const clocks = followUpClocks(new Date('2026-11-27T16:30:00Z'), SETTINGS, WEEKDAYS_CALENDAR, ZONE, new Date('2026-11-27T16:30:00Z'));
    expect(clocks.callback.dueDay).toBe('2026-11-30');
  });

  it('a holiday week with a make-up Saturday', () => {
    // Tuesday 30 Sep 2025, 18:00 in Shanghai: the holiday runs to Oct 8.
    const at = new Date('2025-09-30T10:00:00Z');
    const clocks = followUpClocks(at, SETTINGS, NATIONAL_DAY_2025, ZONE, new Date('2025-10-04T02:00:00Z'));
    expect(clocks.callback).toMatchObject({ dueDay: '2025-10-09', overdue: false, workingDaysLeft: 1 });
    // Oct 9, 10, 11 (Saturday, worked), 13, 14.
    expect(clocks.appeal).toMatchObject({ dueDay: '2025-10-14', workingDaysLeft: 5 });
    // On the make-up Saturday the callback is overdue by two working days (Oct 10, 11).
    expect(followUpClocks(at, SETTINGS, NATIONAL_DAY_2025, ZONE, new Date('2025-10-11T02:00:00Z')).callback).toMatchObject({ overdue: true, workingDaysLeft: -2 });
    // A rating on Friday Oct 10 is called back by the end of the make-up Saturday.
    expect(followUpClocks(new Date('2025-10-10T09:00:00Z'), SETTINGS, NATIONAL_DAY_2025, ZONE, new Date('2025-10-10T09:00:00Z')).callback.dueDay).toBe('2025-10-11');
  });
});

describe('the calendar file', () => {
  function file(text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-calendar-'));
    temps.push(dir);
    const path = join(dir, 'calendar.yaml');
    writeFileSync(path, text);
    return path;
  }

  it('is read from YAML; without a path, Monday to Friday', () => {
    const calendar = loadWorkingCalendar(file('holidays: [2026-10-01, "2026-10-02"]\nworkdays:\n  - 2026-09-27\n'));
    expect([...calendar.holidays]).toEqual(['2026-10-01', '2026-10-02']);
    expect([...calendar.workdays]).toEqual(['2026-09-27']);
    expect(loadWorkingCalendar()).toBe(WEEKDAYS_CALENDAR);
    expect([...loadWorkingCalendar(file('')).holidays]).toEqual([]);
  });

  it('refuses what is not a calendar, naming the entry', () => {
    const refusal = (input: unknown): string[] => {
      try {
        parseWorkingCalendar(input, 'calendar.yaml');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
      throw new Error('accepted');
    };
    expect(refusal({ holidays: ['2026-02-30'] })).toEqual([expect.stringMatching(/^holidays\.0: not a date/)]);
    expect(refusal({ holidays: ['2026-10-01'], workdays: ['2026-10-01'] })).toEqual([expect.stringMatching(/^workdays\.0: 2026-10-01 is listed as a holiday too/)]);
    expect(refusal({ holiday: [] })[0]).toMatch(/holiday/);
    expect(refusal({ workdays: '2026-10-01' })[0]).toMatch(/^workdays/);
    expect(() => loadWorkingCalendar(file('holidays: [2026-10-01\n'))).toThrow(ConfigError);
  });
});
