import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { parseGatewayConfig, type GatewayConfig } from '../../gateway/config.js';
import { DatabaseUnavailable, type Database } from '../../gateway/db/database.js';
import { FolderInUse, lockFolder } from '../../gateway/db/folder-lock.js';
import { migrate, SchemaNewerThanCode } from '../../gateway/db/migrate.js';
import { MIGRATIONS } from '../../gateway/db/schema.js';

import { openDatabase } from '../../gateway/db/open-database.js';
import { PostgresDatabase } from '../../gateway/db/postgres.js';
import type { Logger } from '../../gateway/ports.js';
import { HeldChain } from '../../protocol/seal/chain.js';
import { verifySealed } from '../../protocol/seal/verify.js';
import { waitUntil } from '../../simulator/wait.js';
import { benchTerminalKey, makeTerminalRecords, rawInsertBaseline, recordRows } from '../../bench/fleet-baseline.js';
import { generateFleetRecords } from '../../bench/fleet-worker.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';

/** The version the gateway's migrations end at. */
const LATEST = MIGRATIONS.length;

/**
 * The gateway's database layer on both engines: the embedded PGlite (in memory here) and a real
 * PostgreSQL started by this file (Debian's; skipped off CI when it is not installed).
 */

const { runPostgres, engines, postgresServer } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-gateway-db-'));
  temps.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A logger that keeps the messages of its info lines (what migrate reports it applied). */
