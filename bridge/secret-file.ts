import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/*
 * A secret kept in a file of its own (the broker password: mqtt.passwordFile, provision's
 * --password-file), so that it is in no config shown around, no argv and no git.
 */

/** Far beyond any secret: a bigger file is the wrong one, refused before it is read. */
const MAX_BYTES = 64 * 1024;

/** Why the file cannot be the secret's; the message names no path (the caller does) and never the content. */
export class SecretFileRefused extends Error {
  override name = 'SecretFileRefused';
}

/**
 * The file's text less one final line break (`echo secret > file` adds it). Refused: anything
 * but a regular file (a FIFO would block, a device never end), one over 64 KB, one that is not
 * UTF-8 (decoding would silently change the secret), and with `ownerOnly` one that other users
 * may read. Other failures (ENOENT, EACCES) are thrown as they come.
 */
export function readSecretFile(path: string, { ownerOnly = false } = {}): string {
  // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileRefused('not a regular file (a folder, device or FIFO): give the file holding the secret');
    if (stat.size > MAX_BYTES) throw new SecretFileRefused(`${stat.size} bytes: a secret file is one line; is it the right file?`);
    if (ownerOnly && (stat.mode & 0o077) !== 0) throw new SecretFileRefused('other users may read it: chmod 600 it (and chown it to the bridge’s user)');
    const buffer = Buffer.alloc(stat.size);
    const read = readSync(fd, buffer, 0, stat.size, 0);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, read));
    } catch {
      throw new SecretFileRefused('is not UTF-8 text: write the secret as one line of text');
    }
    return text.replace(/\r?\n$/, '');
  } finally {
    closeSync(fd);
  }
}
