import type { Logger } from '../ports.js';
import type { Database, Queryable } from './database.js';
import { MIGRATIONS, type Migration } from './schema.js';

/**
 * One key for every gateway's migrations: instances starting at once on one PostgreSQL take
 * turns (pg_advisory_xact_lock, released at each transaction's end), so each version is applied
 * once. ("hcp_mig" in ASCII.)
 */
export const MIGRATION_LOCK_KEY = 0x6863705f6d6967n;

/** The database was migrated by a newer gateway: this one would misread it. */
export class SchemaNewerThanCode extends Error {
  override name = 'SchemaNewerThanCode';
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
  ) {
    super(`database schema is version ${databaseVersion}, this gateway knows up to ${codeVersion}: upgrade the gateway`);
  }
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Brings the schema up to the last of `migrations` (the gateway's MIGRATIONS): each version not
 * yet in schema_migrations is applied in a transaction of its own with its row, so a failure
 * leaves the database at the previous version. Refuses (SchemaNewerThanCode) a database at a
 * version this code does not know. `from`: the version found; `to`: the version left.
 */
export async function migrate(db: Database, logger?: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<{ from: number; to: number }> {
  const latest = checkOrder(migrations);
  // The table itself under the lock: two CREATE TABLE IF NOT EXISTS at once can still collide.
  const from = await db.transaction(async (tx) => {
    await lock(tx);
    await tx.exec(CREATE_TABLE);
    return currentVersion(tx);
  });
  if (from > latest) throw new SchemaNewerThanCode(from, latest);
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    await db.transaction(async (tx) => {
      await lock(tx);
      // Another instance may have applied it while this one waited for the lock.
      const { rows } = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version]);
      if (rows.length > 0) return;
      const started = Date.now();
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      logger?.info({ version: migration.version, name: migration.name, ms: Date.now() - started }, 'applied database migration');
    });
  }
  return { from, to: latest };
}

async function lock(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
}

async function currentVersion(tx: Queryable): Promise<number> {
  const { rows } = await tx.query<{ version: number | null }>('SELECT max(version)::int AS version FROM schema_migrations');
  return rows[0]?.version ?? 0;
}

/** The last version; throws if the list is not 1, 2, 3… (a mistake in the code, caught at start). */
function checkOrder(migrations: readonly Migration[]): number {
  migrations.forEach((migration, i) => {
    if (migration.version !== i + 1) throw new Error(`migration ${i + 1} has version ${migration.version}: versions must be 1, 2, 3… in order`);
  });
  return migrations.length;
}
