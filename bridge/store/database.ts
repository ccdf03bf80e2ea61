import Database from 'better-sqlite3';
import { AUDIT_RETENTION_DAYS } from './audit.js';

export type Db = Database.Database;

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. */
const MIGRATIONS: string[] = [
  `CREATE TABLE records (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     kind TEXT NOT NULL,
     body TEXT NOT NULL,
     source_key TEXT UNIQUE,
     created_at TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'quarantined')),
     ack_status TEXT,
     ack_reason TEXT,
     acked_at TEXT
   );
   CREATE INDEX records_by_state ON records (state, seq);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // The open invitation survives a restart, so that the terminal's report still closes it.
  `CREATE TABLE open_invitation (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
  // Receipts wait here until the printer has printed them.
  `CREATE TABLE receipts (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     invitation_id TEXT NOT NULL,
     content TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'printed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     printed_at TEXT
   );
   CREATE INDEX receipts_by_state ON receipts (state, seq);`,
  // Indexed lookups for the invitation path (repeat_case) and today's counts: never a scan of
  // the whole outbox, which may hold a week's backlog.
  `CREATE TABLE invited_cases (case_no TEXT NOT NULL, invited_at TEXT NOT NULL);
   CREATE INDEX invited_cases_by_case ON invited_cases (case_no, invited_at);
   CREATE INDEX records_by_created ON records (created_at);`,
  // The head of the terminal's record chain (protocol/seal/): the seq and hash of the newest sealed
  // record, the next one's `prev`. Kept apart from the records, which are pruned once acknowledged.
  `CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);`,
  // What staff, technicians and the province did (bridge/store/audit.ts): append-only. The
  // triggers refuse any change, and any deletion but of entries past the audit's retention.
  `CREATE TABLE audit (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     action TEXT NOT NULL,
     actor TEXT,
     detail TEXT NOT NULL,
     record_id TEXT NOT NULL
   );
   CREATE INDEX audit_by_at ON audit (at);
   CREATE TRIGGER audit_is_append_only BEFORE UPDATE ON audit
     BEGIN SELECT RAISE(ABORT, 'audit entries are never changed'); END;
   CREATE TRIGGER audit_keeps_its_retention BEFORE DELETE ON audit
     WHEN OLD.at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-${AUDIT_RETENTION_DAYS} days')
     BEGIN SELECT RAISE(ABORT, 'audit entries are kept ${AUDIT_RETENTION_DAYS} days'); END;`,
  // The record that reconciles an invitation closed without its terminal (`supersedes`): found
  // by the staff's lookup and left out of the counts without a scan of a week's backlog.
  `CREATE INDEX records_by_supersedes ON records (json_extract(body, '$.supersedes')) WHERE kind = 'invitation';`,
];

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/**
 * Opens (creating if needed) the terminal's database with the durability the invariants need:
 * WAL and synchronous=FULL, so a commit survives power loss before the terminal is acknowledged.
 */
export function openDatabase(path: string): Db {
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    migrate(db);
  } catch (err) {
    throw new DatabaseError(`cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i] as string);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}
