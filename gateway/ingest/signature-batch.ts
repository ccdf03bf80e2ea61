import type { Ed25519Verify } from '../../protocol/seal/seal.js';

/** One Ed25519 signature to check: the bytes exactly as the seal gives them (sizes are the verifier's to judge). */
export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Per check: key length (u16), signature length (u16), message length (u32), then the three. */
const HEADER = 8;

/** The checks in one buffer, so that a batch crosses to a worker thread as one transfer, not a clone per record. */
export function packChecks(checks: readonly SignatureCheck[]): Uint8Array<ArrayBuffer> {
  let size = 4;
  for (const c of checks) size += HEADER + c.publicKey.byteLength + c.signature.byteLength + c.message.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, checks.length);
  let at = 4;
  for (const { publicKey, signature, message } of checks) {
    if (publicKey.byteLength > 0xffff || signature.byteLength > 0xffff) throw new RangeError('a key or signature over 65,535 bytes is no Ed25519 key or signature');
    view.setUint16(at, publicKey.byteLength);
    view.setUint16(at + 2, signature.byteLength);
    view.setUint32(at + 4, message.byteLength);
    at += HEADER;
    for (const part of [publicKey, signature, message]) {
      bytes.set(part, at);
      at += part.byteLength;
    }
  }
  return bytes;
}

/**
 * Checks every signature of a packed batch: one byte per check, 1 for a signature that verifies.
 * A buffer that is not a whole batch throws (it came from packChecks, in this process).
 */
export function verifyPacked(bytes: Uint8Array, verify: Ed25519Verify): Uint8Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0);
  const results = new Uint8Array(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const keyLength = view.getUint16(at);
    const signatureLength = view.getUint16(at + 2);
    const messageLength = view.getUint32(at + 4);
    at += HEADER;
    const end = at + keyLength + signatureLength + messageLength;
    if (end > bytes.byteLength) throw new RangeError(`signature batch: check ${i} of ${count} runs past the end of the buffer`);
    const publicKey = bytes.subarray(at, at + keyLength);
    const signature = bytes.subarray(at + keyLength, at + keyLength + signatureLength);
    const message = bytes.subarray(at + keyLength + signatureLength, end);
    results[i] = verify(publicKey, message, signature) ? 1 : 0;
    at = end;
  }
  if (at !== bytes.byteLength) throw new RangeError(`signature batch: ${bytes.byteLength - at} bytes left after ${count} checks`);
  return results;
}
