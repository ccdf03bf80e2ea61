import { sm2 } from 'sm-crypto-v2';

/**
 * The province checks a caller's SM2 signature over `time + appMark + appWord` with the public
 * key registered for the `appMark`: SM3 with Z over the user id (GM/T 0009's default
 * 1234567812345678) and that key, as sm-crypto's `hash: true` makes it. sm-crypto-v2 directly,
 * on purpose: this is the province's code, not the gateway's signer (gateway/province/sm2.ts),
 * so that a mistake in one is caught by the other. The format names are the profile's
 * (`sm2.signatureFormat`).
 */
export type SignatureFormat = 'raw_hex' | 'der_hex' | 'der_base64';
export const DEFAULT_USER_ID = '1234567812345678';

/** The text that is signed. */
export const signedText = (time: string, appMark: string, appWord: string): string => `${time}${appMark}${appWord}`;

/** True for an SM2 public key in hex (04‖x‖y or compressed) that is a point on the curve. */
export function isSm2PublicKey(hex: string): boolean {
  if (!/^(04[0-9a-fA-F]{128}|0[23][0-9a-fA-F]{64})$/.test(hex)) return false;
  try {
    return sm2.verifyPublicKey(hex);
  } catch {
    return false;
  }
}

/** The signature as hex, or undefined when it cannot be one in `format`. */
function signatureHex(sign: string, format: SignatureFormat): string | undefined {
  const text = sign.trim();
  if (format === 'der_base64') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
    return Buffer.from(text, 'base64').toString('hex');
  }
  if (!/^[0-9a-fA-F]+$/.test(text) || text.length % 2 !== 0) return undefined;
  if (format === 'raw_hex' && text.length !== 128) return undefined;
  return text.toLowerCase();
}

/** Whether `sign` verifies; false (never a throw) for anything that is not such a signature. */
export function verifySm2(message: string, sign: string, publicKey: string, format: SignatureFormat, userId = DEFAULT_USER_ID): boolean {
  const hex = signatureHex(sign, format);
  // A DER SEQUENCE starts 30; r‖s is exactly 64 bytes.
  if (hex === undefined || (format !== 'raw_hex' && !hex.startsWith('30'))) return false;
  try {
    return sm2.doVerifySignature(message, hex, publicKey, { hash: true, der: format !== 'raw_hex', userId });
  } catch {
    return false;
  }
}

/** Signs as a caller would: for tests and lab callers (the gateway has its own signer). */
export function signSm2(message: string, privateKey: string, publicKey: string, format: SignatureFormat, userId = DEFAULT_USER_ID): string {
  const hex = sm2.doSignature(message, privateKey, { hash: true, publicKey, der: format !== 'raw_hex', userId });
  return format === 'der_base64' ? Buffer.from(hex, 'hex').toString('base64') : hex;
}
