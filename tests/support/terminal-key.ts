import { generateKeyPairSync } from 'node:crypto';
import { publicKeyText, signerOf, type TerminalIdentity } from '../../bridge/identity/terminal-key.js';

/** A fresh terminal key as the bridge holds one (no file): for sealing records in tests. */
export function testIdentity(): TerminalIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKeyText(publicKey), sign: signerOf(privateKey) };
}
