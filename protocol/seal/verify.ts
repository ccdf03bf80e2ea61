import { z } from 'zod';
import { explain } from '../issues.js';
import { SEALED_RECORD_SCHEMA } from '../records.js';
import { correctionBytes, ed25519Valid, fromBase64, type Ed25519Verify, GENESIS, publicKeyBytes, sealTexts, sha256Hex, type Sha256Hex, TIME_CORRECTION_FIELD } from './seal.js';

/** Where a sealed record sits in its terminal's chain. */
export interface ChainLink {
  seq: number;
  /** recordHash of the record: the next record's `prev`. */
  hash: string;
  prev: string;
}

/**
 * What a receiver already holds of one terminal's chain: the records it has verified. Records
 * arrive out of order (the bridge sends the live record before its backlog, and publishes again
 * what was not acknowledged), so the verifier looks at both neighbours, not only the newest.
 */
export interface ChainView {
  /** The verified record at this seq, if any. */
  at(seq: number): ChainLink | undefined;
  /** The newest verified record (highest seq), if any. */
  last(): ChainLink | undefined;
}

export type SealVerdict =
  /** Signed by the terminal's key and chained to what is known (or the start of its chain, or a resend). */
  | { verdict: 'ok'; link: ChainLink }
  /** Genuine, but records `from`..`to` before it have not been seen: dropped, or yet to come. */
  | { verdict: 'gap'; link: ChainLink; from: number; to: number; reason: string }
  /** Layout 1: no seal to check. */
  | { verdict: 'unsigned'; reason: string }
  /** No (usable) key registered for the terminal: nothing can be checked. */
  | { verdict: 'unknown_key'; reason: string }
  /** A layout-2 record whose seal fields are missing or malformed. */
  | { verdict: 'malformed'; reason: string }
  /** The signature does not verify: altered, or not made by this terminal's key. */
  | { verdict: 'bad_signature'; reason: string }
  /** Genuinely signed, but not where the chain says it should be (another record holds its place). */
  | { verdict: 'broken_chain'; reason: string };

export type SealVerdictName = SealVerdict['verdict'];

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (a SHA-256)');
const base64 = z.string().min(1).max(200);
export const timeCorrectionSchema = z.object({ offsetMs: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), sig: base64 });
const sealedEnvelopeSchema = z.looseObject({
  id: z.string().min(1),
  schema: z.literal(SEALED_RECORD_SCHEMA),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  prev: hex64,
  sig: base64,
  [TIME_CORRECTION_FIELD]: timeCorrectionSchema.optional(),
});

/**
 * Checks one received record's seal against its terminal's registered public key (SPKI DER,
 * base64) and the chain the receiver holds: the signature, then `prev` against the record before
 * it and the record after it, then whether records are missing before it. Never throws: any body,
 * however hostile, gets a verdict with a reason naming the record and the field. `hash` is the
 * SHA-256 to use (a receiver on Node may give node:crypto's; the same digest either way).
 */
export function verifySealed(body: unknown, publicKey: string | undefined, chain: ChainView, verify: Ed25519Verify = ed25519Valid, hash: Sha256Hex = sha256Hex): SealVerdict {
  return placeSealed(checkSeal(body, publicKey, verify, hash), chain);
}

/** A record's seal checked under one key, before its chain is looked at: genuine (its link), or the verdict already. */
export type SealCheck = { verdict: 'genuine'; link: ChainLink; where: string } | Extract<SealVerdict, { verdict: 'unsigned' | 'unknown_key' | 'malformed' | 'bad_signature' }>;

/**
 * The first half of verifySealed, which needs no chain: the envelope, the key and the signatures.
 * A receiver may check a record's seal ahead (while it waits for its database) and place it in
 * its chain later with placeSealed, provided the key is still the terminal's.
 */
