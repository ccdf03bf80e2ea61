import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { BridgeConfig } from '../config.js';
import { errorText, fail, formatAge, formatBytes, ok, warn, type CheckResult } from '../diagnose/check.js';
import { storageStatus } from './storage.js';

export interface DatabaseFindings {
  integrity: string;
  pending: number;
  quarantined: number;
  oldestPendingAt: string | null;
  usedBytes: number;
}

/** Reads the database without changing it: integrity, backlog and size. */
export function inspectDatabase(path: string, capBytes: number): DatabaseFindings {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const integrity = String(db.pragma('quick_check', { simple: true }));
    const hasRecords = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").get() !== undefined;
    const counts = hasRecords
      ? (db
          .prepare(
            `SELECT
               COALESCE(SUM(state = 'pending'), 0) AS pending,
               COALESCE(SUM(state = 'quarantined'), 0) AS quarantined,
               MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
             FROM records`,
          )
          .get() as { pending: number; quarantined: number; oldest: string | null })
      : { pending: 0, quarantined: 0, oldest: null };
    const { usedBytes } = storageStatus(db, path, capBytes, null);
    return { integrity, pending: counts.pending, quarantined: counts.quarantined, oldestPendingAt: counts.oldest, usedBytes };
  } finally {
    db.close();
  }
}

export interface DatabaseDeps {
  exists: (path: string) => boolean;
  writable: (dir: string) => boolean;
  inspect: (path: string, capBytes: number) => DatabaseFindings;
  now: () => number;
}

export const defaultDatabaseDeps: DatabaseDeps = {
  exists: existsSync,
  writable: (dir) => {
    try {
      accessSync(dir, constants.W_OK);
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  },
  inspect: inspectDatabase,
  now: Date.now,
};

export function checkDatabase(config: BridgeConfig, deps: DatabaseDeps = defaultDatabaseDeps): CheckResult {
  const name = 'database';
  const path = resolve(config.database.path);
  const capBytes = config.database.maxSizeMB * 1024 * 1024;
  if (!deps.exists(path)) {
    const dir = dirname(path);
    if (deps.writable(dir)) return ok(name, `${path} will be created at first start`);
    return fail(name, `${path} does not exist and its folder ${dir} is missing or not writable`, [
      `sudo mkdir -p ${dir} && sudo chown hcp:hcp ${dir}`,
      'with the systemd unit, the folder must also be in ReadWritePaths=',
    ]);
  }
  let found: DatabaseFindings;
  try {
    found = deps.inspect(path, capBytes);
  } catch (err) {
    return fail(name, `cannot read ${path}: ${errorText(err)}`, [
      'check the file\'s owner and permissions (`ls -l` it and its -wal/-shm files)',
      'if it is damaged: stop the bridge, keep a copy, and restore from the last backup',
    ]);
  }
  if (found.integrity !== 'ok') {
    return fail(name, `${path} fails its integrity check: ${found.integrity}`, [
      'stop the bridge, copy the file aside, then `sqlite3 hcp.db .recover | sqlite3 recovered.db` and ask the vendor before swapping it in',
    ]);
  }
  const age = found.oldestPendingAt ? ` (oldest ${formatAge(deps.now() - Date.parse(found.oldestPendingAt))} old)` : '';
  const summary = `${path}: integrity ok, ${found.pending} pending${age}, ${found.quarantined} quarantined, ${formatBytes(found.usedBytes)} of ${formatBytes(capBytes)}`;
  if (found.usedBytes >= capBytes) {
    return fail(name, `${summary}: full, new invitations are refused`, [
      'get the backlog to the province (check the broker line), or raise database.maxSizeMB if the disk allows',
    ]);
  }
  if (found.quarantined > 0) {
    return warn(name, summary, ['the province rejected some records: `hcp status` lists the latest with their reasons']);
  }
  if (found.usedBytes >= capBytes * 0.9) {
    return warn(name, `${summary}: nearly full`, ['get the backlog to the province, or raise database.maxSizeMB']);
  }
  return ok(name, summary);
}


export const LOW_DISK_BYTES = 500 * 1024 * 1024;

/** Free space on the filesystem that holds (or will hold) the database. */
export function checkDisk(config: BridgeConfig, statfs: (path: string) => { bavail: number; bsize: number } = statfsSync): CheckResult {
  const name = 'disk';
  let dir = dirname(resolve(config.database.path));
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let free: number;
  try {
    const s = statfs(dir);
    free = s.bavail * s.bsize;
  } catch (err) {
    return warn(name, `cannot tell the free space at ${dir}: ${errorText(err)}`);
  }
  if (free < LOW_DISK_BYTES) {
    return warn(name, `${formatBytes(free)} free at ${dir} (under ${formatBytes(LOW_DISK_BYTES)})`, [
      'free space: `sudo journalctl --vacuum-size=50M`, `sudo apt-get clean`; or use a larger SD card',
    ]);
  }
  return ok(name, `${formatBytes(free)} free at ${dir}`);
}
