import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Sign } from '../../protocol/seal/seal.js';
import type { Logger } from '../log.js';
import { readSecretFile, SecretFileRefused } from '../secret-file.js';

/**
 * The terminal's one Ed25519 key: made at provisioning (or first start), its public half
 * registered with the province (protocol/registration.ts). It seals every record the bridge
 * stores (protocol/seal/) and signs the receipts' QR tokens (protocol/receipt-token.ts).
 */

/** Where the terminal's key lives: printer.keyFile, or beside the database. */
export function terminalKeyFile(config: { database: { path: string }; printer?: { keyFile?: string | undefined } | undefined }): string {
  return config.printer?.keyFile ?? join(dirname(config.database.path), 'terminal-key.pem');
}

/** The terminal's signing key: read from `path` (refused unless only its owner may read it), or made there (mode 0600) on first use. */
export function loadOrCreateSigningKey(path: string): { privateKey: KeyObject; publicKey: KeyObject; created: boolean } {
  if (existsSync(path)) {
    let pem: string;
    try {
      pem = readSecretFile(path, { ownerOnly: true });
    } catch (error) {
      if (error instanceof SecretFileRefused) throw new Error(`${path}: the terminal's private key ${error.message} (chmod 600 ${path})`, { cause: error });
      throw error;
    }
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: expected an Ed25519 private key (PEM)`);
    return { privateKey, publicKey: createPublicKey(privateKey), created: false };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return { privateKey, publicKey, created: true };
}

/** The public key as the province registers it: SPKI DER, base64. */
export function publicKeyText(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** The key as the seal's signing port (protocol/seal/seal.ts `Sign`). */
export function signerOf(privateKey: KeyObject): Sign {
  return (message) => new Uint8Array(sign(null, message, privateKey));
}

/** The terminal's key as the bridge uses it. */
export interface TerminalIdentity {
  privateKey: KeyObject;
  /** SPKI DER, base64: what the province registers. */
  publicKey: string;
  sign: Sign;
}

/** Loads (or, on a first start without provisioning, makes) the terminal's key at its configured place. */
export function loadTerminalIdentity(config: Parameters<typeof terminalKeyFile>[0], logger: Pick<Logger, 'info'>): TerminalIdentity {
  const keyFile = terminalKeyFile(config);
  const key = loadOrCreateSigningKey(keyFile);
  const publicKey = publicKeyText(key.publicKey);
  if (key.created) logger.info({ keyFile, publicKey }, 'made the terminal signing key; register its public key with the province');
  return { privateKey: key.privateKey, publicKey, sign: signerOf(key.privateKey) };
}
