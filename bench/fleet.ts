/*
 * Fleet figures: simulated terminals (each a real MQTT connection, sealed records made by the
 * bridge's own encoder and sealer) publish to Debian's Mosquitto; 1 and then 3 `hcp gateway`
 * processes (one shared subscription group, MQTT 5) store them in one PostgreSQL and ack them.
 * Beside each: the raw baseline, one pg client inserting the same rows with batched
 * `INSERT … ON CONFLICT (id) DO NOTHING` into a database of its own (bench/fleet-baseline.ts),
 * run before and after the gateway runs. In the 3-instance run one instance is SIGKILLed mid-run
 * (and started again). After each run: every record exactly once in `records`, every one acked.
 *
 *   tsx bench/fleet.ts [--terminals 10000] [--per-terminal 100] [--window 64] [--ack-timeout 30]
 *                      [--instances 1,3] [--kill-at 0.4] [--restart-after 5] [--load-workers 2] [--rate 0]
 *                      [--concurrency 3]
 *
 * --rate N offers N records/s (the terminals taking turns) instead of every terminal publishing
 * as fast as its window allows: below capacity, the ack latency is the service time, not the
 * queue (at capacity, latency ≈ records in flight / throughput).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { MosquittoBroker } from '../simulator/mosquitto.js';
import { startPostgres, type TestPostgres } from '../tests/support/postgres-server.js';
import { benchTerminalKey, rawInsertBaseline, recordRows, type RawInsertTiming } from './fleet-baseline.js';
import { ensureFleetRecords, fleetTerminalIds, readFleetRecords } from './fleet-cache.js';
import { startFleetLoad, type LoadCounts } from './fleet-load.js';
import { BenchGateway } from './gateway-process.js';
import { cpuSecondsOf, treeCpuSecondsOf } from './proc-cpu.js';
import { emitResult, MB, mean, progress, REPO_ROOT, round, type Figure } from './lib.js';

const { values } = parseArgs({
  options: {
    terminals: { type: 'string', default: '10000' },
    'per-terminal': { type: 'string', default: '100' },
    /** Records in flight per terminal (the bridge's default is 64). */
    window: { type: 'string', default: '64' },
    /** Seconds before an unacked record is published again (the bridge's default is 30). */
    'ack-timeout': { type: 'string', default: '30' },
    instances: { type: 'string', default: '1,3' },
    /** In runs of more than one instance: SIGKILL the second one when this share of the records is acked (0: no kill). */
    'kill-at': { type: 'string', default: '0.4' },
    /** Seconds after the kill to start it again (negative: never). */
    'restart-after': { type: 'string', default: '5' },
    'load-workers': { type: 'string', default: '2' },
    /** Offered load, records/s over the fleet (0: every terminal as fast as its window allows). */
    rate: { type: 'string', default: '0' },
    /** The gateways' ingest.concurrency (batches settled at once per instance). */
    concurrency: { type: 'string', default: '3' },
    'gen-workers': { type: 'string', default: String(availableParallelism()) },
    /** Gateways run with --cpu-prof into this directory (profiles written as each stops). */
    'profile-dir': { type: 'string' },
  },
});
const terminalCount = Number(values.terminals);
const perTerminal = Number(values['per-terminal']);
const window = Number(values.window);
const ackTimeoutMs = Number(values['ack-timeout']) * 1000;
const instanceCounts = values.instances.split(',').map(Number);
const killAt = Number(values['kill-at']);
const restartAfterMs = Number(values['restart-after']) * 1000;
const loadWorkers = Number(values['load-workers']);
const ratePerSecond = Number(values.rate);
const concurrency = Number(values.concurrency);
if (!(terminalCount >= 1 && terminalCount <= 99_999) || !(perTerminal >= 1) || !(window >= 1 && window <= 1000) || !(ackTimeoutMs > 0) || instanceCounts.some((n) => !(n >= 1 && n <= 16)) || !(loadWorkers >= 1) || !(ratePerSecond >= 0) || !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16)) {
  throw new Error('fleet: --terminals 1..99999, --per-terminal ≥ 1, --window 1..1000, --ack-timeout > 0, --instances 1..16 each, --load-workers ≥ 1, --rate ≥ 0, --concurrency 1..16');
}
const total = terminalCount * perTerminal;
const FD_LIMIT = 65_536;

