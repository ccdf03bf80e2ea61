/*
 * `npm run bench`: runs every benchmark in a child process of its own (clean memory figures),
 * collects the result line of each, and prints one table: each figure beside the baseline
 * measured in the same run, with the ratio. Absolute times on shared machines are noise; the
 * ratios are the figures.
 *
 *   npm run bench                      full sizes (several minutes)
 *   npm run bench -- --quick           smaller sizes, a smoke check
 *   npm run bench -- --only drain      one benchmark (drain, commit, memory, line, fleet, soak); repeatable
 *   npm run bench -- --cpu-prof        also CPU-profile the measured phase of each child and summarise
 *   npm run bench -- --json            also print every result as JSON
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DRAIN_WATCH, formatSummary, GATEWAY_WATCH, summariseProfile } from './cpu-profile-summary.js';
import { MB, REPO_ROOT, RESULT_MARK, round, tsArgs, type BenchResult, type Figure } from './lib.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run bench -- [--quick] [--only drain|commit|memory|line|fleet|soak]... [--cpu-prof] [--json]');
  process.exit(0);
}

interface Run {
  args: string[];
  nodeFlags?: string[];
}

interface Benchmark {
  name: string;
  file: string;
  what: string;
  runs: Run[];
  /** Figures across the runs (e.g. memory at two sizes compared). */
  combine?(results: BenchResult[]): Figure[];
}

