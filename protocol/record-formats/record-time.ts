import type { StoredRecord } from '../records.js';

/**
 * A record as the receiver should read its times (ARCHITECTURE invariant 4): made on a trusted
 * clock, as it is; made on an untrusted one and corrected since (`offsetMs`: how far the clock was
 * off), its times moved and flagged `time_corrected`; not correctable, flagged `clock_unsynced`.
 * One definition for both ends: the bridge applies it to a layout-1 record before publishing, a
 * receiver to a sealed record and its signed correction after verifying.
 */
export function honestTimes<T extends StoredRecord>(record: T, offsetMs: number | null): T {
  if (record.clock.synced) return record;
  if (offsetMs === null) return { ...record, flags: [...record.flags, 'clock_unsynced'] };
  const shift = (iso: string): string => new Date(Date.parse(iso) + offsetMs).toISOString();
  const clock = { ...record.clock, synced: true };
  const flags = [...record.flags, 'time_corrected'];
  if (record.kind === 'event') return { ...record, at: shift(record.at), clock, flags };
  return {
    ...record,
    invitedAt: shift(record.invitedAt),
    closedAt: shift(record.closedAt),
    ...(record.rating && { rating: { ...record.rating, pressedAt: shift(record.rating.pressedAt) } }),
    clock,
    flags,
  };
}