/** The code the gateway processes start from: HEAD, and whether the tree differs from it where the gateway lives. */
function gatewayCode(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'gateway', 'protocol', 'cli'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean); // not trim(): a status line starts with a space
    return changed.length ? `${head} + uncommitted ${changed.map((l) => l.slice(3)).join(', ')}` : head;
  } catch {
    return 'unknown (no git)';
  }
}

/** The open-file limit (soft/hard) of a process, from /proc/<pid>/limits. */
function fdLimitOf(pid: number): string {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line?.replace('Max open files', '').trim().split(/\s+/) ?? [];
    return `${soft}/${hard}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Raises a process's open-file limit (soft and hard) with util-linux prlimit, and says what it
 * is: a container without CAP_SYS_RESOURCE cannot raise the hard limit, and then it stays.
 */
function raiseFdLimit(pid: number, what: string): string {
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${FD_LIMIT}:${FD_LIMIT}`], { stdio: 'pipe' });
    return `${what}: open files raised to ${fdLimitOf(pid)} (soft/hard, prlimit)`;
  } catch (err) {
    const why = ((err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message).trim().split('\n')[0];
    return `${what}: open files ${fdLimitOf(pid)} (soft/hard); not raised to ${FD_LIMIT}: ${why}`;
  }
}

function sortedPercentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

interface RunResult {
  instances: number;
  ms: number;
  rate: number;
  connectMs: number;
  counts: LoadCounts;
  latency: { p50: number; p99: number; max: number };
  rejectReasons: string[];
  db: { rows: number; distinct: number; refusals: number; byInstance: Record<string, number> };
  peakRss: { instance: string; runs: number[] }[];
  kill?: { atAcked: number; atMs: number; restartedAtMs?: number };
  maxQueue: number;
  /** CPU seconds used during the timed phase. */
  cpu: CpuSplit;
  /** Gateway database sessions by what they were doing, summed over the samples. */
  sessions: Record<string, number>;
  /** The gateway code the processes started from (git). */
  code: string;
  /** The machine's 1-minute load average at the start and the end of the timed phase (others' work shows here). */
  load: [number, number];
}

interface CpuSplit {
  gateways: number;
  postgres: number;
  mosquitto: number;
  /** This process: the load generator's threads (or the baseline's client). */
  load: number;
}

/** CPU seconds so far of each part (gateways: every run of every instance). */
function cpuNow(parts: { gateways?: readonly BenchGateway[]; postgres: TestPostgres; broker?: MosquittoBroker }): CpuSplit {
  const usage = process.cpuUsage();
  return {
    gateways: (parts.gateways ?? []).reduce((sum, g) => sum + g.totalCpuSeconds(), 0),
    postgres: parts.postgres.pid === undefined ? 0 : (treeCpuSecondsOf(parts.postgres.pid) ?? 0),
    mosquitto: parts.broker?.pid === undefined ? 0 : (cpuSecondsOf(parts.broker.pid) ?? 0),
    load: (usage.user + usage.system) / 1e6,
  };
}

function cpuSince(before: CpuSplit, after: CpuSplit): CpuSplit {
  return { gateways: after.gateways - before.gateways, postgres: after.postgres - before.postgres, mosquitto: after.mosquitto - before.mosquitto, load: after.load - before.load };
}

/** µs of CPU per record, by part. */
function perRecord(cpu: CpuSplit): string {
  const us = (seconds: number): string => `${Math.round((seconds / total) * 1e6)} µs`;
  return `gateways ${us(cpu.gateways)}, PostgreSQL ${us(cpu.postgres)}, Mosquitto ${us(cpu.mosquitto)}, load generator / client ${us(cpu.load)}`;
}

