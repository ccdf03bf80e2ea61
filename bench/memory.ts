/*
 * Bridge memory while draining a large backlog. This process holds only the bridge: the outbox
 * is prefilled by a child (bench/prefill.ts) and the broker and province emulator run in another
 * (bench/province-process.ts; the emulator keeps every record it accepts, which would otherwise
 * be counted here). RSS is sampled every 100 ms from a worker thread (so samples keep coming
 * while the bridge's event loop is busy), heapUsed from the main thread, from just before
 * Bridge.start() until the outbox is empty; then a forced GC shows what is retained.
 *
 *   node --expose-gc --import tsx bench/memory.ts --n 1000000 [--inflight 1000]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_INFLIGHT } from './defaults.js';
import {
  drainThroughBridge,
  emitResult,
  MB,
  profilePhase,
  progress,
  round,
  runChildForLine,
  sleep,
  startProvinceProcess,
  startRssSampler,
  tempDir,
} from './lib.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    inflight: { type: 'string', default: String(DEFAULT_INFLIGHT) },
    'sample-ms': { type: 'string', default: '100' },
    /** The drain is cut off after this long (the report says so): see the notes on countPending. */
    'max-seconds': { type: 'string', default: '600' },
    /** Write a CPU profile of the drain phase into this directory. */
    'profile-dir': { type: 'string' },
  },
});
const n = Number(values.n);
const inflight = Number(values.inflight);
const sampleMs = Number(values['sample-ms']);
const maxMs = Number(values['max-seconds']) * 1000;
// Run with node --max-old-space-size=<MB> to see whether the drain fits a capped V8 heap.
const capFlag = process.execArgv.find((a) => a.startsWith('--max-old-space-size='));
const heapCapMB = capFlag ? Number(capFlag.split('=')[1]) : null;
const capped = heapCapMB === null ? '' : `, V8 old space capped at ${heapCapMB} MB`;
const scope = `memory N=${n.toLocaleString('en')}${capped}`;
const gc = (globalThis as { gc?: () => void }).gc;

interface HeapSample {
  t: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const mb = (bytes: number): string => (bytes / MB).toFixed(1);

const tmp = tempDir('memory');
try {
  const dbPath = join(tmp.dir, 'bridge.db');
  const prefill = await runChildForLine<{ ms: number; dbBytes: number }>('prefill.ts', ['--db', dbPath, '--n', String(n)], 'PREFILLED ');
  progress(scope, `prefilled in ${(prefill.ms / 1000).toFixed(1)} s (${(prefill.dbBytes / MB).toFixed(0)} MB database)`);
  const province = await startProvinceProcess();

  const rssSampler = startRssSampler(sampleMs);
  gc?.();
  await sleep(300);
  const before = process.memoryUsage();
  const heap: HeapSample[] = [];
  const t0 = Date.now();
  const take = (): void => {
    const m = process.memoryUsage();
    heap.push({ t: Date.now() - t0, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
  };
  take();
  const heapSampler = setInterval(take, sampleMs);
  let drain;
  try {
    drain = await profilePhase(values['profile-dir'], `memory-bridge-n-${n}`, () =>
      drainThroughBridge({ dbPath, brokerUrl: province.url, n, inflight, scope, maxMs }),
    );
  } finally {
    clearInterval(heapSampler);
  }
  take();
  const tDone = Date.now();
  const allRss = await rssSampler.stop();
  // From just before Bridge.start() until the outbox was empty.
  const rss = allRss.filter((s) => s.t >= t0 && s.t <= tDone);
  const end = process.memoryUsage();
  gc?.();
  await sleep(300);
  const afterGc = process.memoryUsage();
  const provinceStats = await province.stats();
  await province.stop();
  if (drain.finished && provinceStats.stats.accepted !== n) throw new Error(`memory: the province accepted ${provinceStats.stats.accepted} of ${n}`);

  const peakRss = Math.max(...rss.map((s) => s.rss));
  const peakHeap = Math.max(...heap.map((s) => s.heapUsed));
  const peakExternal = Math.max(...heap.map((s) => s.external));
  const peakHeapTotal = Math.max(...heap.map((s) => s.heapTotal));
  // RSS at fractions of the drain (the worker's samples are regular): a leak shows as a rising series.
  const at = (f: number): number => (rss[Math.min(rss.length - 1, Math.floor(f * (rss.length - 1)))] ?? { rss: 0 }).rss;
  const fractions = [0.1, 0.25, 0.5, 0.75, 0.9, 1];
  const series = fractions.map((f) => `${Math.round(f * 100)}%: ${(at(f) / MB).toFixed(0)}`).join(', ');

  emitResult({
    name: 'memory',
    figures: [
      {
        label: `bridge peak RSS while draining N=${n.toLocaleString('en')}${capped}${drain.finished ? '' : ` (cut off after ${drain.ackedIds.toLocaleString('en')} acked)`}`,
        value: round(peakRss / MB, 1),
        unit: 'MB',
        baseline: { label: 'RSS of the same process before Bridge.start()', value: round(before.rss / MB, 1) },
        ratio: round(peakRss / before.rss, 3),
      },
    ],
    notes: [
      `N=${n}${capped}: RSS before ${mb(before.rss)} MB, peak ${mb(peakRss)} MB, peak − before ${mb(peakRss - before.rss)} MB; at the end ${mb(end.rss)} MB, after a forced GC ${mb(afterGc.rss)} MB`,
      `N=${n}${capped}: heapUsed before ${mb(before.heapUsed)} MB, peak ${mb(peakHeap)} MB (main-thread samples: ${heap.length} in ${(drain.doneMs / 1000).toFixed(0)} s, the loop was busy in between), end ${mb(end.heapUsed)}, after GC ${mb(afterGc.heapUsed)} MB; V8 heap reserved (heapTotal) before ${mb(before.heapTotal)}, peak ${mb(peakHeapTotal)} MB; external peak ${mb(peakExternal)} MB`,
      `N=${n}${capped}: RSS MB over the drain ${series}`,
      `N=${n}${capped}: ${drain.finished ? 'drained' : `CUT OFF at the ${(maxMs / 1000).toFixed(0)} s limit with ${drain.ackedIds} of ${n} acked,`} in ${(drain.doneMs / 1000).toFixed(1)} s (${Math.round((drain.ackedIds / drain.doneMs) * 1000)}/s, inflight ${inflight}, start() ${Math.round(drain.startedMs)} ms, ${drain.ackMessages} ack messages = ${(drain.ackedIds / drain.ackMessages).toFixed(1)} ids/ack); event loop stalls (a 50 ms timer's lateness) p50 ${drain.stallMs.p50.toFixed(0)} ms, p99 ${drain.stallMs.p99.toFixed(0)} ms, max ${(drain.stallMs.max / 1000).toFixed(1)} s`,
      `N=${n}${capped}: province process (broker + emulator, kept out of the figure) peak RSS ${mb(provinceStats.peakRss)} MB, heap ${mb(provinceStats.peakHeap)} MB`,
    ],
    details: {
      n,
      heapCapMB,
      inflight,
      before,
      end,
      afterGc,
      peakRss,
      peakHeap,
      growth: peakRss - before.rss,
      drain,
      prefill,
      province: provinceStats,
      rss: rss.filter((_, i) => i % Math.max(1, Math.floor(rss.length / 60)) === 0).map((s) => ({ t: s.t - t0, rss: s.rss })),
    },
  });
} finally {
  tmp.remove();
}
