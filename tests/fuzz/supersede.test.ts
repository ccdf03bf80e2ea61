import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventRecord, InvitationRecord, UpstreamRecord } from '../../protocol/records.js';
import { supersedeRefusal } from '../../simulator/province.js';

/*
 * The receiver's rule for `supersedes`, against random and hostile pairs of records: it never
 * throws, and lets a record take another's place exactly when that one is an invitation of the
 * same terminal and time that the bridge closed without its terminal (never a rating).
 */
const SEED = 20_261_130;

const text = fc.oneof(fc.constantFrom('T-1', 'T-2', 'device_silent', 'report_overdue', 'reconciled', '', '\u0000', '__proto__'), fc.string({ maxLength: 20 }));
const flags = fc.array(fc.oneof(fc.constantFrom('device_silent', 'report_overdue', 'terminal_reset', 'no_reason', 'reconciled'), fc.string({ maxLength: 12 })), { maxLength: 4 });
const time = fc.constantFrom('2026-03-02T01:00:00.000Z', '2026-03-02T01:00:00.000+00:00', '2026-03-02T09:00:00.000+08:00');

const invitation = fc.record({
  id: fc.uuid(),
  kind: fc.constant('invitation' as const),
  terminalId: fc.constantFrom('T-1', 'T-2'),
  invitedAt: time,
  outcome: fc.constantFrom('rated', 'not_rated', 'cancelled'),
  device: fc.option(text, { nil: undefined }),
  flags,
  supersedes: fc.option(fc.uuid(), { nil: undefined }),
}).map((r) => r as unknown as InvitationRecord);
const event = fc.record({ id: fc.uuid(), kind: fc.constant('event' as const), terminalId: text, flags, device: fc.option(text, { nil: undefined }) }).map((r) => r as unknown as EventRecord);
const earlierRecord: fc.Arbitrary<UpstreamRecord> = fc.oneof({ weight: 4, arbitrary: invitation }, { weight: 1, arbitrary: event });

describe('fuzz: supersedes at the receiver', () => {
  it('replaces only an invitation of the same terminal and time closed without its terminal, never a rating; explains every refusal', () => {
    fc.assert(
      fc.property(earlierRecord, invitation, (earlier, record) => {
        const refusal = supersedeRefusal(earlier, record);
        const replaceable =
          earlier.kind === 'invitation' &&
          earlier.terminalId === record.terminalId &&
          earlier.invitedAt === record.invitedAt &&
          earlier.outcome !== 'rated' &&
          !earlier.device &&
          earlier.flags.some((f) => f === 'device_silent' || f === 'report_overdue');
        if (replaceable) expect(refusal).toBeUndefined();
        else expect(refusal).toMatch(new RegExp(`^supersedes: record ${earlier.id} `));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
