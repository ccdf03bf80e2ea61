import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../bridge/log.js';
import { StaffStarsStore } from '../../bridge/province/staff-stars.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Settings } from '../../bridge/store/settings.js';
import { explain } from '../../protocol/issues.js';
import { MAX_STARRED_STAFF, provinceConfigSchema } from '../../protocol/province-config.js';

/**
 * Staff stars arrive on the retained `…/config` from the broker: a boundary. Whatever comes,
 * parsing never throws; what is accepted has unique 工号, stars 1 to 5 in halves, a bounded list;
 * what is refused says where and why; an accepted list is kept and read back as sent.
 */
const SEED = 20261130;

const hostileNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, 0.5, 1, 1.5, 4.25, 5, 5.5, -1, Number.NaN, Infinity), fc.string({ maxLength: 6 }), fc.constant(null));
const member = fc.oneof(
  fc.record({ staffId: fc.constantFrom('S1', 'S2', 'S3'), stars: fc.integer({ min: 2, max: 10 }).map((h) => h / 2), ratings: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ staffId: fc.oneof(fc.constantFrom('S1', '', '__proto__', 'a b', 'x'.repeat(65)), fc.string({ maxLength: 70 })), stars: hostileNumber, ratings: hostileNumber, extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 2 }),
);
const asOf = fc.oneof(fc.constantFrom('2026-11-30T04:00:00.000Z', '2026-11-30T12:00:00+08:00', '2026-11-30', 'yesterday', ''), fc.string({ maxLength: 30 }), fc.integer());
const stars = fc.oneof(
  fc.record({ asOf: fc.constant('2026-11-30T04:00:00.000Z'), days: fc.constant(90), minRatings: fc.constant(10), staff: fc.uniqueArray(member.filter((m) => typeof m === 'object' && m !== null && 'stars' in m && typeof m.stars === 'number'), { maxLength: 4 }) }),
  fc.record({ asOf, days: hostileNumber, minRatings: hostileNumber, staff: fc.oneof(fc.array(member, { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }),
  fc.integer({ min: MAX_STARRED_STAFF, max: MAX_STARRED_STAFF + 20 }).map((n) => ({ asOf: '2026-11-30T04:00:00Z', days: 90, minRatings: 10, staff: Array.from({ length: n }, (_, i) => ({ staffId: `S${i}`, stars: 4, ratings: 10 })) })),
  fc.jsonValue({ maxDepth: 3 }),
);

describe('staff stars from the gateway, fuzzed', () => {
  it('never throws; accepts only unique ids, stars 1 to 5 in halves, at most MAX_STARRED_STAFF; keeps what it accepts as sent', () => {
    let kept = 0;
    let refused = 0;
    fc.assert(
      fc.property(stars, (staffStars) => {
        const parsed = explain(provinceConfigSchema, { staffStars });
        if (!parsed.ok) {
          // A refusal names the field it refuses.
          expect(parsed.problems.length).toBeGreaterThan(0);
          for (const problem of parsed.problems) expect(problem).toMatch(/^(staffStars|and \d+ more$)/);
          refused += 1;
          return;
        }
        const accepted = parsed.data.staffStars;
        if (!accepted) return;
        const ids = accepted.staff.map((m) => m.staffId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(accepted.staff.length).toBeLessThanOrEqual(MAX_STARRED_STAFF);
        for (const m of accepted.staff) {
          expect(m.stars * 2).toSatisfy(Number.isInteger);
          expect(m.stars).toBeGreaterThanOrEqual(1);
          expect(m.stars).toBeLessThanOrEqual(5);
        }
        const settings = new Settings(openDatabase(':memory:'));
        new StaffStarsStore(settings, silentLogger).adopt(parsed.data);
        const store = new StaffStarsStore(settings, silentLogger);
        expect(store.current()).toEqual(accepted);
        for (const m of accepted.staff) expect(store.starsOf(m.staffId)).toEqual(m);
        kept += 1;
      }),
      { seed: SEED, numRuns: 400 },
    );
    expect(kept).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });

  it('says what is wrong, where', () => {
    const problems = (staffStars: unknown): string[] => {
      const parsed = explain(provinceConfigSchema, { staffStars });
      return parsed.ok ? [] : parsed.problems;
    };
    const base = { asOf: '2026-11-30T04:00:00Z', days: 90, minRatings: 10 };
    expect(problems({ ...base, staff: [{ staffId: 'S1', stars: 4.25, ratings: 12 }] })).toEqual([expect.stringMatching(/^staffStars\.staff\.0\.stars: .*1 to 5 in halves/)]);
    expect(problems({ ...base, staff: [{ staffId: 'S1', stars: 6, ratings: 12 }] })).toEqual([expect.stringMatching(/^staffStars\.staff\.0\.stars: /)]);
    expect(problems({ ...base, staff: [{ staffId: 'S1', stars: 4, ratings: 12 }, { staffId: 'S1', stars: 3, ratings: 12 }] })).toEqual(['staffStars.staff.1.staffId: staff S1 is listed twice']);
    expect(problems({ ...base, asOf: 'yesterday', staff: [] })).toEqual([expect.stringMatching(/^staffStars\.asOf: .*ISO 8601/)]);
    expect(problems({ ...base, staff: [{ staffId: 'S1', stars: 4, ratings: 12, photo: 'x' }] })).toEqual([expect.stringMatching(/^staffStars\.staff\.0: .*photo/)]);
  });
});
