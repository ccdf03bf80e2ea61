import { describe, expect, it } from 'vitest';
import { sameStars, starsOf } from '../../gateway/stats/staff-stars.js';
import { GRADES, type Grade } from '../../protocol/grades.js';

/** Counts per grade; the rest 0. */
function counts(given: Partial<Record<Grade, number>>): Record<Grade, number> {
  return Object.fromEntries(GRADES.map((grade) => [grade, given[grade] ?? 0])) as Record<Grade, number>;
}

describe('staff stars: the formula (docs/statistics.md)', () => {
  it('the mean score (非常满意 5 … 非常不满意 1) rounded to half stars, worked by hand', () => {
    expect(starsOf(counts({}))).toBeNull();
    expect(starsOf(counts({ very_satisfied: 3 }))).toBe(5);
    expect(starsOf(counts({ very_dissatisfied: 7 }))).toBe(1);
    // 6 × 5 + 2 × 4 + 3 + 2 = 43 over 10 = 4.3 → 8.6 halves → 9 → 4.5
    expect(starsOf(counts({ very_satisfied: 6, satisfied: 2, basically_satisfied: 1, dissatisfied: 1 }))).toBe(4.5);
    // 5 + 3 × 4 = 17 over 4 = 4.25: exactly between 4 and 4.5, rounded up
    expect(starsOf(counts({ very_satisfied: 1, satisfied: 3 }))).toBe(4.5);
    // 4.2 → 8.4 → 8 → 4
    expect(starsOf(counts({ very_satisfied: 1, satisfied: 4 }))).toBe(4);
    // 2 + 3 × 1 = 5 over 4 = 1.25 → 2.5 → 3 → 1.5
    expect(starsOf(counts({ dissatisfied: 1, very_dissatisfied: 3 }))).toBe(1.5);
    // 3 × 5 + 4 = 19 over 4 = 4.75 → 9.5 → 10 → 5
    expect(starsOf(counts({ very_satisfied: 3, satisfied: 1 }))).toBe(5);
  });

  it('always 1 to 5 in halves, never beyond the best and worst grade given', () => {
    for (let a = 0; a < 6; a++)
      for (let b = 0; b < 6; b++)
        for (let c = 0; c < 6; c++) {
          const stars = starsOf(counts({ very_satisfied: a, basically_satisfied: b, very_dissatisfied: c }));
          if (a + b + c === 0) continue;
          expect(Number.isInteger(stars! * 2)).toBe(true);
          expect(stars).toBeGreaterThanOrEqual(c > 0 ? 1 : b > 0 ? 3 : 5);
          expect(stars).toBeLessThanOrEqual(a > 0 ? 5 : b > 0 ? 3 : 1);
        }
  });

  it('the same stars are the same whatever the time and counts; a changed star or member is a change', () => {
    const base = { asOf: '2026-11-30T04:00:00.000Z', days: 90, minRatings: 10, staff: [{ staffId: 'S1', stars: 4.5, ratings: 10 }] };
    expect(sameStars(base, { ...base, asOf: '2026-11-30T05:00:00.000Z', staff: [{ staffId: 'S1', stars: 4.5, ratings: 11 }] })).toBe(true);
    expect(sameStars(base, { ...base, staff: [{ staffId: 'S1', stars: 4, ratings: 11 }] })).toBe(false);
    expect(sameStars(base, { ...base, staff: [] })).toBe(false);
    expect(sameStars(undefined, { ...base, staff: [] })).toBe(true);
    expect(sameStars(base, undefined)).toBe(false);
  });
});
