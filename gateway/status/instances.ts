import type { Database } from '../db/database.js';
import type { Clock, Logger } from '../ports.js';

/** How often an instance writes its row: `hcp gateway status` calls a row stale after three beats missed. */
export const HEARTBEAT_INTERVAL_MS = 10_000;
const STALE_AFTER_BEATS = 3;

export interface HeartbeatTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const systemTimers: HeartbeatTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface InstanceHeartbeatDeps {
  db: Database;
  /** This instance's name (config `instance`): its row in `instances`. */
  instance: string;
  clock: Clock;
  logger: Logger;
  /** The figures written with each beat (JSON). */
  stats: () => unknown;
  intervalMs?: number;
  timers?: HeartbeatTimers;
}

/**
 * Each instance's row in `instances`, written at start and every 10 s with its figures, so that
 * any instance's admin API shows them all, and one that stopped beating shows as stale.
 */
export class InstanceHeartbeat {
  readonly #deps: InstanceHeartbeatDeps;
  readonly #startedAt: Date;
  #timer: unknown;
  #inFlight: Promise<void> | undefined;
  #failures = 0;

  constructor(deps: InstanceHeartbeatDeps) {
    this.#deps = deps;
    this.#startedAt = deps.clock.now();
  }

  /** Beats now, then every interval. Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = (this.#deps.timers ?? systemTimers).setInterval(() => void this.beat(), this.#deps.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    void this.beat();
  }

  /** Writes the row now. Never throws: a database away is logged once per outage, and the next beat tries again. */
  beat(): Promise<void> {
    // One beat at a time: a slow database must not pile them up.
    this.#inFlight ??= this.#write().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Stops beating; resolves once a beat in flight is written. The row stays (it goes stale). */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) (this.#deps.timers ?? systemTimers).clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #stats(): unknown {
    return snapshot(this.#deps.stats);
  }

  async #write(): Promise<void> {
    const { db, instance, clock, logger } = this.#deps;
    try {
      const stats = JSON.stringify(this.#stats());
      await db.query(
        `INSERT INTO instances (instance, started_at, beat_at, stats) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (instance) DO UPDATE SET started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at, stats = EXCLUDED.stats`,
        [instance, this.#startedAt, clock.now(), stats],
      );
      if (this.#failures > 0) logger.info({ instance, missed: this.#failures }, 'heartbeat: written again');
      this.#failures = 0;
    } catch (err) {
      if (this.#failures === 0) logger.warn({ err, instance }, 'heartbeat: cannot write this instance\'s row; trying at every beat');
      this.#failures += 1;
    }
  }
}

/** The figures, or why there are none: the row is written either way, so the instance shows as alive. */
function snapshot(stats: () => unknown): unknown {
  try {
    return stats() ?? {};
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
}

export interface InstanceRow {
  instance: string;
  startedAt: string;
  beatAt: string;
  stats: unknown;
  /** No beat for three intervals: stopped, killed or cut off from the database. */
  stale: boolean;
}

/** Every instance that has beaten on this database, newest beat first. */
export async function listInstances(db: Database, { now, intervalMs = HEARTBEAT_INTERVAL_MS }: { now: Date; intervalMs?: number }): Promise<InstanceRow[]> {
  const { rows } = await db.query<{ instance: string; started_at: Date; beat_at: Date; stats: unknown }>('SELECT instance, started_at, beat_at, stats FROM instances ORDER BY beat_at DESC, instance');
  return rows.map((row) => ({
    instance: row.instance,
    startedAt: row.started_at.toISOString(),
    beatAt: row.beat_at.toISOString(),
    stats: row.stats,
    stale: now.getTime() - row.beat_at.getTime() > STALE_AFTER_BEATS * intervalMs,
  }));
}