const quick = values.quick;
const BENCHMARKS: Benchmark[] = [
  {
    name: 'drain',
    file: 'drain.ts',
    what: 'backlog drain to province ack vs raw pipelined QoS 1 publishing (mqtt.js), same broker',
    runs: [{ args: quick ? ['--n', '20000', '--inflight', '512,1000'] : ['--n', '100000', '--inflight', '128,512,1000'] }],
  },
  {
    name: 'commit',
    file: 'commit.ts',
    what: 'press to durable commit vs a bare single-row SQLite commit (WAL, synchronous=FULL); then again while a backlog drains at the default pace',
    runs: [
      { args: quick ? ['--k', '50', '--warmup', '5'] : ['--k', '300', '--warmup', '10'] },
      // The database cap (512 MB by default, not settable through SimWindow) holds about 550k records.
      { args: ['--k', quick ? '50' : '100', '--warmup', '5', '--backlog', quick ? '100000' : '500000', '--drain-rate', '20'] },
    ],
    // The invitation POST with and without the backlog: the desk's checks on each new invitation.
    combine: (results) => {
      type CommitDetails = { backlog: number; post: { p50: number; p99: number } };
      const plain = results.map((r) => r.details as CommitDetails).find((d) => d.backlog === 0);
      const loaded = results.map((r) => r.details as CommitDetails).find((d) => d.backlog > 0);
      if (!plain || !loaded) return [];
      return [
        {
          label: `invitation POST p50 with ${loaded.backlog.toLocaleString('en')} records of today in the outbox`,
          value: round(loaded.post.p50, 2),
          unit: 'ms',
          baseline: { label: 'same, empty outbox', value: round(plain.post.p50, 2) },
          ratio: round(loaded.post.p50 / plain.post.p50, 1),
        },
      ];
    },
  },
  {
    name: 'memory',
    file: 'memory.ts',
    what: 'bridge RSS while draining a backlog (bridge alone in its process), small vs large backlog',
    // Each size twice: with V8's default heap sizing, and with the old space capped at 64 MB
    // (does the drain fit a small heap, and is RSS then flat?).
    runs: [null, 64].flatMap((cap) =>
      (quick ? [10_000, 100_000] : [10_000, 1_000_000]).map((n) => ({
        args: ['--n', String(n), '--max-seconds', quick ? '120' : '300'],
        nodeFlags: ['--expose-gc', ...(cap === null ? [] : [`--max-old-space-size=${cap}`])],
      })),
    ),
    combine: (results) => {
      type MemoryDetails = {
        n: number;
        heapCapMB: number | null;
        before: { rss: number };
        afterGc: { heapUsed: number };
        peakRss: number;
        growth: number;
        drain: { finished?: boolean };
      };
      const figures: Figure[] = [];
      const all = results.map((r) => r.details as MemoryDetails);
      for (const cap of [...new Set(all.map((d) => d.heapCapMB))]) {
        const byN = all.filter((d) => d.heapCapMB === cap).sort((a, b) => a.n - b.n);
        const small = byN[0];
        const large = byN[byN.length - 1];
        if (!small || !large || small === large) continue;
        const capped = cap === null ? '' : `, old space ≤ ${cap} MB`;
        const cut = large.drain.finished === false ? ' (cut off)' : '';
        const growthRatio = large.growth / small.growth;
        figures.push(
          {
            label: `RSS growth while draining (peak − before), N=${large.n.toLocaleString('en')}${capped}${cut}`,
            value: round(large.growth / MB, 1),
            unit: 'MB',
            baseline: { label: `same, N=${small.n.toLocaleString('en')}`, value: round(small.growth / MB, 1) },
            ratio: round(growthRatio, 2),
            target: 'flat (≈ 1) and < 100 MB',
            ok: growthRatio < 1.5 && large.growth < 100 * MB,
          },
          {
            label: `peak RSS, N=${large.n.toLocaleString('en')}${capped}`,
            value: round(large.peakRss / MB, 1),
            unit: 'MB',
            baseline: { label: `peak RSS, N=${small.n.toLocaleString('en')}`, value: round(small.peakRss / MB, 1) },
            ratio: round(large.peakRss / small.peakRss, 2),
            target: 'flat (≈ 1)',
            ok: large.peakRss / small.peakRss < 1.25,
          },
        );
        if (cap === null) {
          // What the bridge still holds once the garbage is collected: a leak or a per-record cache shows here.
          figures.push({
            label: `JS heap retained after the drain and a forced GC, N=${large.n.toLocaleString('en')}`,
            value: round(large.afterGc.heapUsed / MB, 1),
            unit: 'MB',
            baseline: { label: `same, N=${small.n.toLocaleString('en')}`, value: round(small.afterGc.heapUsed / MB, 1) },
            ratio: round(large.afterGc.heapUsed / small.afterGc.heapUsed, 2),
            target: 'flat (≈ 1)',
            ok: large.afterGc.heapUsed / small.afterGc.heapUsed < 1.25,
          });
        }
      }
      return figures;
    },
  },
  {
    name: 'line',
    file: 'line.ts',
    what: 'the serial line reader on a runaway line (no newline) vs the same bytes as lines: linear, bounded',
    runs: [{ args: ['--mb', quick ? '4' : '16'] }],
  },
  {
    name: 'fleet',
    file: 'fleet.ts',
    what: 'simulated terminals (real MQTT connections, sealed records) to Mosquitto, 1 and 3 hcp gateway processes on one PostgreSQL (one killed mid-run), vs raw batched INSERT … ON CONFLICT of the same rows',
    runs: [
      {
        // Records in flight = terminals × window; at capacity each waits ≈ in flight / throughput, which
        // must stay under the terminals' ack timeout (30 s), or they publish again what is only queued.
        // The bridge's window of 64 on 10,000 terminals is 640,000 in flight: minutes at ~1k/s.
        args: quick ? ['--terminals', '500', '--per-terminal', '40', '--window', '4'] : ['--terminals', '10000', '--per-terminal', '100', '--window', '1'],
        // The baseline's rows (a million decoded records) are held in this process.
        nodeFlags: ['--max-old-space-size=12288'],
      },
    ],
  },
  {
    name: 'soak',
    file: 'soak.ts',
    what: 'hours of hall traffic compressed, faults at random (seeded): line noise, terminal resets, bridge, broker and province restarts; ratings lost or counted twice, memory before and after',
    runs: [{ args: quick ? ['--windows', '2', '--invitations', '120'] : ['--windows', '3', '--invitations', '600'], nodeFlags: ['--expose-gc'] }],
  },
];

