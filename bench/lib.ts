/*
 * Shared pieces of the benchmarks: the result line the runner collects, progress on stderr,
 * percentiles, realistic records, prefilling a real bridge outbox, draining it through a real
 * Bridge, and the raw mqtt.js publisher the drain is compared with.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SerialPortStream } from '@serialport/stream';
import mqtt from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { Bridge } from '../bridge/bridge.js';
import { stamp, type Clock } from '../bridge/clock.js';
import { parseConfig } from '../bridge/config.js';
import type { SerialPortLike } from '../bridge/terminal/terminal-link.js';
import { openDatabase } from '../bridge/store/database.js';
import { Outbox } from '../bridge/store/outbox.js';
import { Commits } from '../bridge/store/commits.js';
import { RecordSealer } from '../bridge/identity/record-sealer.js';
import { loadTerminalIdentity } from '../bridge/identity/terminal-key.js';
import { silentLogger } from '../bridge/log.js';
import { TimeKeeper } from '../bridge/time/time-keeper.js';
import { systemWall } from '../bridge/time/wall-source.js';
import { DEFAULT_GRADE_CODE_PROFILE, GRADES } from '../protocol/grades.js';
import { DEFAULT_RECORD_FORMAT, RECORD_FORMATS } from '../protocol/record-formats/index.js';
import { RECORD_SCHEMA_VERSION, type StoredInvitation } from '../protocol/records.js';
import { terminalTopics } from '../protocol/topics.js';
import { createVirtualLine, virtualSerialBinding } from '../simulator/virtual-serial-line.js';

// ---------------------------------------------------------------------------------------------
// Results and reporting

/** One figure, printed beside the baseline measured in the same run. */
export interface Figure {
  /** What is measured, e.g. "backlog drain, records/s". */
  label: string;
  value: number;
  unit: string;
  baseline?: { label: string; value: number };
  /** value / baseline.value unless given (e.g. for "lower is better" figures, say so in target). */
  ratio?: number;
  /** Human-readable target, e.g. "≥ 0.5". */
  target?: string;
  /** Whether the target is met, if there is one. */
  ok?: boolean;
}

export interface BenchResult {
  name: string;
  figures: Figure[];
  /** Anything else worth a line under the table: parameters, breakdowns, findings. */
  notes: string[];
  /** Raw numbers for whoever wants them (the runner prints them only with --json). */
  details?: Record<string, unknown>;
}

export const RESULT_MARK = 'BENCH_RESULT ';

/** The one line the runner collects from a benchmark child (stdout). */
export function emitResult(result: BenchResult): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}

/** Progress for a person watching (stderr; the runner passes it through). */
export function progress(scope: string, message: string): void {
  process.stderr.write(`  [${scope}] ${message}\n`);
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export const MB = 1024 * 1024;

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

let exitOnSignal = false;

/** A fresh temp dir, removed by remove(), and also on exit or Ctrl-C (a 1M database is 900 MB). */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `hcp-bench-${prefix}-`));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  if (!exitOnSignal) {
    exitOnSignal = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  }
  return { dir, remove };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Records, as the invitation desk makes them

export const BENCH_IDENTITY = { terminalId: 'BENCH-T01', areaCode: '330106', hallCode: 'BENCH-HALL', windowNo: '01' } as const;

export function benchClock(): TimeKeeper {
  return new TimeKeeper(systemWall, 'benchboot0000001', 'system');
}

const SERVICES = [
  { itemCode: '330106-XK-0012', itemName: '食品经营许可' },
  { itemCode: '330106-GG-0031', itemName: '居民身份证换领' },
  { itemCode: '330106-QT-0107', itemName: '不动产登记资料查询' },
] as const;

/**
 * A closed invitation record built field by field like InvitationDesk.closeOpen: nine in ten
 * rated (grades cycling), one in ten timed out. Unique UUIDv7 id.
 */
export function makeInvitation(i: number, clock: Clock): StoredInvitation {
  const now = clock.now().getTime();
  const service = SERVICES[i % SERVICES.length] as (typeof SERVICES)[number];
  const rated = i % 10 !== 9;
  const latencyMs = 1500 + ((i * 7919) % 9000);
  const invitedAt = new Date(now - latencyMs - 50);
  return {
    id: uuidv7(),
    kind: 'invitation',
    schema: RECORD_SCHEMA_VERSION,
    ...BENCH_IDENTITY,
    staffId: `S${1001 + (i % 7)}`,
    services: [{ ...service, caseNo: `330106202611${String(i).padStart(8, '0')}` }],
    mode: 'single',
    proxy: false,
    invitedAt: invitedAt.toISOString(),
    closedAt: new Date(now).toISOString(),
    outcome: rated ? 'rated' : 'not_rated',
    ...(rated && {
      rating: {
        grade: GRADES[i % GRADES.length] as (typeof GRADES)[number],
        reasons: [],
        reasonCatalogVersion: null,
        pressedAt: new Date(invitedAt.getTime() + latencyMs).toISOString(),
        latencyMs,
      },
    }),
    channel: 'counter',
    flags: [],
    test: false,
    clock: stamp(clock),
  };
}

