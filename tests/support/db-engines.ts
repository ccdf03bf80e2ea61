import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { openTestPglite } from './pglite-template.js';
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
  const engines: Engine[] = [{ name: 'pglite', open: () => openTestPglite(), another: async (shared) => shared }];
  if (runPostgres) {
    engines.push({
      name: 'postgres',
      open: async () => PostgresDatabase.open((await postgresServer()).url, { poolSize: 4 }),
      another: async () => PostgresDatabase.open((await postgresServer()).url, { poolSize: options.anotherPoolSize }),
    });
  }
  return { runPostgres, engines, postgresServer };
}

/** Drops everything and (unless told not to) migrates again: the database as a new gateway finds it. */
export async function emptyDatabase(db: Database, { migrated = true }: { migrated?: boolean } = {}): Promise<void> {
  await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  if (migrated) await migrate(db);
}

/** Opens the engine's database for the describe block, empty (and migrated, unless told not to) before each test; call inside describe. */
export function databasePerTest(engine: Engine, options: { migrated?: boolean } = {}): () => Database {
  let db: Database | undefined;
  beforeAll(async () => {
    db = await engine.open();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await emptyDatabase(db!, options);
  });
  return () => db!;
}
