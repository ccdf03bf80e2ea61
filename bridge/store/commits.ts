import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { Db } from './database.js';

/** SQLite's result codes for a database that cannot store anything now, and what to do about each. */
const FAILURES: ReadonlyArray<[RegExp, string]> = [
  [/^SQLITE_FULL/, 'the disk holding the database is full: free space on it'],
  [/^SQLITE_READONLY/, 'the database (or its folder) has become read-only: check the disk and its permissions'],
  [/^SQLITE_IOERR/, 'the disk reports an I/O error: check the SD card or disk'],
];

/** A commit the database could not make: nothing of it was stored. */
export class StorageFailure extends Error {
  override name = 'StorageFailure';
  constructor(
    /** SQLite's result code, e.g. SQLITE_FULL. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The episode of failing commits under way: since when, and the first failure's words. */
export interface StorageFault {
  code: string;
  message: string;
  since: string;
}

/**
 * The database's commits, each in one transaction: one that fails because the disk cannot store
 * it (full, read-only, I/O error) is turned into a StorageFailure, logged once per episode and kept
 * as the fault the status raises an alarm for, until a commit succeeds again.
 */
export class Commits {
  private current: StorageFault | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get fault(): StorageFault | null {
    return this.current;
  }

  run<T>(fn: () => T): T {
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (err) {
      throw this.failure(err) ?? err;
    }
    if (this.current) {
      this.logger.info({ code: this.current.code, since: this.current.since }, 'database commits succeed again');
      this.current = null;
    }
    return result;
  }

  private failure(err: unknown): StorageFailure | undefined {
    const code = (err as { code?: unknown }).code;
    const known = typeof code === 'string' ? FAILURES.find(([pattern]) => pattern.test(code)) : undefined;
    if (!known) return undefined;
    const failure = new StorageFailure(code as string, `the terminal database could not store anything (${code as string}: ${(err as Error).message}): ${known[1]}`);
    if (!this.current) {
      this.current = { code: failure.code, message: failure.message, since: this.clock.now().toISOString() };
      this.logger.error({ code: failure.code, err: (err as Error).message }, 'database commit failed: nothing is acknowledged until commits succeed again');
    }
    return failure;
  }
}