const PREFILL_BATCH = 10_000;

/**
 * Prefills a fresh bridge database (real schema, real Outbox.append) with `n` pending invitation
 * records, in transactions of 10k, sealed in the default layout with the terminal key a bridge
 * on this database uses (beside it): the backlog a bridge would have made. Returns how long it took.
 */
export function prefillOutbox(dbPath: string, n: number, scope = 'prefill'): { ms: number; dbBytes: number } {
  const started = performance.now();
  const db = openDatabase(dbPath);
  const clock = benchClock();
  const identity = loadTerminalIdentity({ database: { path: dbPath } }, silentLogger);
  const layout = RECORD_FORMATS[DEFAULT_RECORD_FORMAT];
  const sealer = layout.sealed ? new RecordSealer(layout, DEFAULT_GRADE_CODE_PROFILE, identity.sign) : null;
  const outbox = new Outbox(db, clock, new Commits(db, clock, silentLogger), sealer);
  const insertBatch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) outbox.append(makeInvitation(i, clock));
  });
  let lastReport = performance.now();
  for (let from = 0; from < n; from += PREFILL_BATCH) {
    const to = Math.min(n, from + PREFILL_BATCH);
    insertBatch(from, to);
    if (performance.now() - lastReport > 2000 || to === n) {
      lastReport = performance.now();
      progress(scope, `${to.toLocaleString('en')} / ${n.toLocaleString('en')} records written (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
  const stats = outbox.stats();
  if (stats.pending !== n) throw new Error(`prefill: expected ${n} pending records, found ${stats.pending}`);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { ms: performance.now() - started, dbBytes: pageSize * pages };
}

// ---------------------------------------------------------------------------------------------
// Draining through a real Bridge

export interface DrainTiming {
  n: number;
  inflight: number;
  /** Bridge.start() resolved (database opened and checked, HTTP listening, uplink started). */
  startedMs: number;
  /** The uplink reported its broker connection. */
  connectedMs: number;
  firstAckMs: number;
  /** The last province ack was applied and the outbox had 0 pending (or the time limit came). All from before Bridge.start(). */
  doneMs: number;
  /** False when the time limit stopped the drain first: then `ackedIds` < `n`. */
  finished: boolean;
  ackMessages: number;
  ackedIds: number;
  /**
   * Stalls of the event loop while draining, seen by a 50 ms JS timer on the bridge's thread:
   * how long past its due time each run came (everything else on the thread waits that long,
   * e.g. the terminal's serial frames and the HTTP API).
   */
  stallMs: { p50: number; p99: number; max: number };
}

let lineCounter = 0;

/**
 * Starts a real Bridge on a prefilled database (serial side: a virtual line with no terminal on
 * it), lets it drain everything to the province, and times it from just before Bridge.start()
 * until the outbox has 0 pending. Ack events are counted as they arrive; the outbox is checked
 * with stats() only once every id was acked (stats() scans the table).
 */
export async function drainThroughBridge(opts: {
  dbPath: string;
  brokerUrl: string;
  n: number;
  inflight: number;
  scope?: string;
  /** Stop waiting after this long (from before Bridge.start()); the result says finished: false. */
  maxMs?: number;
}): Promise<DrainTiming> {
  const scope = opts.scope ?? 'drain';
  lineCounter += 1;
  const line = createVirtualLine(`bench-drain-${process.pid}-${lineCounter}`);
  const config = parseConfig({
    terminal: { id: BENCH_IDENTITY.terminalId, areaCode: BENCH_IDENTITY.areaCode, hallCode: BENCH_IDENTITY.hallCode, windowNo: BENCH_IDENTITY.windowNo },
    serial: { path: line.bridgePath },
    mqtt: { url: opts.brokerUrl, clientId: `hcp-bench-${process.pid}-${lineCounter}`, drainRatePerSecond: 0, inflight: opts.inflight },
    database: { path: opts.dbPath, maxSizeMB: 100_000 },
    http: { host: '127.0.0.1', port: 0 },
    clock: { trust: 'system' },
    log: { level: 'silent' },
  });

  let ackedIds = 0;
  let ackMessages = 0;
  let firstAckAt = Number.NaN;
  let connectedAt = Number.NaN;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const lateness: number[] = [];
  let lastRun = performance.now();
  const stallTimer = setInterval(() => {
    const now = performance.now();
    lateness.push(Math.max(0, now - lastRun - 50));
    lastRun = now;
  }, 50);
  const t0 = performance.now();
  const bridge = await Bridge.start(config, {
    openPort: (path, baudRate) => new SerialPortStream({ binding: virtualSerialBinding, path, baudRate, autoOpen: false }) as SerialPortLike,
  });
  const startedAt = performance.now();
  // The uplink connects asynchronously (network I/O): it cannot have connected before this listener.
  bridge.on('broker', (state) => {
    if (state === 'connected' && Number.isNaN(connectedAt)) connectedAt = performance.now();
  });
  let doneAt = Number.NaN;
  const check = (): void => {
    if (!Number.isNaN(doneAt) || ackedIds < opts.n) return;
    if (bridge.outbox.stats().pending === 0) {
      doneAt = performance.now();
      resolveDone();
    }
  };
  bridge.on('acked', (ack) => {
    ackMessages += 1;
    if (Number.isNaN(firstAckAt)) firstAckAt = performance.now();
    if (ack.status !== 'rejected') ackedIds += ack.ids.length;
    check();
  });
  const ticker = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    progress(scope, `${ackedIds.toLocaleString('en')} / ${opts.n.toLocaleString('en')} acked after ${s.toFixed(1)} s (${Math.round(ackedIds / s).toLocaleString('en')}/s)`);
    // Belt and braces: should ids ever be acked twice (a republish), the event count overshoots.
    check();
    if (opts.maxMs !== undefined && performance.now() - t0 > opts.maxMs && Number.isNaN(doneAt)) {
      progress(scope, `time limit of ${(opts.maxMs / 1000).toFixed(0)} s reached: stopping the drain here`);
      doneAt = performance.now();
      resolveDone();
    }
  }, 2000);
  try {
    await done;
  } finally {
    clearInterval(ticker);
    clearInterval(stallTimer);
    lateness.push(Math.max(0, performance.now() - lastRun - 50));
  }
  await bridge.stop();
  return {
    n: opts.n,
    inflight: opts.inflight,
    startedMs: startedAt - t0,
    connectedMs: connectedAt - t0,
    firstAckMs: firstAckAt - t0,
    doneMs: doneAt - t0,
    finished: ackedIds >= opts.n,
    ackMessages,
    ackedIds,
    stallMs: { p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: Math.max(...lateness) },
  };
}

// ---------------------------------------------------------------------------------------------
// The baseline: raw pipelined QoS 1 publishing with mqtt.js

export interface RawTiming {
  n: number;
  window: number;
  /** First publish until the last PUBACK. */
  ms: number;
  /** Connecting, not counted in `ms`. */
  connectMs: number;
}

/**
 * Publishes every payload at QoS 1 to the terminal's records topic with a plain mqtt.js client,
 * keeping `window` publishes in flight (mqtt.js message ids are 16 bit, so not all 100k at once),
 * timed from the first publish until the last PUBACK.
 */
export async function rawPublish(opts: { url: string; payloads: readonly string[]; window: number; scope?: string; birth?: string }): Promise<RawTiming> {
  const scope = opts.scope ?? 'raw';
  const c0 = performance.now();
  const client = await mqtt.connectAsync(opts.url, { clientId: `hcp-bench-raw-${process.pid}-${Math.round(c0)}`, clean: true, reconnectPeriod: 0 });
  const connectMs = performance.now() - c0;
  // The terminal's birth (its public key) first, as a bridge sends it: the province then verifies
  // and acknowledges these records as it does the bridge's, so that both runs cost it the same.
  if (opts.birth !== undefined) await client.publishAsync(terminalTopics(BENCH_IDENTITY.terminalId).state, opts.birth, { qos: 1, retain: true });
  const topic = terminalTopics(BENCH_IDENTITY.terminalId).records;
  const n = opts.payloads.length;
  const window = Math.min(opts.window, n);
  let next = 0;
  let acked = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const ticker = setInterval(() => {
      const s = (performance.now() - t0) / 1000;
      progress(scope, `${acked.toLocaleString('en')} / ${n.toLocaleString('en')} PUBACKed after ${s.toFixed(1)} s`);
    }, 2000);
    const onPuback = (err?: Error): void => {
      if (err) {
        clearInterval(ticker);
        reject(err);
        return;
      }
      acked += 1;
      if (acked === n) {
        clearInterval(ticker);
        resolve();
      } else if (next < n) {
        send();
      }
    };
    const send = (): void => {
      const payload = opts.payloads[next++] as string;
      client.publish(topic, payload, { qos: 1 }, onPuback);
    };
    while (next < window) send();
  });
  const ms = performance.now() - t0;
  await client.endAsync();
  return { n, window, ms, connectMs };
}

/** The messages a bridge publishes for a prefilled database's records: their stored bodies, as they are. */
export function storedPayloads(dbPath: string): string[] {
  const db = openDatabase(dbPath);
  try {
    return (db.prepare(`SELECT body FROM records ORDER BY seq`).all() as Array<{ body: string }>).map((row) => row.body);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** The repository root (bench/..): children run with it as cwd so that `--import tsx` resolves. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Node arguments to run a bench TypeScript file in a child: `process.execPath …args`. */
export function tsArgs(file: string, nodeFlags: readonly string[] = []): string[] {
  return [...nodeFlags, '--import', 'tsx', join(REPO_ROOT, 'bench', file)];
}

/** Runs a bench script to completion and returns the JSON after `mark` on its stdout. */
export async function runChildForLine<T>(file: string, args: readonly string[], mark: string, nodeFlags: readonly string[] = []): Promise<T> {
  const child = spawn(process.execPath, [...tsArgs(file, nodeFlags), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let found: T | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith(mark)) found = JSON.parse(line.slice(mark.length)) as T;
    else process.stderr.write(`${line}\n`);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0 || found === undefined) throw new Error(`${file} ${args.join(' ')} exited with ${code}${found === undefined ? ` and no ${mark.trim()} line` : ''}`);
  return found;
}

export interface ProvinceProcessStats {
  stats: { received: number; accepted: number; duplicates: number; rejected: number; unreadable: number; acksSent: number };
  rss: number;
  heapUsed: number;
  peakRss: number;
  peakHeap: number;
}

export interface ProvinceProcess {
  url: string;
  pid: number;
  stats(): Promise<ProvinceProcessStats>;
  stop(): Promise<void>;
}

/** Starts bench/province-process.ts (embedded broker + province emulator) in a child process. */
export async function startProvinceProcess(): Promise<ProvinceProcess> {
  // The emulator keeps every record: give it room for a million.
  const child = spawn(process.execPath, tsArgs('province-process.ts', ['--max-old-space-size=8192']), {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  let ready!: (url: string) => void;
  const readyP = new Promise<string>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`province process exited with ${code} before it was ready`)));
  });
  lines.on('line', (line) => {
    if (line.startsWith('READY ')) ready((JSON.parse(line.slice(6)) as { url: string }).url);
    else if (line.startsWith('STATS ')) waiting.shift()?.(line.slice(6));
    else process.stderr.write(`${line}\n`);
  });
  const url = await readyP;
  const exited = once(child, 'exit');
  return {
    url,
    pid: child.pid ?? -1,
    stats: () =>
      new Promise<ProvinceProcessStats>((resolve) => {
        waiting.push((json) => resolve(JSON.parse(json) as ProvinceProcessStats));
        child.stdin.write('stats\n');
      }),
    stop: async () => {
      child.stdin.end('stop\n');
      await exited;
    },
  };
}

/**
 * Samples the process's RSS from a worker thread, so that the samples keep coming while the main
 * thread's event loop is blocked (a sampler on the main thread misses exactly the busy stretches).
 * The worker runs plain JavaScript without the tsx loader; its own few MB are in every sample.
 */
/** Samples carry `t` = Date.now() of the sample. */
export function startRssSampler(intervalMs: number): { stop(): Promise<{ t: number; rss: number }[]> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const samples = [];
    const take = () => samples.push({ t: Date.now(), rss: process.memoryUsage.rss() });
    take();
    const timer = setInterval(take, workerData.intervalMs);
    parentPort.on('message', () => { clearInterval(timer); take(); parentPort.postMessage(samples); });
  `;
  const worker = new Worker(code, { eval: true, execArgv: [], workerData: { intervalMs } });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const [samples] = (await once(worker, 'message')) as [{ t: number; rss: number }[]];
      await worker.terminate();
      return samples;
    },
  };
}

/**
 * CPU-profiles one phase of a benchmark (not the prefill or the baseline around it) through the
 * inspector, writing a .cpuprofile that bench/cpu-profile-summary.ts reads. Without a directory
 * it does nothing.
 */
export async function profilePhase<T>(dir: string | undefined, name: string, phase: () => Promise<T>): Promise<T> {
  if (!dir) return phase();
  const session = new InspectorSession();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    progress('profile', `wrote ${file}`);
  }
}
