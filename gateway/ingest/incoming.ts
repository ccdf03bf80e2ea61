import { decodeRecord, type DecodedRecord } from '../../protocol/record-formats/index.js';
import { terminalIdSchema } from '../../protocol/records.js';
import type { SealCheck } from '../../protocol/seal/verify.js';
import { terminalIdOfTopic } from '../../protocol/topics.js';

/** Longest record id kept (a record's is a UUID; anything longer is no record). */
const MAX_ID_LENGTH = 200;

/** A message on a records topic that can be answered: its terminal (by topic), id, parsed body and decoded record. */
export interface ReadableMessage {
  kind: 'readable';
  terminalId: string;
  id: string;
  body: Record<string, unknown>;
  text: string;
  decoded: Exclude<DecodedRecord, { kind: 'unreadable' }>;
  /** Its seal checked ahead under `key` (ahead.ts): used only if the transaction reads the same key. */
  checked?: { key: string; check: SealCheck } | undefined;
  /** JSON.stringify(decoded.record), made ahead. */
  recordJson?: string;
}

export type ReadMessage = ReadableMessage | { kind: 'unreadable'; reason: string };

/**
 * Reads a message from `<prefix>/<terminal>/records`: not such a topic, a terminal id that is not
 * one, not JSON, or no string `id` (or one no database keeps) make it unreadable: nothing can
 * acknowledge it. Never throws.
 */
export function readRecordMessage(topic: string, payload: Buffer, prefix: string): ReadMessage {
  const terminalId = terminalIdOfTopic(topic, 'records', prefix);
  if (terminalId === undefined) return { kind: 'unreadable', reason: `not a records topic under "${prefix}"` };
  if (!terminalIdSchema.safeParse(terminalId).success) return { kind: 'unreadable', reason: `topic: "${terminalId}" is not a terminal id (1-64 letters, digits, "_" or "-")` };
  const text = payload.toString('utf8');
  let decoded: DecodedRecord;
  try {
    decoded = decodeRecord(text);
  } catch (err) {
    // A record the decoder cannot read through (a time correction moving its times out of range): invalid if it names itself.
    const id = (safeParse(text) as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || id.length === 0) return { kind: 'unreadable', reason: `not a readable record: ${(err as Error).message}` };
    decoded = { kind: 'invalid', id, reason: `not a readable record: ${(err as Error).message}` };
  }
  if (decoded.kind === 'unreadable') return { kind: 'unreadable', reason: decoded.reason };
  const id = decoded.id;
  if (id.length > MAX_ID_LENGTH || !isStorableText(id)) return { kind: 'unreadable', reason: `id: not a record id (over ${MAX_ID_LENGTH} characters, a NUL or a broken surrogate)` };
  // decodeRecord parsed it as an object with a string id: parsing it again cannot fail.
  const body = JSON.parse(text) as Record<string, unknown>;
  return { kind: 'readable', terminalId, id, body, text, decoded };
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL cannot keep in text
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Text PostgreSQL keeps as it is: no NUL, no lone UTF-16 surrogate. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Text made storable (for reasons and evidence, never for a record): NULs and lone surrogates replaced. */
export function storableText(text: string): string {
  return isStorableText(text) ? text : text.replace(UNSTORABLE_ALL, '\uFFFD');
}
