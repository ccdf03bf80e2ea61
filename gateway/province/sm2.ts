import { randomBytes } from 'node:crypto';
import { sm2, sm3 } from 'sm-crypto-v2';

/*
 * Contract: SM2 (国密) signatures for the provincial envelope, with sm-crypto-v2 (typed, on
 * @noble/curves). A signature is SM2 over SM3(Z ‖ message), Z made from the signer's user id
 * (GM/T 0009's default 1234567812345678) and public key: what OpenSSL does with
 * `-digest sm3 -pkeyopt distid:…` (tests/integration/sm2-openssl.test.ts checks both ways).
 * Keys are hex: the private key 64 characters, the public key 04‖x‖y (130) or compressed (66).
 *   sm2Sign(message, privateKey, { format, userId }) → the signature as the format writes it
 *   sm2Verify(message, signature, publicKey, { format, userId }) → boolean, never throws
 *   generateSm2KeyPair(random?) → { privateKey, publicKey }  (for `hcp gateway province keygen`)
 */

export type Sm2SignatureFormat = 'raw_hex' | 'der_hex' | 'der_base64';
export interface Sm2Options {
  format: Sm2SignatureFormat;
  /** The signer's identity in Z; default 1234567812345678. */
  userId?: string;
}
export interface Sm2KeyPair {
  /** 64 hex characters. */
  privateKey: string;
  /** 04‖x‖y, 130 hex characters. */
  publicKey: string;
}

export const DEFAULT_SM2_USER_ID = '1234567812345678';

/** The SM2 curve's order n (GM/T 0003.5). */
const ORDER = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

const PRIVATE_KEY_HEX = /^[0-9a-f]{64}$/;

/** A private key is 1 ≤ d ≤ n−2 (d = n−1 would make (1+d) uninvertible in the signature). */
export function isSm2PrivateKeyHex(key: string): boolean {
  if (!PRIVATE_KEY_HEX.test(key)) return false;
  const d = BigInt(`0x${key}`);
  return d >= 1n && d <= ORDER - 2n;
}

/** A public key on the curve, uncompressed or compressed. */
export function isSm2PublicKeyHex(key: string): boolean {
  if (!/^04[0-9a-f]{128}$/.test(key) && !/^0[23][0-9a-f]{64}$/.test(key)) return false;
  try {
    return sm2.verifyPublicKey(key);
  } catch {
    return false;
  }
}

/** The uncompressed public key of a private key. */
export function sm2PublicKeyOf(privateKey: string): string {
  if (!isSm2PrivateKeyHex(privateKey)) throw new RangeError('not an SM2 private key (64 hex characters, 1 ≤ d ≤ n−2)');
  return sm2.getPublicKeyFromPrivateKey(privateKey);
}

/** Whether two public keys (either form) are the same point. */
export function sameSm2PublicKey(a: string, b: string): boolean {
  try {
    return sm2.comparePublicKeyHex(a, b);
  } catch {
    return false;
  }
}

/**
 * A fresh key pair. d is 48 random bytes reduced into [1, n−2]: 128 bits more than n, so the
 * reduction's bias is negligible (FIPS 186-5 A.2.1). `random` is injectable for tests.
 */
export function generateSm2KeyPair(random: (bytes: number) => Uint8Array = randomBytes): Sm2KeyPair {
  const seed = BigInt(`0x${Buffer.from(random(48)).toString('hex')}`);
  const d = (seed % (ORDER - 2n)) + 1n;
  const privateKey = d.toString(16).padStart(64, '0');
  return { privateKey, publicKey: sm2.getPublicKeyFromPrivateKey(privateKey) };
}

/** SM3 of a text's UTF-8 bytes, hex. */
export function sm3Hex(text: string): string {
  return sm3(text);
}

/**
 * `message` (its UTF-8 bytes) signed with the private key. `point` fixes the signature's
 * random k (its x1 = (kG).x): for known-answer tests only, never in use.
 */
export function sm2Sign(message: string, privateKey: string, options: Sm2Options, point?: { k: bigint; x1: bigint }): string {
  const publicKey = sm2PublicKeyOf(privateKey);
  const der = options.format !== 'raw_hex';
  const hex = sm2.doSignature(message, privateKey, {
    hash: true,
    der,
    publicKey,
    userId: options.userId ?? DEFAULT_SM2_USER_ID,
    ...(point && { pointPool: [point] }),
  });
  return options.format === 'der_base64' ? Buffer.from(hex, 'hex').toString('base64') : hex;
}

/** Whether `signature` (as the format writes it) is the public key's over `message`. Malformed input is false, never an exception. */
export function sm2Verify(message: string, signature: string, publicKey: string, options: Sm2Options): boolean {
  if (typeof signature !== 'string' || !isSm2PublicKeyHex(publicKey)) return false;
  let hex: string;
  if (options.format === 'der_base64') {
    if (!/^[A-Za-z0-9+/]{8,200}={0,2}$/.test(signature)) return false;
    hex = Buffer.from(signature, 'base64').toString('hex');
  } else {
    hex = signature.toLowerCase();
  }
  // r‖s is exactly 64 bytes; a DER SEQUENCE of two INTEGERs of the curve's size is 8 to 72.
  if (options.format === 'raw_hex' ? !/^[0-9a-f]{128}$/.test(hex) : !/^30[0-9a-f]{12,142}$/.test(hex) || hex.length % 2 !== 0) return false;
  try {
    return sm2.doVerifySignature(message, hex, publicKey, { hash: true, der: options.format !== 'raw_hex', userId: options.userId ?? DEFAULT_SM2_USER_ID });
  } catch {
    return false;
  }
}
