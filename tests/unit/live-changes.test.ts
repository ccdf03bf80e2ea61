import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../gateway/db/database.js';
import { ChangeWatch, RECENT_WINDOW_MS, type ChangeSet, type PollMarks } from '../../gateway/live/changes.js';
import { ManualTimers } from '../support/manual-timers.js';

/** ChangeWatch's rules over a stand-in database whose answers the test sets, on manual timers. */
const NOW = Date.parse('2026-11-30T08:00:00Z');

const QUIET: PollMarks = { records_max: 'r1', records_since_last: '2', records_since_now: '2', later_max: null, later_since_last: '0', later_since_now: '0', alerts: 'a', follow_ups: 'f', terminals: 't' };

function rig() {
  const timers = new ManualTimers();
  let marks = QUIET;
  const asked: (readonly unknown[])[] = [];
  let gate: Promise<void> | undefined;
  const db: Queryable = {
    query: async <R,>(_text: string, params: readonly unknown[] = []) => {
      asked.push(params);
      await gate;
      return { rows: [marks] as R[] };
    },
    exec: async () => undefined,
  };
  const watch = new ChangeWatch({ db, clock: { now: () => new Date(NOW + timers.now()) }, timers, intervalMs: 1000 });
  const seen: ChangeSet[] = [];
  watch.on('changed', (c) => seen.push(c));
  return {
    timers,
    watch,
    seen,
    asked,
    set: (next: Partial<PollMarks>) => (marks = { ...marks, ...next }),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ChangeWatch', () => {
  it('counts the recent rows from the last poll’s window start, and compares them with that poll’s count from the same start', async () => {
    const { timers, watch, set, asked } = rig();
    expect(await watch.poll()).toBeUndefined();
    const first = new Date(NOW - RECENT_WINDOW_MS).toISOString();
    expect(asked[0]).toEqual([first, first]);
    timers.advance(1000);
    // From the last window's start, one more row than that poll counted: a late commit, the newest stamp unchanged.
    set({ records_since_last: '3', records_since_now: '2' });
    expect(await watch.poll()).toEqual({ records: true, alerts: false, terminals: false });
    expect(asked[1]).toEqual([first, new Date(NOW + 1000 - RECENT_WINDOW_MS).toISOString()]);
    // Rows leaving the window as it moves are not a change.
    timers.advance(1000);
    set({ records_since_last: '2', records_since_now: '1' });
    expect(await watch.poll()).toBeUndefined();
  });

  it('tells each kind apart', async () => {
    const { watch, set } = rig();
    await watch.poll();
    set({ later_max: 'l1', later_since_last: '1', later_since_now: '1' });
    expect(await watch.poll()).toEqual({ records: true, alerts: false, terminals: false });
    set({ follow_ups: 'f2' });
    expect(await watch.poll()).toEqual({ records: false, alerts: true, terminals: false });
    set({ alerts: 'a2', terminals: 't2' });
    expect(await watch.poll()).toEqual({ records: false, alerts: true, terminals: true });
    expect(await watch.poll()).toBeUndefined();
  });

  it('never polls twice at once: the next poll is armed when the last one ends, and stop() waits for it', async () => {
    const { timers, watch, asked, hold } = rig();
    watch.start();
    timers.advance(0);
    await settle();
    expect(asked).toHaveLength(1);
    const release = hold();
    timers.advance(1000);
    expect(asked).toHaveLength(2);
    // The database is slow: no poll is armed meanwhile.
    timers.advance(10_000);
    expect(asked).toHaveLength(2);
    let stopped = false;
    const stopping = watch.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(timers.advanceToNext()).toBe(false);
  });

  it('start() twice runs one loop', async () => {
    const { timers, watch, asked } = rig();
    watch.start();
    watch.start();
    timers.advance(0);
    await settle();
    timers.advance(1000);
    await settle();
    expect(asked).toHaveLength(2);
    await watch.stop();
  });
});
