/*
 * The fleet benchmark's pieces that touch no broker: lightweight terminals' sealed records (the
 * bridge's own layout and sealer, a key per terminal derived from its id so that any worker
 * thread and the main thread agree on it without passing keys around), and the raw baseline the
 * gateway's ingest is compared with: one client inserting the same rows into `records` with
 * batched `INSERT … ON CONFLICT (id) DO NOTHING`, nothing else.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { RecordSealer } from '../bridge/identity/record-sealer.js';
import { publicKeyText, signerOf, type TerminalIdentity } from '../bridge/identity/terminal-key.js';
import { migrate } from '../gateway/db/migrate.js';
import type { Queryable, Row } from '../gateway/db/database.js';
import { PostgresDatabase } from '../gateway/db/postgres.js';
import { insertRecords, recordRow, type RecordRow } from '../gateway/store/records.js';
import { DEFAULT_GRADE_CODE_PROFILE } from '../protocol/grades.js';
import { decodeRecord, RECORD_FORMATS } from '../protocol/record-formats/index.js';
import { GENESIS } from '../protocol/seal/seal.js';
import { benchClock, BENCH_IDENTITY, makeInvitation, percentile, progress } from './lib.js';

// ---------------------------------------------------------------------------------------------
// Lightweight terminals' records

/** PKCS#8 DER of an Ed25519 private key, less its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A bench terminal's Ed25519 key, the same for the same id in any thread or process: its seed is
 * SHA-256 of the id. (A benchmark's keys only: a real terminal's key is random, bridge/identity.)
 */
export function benchTerminalKey(terminalId: string): TerminalIdentity {
  const seed = createHash('sha256').update(`hcp-bench-fleet-key\n${terminalId}`).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: publicKeyText(createPublicKey(privateKey)), sign: signerOf(privateKey) };
}

/** One sealed record as a bridge publishes it on `…/records`. */
export interface FleetRecord {
  id: string;
  seq: number;
  /** The message, verbatim (what the seal covers). */
  payload: string;
  /** Its hash: the next record's `prev`. */
  hash: string;
}

export interface TerminalRecordsOptions {
  areaCode?: string;
  hallCode?: string;
  windowNo?: string;
  /** Continue a chain: the seq of the first record (default 1) and the hash before it (default the genesis). */
  firstSeq?: number;
  prev?: string;
}

/**
 * `count` closed invitations of one terminal (nine in ten rated, as bench/lib makeInvitation
 * makes them), laid out in the default sealed layout (v2) and sealed and chained with `key`
 * exactly as the bridge's outbox does at commit: seq 1, 2, 3…, the first chained to the genesis.
 */
export function makeTerminalRecords(terminalId: string, count: number, key: Pick<TerminalIdentity, 'sign'>, options: TerminalRecordsOptions = {}): FleetRecord[] {
  const sealer = new RecordSealer(RECORD_FORMATS.v2, DEFAULT_GRADE_CODE_PROFILE, key.sign);
  const clock = benchClock();
  const identity = {
    terminalId,
    areaCode: options.areaCode ?? BENCH_IDENTITY.areaCode,
    hallCode: options.hallCode ?? BENCH_IDENTITY.hallCode,
    windowNo: options.windowNo ?? BENCH_IDENTITY.windowNo,
  };
  const records: FleetRecord[] = [];
  let prev = options.prev ?? GENESIS;
  const firstSeq = options.firstSeq ?? 1;
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const record = { ...makeInvitation(seq, clock), ...identity };
    const sealed = sealer.seal(record, seq, prev);
    records.push({ id: record.id, seq, payload: sealed.body, hash: sealed.hash });
    prev = sealed.hash;
  }
  return records;
}

/** The `records` rows the gateway stores for these payloads (seal verified: 'ok'), through its own recordRow. */
export function recordRows(payloads: readonly string[], instance = 'baseline'): RecordRow[] {
  const receivedAt = new Date();
  return payloads.map((payload) => {
    const decoded = decodeRecord(payload);
    if (decoded.kind !== 'record') throw new Error(`bench record is not a valid record: ${decoded.kind === 'unreadable' ? decoded.reason : `${decoded.id}: ${decoded.reason}`}`);
    return recordRow(decoded.record, { seal: 'ok', payload, receivedAt, instance });
  });
}

// ---------------------------------------------------------------------------------------------
// The raw insert baseline

export interface RawInsertOptions {
  /** A PostgreSQL database of the baseline's own (migrated here): the gateway's run must not already hold these ids. */
  url: string;
  rows: readonly RecordRow[];
  /** Rows per statement. Default 500, the gateway's default ingest.maxBatch. */
  batchSize?: number;
  /** Progress lines on stderr under this scope; undefined: quiet. */
  scope?: string;
}

export interface RawInsertTiming {
  rows: number;
  /** Rows the database stored (the others were already there). */
  inserted: number;
  batches: number;
  ms: number;
  rowsPerSecond: number;
  /** Per-statement time, ms. */
  batchP50Ms: number;
  batchP99Ms: number;
}

/**
 * One pg client (no pool, no gateway), each batch one autocommitted statement: the gateway's own
 * insertRecords (`INSERT … SELECT * FROM unnest(…) ON CONFLICT (id) DO NOTHING RETURNING id`).
 * The terminals the rows name are registered first, untimed (records reference them).
 */
export async function rawInsertBaseline({ url, rows, batchSize = 500, scope }: RawInsertOptions): Promise<RawInsertTiming> {
  const setup = await PostgresDatabase.open(url, { poolSize: 1 });
  try {
    await migrate(setup);
    const terminals = [...new Set(rows.map((r) => r.terminalId))];
    await setup.query(
      `INSERT INTO terminals (terminal_id, status, first_seen, last_seen) SELECT t, 'approved', now(), now() FROM unnest($1::text[]) AS t ON CONFLICT (terminal_id) DO NOTHING`,
      [terminals],
    );
  } finally {
    await setup.close();
  }

  const client = new pg.Client({ connectionString: url });
  // The server gone mid-run fails the statement in flight; without a listener it would end the process.
  client.on('error', () => undefined);
  await client.connect();
  const raw: Queryable = {
    query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => ({ rows: (await client.query<R>(text, params ? [...params] : undefined)).rows }),
    exec: async (sql: string) => {
      await client.query(sql);
    },
  };
  const batchMs: number[] = [];
  let inserted = 0;
  let lastReport = performance.now();
  const started = performance.now();
  try {
    for (let from = 0; from < rows.length; from += batchSize) {
      const t0 = performance.now();
      inserted += (await insertRecords(raw, rows.slice(from, from + batchSize))).size;
      batchMs.push(performance.now() - t0);
      if (scope !== undefined && performance.now() - lastReport > 2000) {
        lastReport = performance.now();
        progress(scope, `${Math.min(rows.length, from + batchSize).toLocaleString('en')} / ${rows.length.toLocaleString('en')} rows inserted`);
      }
    }
  } finally {
    await client.end();
  }
  const ms = performance.now() - started;
  return { rows: rows.length, inserted, batches: batchMs.length, ms, rowsPerSecond: rows.length / (ms / 1000), batchP50Ms: percentile(batchMs, 50), batchP99Ms: percentile(batchMs, 99) };
}
