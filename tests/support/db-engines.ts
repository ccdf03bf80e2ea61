import { afterAll } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { PgliteDatabase } from '../../gateway/db/pglite.js';
import { PostgresDatabase } from '../../gateway/db/postgres.js';
import { postgresTestsRun, startPostgres, warnPostgresSkipped, type TestPostgres } from './postgres-server.js';

/** One database engine a suite runs on. */
export interface Engine {
  name: 'pglite' | 'postgres';
  /** The database the suite shares. */
  open(): Promise<Database>;
  /** A second, independent connection to the same database, as another instance has (PGlite: the same one). */
  another(shared: Database): Promise<Database>;
}

/**
 * The engines a gateway database suite runs on: the embedded PGlite, and Debian's PostgreSQL
 * (started once for the file, when first wanted, and stopped after it; skipped with a warning off
 * CI when it is not installed). Call at a test file's top level.
 */
export function gatewayDatabaseEngines(options: { anotherPoolSize: number }): { runPostgres: boolean; engines: Engine[]; postgresServer(): Promise<TestPostgres> } {
  const runPostgres = postgresTestsRun();
  if (!runPostgres) warnPostgresSkipped();
  let server: TestPostgres | undefined;
  const postgresServer = async (): Promise<TestPostgres> => (server ??= await startPostgres());
  afterAll(async () => {
    await server?.stop();
  });
  const engines: Engine[] = [{ name: 'pglite', open: () => PgliteDatabase.open(undefined), another: async (shared) => shared }];
  if (runPostgres) {
    engines.push({
      name: 'postgres',
      open: async () => PostgresDatabase.open((await postgresServer()).url, { poolSize: 4 }),
      another: async () => PostgresDatabase.open((await postgresServer()).url, { poolSize: options.anotherPoolSize }),
    });
  }
  return { runPostgres, engines, postgresServer };
}
