import { z } from 'zod';
import type { GradeCodeProfileName } from '../grades.js';
import type { StoredRecord, UpstreamRecord } from '../records.js';
import type { RecordFormat } from './format.js';
import { v1 } from './v1.js';
import { v2 } from './v2.js';

export type { RecordFormat } from './format.js';

/** The upstream record layouts, by the name `mqtt.recordFormat` chooses. A new one: its file, and a line here. */
export const RECORD_FORMATS = { v1, v2 } as const satisfies Record<string, RecordFormat>;

export type RecordFormatName = keyof typeof RECORD_FORMATS;
export const recordFormatNameSchema = z.enum(Object.keys(RECORD_FORMATS) as [RecordFormatName, ...RecordFormatName[]]);
/** v2: sealed at the source (ARCHITECTURE invariant 7); v1 only for a receiver that cannot read v2 yet. */
export const DEFAULT_RECORD_FORMAT: RecordFormatName = 'v2';

/** The message published on `…/records` for a stored record, in the chosen layout. */
export function encodeRecord(format: RecordFormatName, record: StoredRecord, seq: number, profile: GradeCodeProfileName): string {
  return JSON.stringify(RECORD_FORMATS[format].encode(record, seq, profile));
}

export type DecodedRecord =
  /** A record in one of the layouts. */
  | { kind: 'record'; id: string; record: UpstreamRecord }
  /** Identified by its id (so it can be rejected, or deduped), but not a valid record. */
  | { kind: 'invalid'; id: string; reason: string }
  /** Without even an id: nothing can acknowledge it. */
  | { kind: 'unreadable'; reason: string };

const envelopeSchema = z.looseObject({ id: z.string().min(1), schema: z.unknown().optional() });

/** Reads a message from `…/records` in whichever layout its `schema` names. */
export function decodeRecord(payload: string): DecodedRecord {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch (err) {
    return { kind: 'unreadable', reason: `not JSON: ${(err as Error).message}` };
  }
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { kind: 'unreadable', reason: 'no string "id": cannot be acknowledged' };
  const { id, schema } = envelope.data;
  const formats: RecordFormat[] = Object.values(RECORD_FORMATS);
  const format = formats.find((f) => f.schema === schema);
  if (!format) {
    const known = formats.map((f) => f.schema).join('|');
    const reason = schema === undefined ? `schema: required (expected one of ${known})` : `schema: expected one of ${known}, got ${JSON.stringify(schema)}`;
    return { kind: 'invalid', id, reason };
  }
  const decoded = format.decode(body);
  return decoded.ok ? { kind: 'record', id, record: decoded.data } : { kind: 'invalid', id, reason: decoded.problems.join('; ') };
}
