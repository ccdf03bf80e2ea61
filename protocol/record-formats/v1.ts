import { gradeCode, type GradeCodeProfileName } from '../grades.js';
import { explain } from '../issues.js';
import { RECORD_SCHEMA_VERSION, upstreamRecordSchema, type StoredRecord, type UpstreamRecord } from '../records.js';
import type { RecordFormat } from './format.js';

/** Layout 1: the stored record with `seq` and `rating.gradeCode` added (docs/protocol.md shows one). */
function toUpstream(record: StoredRecord, seq: number, profile: GradeCodeProfileName): UpstreamRecord {
  const schema = RECORD_SCHEMA_VERSION;
  if (record.kind === 'event') return { ...record, schema, seq };
  const { rating, ...rest } = record;
  return rating
    ? { ...rest, schema, seq, rating: { ...rating, gradeCode: gradeCode(rating.grade, profile) } }
    : { ...rest, schema, seq };
}

export const v1: RecordFormat = {
  schema: RECORD_SCHEMA_VERSION,
  sealed: false,
  encode: toUpstream,
  decode: (body) => explain(upstreamRecordSchema, body),
};
