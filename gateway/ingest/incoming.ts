import { decodeRecord, RECORD_FORMATS, type DecodedRecord, type RecordFormat } from '../../protocol/record-formats/index.js';
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
  /** Its signatures sent under `key` to a verify thread (ahead.ts); `done` settles when `checked` is set or given up. */
  pending?: { key: string; done: Promise<void> } | undefined;
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
  const parsed = safeParse(text);
  let decoded: DecodedRecord;
  try {
    // A record in a known layout (nearly every message) is decoded from the one parse; anything else goes through decodeRecord, which says what is wrong.
    const format = layoutOf(parsed);
    decoded = format ? decodedBy(format, parsed as { id: string }) : decodeRecord(text);
  } catch (err) {
    // A record the decoder cannot read through (a time correction moving its times out of range): invalid if it names itself.
    const id = (parsed as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || id.length === 0) return { kind: 'unreadable', reason: `not a readable record: ${(err as Error).message}` };
    decoded = { kind: 'invalid', id, reason: `not a readable record: ${(err as Error).message}` };
  }
  if (decoded.kind === 'unreadable') return { kind: 'unreadable', reason: decoded.reason };
  const id = decoded.id;
  if (id.length > MAX_ID_LENGTH || !isStorableText(id)) return { kind: 'unreadable', reason: `id: not a record id (over ${MAX_ID_LENGTH} characters, a NUL or a broken surrogate)` };
  // Decoded, so parsed as an object with a string id (decodeRecord's own parse of the same text gives the same value).
  const body = parsed as Record<string, unknown>;
  return { kind: 'readable', terminalId, id, body, text, decoded };
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL cannot keep in text
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

const LAYOUTS: readonly RecordFormat[] = Object.values(RECORD_FORMATS);

/** The layout decodeRecord would pick for this parsed body, when it is an object with a non-empty string id (undefined otherwise: decodeRecord explains). */
function layoutOf(body: unknown): RecordFormat | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { id, schema } = body as { id?: unknown; schema?: unknown };
  if (typeof id !== 'string' || id.length === 0) return undefined;
  return LAYOUTS.find((f) => f.schema === schema);
}

/** What decodeRecord returns for a body in this layout. */
function decodedBy(format: RecordFormat, body: { id: string }): DecodedRecord {
  const decoded = format.decode(body);
  return decoded.ok ? { kind: 'record', id: body.id, record: decoded.data } : { kind: 'invalid', id: body.id, reason: decoded.problems.join('; ') };
}

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
