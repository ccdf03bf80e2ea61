/*
 * The fleet benchmark's records, made once per size and kept in the OS temp dir (a million
 * sealed records take minutes to make): one line of JSON per terminal, `{"t": id, "r": [[id,
 * payload], …]}`, in terminal order. Readers take a share of the lines (terminal i % shares),
 * so that each load worker holds only its own terminals' records.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { progress } from './lib.js';
import { generateFleetRecords } from './fleet-worker.js';

/** Bump when the records' layout or content changes: older cache files are then not read. */
const CACHE_VERSION = 1;
/** Terminals generated per round of workers (bounds the memory a round holds). */
const ROUND = 500;

export interface CachedTerminal {
  terminalId: string;
  /** [record id, payload] in seq order. */
  records: [string, string][];
}

/** Bench terminal ids: FLEET-00001 … (terminalIdSchema: letters, digits, "-"). */
export function fleetTerminalIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `FLEET-${String(i + 1).padStart(5, '0')}`);
}

export function fleetCachePath(terminals: number, perTerminal: number): string {
  return join(tmpdir(), `hcp-bench-fleet-v${CACHE_VERSION}-${terminals}x${perTerminal}.ndjson`);
}

/** The cache file for this size, made first (in worker threads) if it is not there. */
export async function ensureFleetRecords(terminals: number, perTerminal: number, workers: number): Promise<{ path: string; made: boolean; ms: number }> {
  const path = fleetCachePath(terminals, perTerminal);
  const started = performance.now();
  if (existsSync(path)) return { path, made: false, ms: 0 };
  const partial = `${path}.${process.pid}.partial`;
  const out = createWriteStream(partial);
  try {
    const ids = fleetTerminalIds(terminals);
    for (let from = 0; from < ids.length; from += ROUND) {
      const made = await generateFleetRecords(ids.slice(from, from + ROUND), perTerminal, { workers });
      for (const [terminalId, records] of made) {
        const line = `${JSON.stringify({ t: terminalId, r: records.map((r) => [r.id, r.payload]) })}\n`;
        if (!out.write(line)) await once(out, 'drain');
      }
      const done = Math.min(ids.length, from + ROUND);
      const s = (performance.now() - started) / 1000;
      progress('fleet records', `${(done * perTerminal).toLocaleString('en')} / ${(terminals * perTerminal).toLocaleString('en')} sealed (${s.toFixed(0)} s, ${Math.round((done * perTerminal) / s)}/s)`);
    }
    out.end();
    await once(out, 'finish');
    renameSync(partial, path);
  } catch (err) {
    out.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
  return { path, made: true, ms: performance.now() - started };
}

/** The cached terminals whose index % shares === share, in order. */
export async function* readFleetRecords(path: string, share = 0, shares = 1): AsyncGenerator<CachedTerminal> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let index = 0;
  for await (const line of lines) {
    if (line === '') continue;
    if (index++ % shares !== share) continue;
    const { t, r } = JSON.parse(line) as { t: string; r: [string, string][] };
    yield { terminalId: t, records: r };
  }
}
