import type { StaffRoster } from '../protocol/province-config.js';

/** The PIN every sample staff member signs in with (the simulated hall's script, and anyone trying `hcp start`). */
export const SAMPLE_STAFF_PIN = '246810';

/**
 * SAMPLE_STAFF_PIN hashed as a province would (scrypt, bridge/province/staff-pin.ts hashPin), made
 * once and written here so that loading the emulator costs no hashing. The sample's staff share it
 * and its salt; a province salts each PIN of its own (tests/unit/staff-sign-in.test.ts checks it).
 */
export const SAMPLE_PIN_HASH = {
  kdf: 'scrypt',
  N: 16384,
  r: 8,
  p: 1,
  salt: 'ilwNRg4MYwSV+lOXsonyFA==',
  hash: 'MohcQiZEica8eetee8J62zKDNSJp66hrSa3lkUPspf8=',
} as const;

/** S1001 … S1050: the staff of the simulated hall's windows (window n signs in as S(1000 + n)), up to its 50. */
export const SAMPLE_STAFF_ROSTER: StaffRoster = {
  version: '2026.11',
  staff: Array.from({ length: 50 }, (_, i) => ({ staffId: `S${1001 + i}`, name: `模拟工作人员${1001 + i}`, pin: SAMPLE_PIN_HASH })),
};
