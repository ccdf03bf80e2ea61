import { closeSync, openSync, writeSync } from 'node:fs';
import { generateSm2KeyPair } from './sm2.js';

/*
 * Contract: `writeProvinceKeyFile(path)` for `hcp gateway province keygen`: makes an SM2 key pair,
 * writes the private key (64 hex characters and a line break) to a NEW file with mode 600 (an
 * existing file is never overwritten: it may be the key the province knows), and returns the
 * public key to print and give to the province (the profile's sm2.publicKey).
 */

export class KeyFileExists extends Error {
  override name = 'KeyFileExists';
}

export function writeProvinceKeyFile(path: string, random?: (bytes: number) => Uint8Array): { publicKey: string } {
  const pair = generateSm2KeyPair(random);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileExists(`${path} exists: the province may know its key; move it away first if you mean to replace it`);
    throw err;
  }
  try {
    writeSync(fd, `${pair.privateKey}\n`);
  } finally {
    closeSync(fd);
  }
  return { publicKey: pair.publicKey };
}