/**
 * What the gateways' PostgreSQL sessions are doing, sampled every 250 ms during the timed phase
 * (pg_stat_activity): running a statement, waiting for a lock (another instance's batch holding
 * the same terminals), or idle in a transaction (the gateway computing between statements).
 */
function sampleSessions(url: string, database: string): { stop(): Promise<Record<string, number>> } {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  const tally: Record<string, number> = {};
  let timer: NodeJS.Timeout | undefined;
  const ready = client.connect().then(() => {
    timer = setInterval(() => {
      client
        .query<{ what: string; n: number }>(
          `SELECT CASE WHEN wait_event_type = 'Lock' THEN 'waiting for a lock'
                       WHEN state = 'active' THEN 'running a statement'
                       WHEN state = 'idle in transaction' THEN 'idle in a transaction'
                       ELSE 'idle' END AS what, count(*)::int AS n
             FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'hcp-gateway%' GROUP BY 1`,
          [database],
        )
        .then(({ rows }) => {
          for (const { what, n } of rows) tally[what] = (tally[what] ?? 0) + n;
        })
        .catch(() => undefined);
    }, 250);
  });
  return {
    stop: async () => {
      await ready;
      clearInterval(timer);
      await client.end();
      return tally;
    },
  };
}

async function countRecords(url: string): Promise<RunResult['db']> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const [counts] = (await client.query<{ rows: number; distinct: number }>('SELECT count(*)::int AS rows, count(DISTINCT id)::int AS distinct FROM records')).rows;
    const [refusals] = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM refusals')).rows;
    const split = (await client.query<{ instance: string; n: number }>('SELECT instance, count(*)::int AS n FROM records GROUP BY instance ORDER BY instance')).rows;
    return { rows: counts?.rows ?? 0, distinct: counts?.distinct ?? 0, refusals: refusals?.n ?? 0, byInstance: Object.fromEntries(split.map((r) => [r.instance, r.n])) };
  } finally {
    await client.end();
  }
}

