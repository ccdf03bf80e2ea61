import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, publicKeyText, signerOf } from '../../bridge/identity/terminal-key.js';
import { signedEvaluationUrl, verifyEvaluationUrl } from '../../protocol/receipt-token.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claims = { terminalId: 'T-330106-A03', invitationId: '01a20394-3444-701f-b8a2-8d5659a29855', caseNos: ['330106202611220001', '330106202611220002'], issuedAt: 1795356243 };

describe('receipt token', () => {
  const keys = generateKeyPairSync('ed25519');
  const sign = signerOf(keys.privateKey);
  const publicKey = publicKeyText(keys.publicKey);

  it('signs the claims into the URL and the province verifies them', () => {
    const url = signedEvaluationUrl('https://hcp.province.example/rate?src=receipt', claims, sign);
    expect(url).toMatch(/^https:\/\/hcp\.province\.example\/rate\?src=receipt&v=1&t=T-330106-A03&i=01a2/);
    expect(verifyEvaluationUrl(url, publicKey)).toEqual({ ok: true, claims });
  });

  it('fails a changed case number, a changed invitation, and another terminal key', () => {
    const url = signedEvaluationUrl('https://hcp.province.example/rate', claims, sign);
    const changedCase = url.replace('330106202611220002', '330106202611220003');
    expect(verifyEvaluationUrl(changedCase, publicKey)).toEqual({ ok: false, reason: 'signature does not match: forged or altered receipt' });
    expect(verifyEvaluationUrl(url.replace('i=01a2', 'i=01a3'), publicKey).ok).toBe(false);
    expect(verifyEvaluationUrl(url, publicKeyText(generateKeyPairSync('ed25519').publicKey)).ok).toBe(false);
    expect(verifyEvaluationUrl(url.replace(/&s=[^&]+/, ''), publicKey)).toEqual({ ok: false, reason: 'token parameters missing' });
  });

  it('reads each token parameter once, a 64-byte signature in one spelling, and leaves the page\'s own parameters alone', () => {
    const url = signedEvaluationUrl('https://hcp.province.example/rate?src=receipt', claims, sign);
    expect(verifyEvaluationUrl(`${url}&c=330106202611220001`, publicKey)).toEqual({ ok: false, reason: 'token parameter c given 2 times' });
    expect(verifyEvaluationUrl(url.replace(/&s=([^&]+)/, (_, s: string) => `&s=${s.slice(0, -1)}`), publicKey)).toEqual({ ok: false, reason: 'token signature: not 64 bytes of base64url' });
    // The last character carries 2 spare bits: another spelling of the same bytes is refused, not read as the same signature.
    expect(verifyEvaluationUrl(url.replace(/&s=([^&]+)/, (_, s: string) => `&s=${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`), publicKey).ok).toBe(false);
    expect(verifyEvaluationUrl('https://hcp.province.example/rate?src=receipt', publicKey)).toEqual({ ok: false, reason: 'no receipt token' });
    expect(verifyEvaluationUrl(url, 'not-a-key')).toEqual({ ok: false, reason: 'signature does not match: forged or altered receipt' });
  });

  it('makes the key once (mode 0600) and reads it back after', () => {
    const path = join(dir, 'terminal.key');
    const first = loadOrCreateSigningKey(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSigningKey(path);
    expect(again.created).toBe(false);
    expect(publicKeyText(again.publicKey)).toBe(publicKeyText(first.publicKey));
  });
});
