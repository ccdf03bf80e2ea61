/*
 * The serial line reader's cost (protocol/line-splitter.ts), in the bridge's own process: a
 * terminal or a noisy line that never sends a newline must cost what its bytes cost, not their
 * square. Each figure is the reader's time per MB for a runaway line (no newline at all) beside
 * the same reader on the same number of bytes cut into frame-sized lines, measured in this run;
 * a second size shows the cost stays linear.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { lineSplitter } from '../protocol/line-splitter.js';
import { emitResult, MB, round } from './lib.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '4' } } });
const totalMb = Number(values.mb);
/** What a serial port hands over at a time. */
const CHUNK = 256;

/** Milliseconds the reader takes for `bytes` of `text` repeated, read CHUNK bytes at a time (best of 3). */
function readTime(bytes: number, text: string): number {
  const chunk = text.repeat(Math.ceil(CHUNK / text.length)).slice(0, CHUNK);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let lines = 0;
    const read = lineSplitter({ line: () => void lines++, tooLong: () => void lines++ });
    const started = performance.now();
    for (let sent = 0; sent < bytes; sent += CHUNK) read(chunk);
    best = Math.min(best, performance.now() - started);
    if (lines < 0) throw new Error('unreachable: keeps the reader from being optimised away');
  }
  return best;
}

const runaway = 'A'.repeat(CHUNK);
const frames = `${'{"type":"hb","seq":1}*ABCD'.padEnd(199, ' ')}\n`;
const sizes = [totalMb / 10, totalMb].map((mb) => Math.round(mb * MB));
const perMb = (ms: number, bytes: number): number => (ms / bytes) * MB;
const figures = sizes.map((bytes) => {
  const noNewline = perMb(readTime(bytes, runaway), bytes);
  const lined = perMb(readTime(bytes, frames), bytes);
  return {
    label: `line reader, ms per MB, ${round(bytes / MB, 1)} MB with no newline`,
    value: round(noNewline, 2),
    unit: 'ms/MB',
    baseline: { label: 'same bytes as 200-byte lines', value: round(lined, 2) },
    ratio: round(noNewline / lined, 2),
    target: '≤ 1 (linear: never worse than lines)',
    ok: noNewline / lined <= 1.5,
  };
});
const [small, large] = figures;
emitResult({
  name: 'line',
  figures,
  notes: [
    `read in ${CHUNK}-byte chunks as a serial port delivers them; best of 3 runs each`,
    small && large ? `cost per MB with no newline, ${round(sizes[1]! / MB, 1)} MB vs ${round(sizes[0]! / MB, 1)} MB: ×${round(large.value / small.value, 2)} (1 = linear; the parser it replaced was quadratic: 39 s of CPU for 4 MB)` : '',
  ].filter(Boolean),
});
