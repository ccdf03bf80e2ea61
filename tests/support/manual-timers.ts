import type { Timers } from '../../protocol/timers.js';

/** A clock that moves only when the test says so: deterministic timeouts and resends. */
export class ManualTimers implements Timers {
  private time = 0;
  private nextHandle = 1;
  private readonly queue = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.queue.set(handle, { at: this.time + ms, fn });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.cancel(handle);
  }

  /** Cancels a timer; false if it was not pending (already fired, cancelled, or never made). */
  cancel(handle: unknown): boolean {
    return this.queue.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.queue) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.queue.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = end;
  }

  /** Fires the earliest pending timer, moving time to it (a discrete-event step); false when none is pending. */
  advanceToNext(): boolean {
    let next: number | undefined;
    for (const { at } of this.queue.values()) if (next === undefined || at < next) next = at;
    if (next === undefined) return false;
    this.advance(next - this.time);
    return true;
  }
}
