import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { ScryptParams } from '../../gateway/accounts/password.js';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { startAdminHttp, type AdminHttp } from '../../gateway/http/admin-http.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';
import type { Engine } from '../support/db-engines.js';

/** What the accounts suites share. */

/** Cheap scrypt for speed: the parameters are in each hash, so every rule is the same as with the real ones. */
export const TEST_KDF: ScryptParams = { ln: 10, r: 8, p: 1 };

/** For a describe block: the engine's database, migrated, with no accounts and an empty operator log before each test. */
export function useAccountsDatabase(engine: Engine): { db: () => Database } {
  let db: Database | undefined;
  beforeAll(async () => {
    db = await engine.open();
    await migrate(db);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db!.exec('TRUNCATE users CASCADE; TRUNCATE operator_actions');
  });
  return { db: () => db! };
}

/** The real admin API (with the operator token) on a fresh in-memory PGlite. */
export async function startUsersApi(token: string, logger: Logger = pino({ level: 'silent' })): Promise<{ db: PgliteDatabase; api: AdminHttp }> {
  const db = await openTestPglite();
  await migrate(db);
  const registry = new TerminalRegistry({ db, publisher: { publish: async () => undefined }, prefix: 'hcp/v1', clock: { now: () => new Date() }, logger, approval: 'manual', terminalConfig: () => undefined });
  const api = await startAdminHttp({ host: '127.0.0.1', port: 0, token, registry, db, status: async () => ({}), logger });
  return { db, api };
}
