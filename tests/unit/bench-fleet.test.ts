import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fleetTerminalIds, readFleetRecords, type CachedTerminal } from '../../bench/fleet-cache.js';
import { cpuSecondsOf, treeCpuSecondsOf } from '../../bench/proc-cpu.js';
import { terminalIdSchema } from '../../protocol/records.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-bench-fleet-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string, share: number, shares: number): Promise<CachedTerminal[]> {
  const out: CachedTerminal[] = [];
  for await (const t of readFleetRecords(path, share, shares)) out.push(t);
  return out;
}

describe('fleet benchmark records cache', () => {
  it('bench terminal ids are valid terminal ids, distinct, in order', () => {
    const ids = fleetTerminalIds(10_000);
    expect(new Set(ids).size).toBe(10_000);
    expect(ids[0]).toBe('FLEET-00001');
    expect(ids.every((id) => terminalIdSchema.safeParse(id).success)).toBe(true);
  });

  it('the load workers’ shares of the cache are disjoint and together hold every terminal once, in order', async () => {
    let file = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 }), async (terminals, shares, perTerminal) => {
        const path = join(dir, `cache-${file++}.ndjson`);
        const ids = fleetTerminalIds(terminals);
        const lines = ids.map((t) => JSON.stringify({ t, r: Array.from({ length: perTerminal }, (_, i) => [`${t}-${i}`, `{"seq":${i + 1}}`]) }));
        writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
        const parts = await Promise.all(Array.from({ length: shares }, (_, share) => readAll(path, share, shares)));
        const seen = parts.flat().map((t) => t.terminalId);
        expect([...seen].sort()).toEqual(ids);
        parts.forEach((part, share) => {
          expect(part.map((t) => t.terminalId)).toEqual(ids.filter((_, i) => i % shares === share));
          for (const t of part) expect(t.records.map(([id]) => id)).toEqual(Array.from({ length: perTerminal }, (_, i) => `${t.terminalId}-${i}`));
        });
      }),
      { numRuns: 40 },
    );
  });
});

describe('process CPU time from /proc', () => {
  it.runIf(process.platform === 'linux')('counts this process’s CPU and grows with work; a process that is gone has none', () => {
    const before = cpuSecondsOf(process.pid);
    const until = Date.now() + 300;
    let spin = 0;
    while (Date.now() < until) spin += 1;
    expect(spin).toBeGreaterThan(0);
    const after = cpuSecondsOf(process.pid);
    expect(before).toBeDefined();
    expect(after! - before!).toBeGreaterThan(0.1);
    expect(treeCpuSecondsOf(process.pid)).toBeGreaterThanOrEqual(after!);
    expect(cpuSecondsOf(2 ** 22 + 1)).toBeUndefined();
  });
});
