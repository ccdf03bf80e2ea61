import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * The token on a printed receipt's QR code: the terminal signs (Ed25519) which invitation and
 * which case numbers the receipt is for, so that the province can tell a genuine receipt from a
 * forged one and tie a later rating to the case. Ed25519 rather than HMAC: the province verifies
 * with the terminal's public key, and no shared secret leaves the terminal. The key is the
 * terminal's own (bridge/identity/terminal-key.ts), the one that seals its records.
 */
const TOKEN_VERSION = '1';

export interface ReceiptClaims {
  terminalId: string;
  invitationId: string;
  caseNos: string[];
  /** Seconds since the epoch when the receipt was issued. */
  issuedAt: number;
}

function signedText(c: ReceiptClaims): string {
  return ['hcp-receipt', TOKEN_VERSION, c.terminalId, c.invitationId, c.caseNos.join(','), String(c.issuedAt)].join('\n');
}

/** The evaluation URL with the claims and their signature as query parameters. */
export function signedEvaluationUrl(baseUrl: string, claims: ReceiptClaims, privateKey: KeyObject): string {
  const url = new URL(baseUrl);
  url.searchParams.set('v', TOKEN_VERSION);
  url.searchParams.set('t', claims.terminalId);
  url.searchParams.set('i', claims.invitationId);
  url.searchParams.set('c', claims.caseNos.join(','));
  url.searchParams.set('ts', String(claims.issuedAt));
  url.searchParams.set('s', sign(null, Buffer.from(signedText(claims)), privateKey).toString('base64url'));
  return url.toString();
}

export type Verification = { ok: true; claims: ReceiptClaims } | { ok: false; reason: string };

/** What the province does with a scanned URL: checks the signature against the terminal's key. */
export function verifyEvaluationUrl(scanned: string, publicKey: KeyObject): Verification {
  let url: URL;
  try {
    url = new URL(scanned);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  const p = url.searchParams;
  const [v, t, i, c, ts, s] = ['v', 't', 'i', 'c', 'ts', 's'].map((k) => p.get(k));
  if (v !== TOKEN_VERSION) return { ok: false, reason: `unknown token version ${String(v)}` };
  if (!t || !i || !c || !ts || !s || !/^\d+$/.test(ts)) return { ok: false, reason: 'token parameters missing' };
  const claims: ReceiptClaims = { terminalId: t, invitationId: i, caseNos: c.split(','), issuedAt: Number(ts) };
  const good = verify(null, Buffer.from(signedText(claims)), publicKey, Buffer.from(s, 'base64url'));
  return good ? { ok: true, claims } : { ok: false, reason: 'signature does not match: forged or altered receipt' };
}
