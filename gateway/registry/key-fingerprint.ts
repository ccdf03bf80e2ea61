import { createHash } from 'node:crypto';

/**
 * What an operator reads and types for a terminal key: the SHA-256 of its SPKI bytes, in hex.
 * Not a prefix of the key itself: every Ed25519 SPKI key starts with the same 16 base64
 * characters, so a key's prefix tells keys apart no better than nothing.
 */
export function keyFingerprint(publicKey: string): string {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex');
}

/** How the fingerprint is shown in lists: its first 16 hex digits, in groups of four. */
export function shortFingerprint(publicKey: string): string {
  return keyFingerprint(publicKey).slice(0, 16).replace(/(.{4})(?!$)/g, '$1:');
}

/** The fewest hex digits of a fingerprint an operator must give: 8 (32 bits) leaves no accident. */
export const MIN_FINGERPRINT_DIGITS = 8;

/**
 * Whether what the operator typed names `publicKey`: the whole key, or at least 8 leading hex
 * digits of its fingerprint (colons and spaces as the list shows them are allowed, any case).
 */
export function namesKey(given: string, publicKey: string): boolean {
  if (given === publicKey) return true;
  const digits = given.replace(/[:\s]/g, '').toLowerCase();
  return /^[0-9a-f]+$/.test(digits) && digits.length >= MIN_FINGERPRINT_DIGITS && keyFingerprint(publicKey).startsWith(digits);
}
