import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, Row } from './database.js';

/**
 * The embedded default: PostgreSQL compiled to WebAssembly, kept in a folder (no server to
 * install). One connection, so statements and transactions run one after another; PGlite
 * queues them itself.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  #closing: Promise<void> | undefined;

  private constructor(private readonly db: PGlite) {}

  /**
   * `dataDir`: the folder it keeps its files in (made if missing); undefined: in memory (tests).
   * `loadDataDir`: a data folder PGlite dumped (dumpDataDir) to start from instead of running
   * initdb (the tests open each in-memory database from one initdb made once).
   */
  static async open(dataDir: string | undefined, { loadDataDir }: { loadDataDir?: Blob } = {}): Promise<PgliteDatabase> {
    return new PgliteDatabase(await PGlite.create(dataDir, loadDataDir ? { loadDataDir } : {}));
  }

  async query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    const { rows } = await this.db.query<R>(text, params ? [...params] : undefined);
    return { rows };
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      fn({
        query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => ({ rows: (await tx.query<R>(text, params ? [...params] : undefined)).rows }),
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
      }),
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.db.close();
    return this.#closing;
  }
}
