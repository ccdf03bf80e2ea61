import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../bridge/log.js';
import { StaffRosterStore } from '../../bridge/province/staff-roster.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Settings } from '../../bridge/store/settings.js';
import { explain } from '../../protocol/issues.js';
import { provinceConfigSchema } from '../../protocol/province-config.js';
import { SAMPLE_PIN_HASH, SAMPLE_STAFF_ROSTER } from '../../simulator/sample-staff.js';

/**
 * The staff roster arrives on the retained `…/config` from the broker: a boundary. Whatever comes,
 * parsing never throws; what is accepted has unique staff ids and a PIN cost the Pi can bear and a
 * guesser cannot skip; an accepted roster is kept and read back as sent.
 */
const SEED = 20261129;

const hostileNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 12, 2 ** 16, 2 ** 17, 2 ** 31, Number.MAX_SAFE_INTEGER), fc.string({ maxLength: 6 }), fc.constant(null));
const hostileText = fc.oneof(fc.string({ maxLength: 80 }), fc.base64String({ maxLength: 120 }), fc.constantFrom('', '====', 'AAAA', 'A'.repeat(10_000)), fc.integer());
const pinHash = fc.record(
  { kdf: fc.constantFrom('scrypt', 'md5', ''), N: hostileNumber, r: hostileNumber, p: hostileNumber, salt: hostileText, hash: hostileText, extra: fc.jsonValue({ maxDepth: 1 }) },
  { requiredKeys: [] },
);
const member = fc.oneof(
  fc.record({ staffId: fc.oneof(fc.constantFrom('S1001', 'S1002', '__proto__', ''), fc.string({ maxLength: 70 })), name: hostileText, pin: fc.oneof(pinHash, fc.constant(SAMPLE_PIN_HASH)) }, { requiredKeys: [] }),
  fc.constantFrom(...SAMPLE_STAFF_ROSTER.staff.slice(0, 3)),
  fc.jsonValue({ maxDepth: 2 }),
);
const roster = fc.oneof(
  // Near a real one: sample members, now and then listed twice.
  fc.record({ version: fc.constantFrom('2026.11', 'v'), staff: fc.array(fc.constantFrom(...SAMPLE_STAFF_ROSTER.staff.slice(0, 8)), { maxLength: 5 }) }),
  fc.record({ version: hostileText, staff: fc.oneof(fc.array(member, { maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }),
  fc.integer({ min: 2000, max: 2100 }).map((n) => ({ version: 'big', staff: Array.from({ length: n }, (_, i) => ({ staffId: `S${i}`, name: 'x', pin: SAMPLE_PIN_HASH })) })),
  fc.jsonValue({ maxDepth: 3 }),
);

describe('staff roster from the province, fuzzed', () => {
  it('never throws; accepts only unique ids and bounded costs; keeps what it accepts as sent', () => {
    let kept = 0;
    fc.assert(
      fc.property(roster, (staffRoster) => {
        const parsed = explain(provinceConfigSchema, { staffRoster });
        if (!parsed.ok) {
          expect(parsed.problems.length).toBeGreaterThan(0);
          return;
        }
        const accepted = parsed.data.staffRoster;
        if (!accepted) return;
        const ids = accepted.staff.map((m) => m.staffId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(accepted.staff.length).toBeLessThanOrEqual(2000);
        for (const { pin } of accepted.staff) {
          expect(pin.N).toBeGreaterThanOrEqual(2 ** 12);
          expect(pin.N * pin.r * pin.p).toBeLessThanOrEqual(2 ** 16 * 8 * 2);
          expect(Buffer.from(pin.salt, 'base64').length).toBeGreaterThanOrEqual(16);
        }
        const settings = new Settings(openDatabase(':memory:'));
        new StaffRosterStore(settings, silentLogger).adopt(parsed.data);
        expect(new StaffRosterStore(settings, silentLogger).current()).toEqual(accepted);
        kept += 1;
      }),
      { seed: SEED, numRuns: 300 },
    );
    // The runs reach the accepting side too, not only refusals.
    expect(kept).toBeGreaterThan(10);
  });
});
