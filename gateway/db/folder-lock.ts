import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseUnavailable } from './database.js';

/** The embedded database's folder is open in another live process (two PGlites on one folder corrupt it). */
export class FolderInUse extends DatabaseUnavailable {
  override name = 'FolderInUse';
  constructor(
    readonly folder: string,
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super(
      pid === process.pid
        ? `the embedded database in ${folder} is already open in this process (pid ${pid}): open it once and share it`
        : `the embedded database in ${folder} is in use by process ${pid} (another gateway, or hcp start): stop it first, ` +
            `or give this one a database.dataDir of its own. If no such process runs, remove ${lockPath}.`,
    );
  }
}

export interface FolderLock {
  readonly path: string;
  /** Idempotent; removes the lock file only if it is still this process's. */
  release(): void;
}

/**
 * Takes `<folder>.lock` (created exclusively, holding this process's id), beside the folder so
 * that the database's own files are left alone. A lock left by a process that no longer runs
 * is taken over; one held by a live process (this one included) is refused with FolderInUse.
 */
export function lockFolder(folder: string): FolderLock {
  const absolute = resolve(folder);
  const path = `${absolute}.lock`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return releasable(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
    }
    const holder = readPid(path);
    if (holder !== undefined && isAlive(holder)) throw new FolderInUse(absolute, holder, path);
    // Stale (its process is gone, or the file is unreadable garbage): take it over. Read again
    // just before removing so that a lock another starter has just taken is not removed.
    if (readPid(path) === holder) unlinkQuietly(path);
  }
}

function releasable(path: string): FolderLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (readPid(path) === process.pid) unlinkQuietly(path);
    },
  };
}

function readPid(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^[1-9]\d{0,9}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 checks existence: ESRCH means gone; EPERM means alive under another user. */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: someone else took it over first; the next exclusive create decides.
  }
}
