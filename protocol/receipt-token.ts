import { utf8ToBytes } from '@noble/hashes/utils.js';
import { ed25519Valid, fromBase64, publicKeyBytes, toBase64, type Ed25519Verify, type Sign } from './seal/seal.js';

/**
 * The token on a printed receipt's QR code: the terminal signs (Ed25519) which invitation and
 * which case numbers the receipt is for, so that the rating page (the gateway's or the
 * province's) can tell a genuine receipt from a forged one and tie a later rating to the case.
 * Ed25519 rather than HMAC: the page verifies with the terminal's registered public key, and no
 * shared secret leaves the terminal. The key is the terminal's own (bridge/identity/terminal-key.ts),
 * the one that seals its records; the signed text starts with its own domain ("hcp-receipt").
 * Pure (no Node APIs): the bridge signs and any receiver verifies with the same definitions.
 */
export const RECEIPT_TOKEN_VERSION = '1';

/** The query parameters the token takes in the URL, in order. */
export const RECEIPT_TOKEN_PARAMS = ['v', 't', 'i', 'c', 'ts', 's'] as const;

export interface ReceiptClaims {
  terminalId: string;
  invitationId: string;
  caseNos: string[];
  /** Seconds since the epoch when the receipt was issued. */
  issuedAt: number;
}

/** A token read from a URL, not yet verified. */
export interface ReceiptToken {
  claims: ReceiptClaims;
  signature: Uint8Array;
}

function signedBytes(c: ReceiptClaims): Uint8Array {
  return utf8ToBytes(['hcp-receipt', RECEIPT_TOKEN_VERSION, c.terminalId, c.invitationId, c.caseNos.join(','), String(c.issuedAt)].join('\n'));
}

const toBase64Url = (bytes: Uint8Array): string => toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Strict base64url (unpadded, one spelling per bytes) to bytes; undefined when it is not that. */
function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const standard = text.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(standard + '='.repeat((4 - (standard.length % 4)) % 4));
}

/** The evaluation URL with the claims and their signature as query parameters. */
export function signedEvaluationUrl(baseUrl: string, claims: ReceiptClaims, sign: Sign): string {
  const url = new URL(baseUrl);
  url.searchParams.set('v', RECEIPT_TOKEN_VERSION);
  url.searchParams.set('t', claims.terminalId);
  url.searchParams.set('i', claims.invitationId);
  url.searchParams.set('c', claims.caseNos.join(','));
  url.searchParams.set('ts', String(claims.issuedAt));
  url.searchParams.set('s', toBase64Url(sign(signedBytes(claims))));
  return url.toString();
}

export type TokenReading = { ok: true; token: ReceiptToken } | { ok: false; reason: string };

/**
 * The token in a URL's query, checked for form only (the signature is not checked here: the
 * receiver first finds the terminal's key). Each parameter must be given once; other parameters
 * (the page's own, such as `src=receipt`) are left alone.
 */
export function readReceiptToken(params: URLSearchParams): TokenReading {
  const values: Partial<Record<(typeof RECEIPT_TOKEN_PARAMS)[number], string>> = {};
  for (const key of RECEIPT_TOKEN_PARAMS) {
    const all = params.getAll(key);
    if (all.length > 1) return { ok: false, reason: `token parameter ${key} given ${all.length} times` };
    if (all[0] !== undefined) values[key] = all[0];
  }
  const { v, t, i, c, ts, s } = values;
  if (v === undefined && t === undefined && s === undefined) return { ok: false, reason: 'no receipt token' };
  if (v !== RECEIPT_TOKEN_VERSION) return { ok: false, reason: `unknown token version ${String(v)}` };
  if (!t || !i || !c || !ts || !s || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'token parameters missing' };
  const signature = fromBase64Url(s);
  if (signature?.length !== 64) return { ok: false, reason: 'token signature: not 64 bytes of base64url' };
  return { ok: true, token: { claims: { terminalId: t, invitationId: i, caseNos: c.split(','), issuedAt: Number(ts) }, signature } };
}

/** Checks a token's signature with the terminal's public key (SPKI DER, base64, as registered); never throws. */
export function receiptSignatureValid(token: ReceiptToken, publicKey: string, verify: Ed25519Verify = ed25519Valid): boolean {
  const key = publicKeyBytes(publicKey);
  return key.ok && verify(key.key, signedBytes(token.claims), token.signature);
}

export type Verification = { ok: true; claims: ReceiptClaims } | { ok: false; reason: string };

/** A scanned URL checked against the terminal's key (SPKI DER, base64): what a rating page does first. */
export function verifyEvaluationUrl(scanned: string, publicKey: string, verify: Ed25519Verify = ed25519Valid): Verification {
  let url: URL;
  try {
    url = new URL(scanned);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  const read = readReceiptToken(url.searchParams);
  if (!read.ok) return read;
  return receiptSignatureValid(read.token, publicKey, verify) ? { ok: true, claims: read.token.claims } : { ok: false, reason: 'signature does not match: forged or altered receipt' };
}
