import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { ED25519_SPKI_HEADER, type Ed25519Verify, type Sha256Hex } from '../../protocol/seal/seal.js';

/** Parsed keys by hex: a receiver sees the same few thousand terminal keys over and over. */
const keyObjects = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 100_000;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** node:crypto's Ed25519 (OpenSSL: strict, s < L), for the protocol's verifier: a receiver checks every record. */
export const nodeEd25519Verify: Ed25519Verify = (publicKey, message, signature) => {
  // OpenSSL would read a longer key's first 32 bytes (the DER's trailing bytes ignored).
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES) return false;
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let key = keyObjects.get(hex);
  try {
    if (!key) {
      if (keyObjects.size >= MAX_CACHED_KEYS) keyObjects.clear();
      keyObjects.set(hex, (key = createPublicKey({ key: Buffer.from(ED25519_SPKI_HEADER + hex, 'hex'), format: 'der', type: 'spki' })));
    }
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
};

/** The one function of sodium-native (libsodium) the gateway uses. */
export interface SodiumVerify {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/**
 * libsodium's Ed25519 (about twice as fast as OpenSSL's here: the gateway checks every record).
 * Stricter than OpenSSL, never looser: both refuse s ≥ L; libsodium also refuses small-order and
 * non-canonical keys and R, which no honestly made key or signature is. Sizes are checked here:
 * libsodium would read the first 64 bytes of a longer signature, OpenSSL refuses it.
 */
export function sodiumEd25519Verify(sodium: SodiumVerify): Ed25519Verify {
  return (publicKey, message, signature) => {
    if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) return false;
    try {
      return sodium.crypto_sign_verify_detached(signature, message, publicKey) === true;
    } catch {
      return false;
    }
  };
}

/** sodium-native if it loads on this platform (a prebuilt native addon), else undefined. */
export function loadSodium(load: (name: string) => unknown = createRequire(import.meta.url)): SodiumVerify | undefined {
  try {
    const sodium = load('sodium-native') as Partial<SodiumVerify> | undefined;
    return typeof sodium?.crypto_sign_verify_detached === 'function' ? (sodium as SodiumVerify) : undefined;
  } catch {
    return undefined;
  }
}

/** The faster Ed25519 verifier: libsodium's if it loaded (loadSodium), else node:crypto's. */
export function fastestEd25519Verify(sodium: SodiumVerify | undefined): { name: 'libsodium' | 'node:crypto'; verify: Ed25519Verify } {
  return sodium ? { name: 'libsodium', verify: sodiumEd25519Verify(sodium) } : { name: 'node:crypto', verify: nodeEd25519Verify };
}

let gatewayVerify: Ed25519Verify | undefined;

/** The gateway's default verifier (fastestEd25519Verify, chosen once). */
export const gatewayEd25519Verify: Ed25519Verify = (publicKey, message, signature) => (gatewayVerify ??= fastestEd25519Verify(loadSodium()).verify)(publicKey, message, signature);

/** node:crypto's SHA-256 (the same digest as the protocol's pure one, several times faster). */
export const nodeSha256Hex: Sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