const selected = values.only?.length ? BENCHMARKS.filter((b) => values.only?.includes(b.name)) : BENCHMARKS;
const unknown = (values.only ?? []).filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length || selected.length === 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  process.exit(2);
}

const profileRoot = values['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'hcp-bench-prof-')) : undefined;

/** Runs one benchmark child; its progress (stderr) goes straight through. */
async function runChild(bench: Benchmark, run: Run, index: number): Promise<{ result?: BenchResult; error?: string; seconds: number; profileDir?: string }> {
  const profileDir = profileRoot && join(profileRoot, `${bench.name}-${index}`);
  const args = [...run.args, ...(profileDir ? ['--profile-dir', profileDir] : [])];
  const started = performance.now();
  const child = spawn(process.execPath, [...tsArgs(bench.file, run.nodeFlags), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let result: BenchResult | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith(RESULT_MARK)) result = JSON.parse(line.slice(RESULT_MARK.length)) as BenchResult;
    else process.stderr.write(`${line}\n`);
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || !result) return { error: `exited with ${signal ?? code}${result ? '' : ', no result line'}`, seconds, profileDir };
  return { result, seconds, profileDir };
}

interface Row {
  bench: string;
  figure: Figure | undefined;
  error?: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const allResults: BenchResult[] = [];
const profiles: string[] = [];
const t0 = performance.now();

for (const bench of selected) {
  const results: BenchResult[] = [];
  for (const [i, run] of bench.runs.entries()) {
    console.error(`bench ${bench.name} (${bench.file} ${run.args.join(' ')}): ${bench.what}`);
    const out = await runChild(bench, run, i);
    console.error(`bench ${bench.name}: ${out.error ? `FAILED (${out.error})` : 'done'} in ${out.seconds.toFixed(1)} s`);
    if (out.profileDir) profiles.push(out.profileDir);
    if (!out.result) {
      rows.push({ bench: bench.name, figure: undefined, error: out.error });
      continue;
    }
    results.push(out.result);
    allResults.push(out.result);
    for (const figure of out.result.figures) rows.push({ bench: bench.name, figure });
    for (const note of out.result.notes) notes.push(`${bench.name}: ${note}`);
  }
  if (bench.combine && results.length > 1) {
    for (const figure of bench.combine(results)) rows.push({ bench: bench.name, figure });
  }
}

function fmt(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`.trim();
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

const body = rows.map(({ bench, figure, error }) => {
  if (!figure) return [bench, `FAILED: ${error ?? ''}`, '', '', '', '', ''];
  const ratio = figure.ratio ?? (figure.baseline ? figure.value / figure.baseline.value : undefined);
  return [
    bench,
    figure.label,
    fmt(figure.value, figure.unit),
    figure.baseline ? `${fmt(figure.baseline.value, figure.unit)} (${figure.baseline.label})` : '',
    ratio === undefined ? '' : `${round(ratio, 3)}`,
    figure.target ?? '',
    figure.ok === undefined ? '' : figure.ok ? 'yes' : 'NO',
  ];
});

console.log('');
console.log(`hcp-terminal benchmarks${quick ? ' (--quick)' : ''}: node ${process.version}, ${(performance.now() - t0) / 1000 < 1 ? '' : `${((performance.now() - t0) / 1000).toFixed(0)} s`}`);
console.log(table(['bench', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met'], body));
console.log('');
for (const note of notes) console.log(`- ${note}`);

if (profiles.length) {
  console.log('');
  for (const dir of profiles) {
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    } catch {
      continue; // the child failed before writing one
    }
    // The fleet's profiles are the gateway processes'; the others' are the bridge's.
    const watch = basename(dir).startsWith('fleet-') ? GATEWAY_WATCH : DRAIN_WATCH;
    for (const file of files) console.log(formatSummary(summariseProfile(join(dir, file), 20, watch)));
  }
  console.log(`(profiles kept in ${profileRoot})`);
}

if (values.json) console.log(JSON.stringify(allResults, null, 2));
if (rows.some((r) => r.error)) process.exitCode = 1;
