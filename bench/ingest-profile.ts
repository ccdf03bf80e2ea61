/*
 * A micro benchmark of the gateway's record ingest alone (no broker): the same sealed records
 * (bench/fleet-baseline.ts, the bridge's own sealer) inserted raw by one client, then ingested
 * by RecordIngest on a database of its own on the same PostgreSQL, in the same run, alternating
 * rounds. Plus where one record's CPU goes (read, seal, classify) without a database, and, with
 * --sql, how long each statement of a batch takes and what it cost its PostgreSQL backend in CPU.
 *
 *   npx tsx bench/ingest-profile.ts [--terminals 50] [--records 400] [--batch 500] [--rounds 2] [--sql] [--verify-thread] [--profile dir]
 *
 * Not part of bench/run.ts (bench/fleet.ts measures the whole chain); a tool for changing ingest.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { migrate } from '../gateway/db/migrate.js';
import type { Database, Queryable, Row } from '../gateway/db/database.js';
import { PostgresDatabase } from '../gateway/db/postgres.js';
import { readRecordMessage } from '../gateway/ingest/incoming.js';
import { RecordIngest } from '../gateway/ingest/record-ingest.js';
import { fastestEd25519Verify, loadSodium } from '../gateway/ingest/ed25519.js';
import { VerifyThread } from '../gateway/ingest/verify-thread.js';
import { HeldChain } from '../protocol/seal/chain.js';
import { verifySealed } from '../protocol/seal/verify.js';
import { terminalTopics } from '../protocol/topics.js';
import { startPostgres } from '../tests/support/postgres-server.js';
import { profilePhase } from './lib.js';
import { benchTerminalKey, makeTerminalRecords, rawInsertBaseline, recordRows, type FleetRecord } from './fleet-baseline.js';

const PREFIX = 'hcp/v1';

const { values: args } = parseArgs({
  options: {
    terminals: { type: 'string', default: '50' },
    records: { type: 'string', default: '400' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
    sql: { type: 'boolean', default: false },
    /** Signatures checked on a verify thread (the gateway's default on PostgreSQL, config ingest.verifyThread). */
    'verify-thread': { type: 'boolean', default: false },
    /** Write a .cpuprofile of each ingest run here (bench/cpu-profile-summary.ts reads it). */
    profile: { type: 'string' },
  },
});
const terminals = Number(args.terminals);
const perTerminal = Number(args.records);
const batch = Number(args.batch);
const rounds = Number(args.rounds);

interface Message {
  terminalId: string;
  topic: string;
  payload: Buffer;
  record: FleetRecord;
}

/** The fleet's records, interleaved by terminal as they would arrive (every terminal's record 1, then every record 2…). */
function fleet(): { messages: Message[]; keys: Map<string, string> } {
  const keys = new Map<string, string>();
  const chains: { terminalId: string; records: FleetRecord[] }[] = [];
  for (let t = 0; t < terminals; t++) {
    const terminalId = `PROF-T${String(t).padStart(5, '0')}`;
    const key = benchTerminalKey(terminalId);
    keys.set(terminalId, key.publicKey);
    chains.push({ terminalId, records: makeTerminalRecords(terminalId, perTerminal, key, { hallCode: 'PROF-HALL', windowNo: String(t % 100).padStart(2, '0') }) });
  }
  const messages: Message[] = [];
  for (let i = 0; i < perTerminal; i++) {
    for (const { terminalId, records } of chains) {
      const record = records[i] as FleetRecord;
      messages.push({ terminalId, topic: terminalTopics(terminalId, PREFIX).records, payload: Buffer.from(record.payload), record });
    }
  }
  return { messages, keys };
}

/** Per record, µs: reading the message (parse, decode), then its seal, without a database. */
function cpuBreakdown(messages: readonly Message[], keys: Map<string, string>): Record<string, number | string> {
  const verifier = fastestEd25519Verify(loadSodium());
  const n = messages.length;
  let t0 = performance.now();
  const read = messages.map((m) => readRecordMessage(m.topic, m.payload, PREFIX));
  const readUs = ((performance.now() - t0) * 1000) / n;
  const chains = new Map<string, HeldChain>();
  t0 = performance.now();
  for (const [i, m] of read.entries()) {
    if (m.kind !== 'readable') throw new Error(`unreadable: ${m.reason}`);
    let chain = chains.get(m.terminalId);
    if (!chain) chains.set(m.terminalId, (chain = new HeldChain()));
    const verdict = verifySealed(m.body, keys.get(m.terminalId), chain, verifier.verify);
    if (verdict.verdict !== 'ok') throw new Error(`record ${i}: ${verdict.verdict}`);
    chain.add(verdict.link);
  }
  const sealUs = ((performance.now() - t0) * 1000) / n;
  return { readUs: round(readUs), sealUs: round(sealUs), verifier: verifier.name };
}

/** A database that times each statement by its first words (with --sql). */
/**
 * CPU nanoseconds a local PostgreSQL backend has run (the first field of /proc/PID/schedstat):
 * what a statement cost the server, apart from the time it waited.
 */
function backendCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

class TimedDatabase implements Database {
  readonly kind = 'postgres';
  readonly times = new Map<string, { n: number; ms: number; serverUs: number }>();

  constructor(private readonly inner: Database) {}

