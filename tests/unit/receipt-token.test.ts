import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, publicKeyText } from '../../bridge/identity/terminal-key.js';
import { signedEvaluationUrl, verifyEvaluationUrl } from '../../bridge/printer/receipt-token.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claims = { terminalId: 'T-330106-A03', invitationId: '01a20394-3444-701f-b8a2-8d5659a29855', caseNos: ['330106202611220001', '330106202611220002'], issuedAt: 1795356243 };

describe('receipt token', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  it('signs the claims into the URL and the province verifies them', () => {
    const url = signedEvaluationUrl('https://hcp.province.example/rate?src=receipt', claims, privateKey);
    expect(url).toMatch(/^https:\/\/hcp\.province\.example\/rate\?src=receipt&v=1&t=T-330106-A03&i=01a2/);
    expect(verifyEvaluationUrl(url, publicKey)).toEqual({ ok: true, claims });
  });

  it('fails a changed case number, a changed invitation, and another terminal key', () => {
    const url = signedEvaluationUrl('https://hcp.province.example/rate', claims, privateKey);
    const changedCase = url.replace('330106202611220002', '330106202611220003');
    expect(verifyEvaluationUrl(changedCase, publicKey)).toEqual({ ok: false, reason: 'signature does not match: forged or altered receipt' });
    expect(verifyEvaluationUrl(url.replace('i=01a2', 'i=01a3'), publicKey).ok).toBe(false);
    expect(verifyEvaluationUrl(url, generateKeyPairSync('ed25519').publicKey).ok).toBe(false);
    expect(verifyEvaluationUrl(url.replace(/&s=[^&]+/, ''), publicKey)).toEqual({ ok: false, reason: 'token parameters missing' });
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
