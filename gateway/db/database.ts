/**
 * The gateway's one door to its database: the same SQL on PGlite (embedded, a folder in the data
 * directory) and on PostgreSQL (`pg`, via database.url). Everything above this file speaks
 * PostgreSQL's dialect with $1-style parameters and knows nothing of which engine runs it.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
  /** Several statements without parameters (a migration). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `fn` in one transaction: BEGIN, then COMMIT, or ROLLBACK if it throws (the error is
   * rethrown). On PostgreSQL it holds one pooled connection for its length.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** The database could not be reached or refused to open: said with what to check, never with a password. */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
}
