import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../bridge/config.js';
import { readSecretFile, SecretFileRefused } from '../../bridge/secret-file.js';
import type { GatewayConfig } from '../config.js';
import type { Logger } from '../ports.js';
import { DatabaseUnavailable, type Database, type Queryable, type Row } from './database.js';
import { FolderInUse, lockFolder, type FolderLock } from './folder-lock.js';
import { PgliteDatabase } from './pglite.js';
import { PostgresDatabase, postgresTarget } from './postgres.js';

export interface OpenDatabaseOptions {
  logger?: Logger;
  /** PostgreSQL only: how long to wait for a connection. Default 10 s. */
  connectTimeoutMs?: number;
  /** PostgreSQL only: the connections' application_name (e.g. `hcp-gateway <instance>`). Default 'hcp-gateway'. */
  applicationName?: string;
}

/**
 * The database gateway.yaml names, open and answering (`select 1`): PostgreSQL from
 * database.url or database.urlFile (a mode-600 file holding the URL with its password), else the
 * embedded PGlite in database.dataDir (made if missing, locked against a second process).
 * Rejects with ConfigError (a setting that cannot be used: named, never its secret) or
 * DatabaseUnavailable (the database did not answer: where, and what to check).
 */
export async function openDatabase(config: GatewayConfig['database'], options: OpenDatabaseOptions = {}): Promise<Database> {
  const db = await openEngine(config, options);
  try {
    await db.query('select 1');
  } catch (err) {
    await db.close().catch(() => undefined);
    if (err instanceof DatabaseUnavailable) throw err;
    throw new DatabaseUnavailable(`the database opened but does not answer a query: ${(err as Error).message}`);
  }
  return db;
}

async function openEngine(config: GatewayConfig['database'], options: OpenDatabaseOptions): Promise<Database> {
  const pgOptions = { poolSize: config.poolSize, ...options };
  if (config.url !== undefined) {
    if (postgresTarget(config.url) === undefined) throw new ConfigError('database.url is not a URL: expected postgres://user@host:port/database', []);
    return PostgresDatabase.open(config.url, pgOptions);
  }
  if (config.urlFile !== undefined) return PostgresDatabase.open(readUrlFile(config.urlFile), pgOptions);
  if (config.dataDir !== undefined) return openEmbedded(config.dataDir);
  throw new ConfigError('database: give one of url (PostgreSQL), urlFile (PostgreSQL, URL in a file) or dataDir (the embedded database)', []);
}

/** The URL in database.urlFile; every refusal names the setting and the file, never the text. */
function readUrlFile(path: string): string {
  let text: string;
  try {
    text = readSecretFile(path, { ownerOnly: true }).trim();
  } catch (err) {
    const why = err instanceof SecretFileRefused ? err.message : describeFsError(err);
    throw new ConfigError(`database.urlFile ${path}: ${why}`, []);
  }
  if (!/^postgres(ql)?:\/\//.test(text) || postgresTarget(text) === undefined) {
    throw new ConfigError(`database.urlFile ${path} does not hold a PostgreSQL URL: write one line, postgres://user:password@host:port/database`, []);
  }
  return text;
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied: the gateway’s user must be able to read it';
  return `cannot be read (${code ?? (err as Error).message})`;
}

async function openEmbedded(dataDir: string): Promise<Database> {
  const folder = resolve(dataDir);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ConfigError(`database.dataDir ${folder} cannot be made: ${describeFsError(err)}`, []);
  }
  let lock: FolderLock;
  try {
    lock = lockFolder(folder);
  } catch (err) {
    if (err instanceof FolderInUse) throw err;
    throw new ConfigError(`database.dataDir ${folder}: cannot take its lock file: ${describeFsError(err)}`, []);
  }
  try {
    return new LockedPglite(await PgliteDatabase.open(folder), lock);
  } catch (err) {
    lock.release();
    throw new DatabaseUnavailable(
      `the embedded database in ${folder} could not be opened: ${(err as Error).message}. ` +
        'Is it a folder another program or another PGlite version wrote? Give database.dataDir an empty folder, or restore the backup.',
    );
  }
}

/** PGlite plus the folder lock it was opened under, released at close. */
class LockedPglite implements Database {
  readonly kind = 'pglite';
  #closing: Promise<void> | undefined;

  constructor(
    private readonly inner: PgliteDatabase,
    private readonly lock: FolderLock,
  ) {}

  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    return this.inner.query<R>(text, params);
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }

  close(): Promise<void> {
    this.#closing ??= this.inner.close().finally(() => this.lock.release());
    return this.#closing;
  }
}