async function runFleet(n: number, ctx: { broker: MosquittoBroker; postgres: TestPostgres; rosterFile: string; cachePath: string; dir: string }): Promise<RunResult> {
  const scope = `fleet ${n}×gateway`;
  const dbUrl = await ctx.postgres.createDatabase(`fleet${n}`);
  const maxQueue = Math.min(1_000_000, Math.max(50_000, terminalCount * window));
  const profileDir = values['profile-dir'];
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const code = gatewayCode();
  progress(scope, `starting ${n} gateway process(es) from ${code} (roster of ${terminalCount.toLocaleString('en')} terminals)`);
  const gateways = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      BenchGateway.start(
        {
          instance: `fleet${n}-${i + 1}`,
          mqtt: { url: ctx.broker.url, sharedGroup: `fleet${n}`, protocolVersion: 5 },
          // One connection beside the lanes (gateway/config.ts requires it).
          database: { url: dbUrl, poolSize: Math.max(6, concurrency + 1) },
          ingest: { maxBatch: 500, maxQueue, concurrency },
          terminals: { approval: 'manual', rosterFile: ctx.rosterFile },
          http: { port: 0 },
          log: { level: 'info' },
        },
        ctx.dir,
        nodeFlags,
      ),
    ),
  );
  const load = startFleetLoad({ url: ctx.broker.url, cachePath: ctx.cachePath, window, ackTimeoutMs, connectConcurrency: 200, clientPrefix: `fleet${n}`, ratePerSecond }, loadWorkers);
  try {
    const connected = await load.connected;
    progress(scope, `${connected.counts.terminals.toLocaleString('en')} terminals connected and subscribed in ${(connected.connectMs / 1000).toFixed(1)} s; publishing`);
    const victim = n > 1 && killAt > 0 ? gateways[1] : undefined;
    let kill: RunResult['kill'];
    let restarting: Promise<void> | undefined;
    let lastReport = 0;
    const parts = { gateways, postgres: ctx.postgres, broker: ctx.broker };
    const cpuBefore = cpuNow(parts);
    const sessions = sampleSessions(ctx.postgres.url, `fleet${n}`);
    const loadAtStart = loadavg()[0] ?? Number.NaN;
    const t0 = performance.now();
    const outcome = await load.go((counts) => {
      const now = performance.now();
      if (victim && !kill && counts.acked >= killAt * total) {
        kill = { atAcked: counts.acked, atMs: now - t0 };
        progress(scope, `SIGKILL to ${victim.name} (pid ${victim.pid}) at ${counts.acked.toLocaleString('en')} acked`);
        restarting = victim.kill().then(async () => {
          if (restartAfterMs < 0) return;
          await new Promise((resolve) => setTimeout(resolve, restartAfterMs));
          await victim.restart();
          if (kill) kill.restartedAtMs = performance.now() - t0;
          progress(scope, `${victim.name} started again (pid ${victim.pid})`);
        });
      }
      if (now - lastReport > 5000) {
        lastReport = now;
        const s = (now - t0) / 1000;
        progress(scope, `${counts.acked.toLocaleString('en')} / ${total.toLocaleString('en')} acked after ${s.toFixed(0)} s (${Math.round(counts.acked / s)}/s); republished ${counts.republished}, duplicate acks ${counts.duplicateAcks}, reconnects ${counts.reconnects}`);
      }
    });
    const ms = performance.now() - t0;
    await restarting;
    const cpu = cpuSince(cpuBefore, cpuNow(parts));
    const sessionTally = await sessions.stop();
    const loadAtEnd = loadavg()[0] ?? Number.NaN;
    const sorted = outcome.latencies.sort();
    const latency = { p50: sortedPercentile(sorted, 50), p99: sortedPercentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
    progress(scope, `${total.toLocaleString('en')} records acked in ${(ms / 1000).toFixed(1)} s = ${Math.round((total / ms) * 1000)}/s; latency p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms`);
    await Promise.all(gateways.map((g) => g.stop()));
    const db = await countRecords(dbUrl);
    return {
      instances: n,
      ms,
      rate: (total / ms) * 1000,
      connectMs: connected.connectMs,
      counts: outcome.counts,
      latency,
      rejectReasons: outcome.rejectReasons,
      db,
      peakRss: gateways.map((g) => ({ instance: g.name, runs: g.peakRss })),
      kill,
      maxQueue,
      cpu,
      sessions: sessionTally,
      load: [loadAtStart, loadAtEnd],
      code,
    };
  } catch (err) {
    for (const g of gateways) process.stderr.write(`--- ${g.name} ---\n${g.output()}\n`);
    throw err;
  } finally {
    await load.close();
    await Promise.all(gateways.map((g) => g.stop()));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'hcp-bench-fleet-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const notes: string[] = [];
notes.push(raiseFdLimit(process.pid, `load generator (pid ${process.pid})`));

const gen = await ensureFleetRecords(terminalCount, perTerminal, Number(values['gen-workers']));
progress('fleet', gen.made ? `made ${total.toLocaleString('en')} sealed records in ${(gen.ms / 1000).toFixed(0)} s → ${gen.path}` : `records from the cache ${gen.path}`);

const rosterFile = join(dir, 'roster.json');
const ids = fleetTerminalIds(terminalCount);
writeFileSync(rosterFile, JSON.stringify({ terminals: ids.map((terminalId) => ({ terminalId, publicKey: benchTerminalKey(terminalId).publicKey })) }));

const payloads: string[] = [];
for await (const t of readFleetRecords(gen.path)) for (const [, payload] of t.records) payloads.push(payload);
if (payloads.length !== total) throw new Error(`fleet: the cache ${gen.path} holds ${payloads.length} records, not ${total}: remove it`);
const payloadBytes = mean(payloads.slice(0, 1000).map((p) => Buffer.byteLength(p)));
let rows: ReturnType<typeof recordRows> | undefined = recordRows(payloads);
payloads.length = 0;

const postgres = await startPostgres();
// Mosquitto's defaults: max_connections -1 (no limit); its open files are what bounds it, raised here.
const broker = await MosquittoBroker.start({ extraConfig: ['max_connections -1'], startTimeoutMs: 20_000 });
notes.push(raiseFdLimit(broker.pid ?? -1, `mosquitto (pid ${broker.pid})`));
const baselines: (RawInsertTiming & { cpu: CpuSplit })[] = [];
const runs: RunResult[] = [];
try {
  const baseline = async (label: string): Promise<void> => {
    const url = await postgres.createDatabase(`baseline_${label}`);
    const before = cpuNow({ postgres });
    const timing = await rawInsertBaseline({ url, rows: rows!, scope: `fleet baseline ${label}` });
    // The client's backend has exited: let the postmaster reap it, so that its CPU is in the postmaster's children's time.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpu = cpuSince(before, cpuNow({ postgres }));
    if (timing.inserted !== total) throw new Error(`fleet baseline: inserted ${timing.inserted} of ${total}`);
    progress('fleet', `raw batched INSERT (${label}): ${total.toLocaleString('en')} rows in ${(timing.ms / 1000).toFixed(1)} s = ${Math.round(timing.rowsPerSecond)}/s; batch p50 ${timing.batchP50Ms.toFixed(1)} ms, p99 ${timing.batchP99Ms.toFixed(1)} ms`);
    baselines.push({ ...timing, cpu });
  };
  await baseline('before');
  for (const n of instanceCounts) runs.push(await runFleet(n, { broker, postgres, rosterFile, cachePath: gen.path, dir }));
  await baseline('after');
  rows = undefined;
} finally {
  await broker.stop();
  await postgres.stop();
}

const baseRate = mean(baselines.map((b) => b.rowsPerSecond));
const baseP50 = mean(baselines.map((b) => b.batchP50Ms));
const baseP99 = mean(baselines.map((b) => b.batchP99Ms));
const size = `${terminalCount.toLocaleString('en')} terminals × ${perTerminal}`;
const figures: Figure[] = [];
for (const r of runs) {
  const label = `${r.instances} instance${r.instances > 1 ? 's' : ''}${r.kill ? ', one SIGKILLed mid-run' : ''}${ratePerSecond > 0 ? `, offered ${ratePerSecond}/s` : ''}`;
  const ratio = r.rate / baseRate;
  const peak = Math.max(...r.peakRss.flatMap((p) => p.runs));
  const exactlyOnce = r.db.rows === total && r.db.distinct === total && r.counts.acked === total && r.counts.rejected === 0;
  figures.push(
    { label: `records/s publish → ack, ${label} (${size})`, value: round(r.rate, 0), unit: '/s', baseline: { label: 'raw batched INSERT … ON CONFLICT DO NOTHING, 1 client', value: round(baseRate, 0) }, ratio: round(ratio, 3), target: '≥ 0.5', ok: ratio >= 0.5 },
    { label: `ack latency p50 (first publish → ack), ${label}`, value: round(r.latency.p50, 1), unit: 'ms', baseline: { label: 'raw INSERT batch of 500, p50', value: round(baseP50, 1) }, ratio: round(r.latency.p50 / baseP50, 1) },
    { label: `ack latency p99, ${label}`, value: round(r.latency.p99, 1), unit: 'ms', baseline: { label: 'raw INSERT batch of 500, p99', value: round(baseP99, 1) }, ratio: round(r.latency.p99 / baseP99, 1) },
    { label: `peak RSS per gateway instance (highest), ${label}`, value: round(peak / MB, 1), unit: 'MB' },
    {
      label: `rows in records (count = distinct = generated, all acked), ${label}`,
      value: r.db.rows,
      unit: '',
      baseline: { label: 'records generated', value: total },
      ratio: round(r.db.rows / total, 6),
      target: 'exactly once',
      ok: exactlyOnce,
    },
  );
}
const one = runs.find((r) => r.instances === 1);
const many = runs.find((r) => r.instances > 1);
if (one && many) {
  figures.push({ label: `scale-out: records/s with ${many.instances} instances vs 1`, value: round(many.rate, 0), unit: '/s', baseline: { label: '1 instance', value: round(one.rate, 0) }, ratio: round(many.rate / one.rate, 2) });
}
notes.push(
  `${size} = ${total.toLocaleString('en')} sealed records (layout v2, the bridge's RecordSealer), ${Math.round(payloadBytes)} B each; window ${window} per terminal, ack timeout ${ackTimeoutMs / 1000} s, ${ratePerSecond > 0 ? `offered ${ratePerSecond} records/s` : 'unpaced (each terminal as fast as its window allows)'}; ${loadWorkers} load worker thread(s); gateway ingest.maxBatch 500, concurrency ${concurrency}, maxQueue ${runs[0]?.maxQueue ?? '?'}`,
  `baseline runs: ${baselines.map((b) => `${Math.round(b.rowsPerSecond)}/s (batch p50 ${b.batchP50Ms.toFixed(1)} ms, p99 ${b.batchP99Ms.toFixed(1)} ms)`).join(' before, ')} after the gateway runs (figures use their mean)`,
  ...baselines.map((b, i) => `baseline ${i === 0 ? 'before' : 'after'}: CPU per row: ${perRecord(b.cpu)}`),
  `machine: ${availableParallelism()} cores; PostgreSQL (Debian, fsync on), Mosquitto (Debian), gateways, load generator all on it`,
);
for (const r of runs) {
  const peaks = r.peakRss.map((p) => `${p.instance} ${p.runs.map((b) => `${(b / MB).toFixed(0)} MB`).join(' then ')}`).join(', ');
  notes.push(
    `${r.instances} instance(s): ${(r.ms / 1000).toFixed(1)} s publishing (+ ${(r.connectMs / 1000).toFixed(1)} s connecting ${r.counts.terminals} terminals); published ${r.counts.published}, republished ${r.counts.republished}, duplicate acks ${r.counts.duplicateAcks}, late acks ${r.counts.unexpected}, rejected ${r.counts.rejected}, reconnects ${r.counts.reconnects}; latency max ${r.latency.max.toFixed(0)} ms`,
    `${r.instances} instance(s): records ${r.db.rows}, distinct ${r.db.distinct}, refusals ${r.db.refusals}; stored by ${Object.entries(r.db.byInstance).map(([k, v]) => `${k} ${v}`).join(', ')}; peak RSS ${peaks}`,
  );
  notes.push(`${r.instances} instance(s): CPU per record: ${perRecord(r.cpu)} (${(r.cpu.gateways + r.cpu.postgres + r.cpu.mosquitto + r.cpu.load).toFixed(1)} CPU s in ${(r.ms / 1000).toFixed(1)} s on ${availableParallelism()} cores; machine load average ${r.load[0].toFixed(1)} at the start, ${r.load[1].toFixed(1)} at the end)`);
  // Idle pool connections left out: the ingest runs one transaction at a time per instance.
  const busy = Object.entries(r.sessions).filter(([what]) => what !== 'idle');
  const sampled = busy.reduce((a, [, k]) => a + k, 0);
  notes.push(`${r.instances} instance(s): gateway database sessions in use (pg_stat_activity every 250 ms, ${sampled} session samples): ${busy.sort((a, b) => b[1] - a[1]).map(([what, k]) => `${what} ${Math.round((k / sampled) * 100)} %`).join(', ')}`);
  notes.push(`${r.instances} instance(s): gateway code ${r.code}`);
  if (r.kill) notes.push(`${r.instances} instance(s): SIGKILL at ${r.kill.atAcked} acked (${(r.kill.atMs / 1000).toFixed(1)} s)${r.kill.restartedAtMs !== undefined ? `, started again at ${(r.kill.restartedAtMs / 1000).toFixed(1)} s` : ', not started again'}`);
  if (r.rejectReasons.length) notes.push(`${r.instances} instance(s): rejected: ${r.rejectReasons.slice(0, 5).join('; ')}`);
}
emitResult({ name: 'fleet', figures, notes, details: { terminals: terminalCount, perTerminal, window, ackTimeoutMs, baselines, runs } });