function recordingLogger(): { logger: Logger; infos: string[] } {
  const infos: string[] = [];
  const logger = { info: (_obj: unknown, msg: string) => infos.push(msg), warn: () => undefined } as unknown as Logger;
  return { logger, infos };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function databaseConfig(input: Partial<GatewayConfig['database']>): GatewayConfig['database'] {
  return { poolSize: 2, ...input };
}

function writeUrlFile(url: string, mode: number): string {
  const path = join(tempDir(), 'database-url');
  writeFileSync(path, `${url}\n`);
  chmodSync(path, mode);
  return path;
}


const TERMINAL = `INSERT INTO terminals (terminal_id, status, first_seen, last_seen) VALUES ($1, 'approved', now(), now())`;
const RECORD_COLUMNS = '(id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)';

function recordRow(id: string, seq: number): unknown[] {
  return [id, 'T-0001', seq, 'event', 2, 'ok', false, '110105', 'H1', '03', new Date('2026-11-30T08:00:00Z'), { id, seq }, `{"id":"${id}"}`, new Date(), 'gw-1'];
}

/** One multi-row `INSERT … ON CONFLICT (id) DO NOTHING RETURNING id` of `rows`. */
function insertRecords(rows: unknown[][]): { text: string; params: unknown[] } {
  const width = rows[0]?.length ?? 0;
  const tuples = rows.map((_, r) => `(${Array.from({ length: width }, (__, c) => `$${r * width + c + 1}`).join(', ')})`);
  return { text: `INSERT INTO records ${RECORD_COLUMNS} VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`, params: rows.flat() };
}

const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe.each(engines)('gateway database on $name', (engine) => {
  // Each test starts from an empty database, not migrated: the migrations are what is tested.
  const database = databasePerTest(engine, { migrated: false });
  let db: Database;
  const extra: Database[] = [];

  beforeEach(() => {
    db = database();
  });

  afterEach(async () => {
    await Promise.all(extra.splice(0).filter((d) => d !== db).map((d) => d.close()));
  });

  it('migrates an empty database to the latest version, recording it', async () => {
    const { logger, infos } = recordingLogger();
    expect(await migrate(db, logger)).toEqual({ from: 0, to: LATEST });
    expect(infos).toEqual(MIGRATIONS.map(() => 'applied database migration'));
    const { rows } = await db.query<{ version: number; name: string; applied_at: Date }>('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(rows[0]?.applied_at).toBeInstanceOf(Date);
    const tables = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
    expect(tables.rows.map((r) => r.table_name)).toEqual(['alerts', 'chain_links', 'deliveries', 'follow_up_events', 'instances', 'later_ratings', 'operator_actions', 'records', 'refusals', 'schema_migrations', 'sessions', 'terminals', 'users']);
  });

  it('migrating again is a no-op', async () => {
    await migrate(db);
    const { logger, infos } = recordingLogger();
    expect(await migrate(db, logger)).toEqual({ from: LATEST, to: LATEST });
    expect(infos).toEqual([]);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBe(MIGRATIONS.length);
  });

  it('two instances migrating at once apply each version once', async () => {
    const other = await engine.another(db);
    extra.push(other);
    const first = recordingLogger();
    const second = recordingLogger();
    const results = await Promise.all([migrate(db, first.logger), migrate(other, second.logger)]);
    expect(results.map((r) => r.to)).toEqual([LATEST, LATEST]);
    // Without the lock, both would run CREATE TABLE terminals and one would fail.
    expect([...first.infos, ...second.infos]).toEqual(MIGRATIONS.map(() => 'applied database migration'));
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBe(MIGRATIONS.length);
  });

  it('refuses a database a newer gateway migrated', async () => {
    await migrate(db);
    await db.query(`INSERT INTO schema_migrations (version, name) VALUES (99, 'from a newer gateway')`);
    const refusal = migrate(db);
    await expect(refusal).rejects.toBeInstanceOf(SchemaNewerThanCode);
    await expect(refusal).rejects.toThrow(`database schema is version 99, this gateway knows up to ${LATEST}: upgrade the gateway`);
  });

  it('a migration that fails leaves the previous version and nothing of itself', async () => {
    const broken = [
      { version: 1, name: 'one', sql: 'CREATE TABLE one (x int)' },
      { version: 2, name: 'two', sql: 'CREATE TABLE two (x int); SELECT no_such_function();' },
    ];
    await expect(migrate(db, undefined, broken)).rejects.toThrow(/no_such_function/);
    const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
    expect(rows.map((r) => r.version)).toEqual([1]);
    const two = await db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'two'`);
    expect(two.rows).toEqual([]);
  });

  it('a transaction that throws is rolled back and its error rethrown as it was', async () => {
    await migrate(db);
    const failure = new Error('the batch went wrong');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(TERMINAL, ['T-0001']);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect((await db.query('SELECT * FROM terminals')).rows).toEqual([]);
    // The connection it used is fine afterwards.
    expect(await db.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n)).toBe(1);
  });

  it("a statement's error inside a transaction rolls it back and comes out with its SQLSTATE", async () => {
    await migrate(db);
    const attempt = db.transaction(async (tx) => {
      await tx.query(TERMINAL, ['T-0001']);
      await tx.query(TERMINAL, ['T-0001']);
    });
    await expect(attempt).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT * FROM terminals')).rows).toEqual([]);
  });

  it('a transaction commits what it did and returns its result', async () => {
    await migrate(db);
    const result = await db.transaction(async (tx) => {
      await tx.query(TERMINAL, ['T-0001']);
      await tx.exec(`UPDATE terminals SET area_code = '110105'; UPDATE terminals SET hall_code = 'H1'`);
      return 'done';
    });
    expect(result).toBe('done');
    const { rows } = await db.query<{ area_code: string; hall_code: string; first_seen: Date }>('SELECT area_code, hall_code, first_seen FROM terminals');
    expect(rows).toEqual([{ area_code: '110105', hall_code: 'H1', first_seen: expect.any(Date) }]);
  });

  it('the records primary key stores a record once: a duplicate id is not returned', async () => {
    await migrate(db);
    await db.query(TERMINAL, ['T-0001']);
    const first = insertRecords([recordRow(ID(1), 1), recordRow(ID(2), 2)]);
    expect((await db.query<{ id: string }>(first.text, first.params)).rows.map((r) => r.id).sort()).toEqual([ID(1), ID(2)]);
    const again = insertRecords([recordRow(ID(2), 2), recordRow(ID(3), 3), recordRow(ID(1), 1)]);
    expect((await db.query<{ id: string }>(again.text, again.params)).rows.map((r) => r.id)).toEqual([ID(3)]);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM records');
    expect(rows[0]?.n).toBe(3);
    const stored = await db.query<{ record: unknown; occurred_at: Date }>('SELECT record, occurred_at FROM records WHERE id = $1', [ID(3)]);
    expect(stored.rows[0]).toEqual({ record: { id: ID(3), seq: 3 }, occurred_at: new Date('2026-11-30T08:00:00Z') });
  });

  it('operator_actions refuses UPDATE and DELETE', async () => {
    await migrate(db);
    await db.query(`INSERT INTO operator_actions (at, actor, action, terminal_id, detail) VALUES (now(), 'ops', 'approve', 'T-0001', $1)`, [{ key: 'k' }]);
    await expect(db.query(`UPDATE operator_actions SET actor = 'someone else'`)).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM operator_actions')).rejects.toThrow(/append-only/);
    const { rows } = await db.query<{ actor: string; detail: unknown }>('SELECT actor, detail FROM operator_actions');
    expect(rows).toEqual([{ actor: 'ops', detail: { key: 'k' } }]);
  });

  it.runIf(engine.name === 'postgres')('a transaction whose connection dies is DatabaseUnavailable, and that connection is not reused', async () => {
    await migrate(db);
    const attempt = db.transaction(async (tx) => {
      await tx.query(TERMINAL, ['T-0001']);
      // The server ends this very session, as a restart or a network cut would.
      await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
    });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect((await db.query('SELECT * FROM terminals')).rows).toEqual([]);
    // Every pooled connection still answers: the dead one is not handed out again.
    const answers = await Promise.all(Array.from({ length: 4 }, () => db.transaction((tx) => tx.query<{ n: number }>('SELECT 1 AS n'))));
    expect(answers.map((a) => a.rows)).toEqual(Array.from({ length: 4 }, () => [{ n: 1 }]));
  });

  it.runIf(engine.name === 'postgres')('the server gone and back: DatabaseUnavailable naming it, then working again', async () => {
    const pgServer = await postgresServer();
    const postgres = await PostgresDatabase.open(pgServer.url, { poolSize: 2 });
    extra.push(postgres);
    await migrate(postgres);
    // Two idle pooled connections, to be dropped by the server's death.
    await Promise.all([postgres.transaction((tx) => tx.query('SELECT 1')), postgres.transaction((tx) => tx.query('SELECT 1'))]);
    await pgServer.kill();
    await waitUntil(() => postgres.poolErrors > 0, 'the pool to see its idle connections dropped');
    const gone = postgres.transaction((tx) => tx.query(TERMINAL, ['T-0001']));
    await expect(gone).rejects.toBeInstanceOf(DatabaseUnavailable);
    await expect(gone).rejects.toThrow(`127.0.0.1:${pgServer.port}/postgres`);
    await pgServer.restart();
    await postgres.transaction((tx) => tx.query(TERMINAL, ['T-0001']));
    expect((await postgres.query('SELECT terminal_id FROM terminals')).rows).toEqual([{ terminal_id: 'T-0001' }]);
    // The suite's shared pool lost its connections too; its next query reconnects.
    await db.query('SELECT 1');
  }, 60_000);
});

describe('openDatabase', () => {
  it('refuses a closed port with DatabaseUnavailable naming host:port/database and what to check, never the password', async () => {
    const port = await closedPort();
    const path = writeUrlFile(`postgres://hcp:Sup3r-S3cret-pw@127.0.0.1:${port}/hcp`, 0o600);
    const attempt = openDatabase(databaseConfig({ urlFile: path }));
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailable);
    const message = await attempt.catch((err: Error) => err.message);
    expect(message).toContain(`127.0.0.1:${port}/hcp`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toMatch(/pg_hba\.conf/);
    expect(message).not.toContain('Sup3r-S3cret-pw');
  });

  it('refuses a world-readable urlFile, a missing one and one not holding a URL, naming the setting and not the content', async () => {
    const readable = writeUrlFile('postgres://hcp:Sup3r-S3cret-pw@127.0.0.1:5432/hcp', 0o644);
    await expect(openDatabase(databaseConfig({ urlFile: readable }))).rejects.toThrow(new RegExp(`database\\.urlFile ${readable}: other users may read it: chmod 600`));
    await expect(openDatabase(databaseConfig({ urlFile: join(tempDir(), 'nothing-here') }))).rejects.toThrow(/database\.urlFile .*nothing-here: no such file/);
    const notUrl = writeUrlFile('Sup3r-S3cret-pw', 0o600);
    const attempt = openDatabase(databaseConfig({ urlFile: notUrl }));
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/does not hold a PostgreSQL URL/);
    expect(await attempt.catch((err: Error) => err.message)).not.toContain('Sup3r-S3cret-pw');
  });

  it.runIf(runPostgres)('opens PostgreSQL from a mode-600 urlFile holding a password', async () => {
    const pgServer = await postgresServer();
    // Trust authentication on loopback: the password is carried and ignored.
    const path = writeUrlFile(pgServer.url.replace('postgres@', 'postgres:an-ignored-password@'), 0o600);
    const db = await openDatabase(databaseConfig({ urlFile: path }));
    try {
      expect(db.kind).toBe('postgres');
      expect((await db.query<{ n: number }>('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it.runIf(runPostgres)('opens PostgreSQL from database.url', async () => {
    const pgServer = await postgresServer();
    const db = await openDatabase(parseGatewayConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' }, database: { url: pgServer.url } }).database, { applicationName: 'hcp-gateway gw-7' });
    try {
      // Named in pg_stat_activity, for the operator looking at who holds connections.
      expect((await db.query<{ name: string }>(`SELECT current_setting('application_name') AS name`)).rows).toEqual([{ name: 'hcp-gateway gw-7' }]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('the embedded database: makes the folder, takes over a dead process’s lock, refuses a second opener and frees the lock at close', async () => {
    const dataDir = join(tempDir(), 'nested', 'gateway-data');
    const lockPath = `${dataDir}.lock`;
    const dead = await deadPid();
    // A lock left by a gateway that died.
    mkdirSync(join(dataDir, '..'), { recursive: true });
    writeFileSync(lockPath, `${dead}\n`);
    const db = await openDatabase(databaseConfig({ dataDir }));
    try {
      expect(db.kind).toBe('pglite');
      expect(readFileSync(lockPath, 'utf8').trim()).toBe(String(process.pid));
      const second = openDatabase(databaseConfig({ dataDir }));
      await expect(second).rejects.toBeInstanceOf(FolderInUse);
      await expect(second).rejects.toBeInstanceOf(DatabaseUnavailable);
      await expect(second).rejects.toThrow(`already open in this process (pid ${process.pid})`);
      await migrate(db);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows).toEqual([{ n: MIGRATIONS.length }]);
    } finally {
      await db.close();
    }
    expect(existsSync(lockPath)).toBe(false);
  }, 60_000);

  it('the embedded database: a lock held by another live process is refused, naming that process', async () => {
    const dataDir = join(tempDir(), 'held');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(`${dataDir}.lock`, `${holder.pid}\n`);
      const attempt = openDatabase(databaseConfig({ dataDir }));
      await expect(attempt).rejects.toBeInstanceOf(FolderInUse);
      await expect(attempt).rejects.toThrow(`in use by process ${holder.pid}`);
      // The lock is the holder's still.
      expect(readFileSync(`${dataDir}.lock`, 'utf8').trim()).toBe(String(holder.pid));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('any lock file content: a live process id is refused naming it, anything else is taken over and released', () => {
    const folder = join(tempDir(), 'locked');
    const lockPath = `${folder}.lock`;
    const live = new Set([process.pid, process.ppid]);
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(String(process.pid), `${process.ppid}\n`, '0', '-1', '1e3', '99999999999', ' 12 ', '\u0000')),
        (content) => {
          writeFileSync(lockPath, content);
          const pid = /^[1-9]\d{0,9}$/.test(content.trim()) ? Number(content.trim()) : undefined;
          let lock: ReturnType<typeof lockFolder> | undefined;
          try {
            lock = lockFolder(folder);
          } catch (err) {
            expect(err).toBeInstanceOf(FolderInUse);
            expect((err as FolderInUse).pid).toBe(pid);
            expect(readFileSync(lockPath, 'utf8')).toBe(content);
            return;
          }
          expect(pid === undefined || !live.has(pid)).toBe(true);
          expect(readFileSync(lockPath, 'utf8')).toBe(`${process.pid}\n`);
          lock.release();
          expect(existsSync(lockPath)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hostile database.url and urlFile contents end in ConfigError or DatabaseUnavailable, never echoing the password', async () => {
    const port = await closedPort();
    const password = fc.string({ minLength: 1, maxLength: 24 }).map((s) => `Zq9${s}`);
    const hostilePart = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('', '@', ':', '/', '?', '#', '%', '%zz', '[::1]', '..', '\n', '\u0000'));
    const wellFormed = fc.record({
      scheme: fc.constantFrom('postgres', 'postgresql'),
      user: hostilePart,
      password,
      host: fc.constantFrom('127.0.0.1', 'localhost', '[::1]'),
      port: fc.constantFrom(String(port), '0', '99999', 'abc', ''),
      database: hostilePart,
      query: fc.constantFrom('', '?sslmode=disable', '?sslmode=verify-full', '?host=/nonexistent-socket-dir', '?connect_timeout=1', '?application_name=%00'),
    });
    const input = fc.oneof(
      wellFormed.map((u) => ({
        text: `${u.scheme}://${encodeURIComponent(u.user)}:${encodeURIComponent(u.password)}@${u.host}${u.port ? `:${u.port}` : ''}/${encodeURIComponent(u.database)}${u.query}`,
        secret: u.password,
      })),
      fc.tuple(fc.constantFrom('', 'postgres://', 'postgresql://u:'), fc.string({ unit: 'binary', maxLength: 60 }), password).map(([prefix, rest, secret]) => ({ text: `${prefix}${rest}${secret}@127.0.0.1:${port}/x`, secret })),
    );
    await fc.assert(
      fc.asyncProperty(input, fc.boolean(), async ({ text, secret }, inFile) => {
        let opened: Database | undefined;
        try {
          const database = inFile ? { urlFile: writeUrlFile(text, 0o600) } : { url: text };
          const config = parseGatewayConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' }, database }).database;
          opened = await openDatabase(config, { connectTimeoutMs: 1500 });
        } catch (err) {
          expect(err instanceof ConfigError || err instanceof DatabaseUnavailable, `unexpected ${String(err)}`).toBe(true);
          const message = (err as Error).message;
          expect(message).not.toContain(secret);
          expect(message).not.toContain(encodeURIComponent(secret));
          return;
        } finally {
          await opened?.close();
        }
        throw new Error(`opened a database from ${JSON.stringify(text)}`);
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});

describe.runIf(runPostgres)('the fleet benchmark baseline', () => {
  it('makes sealed, chained records a receiver verifies, and inserts their rows once', async () => {
    const key = benchTerminalKey('FLEET-T0001');
    expect(benchTerminalKey('FLEET-T0001').publicKey).toBe(key.publicKey);
    expect(benchTerminalKey('FLEET-T0002').publicKey).not.toBe(key.publicKey);
    const records = makeTerminalRecords('FLEET-T0001', 30, key, { hallCode: 'H7', windowNo: '05' });
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const chain = new HeldChain();
    for (const record of records) {
      const verdict = verifySealed(JSON.parse(record.payload), key.publicKey, chain);
      expect(verdict.verdict, record.payload).toBe('ok');
      if (verdict.verdict === 'ok') chain.add(verdict.link);
    }
    const rows = recordRows(records.map((r) => r.payload));
    expect(rows[0]).toMatchObject({ terminalId: 'FLEET-T0001', hallCode: 'H7', windowNo: '05', seq: 1, kind: 'invitation', seal: 'ok' });

    const url = await (await postgresServer()).createDatabase('fleet_baseline_test');
    const first = await rawInsertBaseline({ url, rows, batchSize: 8 });
    expect(first).toMatchObject({ rows: 30, inserted: 30, batches: 4 });
    expect(first.rowsPerSecond).toBeGreaterThan(0);
    const again = await rawInsertBaseline({ url, rows, batchSize: 8 });
    expect(again.inserted).toBe(0);
    const db = await PostgresDatabase.open(url, { poolSize: 1 });
    try {
      expect((await db.query<{ n: number }>('SELECT count(DISTINCT id)::int AS n FROM records')).rows).toEqual([{ n: 30 }]);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe('the fleet benchmark record workers', () => {
  it('make each terminal its own verifiable chain in worker threads, with the key the main thread derives', async () => {
    const terminals = ['FLEET-W1', 'FLEET-W2', 'FLEET-W3'];
    const made = await generateFleetRecords(terminals, 4, { workers: 2 });
    expect([...made.keys()]).toEqual(terminals);
    for (const id of terminals) {
      const records = made.get(id) ?? [];
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      const chain = new HeldChain();
      for (const record of records) {
        expect(JSON.parse(record.payload)).toMatchObject({ terminalId: id });
        const verdict = verifySealed(JSON.parse(record.payload), benchTerminalKey(id).publicKey, chain);
        expect(verdict.verdict).toBe('ok');
        if (verdict.verdict === 'ok') chain.add(verdict.link);
      }
    }
  }, 60_000);
});

/** The id of a process that has exited (its lock is stale). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise((resolve) => child.once('close', resolve));
  if (pid === undefined) throw new Error('no pid');
  return pid;
}
