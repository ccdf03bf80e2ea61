import { z } from 'zod';
import { explain } from '../issues.js';
import { SEALED_RECORD_SCHEMA } from '../records.js';
import { correctionBytes, ed25519Valid, fromBase64, type Ed25519Verify, GENESIS, publicKeyBytes, recordHash, signedBytes, TIME_CORRECTION_FIELD } from './seal.js';

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
 * however hostile, gets a verdict with a reason naming the record and the field.
 */
export function verifySealed(body: unknown, publicKey: string | undefined, chain: ChainView, verify: Ed25519Verify = ed25519Valid): SealVerdict {
  const obj = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const named = typeof obj?.id === 'string' ? `record ${obj.id}` : 'record';
  if (obj?.schema !== SEALED_RECORD_SCHEMA) {
    return { verdict: 'unsigned', reason: `${named}: schema ${JSON.stringify(obj?.schema)} carries no seal (sealed records are schema ${SEALED_RECORD_SCHEMA})` };
  }
  const envelope = explain(sealedEnvelopeSchema, obj);
  if (!envelope.ok) return { verdict: 'malformed', reason: `${named}: ${envelope.problems.join('; ')}` };
  const { seq, prev, sig } = envelope.data;
  const where = `${named} (seq ${seq})`;
  if (publicKey === undefined) return { verdict: 'unknown_key', reason: `${where}: no public key registered for its terminal` };
  const key = publicKeyBytes(publicKey);
  if (!key.ok) return { verdict: 'unknown_key', reason: `${where}: the registered ${key.reason}` };

  let hash: string;
  let signed: Uint8Array;
  try {
    signed = signedBytes(obj);
    hash = recordHash(obj);
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
    if (!correctionSig || !verify(key.key, correctionBytes(envelope.data.id, hash, correction.offsetMs), correctionSig)) {
      return { verdict: 'bad_signature', reason: `${where}: ${TIME_CORRECTION_FIELD}.sig: does not verify with the terminal's registered key` };
    }
  }

  const link: ChainLink = { seq, hash, prev };
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
