import { gradeCode, type GradeCodeProfileName } from '../../protocol/grades.js';
import type { EventRecord, InvitationRecord, UpstreamRecord } from '../../protocol/records.js';

type Rating = NonNullable<InvitationRecord['rating']>;

/**
 * A record as the terminal keeps it: grades by meaning only. The record sequence number and the
 * numeric grade code are added at the upstream edge (ARCHITECTURE invariant 6).
 */
export type StoredInvitation = Omit<InvitationRecord, 'seq' | 'rating'> & { rating?: Omit<Rating, 'gradeCode'> };
export type StoredEvent = Omit<EventRecord, 'seq'>;
export type StoredRecord = StoredInvitation | StoredEvent;

export function toUpstream(record: StoredRecord, seq: number, profile: GradeCodeProfileName): UpstreamRecord {
  if (record.kind === 'event') return { ...record, seq };
  const { rating, ...rest } = record;
  return rating
    ? { ...rest, seq, rating: { ...rating, gradeCode: gradeCode(rating.grade, profile) } }
    : { ...rest, seq };
}
