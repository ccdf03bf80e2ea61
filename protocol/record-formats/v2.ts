import { z } from 'zod';
import { compile } from 'zod/v4/core';
import { explain } from '../issues.js';
import { SEALED_RECORD_SCHEMA, upstreamRecordSchema, type StoredRecord } from '../records.js';
import { TIME_CORRECTION_FIELD } from '../seal/seal.js';
import { timeCorrectionSchema } from '../seal/verify.js';
import type { RecordFormat } from './format.js';
import { honestTimes } from './record-time.js';
import { v1 } from './v1.js';

/**
 * Layout 2, sealed at the source: layout 1's fields with `schema: 2`, then `prev` and `sig` (the
 * seal, protocol/seal/seal.ts), and beside the seal an optional signed `timeCorrection`. The
 * bridge lays a record out and seals it when it commits it, and publishes those bytes as they
 * are; a receiver verifies the seal (protocol/seal/verify.ts) and reads the record through
 * `decode`, which applies the time correction to what it returns (never to what was signed).
 */
const timeCorrectionOf = compile(z.looseObject({ [TIME_CORRECTION_FIELD]: timeCorrectionSchema.optional() }));
/**
 * Every record a gateway receives passes here: zod's compiled parser takes 3 µs where the
 * interpreted one takes 26 (a fleet's ingest, issue 13); it falls back to the interpreted one for
 * a record it refuses, so the refusal names the field as before.
 */
const upstreamRecord = compile(upstreamRecordSchema);

export const v2: RecordFormat = {
  schema: SEALED_RECORD_SCHEMA,
  sealed: true,
  encode: (record: StoredRecord, seq, profile) => ({ ...v1.encode(record, seq, profile), schema: SEALED_RECORD_SCHEMA }),
  // The record's content only: whether its seal holds is verifySealed's question, asked first.
  decode: (body) => {
    const correction = explain(timeCorrectionOf, body);
    if (!correction.ok) return correction;
    const record = explain(upstreamRecord, body);
    if (!record.ok) return record;
    return { ok: true, data: honestTimes(record.data, correction.data[TIME_CORRECTION_FIELD]?.offsetMs ?? null) };
  },
};
