import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, canonicalMembers } from './canonical-json.js';

/**
 * The seal of a record (layout 2, docs/protocol.md): the terminal signs, with its Ed25519 key,
 * the canonical JSON of everything in the record but its signature, and chains it to the
 * previous record of the same terminal by that record's hash. Pure (no Node APIs), so that the
 * bridge seals and any receiver verifies with the same definitions.
 */

/** `prev` of a terminal's first sealed record (after an upgrade: the first after its unsealed ones). */
export const GENESIS = '0'.repeat(64);

/**
 * Beside the seal, never inside it: a correction of the record's times the bridge learnt after
 * the record was sealed (its clock was not trusted when the record was made), signed on its own.
 */
export const TIME_CORRECTION_FIELD = 'timeCorrection';

/** Signs bytes with the terminal's private key (the bridge's node:crypto key; a test's noble key). */
export type Sign = (message: Uint8Array) => Uint8Array;

type Body = Record<string, unknown>;

// Domain separation: the same key signs receipt tokens (protocol/receipt-token.ts).
const RECORD_DOMAIN = 'hcp-record\n';
const CORRECTION_DOMAIN = 'hcp-time-correction\n';

function without(body: Body, ...keys: string[]): Body {
  const rest = { ...body };
  for (const key of keys) delete rest[key];
  return rest;
}

/** The bytes a record's `sig` signs: its canonical JSON without `sig` (and without a time correction). */
export function signedBytes(body: Body): Uint8Array {
  return sealTexts(body).signedBytes();
}

/** A sealed record's hash, the next record's `prev`: SHA-256 (hex) of its canonical JSON, `sig` included. */
export function recordHash(body: Body, hash: Sha256Hex = sha256Hex): string {
  return sealTexts(body).hash(hash);
}

/** SHA-256 of a text's UTF-8 bytes, lowercase hex. A port: a receiver on Node may give node:crypto's. */
export type Sha256Hex = (text: string) => string;

/** SHA-256 in pure JS (noble). */
export const sha256Hex: Sha256Hex = (text) => bytesToHex(sha256(utf8ToBytes(text)));

/** What a record's seal covers, from one pass over its members: the bytes its `sig` signs and its hash. */
export interface SealTexts {
  /** signedBytes(body). */
  signedBytes(): Uint8Array;
  /** recordHash(body). */
  hash(hash?: Sha256Hex): string;
}

/** signedBytes and recordHash of one body, its members written once (both leave out the time correction; the hash keeps `sig`). Throws as canonicalJson does. */
export function sealTexts(body: Body): SealTexts {
  const members = canonicalMembers(body).filter(([key]) => key !== TIME_CORRECTION_FIELD);
  const join = (kept: readonly [string, string][]): string => `{${kept.map(([, member]) => member).join(',')}}`;
  return {
    signedBytes: () => utf8ToBytes(RECORD_DOMAIN + join(members.filter(([key]) => key !== 'sig'))),
    hash: (hash = sha256Hex) => hash(join(members)),
  };
}

/** Seals a record laid out for the wire (its `seq` set): adds `prev` and `sig`. */
export function sealBody(body: Body, prev: string, sign: Sign): Body & { prev: string; sig: string } {
  const unsigned = { ...without(body, 'sig', TIME_CORRECTION_FIELD), prev };
  return { ...unsigned, sig: toBase64(sign(signedBytes(unsigned))) };
}

/** The bytes a time correction's `sig` signs: which record (id and hash) and by how much. */
export function correctionBytes(id: string, hash: string, offsetMs: number): Uint8Array {
  return utf8ToBytes(CORRECTION_DOMAIN + canonicalJson({ id, hash, offsetMs }));
}

/** Adds a signed time correction to a sealed record: its times were `offsetMs` off. */
export function withTimeCorrection(sealed: Body & { id: string }, offsetMs: number, sign: Sign): Body {
  const sig = toBase64(sign(correctionBytes(sealed.id, recordHash(sealed), offsetMs)));
  return { ...sealed, [TIME_CORRECTION_FIELD]: { offsetMs, sig } };
}

/**
 * Checks an Ed25519 signature with a raw 32-byte public key; never throws. A port: this pure one
 * runs anywhere, a receiver on Node may give node:crypto's, about fifteen times faster.
 */
export type Ed25519Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Ed25519 verification in pure JS that never throws: a malformed key or signature is simply not valid. */
export const ed25519Valid: Ed25519Verify = function ed25519Valid(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    // Strict RFC 8032 (not ZIP 215): one valid signature per message, so a record cannot be re-signed into another shape.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

/** An Ed25519 public key as SPKI DER (RFC 8410): this fixed header (hex), then the 32 key bytes. */
export const ED25519_SPKI_HEADER = '302a300506032b6570032100';

/**
 * The raw Ed25519 key inside a registered public key (protocol/registration.ts: SPKI DER,
 * base64), or a reason it is not one. The same bytes for the same key each time: read them, never change them.
 */
export function publicKeyBytes(spkiBase64: string): { ok: true; key: Uint8Array } | { ok: false; reason: string } {
  // A receiver reads the same few thousand keys over and over: each decoded once (the same bytes object each time).
  let known = publicKeys.get(spkiBase64);
  if (!known) {
    if (publicKeys.size >= MAX_KNOWN_KEYS) publicKeys.clear();
    publicKeys.set(spkiBase64, (known = decodePublicKey(spkiBase64)));
  }
  return known;
}

const publicKeys = new Map<string, ReturnType<typeof decodePublicKey>>();
const MAX_KNOWN_KEYS = 100_000;

function decodePublicKey(spkiBase64: string): { ok: true; key: Uint8Array } | { ok: false; reason: string } {
  const der = fromBase64(spkiBase64);
  if (!der) return { ok: false, reason: 'publicKey: not base64' };
  if (der.length !== 44 || bytesToHex(der.subarray(0, 12)) !== ED25519_SPKI_HEADER) {
    return { ok: false, reason: 'publicKey: not an Ed25519 public key (SPKI DER, 44 bytes)' };
  }
  return { ok: true, key: der.subarray(12) };
}

export function toBase64(bytes: Uint8Array): string {
  let text = '';
  // In slices: fromCharCode takes its bytes as arguments.
  for (let at = 0; at < bytes.length; at += 0x8000) text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(text);
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Whether the bits a padded base64 text's last character carries beyond its bytes are zero: then,
 * and only then, is it toBase64 of its bytes (the text already well-formed, padded, a multiple of 4).
 */
function zeroPaddingBits(text: string): boolean {
  if (text.endsWith('==')) return (BASE64_ALPHABET.indexOf(text.charAt(text.length - 3)) & 0x0f) === 0;
  if (text.endsWith('=')) return (BASE64_ALPHABET.indexOf(text.charAt(text.length - 2)) & 0x03) === 0;
  return true;
}

/** Strict base64 (standard alphabet, padded) to bytes; undefined when it is not that. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    // Only the one spelling of these bytes: another (stray low bits) would change the record's hash, not its signature.
    return zeroPaddingBits(text) ? bytes : undefined;
  } catch {
    return undefined;
  }
}
