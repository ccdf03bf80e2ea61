/**
 * Time as every part sees it: a monotonic clock and timers, injected so that tests move time by
 * hand (tests/support/manual-timers.ts) and an MCU brings its own. The serial link, the desk, the
 * uplink, the receipts and the ports all take this one port.
 */
export interface Timers {
  /** Monotonic milliseconds (never jumps with the wall clock). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Timers of any JavaScript host with the web-standard globals (Node, browsers). */
export const hostTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Calls `fn` every `ms` until the returned function is called (a re-armed timeout, not setInterval). */
export function repeat(timers: Timers, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const arm = (): void => {
    handle = timers.setTimeout(() => {
      if (stopped) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return () => {
    stopped = true;
    timers.clearTimeout(handle);
  };
}
