import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { Db } from './database.js';

/**
 * How long the audit is kept on the terminal: past a year, so that a year's accountability (two
 * confirmed bad reviews in a year) can be traced here too. Fixed, not a setting: the database's
 * own trigger enforces it (a migration cannot read the config), so no setting can shorten it.
 */
export const AUDIT_RETENTION_DAYS = 400;

/** One entry of the audit as stored. */
export interface AuditEntry extends StaffActionEntry {
  seq: number;
  at: string;
  /** The `staff_action` event record that carries it upstream (sealed like every record). */
  recordId: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The append-only audit of what staff, technicians and the province did at this window
 * (ARCHITECTURE invariant 7). The table's triggers refuse UPDATE, and DELETE of any entry younger
 * than AUDIT_RETENTION_DAYS, whoever asks: this code, or someone with `sqlite3` on the Pi. Each
 * entry also goes upstream as a sealed `staff_action` event (bridge/features/audit.ts), so an
 * entry removed here is still at the province.
 */
export class AuditLog {
  private readonly insert;
  private readonly latestEntries;
  private readonly pruneOld;

  constructor(db: Db) {
    this.insert = db.prepare(`INSERT INTO audit (at, action, actor, detail, record_id) VALUES (?, ?, ?, ?, ?)`);
    this.latestEntries = db.prepare(`SELECT seq, at, action, actor, detail, record_id AS recordId FROM audit ORDER BY seq DESC LIMIT ?`);
    // Also bounded by the trigger's own cutoff (SQLite's clock): a bridge clock a little ahead never trips it.
    this.pruneOld = db.prepare(`DELETE FROM audit WHERE at < ? AND at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-${AUDIT_RETENTION_DAYS} days')`);
  }

  append(entry: StaffActionEntry, at: Date, recordId: string): void {
    this.insert.run(at.toISOString(), entry.action, entry.actor, JSON.stringify(entry.detail), recordId);
  }

  /** The newest entries, newest first. */
  latest(limit: number): AuditEntry[] {
    const rows = this.latestEntries.all(limit) as Array<Omit<AuditEntry, 'detail'> & { detail: string }>;
    return rows.map((row) => ({ ...row, detail: JSON.parse(row.detail) as AuditEntry['detail'] }));
  }

  /** Deletes entries older than the audit's retention (never younger: the trigger would refuse). */
  prune(now: Date): number {
    return this.pruneOld.run(new Date(now.getTime() - AUDIT_RETENTION_DAYS * DAY_MS).toISOString()).changes;
  }
}
