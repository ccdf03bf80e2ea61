import pg from 'pg';
import type { Logger } from '../ports.js';
import { DatabaseUnavailable, type Database, type Queryable, type Row } from './database.js';

/** How long open() and each later connection wait for the server before giving up. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface PostgresOptions {
  /** Connections this instance keeps at most (database.poolSize). */
  poolSize: number;
  /** Where the pool's background errors (a connection the server dropped while idle) are logged. */
  logger?: Logger;
  /**
   * How long a new connection, or a wait for a free pooled one, may take before the statement
   * fails with DatabaseUnavailable. Default 10 s.
   */
  connectTimeoutMs?: number;
  /** What pg_stat_activity shows for these connections, unless the URL says otherwise. Default 'hcp-gateway'. */
  applicationName?: string;
}

/** What a message may say of the server: `host:port/database`, never the user's password. */
export interface PostgresTarget {
  /** `db.example:5432/hcp`, for messages. */
  where: string;
  /** The password as written in the URL and decoded: scrubbed from every message passed on. */
  secrets: string[];
}

/**
 * `host:port/database` of a postgres:// URL, and its password (to keep it out of messages).
 * Undefined when it is no URL. Defaults are pg's: localhost, 5432, the user's name as database.
 */
export function postgresTarget(url: string): PostgresTarget | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') return undefined;
  const secrets = parsed.password === '' ? [] : [parsed.password, safeDecode(parsed.password)];
  const host = parsed.hostname === '' ? (parsed.searchParams.get('host') ?? 'localhost') : parsed.hostname;
  const database = safeDecode(parsed.pathname.replace(/^\//, '')) || safeDecode(parsed.username) || 'postgres';
  return { where: `${host}:${parsed.port || '5432'}/${database}`, secrets: secrets.filter((s) => s.length > 0) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `text` with every secret replaced by '***'. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('***');
  return out;
}

/** Node's socket and name-lookup failures: the server cannot be reached. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT']);

/**
 * Is this the connection failing rather than the SQL (or the caller's own code)? pg's
 * DatabaseError carries a SQLSTATE: class 08 (connection exception), 57P01-57P03 (the server
 * shutting down, crashed, starting). Without one: a socket error code, or pg's own words for a
 * lost or timed-out connection.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof DatabaseUnavailable) return true;
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && SOCKET_ERRORS.has(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|not queryable/i.test(err.message);
}

/**
 * PostgreSQL through a pg Pool. Statements outside a transaction take any pooled connection;
 * a transaction holds one for its length. A connection failure (server gone, restarting,
 * unreachable) is thrown as DatabaseUnavailable naming host:port/database; SQL errors are pg's
 * own (their SQLSTATE in `code`).
 */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  /** `host:port/database`, for messages. */
  readonly where: string;
  #poolErrors = 0;
  #closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
  ) {
    this.where = target.where;
  }

  /**
   * A pool on `url`, once one connection has answered `select 1`. Rejects with
   * DatabaseUnavailable (host:port/database, pg's reason, what to check; never the password).
   */
  static async open(url: string, { poolSize, logger, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, applicationName = 'hcp-gateway' }: PostgresOptions): Promise<PostgresDatabase> {
    const target = postgresTarget(url);
    if (target === undefined) throw new DatabaseUnavailable('the PostgreSQL URL is not a URL: expected postgres://user:password@host:port/database');
    let pool: pg.Pool;
    try {
      pool = new pg.Pool({
        connectionString: url,
        max: poolSize,
        connectionTimeoutMillis: connectTimeoutMs,
        // TCP keepalives: a connection cut without a word (a firewall, a dead host) is found out.
        keepAlive: true,
        application_name: applicationName,
      });
    } catch (err) {
      throw new DatabaseUnavailable(`the PostgreSQL URL for ${target.where} is not usable: ${scrub(messageOf(err), target.secrets)}`);
    }
    const db = new PostgresDatabase(pool, target);
    // An idle connection the server dropped (a restart, a network cut) is reported here, not thrown:
    // without a listener it would end the process. The next query takes a fresh connection.
    pool.on('error', (err) => {
      db.#poolErrors += 1;
      logger?.warn({ err: scrub(messageOf(err), target.secrets), where: target.where }, 'PostgreSQL dropped an idle connection');
    });
    try {
      await pool.query('select 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new DatabaseUnavailable(
        `cannot connect to PostgreSQL at ${target.where}: ${scrub(messageOf(err), target.secrets)}. ` +
          'Check that the server runs and listens on that host and port, that the user and password in the URL are right, ' +
          'that the database exists and that pg_hba.conf lets this host in.',
      );
    }
    return db;
  }

  /** Idle connections the server dropped since open (logged, not thrown). */
  get poolErrors(): number {
    return this.#poolErrors;
  }

  async query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    try {
      const { rows } = await this.pool.query<R>(text, params ? [...params] : undefined);
      return { rows };
    } catch (err) {
      throw this.#unavailableOr(err);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      // Without parameters pg uses the simple query protocol: several statements in one call.
      await this.pool.query(sql);
    } catch (err) {
      throw this.#unavailableOr(err);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#unavailableOr(err);
    }
    // A checked-out client has no pool listener: its 'error' (the server gone mid-transaction)
    // would end the process. The failing query rejects as well; that is what is reported.
    let connectionError: Error | undefined;
    const onError = (err: Error): void => {
      connectionError = err;
    };
    client.on('error', onError);
    const tx: Queryable = {
      query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => ({ rows: (await client.query<R>(text, params ? [...params] : undefined)).rows }),
      exec: async (sql: string) => {
        await client.query(sql);
      },
    };
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable: it must not go back to the pool.
        connectionError ??= rollbackErr as Error;
      }
      throw connectionError !== undefined && !(err instanceof pg.DatabaseError) ? this.#unavailable(err) : this.#unavailableOr(err);
    } finally {
      client.off('error', onError);
      client.release(connectionError ?? false);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.pool.end();
    return this.#closing;
  }

  #unavailableOr(err: unknown): unknown {
    return isConnectionFailure(err) ? this.#unavailable(err) : err;
  }

  #unavailable(err: unknown): DatabaseUnavailable {
    if (err instanceof DatabaseUnavailable) return err;
    return new DatabaseUnavailable(`PostgreSQL at ${this.target.where}: ${scrub(messageOf(err), this.target.secrets)}`, { cause: err });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
