import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ED25519_SPKI_HEADER, type Ed25519Verify, type Sha256Hex } from '../../protocol/seal/seal.js';

/** Parsed keys by hex: a receiver sees the same few thousand terminal keys over and over. */
const keyObjects = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 100_000;

/** node:crypto's Ed25519 (OpenSSL: strict, s < L), for the protocol's verifier: a receiver checks every record. */
export const nodeEd25519Verify: Ed25519Verify = (publicKey, message, signature) => {
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

/** node:crypto's SHA-256 (the same digest as the protocol's pure one, several times faster). */
export const nodeSha256Hex: Sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
