import { describe, expect, it } from 'vitest';
import { daysPeriod, MAX_PERIOD_DAYS, monthPeriod, parsePeriod, periodDays, todayPeriod } from '../../gateway/stats/period.js';
import { dayStart, localDateTime, localDay } from '../../gateway/stats/zone.js';

/** Periods are whole local days in the configured zone: a hall's today and November, not UTC's. */
describe('periods in a time zone', () => {
  it("takes a day in Shanghai from its midnight (16:00 UTC the day before) to the next", () => {
    expect(daysPeriod('2026-11-20', '2026-11-20', 'Asia/Shanghai')).toEqual({ from: new Date('2026-11-19T16:00:00Z'), to: new Date('2026-11-20T16:00:00Z') });
    expect(todayPeriod(new Date('2026-11-19T16:30:00Z'), 'Asia/Shanghai')).toEqual(daysPeriod('2026-11-20', '2026-11-20', 'Asia/Shanghai'));
    expect(todayPeriod(new Date('2026-11-19T16:30:00Z'), 'UTC')).toEqual({ from: new Date('2026-11-19T00:00:00Z'), to: new Date('2026-11-20T00:00:00Z') });
  });

  it('takes a month from its first local midnight to the next month’s, December into January', () => {
    expect(monthPeriod('2026-11', 'Asia/Shanghai')).toEqual({ from: new Date('2026-10-31T16:00:00Z'), to: new Date('2026-11-30T16:00:00Z') });
    expect(monthPeriod('2026-12', 'Asia/Shanghai')).toEqual({ from: new Date('2026-11-30T16:00:00Z'), to: new Date('2026-12-31T16:00:00Z') });
    expect(periodDays(monthPeriod('2028-02', 'Asia/Shanghai'), 'Asia/Shanghai')).toHaveLength(29);
  });

  it('follows a daylight-saving change: a 23-hour day in New York, a day Santiago starts at 01:00', () => {
    const spring = daysPeriod('2026-03-08', '2026-03-08', 'America/New_York');
    expect(spring.to.getTime() - spring.from.getTime()).toBe(23 * 3600_000);
    expect(spring.from).toEqual(new Date('2026-03-08T05:00:00Z'));
    // Chile moves its clocks from 24:00 to 01:00: the day's first instant is 01:00 local.
    const start = dayStart('2026-09-06', 'America/Santiago');
    expect(localDay(start, 'America/Santiago')).toBe('2026-09-06');
    expect(localDay(start.getTime() - 1, 'America/Santiago')).toBe('2026-09-05');
    expect(localDateTime(start, 'America/Santiago')).toBe('2026-09-06 01:00:00');
  });

  it('parses from and to (inclusive days), every refusal naming its field', () => {
    expect(parsePeriod({ from: '2026-11-01', to: '2026-11-30', by: 'hall' }, 'Asia/Shanghai')).toEqual({ ok: true, period: monthPeriod('2026-11', 'Asia/Shanghai') });
    const refusal = (query: unknown) => {
      const parsed = parsePeriod(query, 'Asia/Shanghai');
      return parsed.ok ? 'accepted' : parsed.error;
    };
    expect(refusal({ to: '2026-11-30' })).toMatch(/^from: required/);
    expect(refusal({ from: '2026-02-30', to: '2026-03-01' })).toMatch(/^from: no such date/);
    expect(refusal({ from: '2026-01-01', to: '2026-99-99' })).toMatch(/^to: no such date/);
    expect(refusal({ from: '2026-11-1', to: '2026-11-30' })).toMatch(/^from: expected a date YYYY-MM-DD/);
    expect(refusal({ from: '2026-11-30', to: '2026-11-01' })).toMatch(/^to: the last day comes before the first/);
    expect(refusal({ from: '2025-01-01', to: '2026-01-01' })).toBe('accepted');
    expect(refusal({ from: '2025-01-01', to: '2026-01-02' })).toBe(`to: at most ${MAX_PERIOD_DAYS} days`);
    expect(refusal('from=2026-11-01')).toMatch(/expected object/);
  });

  it('refuses what is not a month', () => {
    for (const month of ['2026-13', '2026-00', '2026-1', '1999-12', '2026-11-01', '']) expect(() => monthPeriod(month, 'Asia/Shanghai')).toThrow(RangeError);
  });
});
