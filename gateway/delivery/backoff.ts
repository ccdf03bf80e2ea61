import type { Timers } from '../../protocol/timers.js';

/** The profile's http.backoff: the first retry waits about baseMs, each next twice as long, never beyond maxMs. */
export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * The wait before try `attempt` + 1 (attempt ≥ 1: failures so far): baseMs·2^(attempt−1) capped at
 * maxMs, then "equal jitter" (between half and all of it, by `random` in [0, 1)) so that
 * deliveries failed together (the province down) come back spread out, yet never at once.
 */
export function backoffDelay(attempt: number, settings: BackoffSettings, random: () => number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 40);
  const capped = Math.min(settings.maxMs, settings.baseMs * 2 ** exponent);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  return Math.round(capped / 2 + (capped / 2) * unit);
}

/** A wait that stop() cuts short. */
export class Sleeper {
  readonly #timers: Timers;
  #wake: (() => void) | undefined;
  #handle: unknown;
  #closed = false;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  /** Resolves after `ms`, or at once when woken. One wait at a time. */
  sleep(ms: number): Promise<void> {
    this.wake();
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.#wake !== done) return;
        this.#wake = undefined;
        this.#timers.clearTimeout(this.#handle);
        resolve();
      };
      this.#wake = done;
      this.#handle = this.#timers.setTimeout(done, Math.max(0, ms));
    });
  }

  wake(): void {
    this.#wake?.();
  }

  /** Wakes the wait and every later one at once (stopping: a loop mid-call must not then sleep a poll or a pause). */
  close(): void {
    this.#closed = true;
    this.wake();
  }
}

/** At most `perSecond` calls: each waits until 1000/perSecond ms after the one before (monotonic time). */
export class Pacer {
  readonly #timers: Timers;
  readonly #intervalMs: number;
  #last: number | undefined;

  constructor(timers: Timers, perSecond: number) {
    this.#timers = timers;
    this.#intervalMs = 1000 / perSecond;
  }

  /** How long the next call must wait from now (0: it may go). */
  waitMs(): number {
    if (this.#last === undefined) return 0;
    return Math.max(0, this.#last + this.#intervalMs - this.#timers.now());
  }

  /** Marks a call made now. */
  mark(): void {
    this.#last = this.#timers.now();
  }
}
