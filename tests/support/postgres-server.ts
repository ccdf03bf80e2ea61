import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { onCI } from './brokers.js';
import { freePort } from '../../simulator/free-port.js';

/**
 * Debian's PostgreSQL (the `postgresql` package: /usr/lib/postgresql/<version>/bin) started by
 * the tests themselves on a free loopback port, as the Mosquitto conformance starts its broker.
 * Its data lives in a temporary folder removed at stop(); fsync stays on so that the fault tests
 * ("the database gone and back") see what a real server keeps.
 */
export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication on loopback: any password is ignored). */
  readonly url: string;
  readonly port: number;
  /** The postmaster's process id while it runs. */
  readonly pid: number | undefined;
  /** A URL for another database on this server (made with createDatabase). */
  urlFor(database: string): string;
  /** CREATE DATABASE `name`; resolves with its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (clients disconnected), then the data folder is removed. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown if running, then start again on the same port with the same data; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** SIGKILL to the server and its backends ("the database is gone"); the data is kept for restart(). */
  kill(): Promise<void>;
}

/** The folder holding initdb and postgres, newest version first; $POSTGRES_BIN (a bin folder) wins. */
export function findPostgresBin(): string | undefined {
  const chosen = process.env.POSTGRES_BIN;
  if (chosen) return existsSync(join(chosen, 'postgres')) ? chosen : undefined;
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root).filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb')));
}

/** Can these tests start a PostgreSQL here? */
export function postgresAvailable(): boolean {
  return findPostgresBin() !== undefined;
}

/**
 * Whether suites needing a real PostgreSQL run: yes when it is installed, and always on CI (where
 * a missing one then fails in startPostgres instead of being skipped).
 */
export function postgresTestsRun(): boolean {
  return postgresAvailable() || onCI();
}

/** Said once per process by suites that skip their PostgreSQL half. */
export function warnPostgresSkipped(): void {
  if (process.env.HCP_POSTGRES_SKIP_WARNED !== undefined) return;
  process.env.HCP_POSTGRES_SKIP_WARNED = '1';
  console.warn('PostgreSQL suites skipped: no /usr/lib/postgresql/*/bin/postgres. Install it with `apt-get install postgresql` (or set POSTGRES_BIN).');
}

/** postgres refuses to run as root: as root, initdb and postgres run as the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('tests run as root and there is no `postgres` user to run PostgreSQL as (apt-get install postgresql makes it)');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Servers still running, killed with their folders if the test process exits without stopping them. */
const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function track(entry: { child: ChildProcess; dir: string }): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const { child, dir } of live) {
        killGroup(child, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  live.add(entry);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Its own process group (detached): the backends go with the postmaster.
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Resolves once no process of the group `pgid` is left (polled: the kernel gives no event for it). */
async function groupGone(pgid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) {
      process.kill(-pgid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}


function run(binary: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...owner, env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (output += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (output += t));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${binary} ${args.join(' ')} failed (exit ${code}):\n${output.trim()}`))));
  });
}

const OUTPUT_LIMIT = 64 * 1024;

class PostgresProcess implements TestPostgres {
  readonly url: string;
  #child: ChildProcess | undefined;
  #closed: Promise<void> = Promise.resolve();
  #output = '';
  #removed = false;
  #ops: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly owner: { uid: number; gid: number } | undefined,
    private readonly startTimeoutMs: number,
  ) {
    this.url = this.urlFor('postgres');
  }

  get pid(): number | undefined {
    const child = this.#child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
    return this.urlFor(name);
  }

  async initdb(): Promise<void> {
    await run(join(this.bin, 'initdb'), ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], this.owner);
  }

  stop(): Promise<void> {
    return this.#serially(async () => {
      await this.#shutdown('SIGINT');
      if (!this.#removed) {
        this.#removed = true;
        rmSync(this.dir, { recursive: true, force: true });
      }
    });
  }

  restart(): Promise<void> {
    return this.#serially(async () => {
      if (this.#removed) throw new Error('this PostgreSQL was stopped and its data removed: start a new one');
      await this.#shutdown('SIGINT');
      await this.launch();
    });
  }

  kill(): Promise<void> {
    return this.#serially(() => this.#shutdown('SIGKILL'));
  }

  /** Starts postgres and resolves once a client can run a query on it. */
  async launch(): Promise<void> {
    const args = [
      '-D', this.dataDir,
      '-p', String(this.port),
      // Loopback TCP, and the unix socket in our own folder (not /var/run/postgresql, which may not exist or be another server's).
      '-c', 'listen_addresses=127.0.0.1',
      '-k', this.dir,
      // Room for several gateway instances' pools, a benchmark's clients and the test's own.
      '-c', 'max_connections=300',
      // Kept on: the fault tests' "gone and back" must see what a real server keeps.
      '-c', 'fsync=on',
      '-c', 'logging_collector=off',
    ];
    const child = spawn(join(this.bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...this.owner, env: { ...process.env, LC_ALL: 'C' } });
    const entry = { child, dir: this.dir };
    track(entry);
    this.#child = child;
    this.#output = '';
    const append = (text: string): void => {
      this.#output = (this.#output + text).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    let exited = false;
    let spawnError: Error | undefined;
    this.#closed = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
    }).then(() => {
      exited = true;
      live.delete(entry);
    });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (exited) {
        throw new Error(`postgres on 127.0.0.1:${this.port} ${spawnError ? `could not be started: ${spawnError.message}` : 'exited early'}; its output:\n${this.#output.trim()}`);
      }
      if (await this.#answers()) return;
      if (Date.now() > deadline) {
        await this.#shutdown('SIGKILL');
        throw new Error(`postgres on 127.0.0.1:${this.port} did not accept connections within ${this.startTimeoutMs} ms; its output:\n${this.#output.trim()}`);
      }
      await Promise.race([this.#closed, new Promise((resolve) => setTimeout(resolve, 25))]);
    }
  }

  async #answers(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #shutdown(signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    killGroup(child, signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([this.#closed.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 10_000)))]);
    clearTimeout(timer);
    if (timedOut) killGroup(child, 'SIGKILL');
    await this.#closed;
    // The backends go with the postmaster; a restart must wait until none is left holding the
    // data folder's shared memory ("pre-existing shared memory block is still in use").
    if (child.pid !== undefined) await groupGone(child.pid);
    this.#child = undefined;
  }

  #serially<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#ops.then(op);
    this.#ops = result.catch(() => undefined);
    return result;
  }
}

/**
 * A fresh PostgreSQL cluster (initdb into a temporary folder owned by the `postgres` user when
 * the tests run as root), listening on a free port of 127.0.0.1 with trust authentication;
 * resolves once it answers a query. Throws, saying how to install it, when there is none.
 */
export async function startPostgres({ startTimeoutMs = 30_000 }: { startTimeoutMs?: number } = {}): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new Error(
      `PostgreSQL suites cannot run: ${process.env.POSTGRES_BIN ? `POSTGRES_BIN=${process.env.POSTGRES_BIN} holds no postgres` : 'no /usr/lib/postgresql/*/bin/postgres'}. ` +
        'CI must not skip them: install it with `apt-get install postgresql`.',
    );
  }
  const owner = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'hcp-postgres-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  for (let attempt = 0; ; attempt += 1) {
    const server = new PostgresProcess(bin, dir, await freePort(), owner, startTimeoutMs);
    try {
      if (attempt === 0) await server.initdb();
      await server.launch();
      return server;
    } catch (err) {
      // The rare race: another process took the free port before postgres bound it.
      if (attempt < 5 && /could not bind|Address already in use/i.test((err as Error).message)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
}
