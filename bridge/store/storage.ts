import { statSync } from 'node:fs';
import type { Db } from './database.js';
import type { StorageFault } from './commits.js';

export interface StorageStatus {
  /** Bytes in use: the database's pages less its free list, plus the WAL. */
  usedBytes: number;
  capBytes: number;
  /** The size cap is reached: no new invitations until records are delivered and pruned. */
  full: boolean;
  /** Commits are failing (full disk, I/O error) since this; null when the last commit succeeded. */
  fault: StorageFault | null;
}

/** Measures the database against its size cap, with the commits' fault if they are failing. */
export function storageStatus(db: Db, path: string, capBytes: number, fault: StorageFault | null): StorageStatus {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  let wal = 0;
  try {
    wal = statSync(`${path}-wal`).size;
  } catch {
    // no WAL file yet
  }
  const usedBytes = (pages - free) * pageSize + wal;
  return { usedBytes, capBytes, full: usedBytes >= capBytes, fault };
}
