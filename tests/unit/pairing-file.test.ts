import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreatePairing, pairingFile, readPairing, resetPairing } from '../../bridge/terminal/pairing.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-pairing-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => join(dir, `p-${++files}.json`);

describe('the pairing file (bridge/terminal/pairing.ts)', () => {
  it('is named after the database, so two bridges sharing a folder never share a pairing', () => {
    expect(pairingFile({ database: { path: '/var/lib/hcp/hcp.db' } })).toBe('/var/lib/hcp/hcp.db.pairing.json');
  });

  it('is made on first use: a new 32-byte key, nothing pinned, mode 600; kept on the next load; a pin is kept with its time', () => {
    const path = fresh();
    const made = loadOrCreatePairing(path, () => new Date('2026-11-29T08:00:00Z'));
    expect(made.created).toBe(true);
    expect(made.key).toMatch(/^[0-9a-f]{64}$/);
    expect(made.serial).toBeNull();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    made.pin('T-1');
    const again = loadOrCreatePairing(path);
    expect(again).toMatchObject({ created: false, key: made.key, serial: 'T-1' });
    expect(readPairing(path)).toEqual({ key: made.key, serial: 'T-1', pairedAt: '2026-11-29T08:00:00.000Z' });
  });

  it('a reset makes a new key and forgets the pinned terminal', () => {
    const path = fresh();
    const first = loadOrCreatePairing(path);
    first.pin('T-1');
    const reset = resetPairing(path);
    expect(reset.key).not.toBe(first.key);
    expect(readPairing(path)).toEqual({ key: reset.key, serial: null, pairedAt: null });
  });

  it('anything else in the file is refused with its path, what is wrong and what to do, never taken', () => {
    const path = fresh();
    const content = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ key: fc.oneof(fc.string(), fc.stringMatching(/^[0-9A-F]{64}$/)), serial: fc.oneof(fc.string(), fc.constant(null)), pairedAt: fc.oneof(fc.string(), fc.constant(null)) }).map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    fc.assert(
      fc.property(content, (text) => {
        writeFileSync(path, text, 'latin1');
        try {
          const record = readPairing(path);
          // Whatever is taken is a whole, valid pairing.
          expect(record.key).toMatch(/^[0-9a-f]{64}$/);
        } catch (err) {
          expect((err as Error).message).toContain(path);
          expect((err as Error).message).toMatch(/re-pair with hcp pair$/);
        }
      }),
      { numRuns: 300 },
    );
    writeFileSync(path, JSON.stringify({ key: 'A1'.repeat(32), serial: null, pairedAt: null }));
    expect(() => readPairing(path)).toThrow(/key: 64 lower-case hex digits/);
    expect(readFileSync(path, 'utf8')).toContain('A1A1'); // refused, not rewritten
  });
});
