import { describeIssues } from '../../protocol/issues.js';
import { terminalIdSchema } from '../../protocol/records.js';
import { birthSchema, registrationSchema, type Registration } from '../../protocol/registration.js';

/*
 * What a terminal's `…/state` and `…/telemetry` messages say, read without trusting a byte of
 * them: a bounded size, JSON, the protocol's schemas, and only text PostgreSQL's jsonb can hold
 * (no NUL, no lone surrogate), so that a hostile payload is refused here and never reaches a write.
 */

/** A registration or a birth is a few hundred bytes; far more is not one. */
export const MAX_STATE_BYTES = 8 * 1024;
/** Telemetry is a health report: a few KB. */
export const MAX_TELEMETRY_BYTES = 16 * 1024;
/** A state's `at` further ahead of the gateway's clock than this is not used to order states. */
export const MAX_CLOCK_LEAD_MS = 5 * 60_000;

export type StateMessage =
  /** An empty retained message: the state was cleared (nothing to do). */
  | { kind: 'cleared' }
  | {
      kind: 'state';
      online: boolean;
      /** The terminal's time for it; undefined for a last will or a state dated too far ahead. */
      at: Date | undefined;
      publicKey: string | undefined;
      /** A provisioning registration: who and where the terminal says it is. */
      registration: Registration | undefined;
      bridgeVersion: string | undefined;
      /** What is kept of it in `terminals.state`: its short scalar fields, no key. */
      summary: Record<string, string | number | boolean>;
    }
  | { kind: 'unreadable'; reason: string };

export type TelemetryMessage = { kind: 'telemetry'; at: Date | undefined; body: Record<string, unknown> } | { kind: 'unreadable'; reason: string };

/** The terminal id of a topic level, or why it cannot be one. */
export function checkTerminalId(id: string): string | undefined {
  const result = terminalIdSchema.safeParse(id);
  return result.success ? undefined : `topic level "${id.slice(0, 80)}" is not a terminal id: ${result.error.issues[0]?.message ?? 'invalid'}`;
}

export function readStateMessage(payload: Buffer, now: Date): StateMessage {
  if (payload.length === 0) return { kind: 'cleared' };
  const parsed = readJsonObject(payload, MAX_STATE_BYTES);
  if (typeof parsed === 'string') return { kind: 'unreadable', reason: parsed };
  if (parsed.provisioning === true) {
    const registration = registrationSchema.safeParse(parsed);
    if (!registration.success) return { kind: 'unreadable', reason: `a provisioning registration, invalid: ${describeIssues(registration.error.issues)}` };
    const data = registration.data;
    return state(parsed, data.online, data.at, data.publicKey, data, data.bridge, now);
  }
  const birth = birthSchema.safeParse(parsed);
  if (!birth.success) return { kind: 'unreadable', reason: `not a birth {online, at?, publicKey?}: ${describeIssues(birth.error.issues)}` };
  const bridge = typeof parsed.bridge === 'string' && parsed.bridge.length > 0 && parsed.bridge.length <= 32 ? parsed.bridge : undefined;
  return state(parsed, birth.data.online, birth.data.at, birth.data.publicKey, undefined, bridge, now);
}

export function readTelemetryMessage(payload: Buffer, now: Date): TelemetryMessage {
  const parsed = readJsonObject(payload, MAX_TELEMETRY_BYTES);
  if (typeof parsed === 'string') return { kind: 'unreadable', reason: parsed };
  return { kind: 'telemetry', at: orderingTime(typeof parsed.at === 'string' ? parsed.at : undefined, now), body: parsed };
}

function state(
  body: Record<string, unknown>,
  online: boolean,
  at: string | undefined,
  publicKey: string | undefined,
  registration: Registration | undefined,
  bridgeVersion: string | undefined,
  now: Date,
): StateMessage {
  return { kind: 'state', online, at: orderingTime(at, now), publicKey, registration, bridgeVersion, summary: scalarSummary(body) };
}

/** A terminal's time, when it can order its states: a valid date not far ahead of ours (a hostile one would freeze the row). */
function orderingTime(at: string | undefined, now: Date): Date | undefined {
  if (at === undefined) return undefined;
  const time = Date.parse(at);
  if (!Number.isFinite(time) || time > now.getTime() + MAX_CLOCK_LEAD_MS) return undefined;
  return new Date(time);
}

const MAX_SUMMARY_FIELDS = 16;

/** The short scalar fields of a state (online, at, bridge, protocol, …), the key left out: it has its own columns. */
function scalarSummary(body: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(body)) {
    if (Object.keys(out).length >= MAX_SUMMARY_FIELDS) break;
    if (key === 'publicKey' || key.length > 32) continue;
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= 64)) out[key] = value;
  }
  return out;
}

/** A JSON object within `maxBytes` whose every string jsonb can store, or why not. */
function readJsonObject(payload: Buffer, maxBytes: number): Record<string, unknown> | string {
  if (payload.length > maxBytes) return `${payload.length} bytes, more than the ${maxBytes} such a message has`;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return 'not UTF-8 text';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message.slice(0, 120)}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `not a JSON object (${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`;
  const unstorable = findUnstorableText(value, 0);
  if (unstorable) return unstorable;
  return value as Record<string, unknown>;
}

const MAX_DEPTH = 16;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** PostgreSQL's jsonb refuses \u0000 and lone surrogates: such a message is refused before any write. */
function findUnstorableText(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
  const bad = (text: string): boolean => NUL.test(text) || LONE_SURROGATE.test(text);
  if (typeof value === 'string') return bad(value) ? 'holds a NUL character or a lone UTF-16 surrogate, which no text field may' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (bad(key)) return 'holds a NUL character or a lone UTF-16 surrogate in a field name';
    const found = findUnstorableText(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