export function checkSeal(body: unknown, publicKey: string | undefined, verify: Ed25519Verify = ed25519Valid, hash: Sha256Hex = sha256Hex): SealCheck {
  const obj = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const named = typeof obj?.id === 'string' ? `record ${obj.id}` : 'record';
  if (obj?.schema !== SEALED_RECORD_SCHEMA) {
    return { verdict: 'unsigned', reason: `${named}: schema ${JSON.stringify(obj?.schema)} carries no seal (sealed records are schema ${SEALED_RECORD_SCHEMA})` };
  }
  const envelope = sealedEnvelope(obj);
  if (!envelope.ok) return { verdict: 'malformed', reason: `${named}: ${envelope.problems.join('; ')}` };
  const { seq, prev, sig } = envelope.data;
  const where = `${named} (seq ${seq})`;
  if (publicKey === undefined) return { verdict: 'unknown_key', reason: `${where}: no public key registered for its terminal` };
  const key = publicKeyBytes(publicKey);
  if (!key.ok) return { verdict: 'unknown_key', reason: `${where}: the registered ${key.reason}` };

  let recordHash: string;
  let signed: Uint8Array;
  try {
    const texts = sealTexts(obj);
    signed = texts.signedBytes();
    recordHash = texts.hash(hash);
  } catch (err) {
    return { verdict: 'malformed', reason: `${where}: not JSON data (${(err as Error).message})` };
  }
  const signature = fromBase64(sig);
  if (!signature || !verify(key.key, signed, signature)) {
    return { verdict: 'bad_signature', reason: `${where}: sig: does not verify with the terminal's registered key (the record was altered, or not signed by this terminal)` };
  }
  const correction = envelope.data[TIME_CORRECTION_FIELD];
  if (correction) {
    const correctionSig = fromBase64(correction.sig);
    if (!correctionSig || !verify(key.key, correctionBytes(envelope.data.id, recordHash, correction.offsetMs), correctionSig)) {
      return { verdict: 'bad_signature', reason: `${where}: ${TIME_CORRECTION_FIELD}.sig: does not verify with the terminal's registered key` };
    }
  }
  return { verdict: 'genuine', link: { seq, hash: recordHash, prev }, where };
}

/** The second half of verifySealed: a genuine record's place in the chain the receiver holds (any other check is the verdict as it is). */
export function placeSealed(check: SealCheck, chain: ChainView): SealVerdict {
  if (check.verdict !== 'genuine') return check;
  const { link, where } = check;
  const { seq, hash, prev } = link;
  const held = chain.at(seq);
  if (held) {
    if (held.hash === hash) return { verdict: 'ok', link }; // the same record again: a resend
    return { verdict: 'broken_chain', reason: `${where}: another record with seq ${seq} was already verified (hash ${held.hash.slice(0, 12)}…): two records claim one place` };
  }
  const next = chain.at(seq + 1);
  if (next && next.prev !== hash) {
    return { verdict: 'broken_chain', reason: `${where}: the verified record ${seq + 1}'s prev is ${next.prev.slice(0, 12)}…, not this record's hash ${hash.slice(0, 12)}…` };
  }
  const before = chain.at(seq - 1);
  if (before) {
    if (prev === before.hash) return { verdict: 'ok', link };
    return { verdict: 'broken_chain', reason: `${where}: prev: ${prev.slice(0, 12)}… is not the hash of verified record ${seq - 1} (${before.hash.slice(0, 12)}…)` };
  }
  if (seq === 1 && prev !== GENESIS) return { verdict: 'broken_chain', reason: `${where}: prev: the first record's prev must be the genesis value (64 zeros)` };
  // The first sealed record after unsealed ones (an upgraded bridge) starts its chain at any seq.
  if (seq === 1 || prev === GENESIS) return { verdict: 'ok', link };
  const last = chain.last();
  if (last && last.seq > seq) return { verdict: 'ok', link }; // late, into a gap already reported
  const from = last ? last.seq + 1 : 1;
  return { verdict: 'gap', link, from, to: seq - 1, reason: `${where}: records ${from}..${seq - 1} of this terminal have not been seen (prev ${prev.slice(0, 12)}…)` };
}

type SealedEnvelope = z.infer<typeof sealedEnvelopeSchema>;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The seal's fields, as sealedEnvelopeSchema reads them. A well-formed envelope (nearly every
 * one) is read directly, field by field, under exactly the schema's rules; anything else goes to
 * the schema, which names what is wrong.
 */
function sealedEnvelope(obj: Record<string, unknown>): { ok: true; data: SealedEnvelope } | { ok: false; problems: string[] } {
  const { id, schema, seq, prev, sig } = obj;
  const correction = obj[TIME_CORRECTION_FIELD];
  if (
    typeof id === 'string' &&
    id.length >= 1 &&
    schema === SEALED_RECORD_SCHEMA &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq) &&
    seq > 0 &&
    typeof prev === 'string' &&
    HEX64.test(prev) &&
    isBase64Field(sig) &&
    (correction === undefined || wellFormedCorrection(correction))
  ) {
    const timeCorrection = correction === undefined ? undefined : { offsetMs: correction.offsetMs, sig: correction.sig };
    return { ok: true, data: { id, schema, seq, prev, sig, [TIME_CORRECTION_FIELD]: timeCorrection } as SealedEnvelope };
  }
  return explain(sealedEnvelopeSchema, obj);
}

function isBase64Field(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 200;
}

function wellFormedCorrection(value: unknown): value is { offsetMs: number; sig: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const { offsetMs, sig } = value as Record<string, unknown>;
  return typeof offsetMs === 'number' && Number.isSafeInteger(offsetMs) && isBase64Field(sig);
}