  /** The statements of one transaction, each timed, and what each cost its backend in CPU. */
  #timed(tx: Queryable, backend: { pid?: number }): Queryable {
    return {
      query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => {
        const t0 = performance.now();
        const cpu0 = backend.pid === undefined ? 0 : backendCpuNs(backend.pid);
        try {
          return await tx.query<R>(text, params);
        } finally {
          this.#add(text, performance.now() - t0, backend.pid === undefined ? 0 : (backendCpuNs(backend.pid) - cpu0) / 1000);
        }
      },
      exec: (sql) => tx.exec(sql),
    };
  }

  #add(text: string, ms: number, serverUs: number): void {
    const name = text.replace(/\s+/g, ' ').trim().slice(0, 48);
    const entry = this.times.get(name) ?? { n: 0, ms: 0, serverUs: 0 };
    entry.n += 1;
    entry.ms += ms;
    entry.serverUs += serverUs;
    this.times.set(name, entry);
  }

  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    return this.#timed(this.inner, {}).query<R>(text, params);
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const backend: { pid?: number; cpu0?: number } = {};
    try {
      return await this.inner.transaction(async (tx) => {
        // Asked inside the transaction (its BEGIN already run): not counted among the statements.
        backend.pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        backend.cpu0 = backend.pid === undefined ? undefined : backendCpuNs(backend.pid);
        return fn(this.#timed(tx, backend));
      });
    } finally {
      // The backend's CPU from the first statement through COMMIT.
      const serverUs = backend.pid === undefined || backend.cpu0 === undefined ? 0 : (backendCpuNs(backend.pid) - backend.cpu0) / 1000;
      this.#add('(whole transaction)', performance.now() - t0, serverUs);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function ingestRun(url: string, messages: readonly Message[], keys: Map<string, string>): Promise<{ ms: number; rowsPerSecond: number; batches: number; cpuUsPerRecord: number; sql?: Record<string, string> }> {
  const opened = await PostgresDatabase.open(url, { poolSize: 4 });
  const db = args.sql ? new TimedDatabase(opened) : opened;
  try {
    await migrate(opened);
    await opened.query(
      `INSERT INTO terminals (terminal_id, status, public_key, first_seen, last_seen) SELECT t, 'approved', k, now(), now() FROM unnest($1::text[], $2::text[]) AS u(t, k)`,
      [[...keys.keys()], [...keys.values()]],
    );
    let acks = 0;
    const ingest = new RecordIngest({
      db,
      publisher: {
        publish: () => {
          acks += 1;
          return Promise.resolve();
        },
      },
      prefix: PREFIX,
      instance: 'profile',
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
      maxBatch: batch,
      maxQueue: messages.length + 1,
      ...(args['verify-thread'] && { verifyThread: new VerifyThread() }),
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (const m of messages) ingest.receive(m.topic, m.payload);
    await ingest.idle();
    await ingest.stop();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const stats = ingest.stats();
    const { rows } = await opened.query<{ n: number; ok: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE seal = 'ok')::int AS ok FROM records`);
    if (stats.accepted !== messages.length || rows[0]?.n !== messages.length || rows[0]?.ok !== messages.length) {
      throw new Error(`ingest stored ${rows[0]?.n} (${rows[0]?.ok} ok) of ${messages.length}: ${JSON.stringify(stats)}`);
    }
    const sql =
      db instanceof TimedDatabase
        ? Object.fromEntries([...db.times].map(([name, t]) => [name, `${t.n} × ${round(t.ms / t.n)} ms = ${round((t.ms * 1000) / messages.length)} µs/record; server CPU ${round(t.serverUs / messages.length)} µs/record`]))
        : undefined;
    const cpuUsPerRecord = round((cpu.user + cpu.system) / messages.length);
    return { ms, rowsPerSecond: round(messages.length / (ms / 1000)), batches: stats.batches, cpuUsPerRecord, ...(sql && { sql }), ...(acks === 0 && { acks }) };
  } finally {
    await db.close();
  }
}

function ratio(value: number, baseline: number): number {
  return Math.round((value / baseline) * 100) / 100;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { messages, keys } = fleet();
  process.stderr.write(`${messages.length} sealed records of ${terminals} terminals made in ${Math.round(performance.now() - t0)} ms\n`);
  console.log(JSON.stringify({ cpu: cpuBreakdown(messages, keys) }));
  const pgServer = await startPostgres();
  const raws: number[] = [];
  const ingests: number[] = [];
  try {
    for (let round_ = 0; round_ < rounds; round_++) {
      const raw = await rawInsertBaseline({ url: await pgServer.createDatabase(`raw_${round_}`), rows: recordRows(messages.map((m) => m.record.payload)), batchSize: batch });
      const url = await pgServer.createDatabase(`ingest_${round_}`);
      const ingest = await profilePhase(args.profile, `ingest-${round_}`, () => ingestRun(url, messages, keys));
      raws.push(raw.rowsPerSecond);
      ingests.push(ingest.rowsPerSecond);
      console.log(
        JSON.stringify({
          round: round_,
          rawRowsPerSecond: round(raw.rowsPerSecond),
          ingestRowsPerSecond: ingest.rowsPerSecond,
          ratio: ratio(ingest.rowsPerSecond, raw.rowsPerSecond),
          ingestCpuUsPerRecord: ingest.cpuUsPerRecord,
          batches: ingest.batches,
          ...(ingest.sql && { sql: ingest.sql }),
        }),
      );
    }
    // On a shared machine the least disturbed round of each says most; the median beside it.
    const best = (xs: number[]): number => Math.max(...xs);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    console.log(JSON.stringify({ best: { raw: round(best(raws)), ingest: round(best(ingests)), ratio: ratio(best(ingests), best(raws)) }, median: { raw: round(median(raws)), ingest: round(median(ingests)), ratio: ratio(median(ingests), median(raws)) } }));
  } finally {
    await pgServer.stop();
  }
}

await main();
