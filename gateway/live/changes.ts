import { EventEmitter } from 'node:events';
import type { Timers } from '../../protocol/timers.js';
import type { Queryable } from '../db/database.js';
import type { Clock, Logger } from '../ports.js';

/** What changed since the last poll: the dashboard refetches what it shows of each. */
export interface ChangeSet {
  /** Records or ratings made later on the receipt page. */
  records: boolean;
  /** Alerts raised, sent, acknowledged or cleared, or a follow-up recorded. */
  alerts: boolean;
  /** A terminal's state, telemetry, last contact or approval. */
  terminals: boolean;
}

/**
 * How far back the rows stamped by any instance are counted, beside the latest stamp: another
 * instance's commit that lands after a later-stamped one (or whose clock is behind ours by less
 * than this) still changes the count. Bounded, so that the count reads a few seconds of rows.
 */
export const RECENT_WINDOW_MS = 15_000;

/** The row a poll reads, every value as text so that both engines give the same. */
export interface PollMarks {
  records_max: string | null;
  records_since_last: string;
  records_since_now: string;
  later_max: string | null;
  later_since_last: string;
  later_since_now: string;
  alerts: string;
  follow_ups: string;
  terminals: string;
}

/*
 * One statement, each part a small aggregate: the latest stamp of records and later ratings (the
 * newest rows, by an index on the stamp where there is one) and how many are stamped in the recent
 * window, counted from the last poll's window ($1) and from this one's ($2); alerts, follow-ups
 * and terminals are few (one row a terminal, an alert a bad review or a fault), summed whole.
 */
const POLL = `
SELECT r1.records_max, r2.records_since_last, r2.records_since_now,
       l1.later_max, l2.later_since_last, l2.later_since_now,
       a.alerts, f.follow_ups, t.terminals
  FROM (SELECT max(received_at)::text AS records_max FROM records) r1,
       (SELECT count(*)::text AS records_since_last, (count(*) FILTER (WHERE received_at >= $2))::text AS records_since_now
          FROM records WHERE received_at >= $1) r2,
       (SELECT max(rated_at)::text AS later_max FROM later_ratings) l1,
       (SELECT count(*)::text AS later_since_last, (count(*) FILTER (WHERE rated_at >= $2))::text AS later_since_now
          FROM later_ratings WHERE rated_at >= $1) l2,
       (SELECT concat_ws('/', count(*), max(id), count(acknowledged_at), count(cleared_at), sum(notify_count), max(notified_at)) AS alerts FROM alerts) a,
       (SELECT concat_ws('/', count(*), max(at)) AS follow_ups FROM follow_up_events) f,
       (SELECT concat_ws('/', count(*), count(*) FILTER (WHERE online), sum(extract(epoch FROM last_seen)),
                         sum(extract(epoch FROM state_at)), sum(extract(epoch FROM telemetry_at)), sum(extract(epoch FROM decided_at)),
                         count(*) FILTER (WHERE status = 'approved')) AS terminals
          FROM terminals) t`;

/** What a poll compares with the next. */
interface Seen {
  recordsMax: string | null;
  recordsRecent: string;
  laterMax: string | null;
  laterRecent: string;
  alerts: string;
  terminals: string;
}

export interface ChangeWatchOptions {
  db: Queryable;
  clock: Clock;
  timers: Timers;
  logger?: Pick<Logger, 'warn'>;
  intervalMs?: number;
}

/**
 * Notices changes any gateway instance made to what the dashboard shows, by polling one cheap
 * query of the shared database every `intervalMs`: every instance's dashboard hears of a rating
 * stored by another. Emits `changed` only when something changed; a poll that fails is logged and
 * the next one tries again. Polls never overlap.
 */
export class ChangeWatch extends EventEmitter<{ changed: [ChangeSet] }> {
  readonly #db: Queryable;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #intervalMs: number;
  #timer: unknown;
  #running = false;
  #seen: Seen | undefined;
  /** The recent window's start of the last poll (ISO). */
  #windowFrom: string | undefined;
  #polling: Promise<void> | undefined;
  #failures = 0;

  constructor(options: ChangeWatchOptions) {
    super();
    this.#db = options.db;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** Takes the current marks (nothing is emitted for what was there before), then polls. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops polling; resolves once a poll under way has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  /** Whether a poll has taken the marks changes are told against. */
  get watching(): boolean {
    return this.#seen !== undefined;
  }

  /** Polls that failed in a row (0 once one succeeds). */
  get failures(): number {
    return this.#failures;
  }

  /** One poll now (also what the timer runs); resolves with what changed, or undefined for nothing or a first or failed poll. */
  async poll(): Promise<ChangeSet | undefined> {
    const windowNow = new Date(this.#clock.now().getTime() - RECENT_WINDOW_MS).toISOString();
    const windowFrom = this.#windowFrom !== undefined && this.#windowFrom < windowNow ? this.#windowFrom : windowNow;
    let marks: PollMarks;
    try {
      const { rows } = await this.#db.query<PollMarks & Record<string, unknown>>(POLL, [windowFrom, windowNow]);
      if (!rows[0]) throw new Error('the poll returned no row');
      marks = rows[0];
    } catch (err) {
      this.#failures += 1;
      this.#logger?.warn({ err, failures: this.#failures }, 'live changes: polling the database failed; trying again');
      return undefined;
    }
    this.#failures = 0;
    const before = this.#seen;
    this.#windowFrom = windowNow;
    this.#seen = {
      recordsMax: marks.records_max,
      recordsRecent: marks.records_since_now,
      laterMax: marks.later_max,
      laterRecent: marks.later_since_now,
      alerts: `${marks.alerts}|${marks.follow_ups}`,
      terminals: marks.terminals,
    };
    if (!before) return undefined;
    // The counts since the last poll's window start are compared with that poll's counts from the same start.
    const changes: ChangeSet = {
      records:
        marks.records_max !== before.recordsMax ||
        marks.records_since_last !== before.recordsRecent ||
        marks.later_max !== before.laterMax ||
        marks.later_since_last !== before.laterRecent,
      alerts: this.#seen.alerts !== before.alerts,
      terminals: marks.terminals !== before.terminals,
    };
    if (!changes.records && !changes.alerts && !changes.terminals) return undefined;
    this.emit('changed', changes);
    return changes;
  }

  #schedule(ms: number): void {
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#polling = this.poll()
        .then(
          () => undefined,
          // A listener that threw: its fault, not the watch's; polling goes on.
          (err: unknown) => this.#logger?.warn({ err }, 'live changes: a listener of changed threw'),
        )
        .finally(() => {
          this.#polling = undefined;
          if (this.#running) this.#schedule(this.#intervalMs);
        });
    }, ms);
  }
}
