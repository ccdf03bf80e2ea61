import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, publicKeyText } from '../../bridge/identity/terminal-key.js';

describe('loadOrCreateSigningKey', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads back the key it made, mode 0600', () => {
    dir = mkdtempSync(join(tmpdir(), 'terminal-key-'));
    const path = join(dir, 'terminal-key.pem');
    const made = loadOrCreateSigningKey(path);
    expect(made.created).toBe(true);
    const read = loadOrCreateSigningKey(path);
    expect(read.created).toBe(false);
    expect(publicKeyText(read.publicKey)).toBe(publicKeyText(made.publicKey));
  });

  it('refuses a key file other users may read, naming the path and chmod 600', () => {
    dir = mkdtempSync(join(tmpdir(), 'terminal-key-'));
    const path = join(dir, 'terminal-key.pem');
    loadOrCreateSigningKey(path);
    chmodSync(path, 0o644);
    let thrown: unknown;
    try {
      loadOrCreateSigningKey(path);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    const message = (thrown as Error).message;
    expect(message).toContain(path);
    expect(message).toContain('chmod 600');
  });
});
