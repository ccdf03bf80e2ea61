import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { TimeKeeper, type ClockTrust } from '../../bridge/time/time-keeper.js';
import { Uplink, type UplinkOptions } from '../../bridge/uplink/uplink.js';
import type { Ack } from '../../protocol/acks.js';
import { terminalTopics } from '../../protocol/topics.js';
import { ackAtOnce, ackLate, drop, FakeBroker, reject } from '../support/fake-broker.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';
import { testIdentity } from '../support/terminal-key.js';
import { uplinkOptions } from '../support/uplink-options.js';

const identity = testIdentity();

/** An uplink on a real in-memory outbox, a fake broker behind `connect`, time moved by hand. */
function rig({ clockTrust = 'system', ...overrides }: Partial<UplinkOptions> & { clockTrust?: ClockTrust } = {}) {
  const timers = new ManualTimers();
  const clock = new TimeKeeper(manualWall(timers), 'boot-1', clockTrust);
  const outbox = overrides.outbox ?? new Outbox(openDatabase(':memory:'), clock);
  const broker = new FakeBroker(timers, terminalTopics('T-1'));
  const uplink = new Uplink({ ...uplinkOptions({ outbox, clock, timers, identity }, overrides), connect: broker.connect });
  const acked: Ack[] = [];
  uplink.on('acked', (ack) => acked.push(ack));
  let n = 0;
  /** Stores `count` records; returns their ids. */
  const store = (count = 1): string[] =>
    Array.from({ length: count }, () => {
      const id = `r-${++n}`;
      outbox.append(strayPress(id, clock.now()));
      return id;
    });
  /** Lets promise jobs run (connecting: subscribe, announce), moves time `ms`, and lets what that started finish. */
  const settle = async (ms = 0): Promise<void> => {
    await nextTurn();
    timers.advance(ms);
    await nextTurn();
    timers.advance(0);
  };
  /** Starts the uplink and lets its first connection attempt finish. */
  const connect = async (): Promise<void> => {
    uplink.start();
    await settle();
  };
  const publishedIds = (): string[] => broker.records().map((r) => r.id);
  return { uplink, outbox, broker, timers, clock, acked, store, settle, connect, publishedIds };
}

describe('uplink: lanes and pacing', () => {
  it('publishes a record as soon as the outbox announces it, and clears it on the province ack', async () => {
    const r = rig();
    await r.connect();
    const [id] = r.store();
    await r.settle();
    expect(r.publishedIds()).toEqual([id]);
    expect(r.outbox.stats()).toMatchObject({ pending: 0, acked: 1 });
    expect(r.uplink.status()).toMatchObject({ connected: true, published: 1, acked: 1, inflight: 0 });
  });

  it('records made since the connection (the live lane) go ahead of the backlog', async () => {
    const r = rig({ drainRatePerSecond: 1 });
    const backlog = r.store(5);
    await r.connect();
    expect(r.publishedIds()).toEqual([backlog[0]]);
    const [live] = r.store();
    await r.settle();
    expect(r.publishedIds()).toEqual([backlog[0], live]);
    await r.settle(1000);
    expect(r.publishedIds()).toEqual([backlog[0], live, backlog[1]]);
  });

  it('drains the backlog at the configured pace, one second of burst at most', async () => {
    const r = rig({ drainRatePerSecond: 5 });
    r.store(20);
    await r.connect();
    expect(r.publishedIds()).toHaveLength(5);
    expect(r.uplink.status().backlogToDrain).toBe(15);
    await r.settle(1000);
    expect(r.publishedIds()).toHaveLength(10);
    await r.settle(2000);
    expect(r.publishedIds()).toHaveLength(20);
    expect(new Set(r.publishedIds()).size).toBe(20);
    expect(r.outbox.stats().pending).toBe(0);
  });

  it('never has more than `inflight` records awaiting their ack', async () => {
    const r = rig({ inflight: 3 });
    r.broker.behaviour = drop();
    r.store(10);
    await r.connect();
    expect(r.publishedIds()).toHaveLength(3);
    expect(r.uplink.status().inflight).toBe(3);
  });
});

describe('uplink: acknowledgements', () => {
  it('publishes again a record not acknowledged in time, and stops once it is', async () => {
    const r = rig({ ackTimeoutMs: 2000 });
    r.broker.behaviour = drop();
    await r.connect();
    const [id] = r.store();
    await r.settle(1999);
    expect(r.publishedIds()).toEqual([id]);
    r.broker.behaviour = ackLate(500);
    await r.settle(1);
    expect(r.publishedIds()).toEqual([id, id]);
    await r.settle(500);
    expect(r.outbox.get(id!)?.state).toBe('acked');
    await r.settle(10_000);
    expect(r.publishedIds()).toEqual([id, id]);
  });

  it('a duplicate ack clears the record like an accepted one', async () => {
    const r = rig();
    r.broker.behaviour = ackAtOnce('duplicate');
    await r.connect();
    const [id] = r.store();
    await r.settle();
    expect(r.outbox.get(id!)?.state).toBe('acked');
  });

  it('a rejected record is quarantined, counted, and never published again', async () => {
    const r = rig();
    r.broker.behaviour = reject('signature does not verify');
    await r.connect();
    const [id] = r.store();
    await r.settle(60_000);
    expect(r.outbox.get(id!)?.state).toBe('quarantined');
    expect(r.outbox.quarantined()).toEqual([expect.objectContaining({ id, reason: 'signature does not verify' })]);
    expect(r.uplink.status().rejectedAcks).toBe(1);
    expect(r.publishedIds()).toEqual([id]);
  });

  it('acks arriving together are settled in one commit', async () => {
    const r = rig();
    r.broker.behaviour = drop();
    await r.connect();
    const ids = r.store(3);
    await r.settle();
    const settle = vi.spyOn(r.outbox, 'settle');
    for (const id of ids) r.broker.ack([id]);
    expect(r.outbox.stats().acked).toBe(0);
    await r.settle();
    expect(settle).toHaveBeenCalledTimes(1);
    expect(settle.mock.calls[0]![0]).toHaveLength(3);
    expect(r.outbox.stats()).toMatchObject({ pending: 0, acked: 3 });
    expect(r.acked.map((a) => a.ids)).toEqual(ids.map((id) => [id]));
  });

  it('an ack that is not one is counted and changes nothing', async () => {
    const r = rig();
    r.broker.behaviour = drop();
    await r.connect();
    const [id] = r.store();
    await r.settle();
    r.broker.ack([], 'accepted');
    r.broker.ack([id!], 'maybe' as never);
    await r.settle();
    expect(r.uplink.status().invalidAcks).toBe(2);
    expect(r.outbox.get(id!)?.state).toBe('pending');
  });

  it('an ack naming a record this uplink did not publish settles nothing: counted, and the record goes on', async () => {
    const r = rig({ inflight: 1 });
    r.broker.behaviour = drop();
    await r.connect();
    const [sent, notYetSent] = r.store(2);
    await r.settle();
    expect(r.publishedIds()).toEqual([sent]);
    r.broker.ack([notYetSent!], 'accepted');
    r.broker.ack([notYetSent!], 'rejected', 'forged');
    r.broker.ack(['r-of-another-terminal'], 'accepted');
    await r.settle();
    expect(r.outbox.stats()).toMatchObject({ pending: 2, acked: 0, quarantined: 0 });
    expect(r.uplink.status()).toMatchObject({ unexpectedAcks: 3, acked: 0, rejectedAcks: 0 });
    expect(r.acked).toEqual([]);
    // The ids it does await in the same ack are settled as usual.
    r.broker.behaviour = ackAtOnce();
    r.broker.ack([sent!, 'r-unknown'], 'accepted');
    await r.settle();
    expect(r.outbox.stats()).toMatchObject({ pending: 0, acked: 2 });
    expect(r.uplink.status()).toMatchObject({ unexpectedAcks: 4, acked: 2 });
  });

  it('an ack replayed in the same turn as the real one is counted unexpected, not settled twice', async () => {
    const r = rig();
    r.broker.behaviour = drop();
    await r.connect();
    const [id] = r.store();
    await r.settle();
    r.broker.ack([id!], 'accepted');
    r.broker.ack([id!], 'rejected', 'replayed');
    await r.settle();
    expect(r.outbox.get(id!)?.state).toBe('acked');
    expect(r.uplink.status()).toMatchObject({ acked: 1, rejectedAcks: 0, unexpectedAcks: 1 });
    expect(r.acked).toHaveLength(1);
  });

  it('an ack that names nothing awaited does not set the clock', async () => {
    const r = rig({ clockTrust: 'ntp' });
    await r.connect();
    r.broker.deliverAck({ ids: ['r-never'], status: 'accepted', serverTime: '2030-01-01T00:00:00Z' });
    await r.settle();
    expect(r.clock.isSynced()).toBe(false);
  });

  it('after a restart, an ack for what the last run published is ignored, and the record, published again, is settled by its new ack', async () => {
    const before = rig();
    before.broker.behaviour = drop();
    await before.connect();
    const ids = before.store(2);
    await before.settle();
    await before.uplink.stop();
    // The same outbox, a new process: paced, so that the second record waits for its turn.
    const after = rig({ outbox: before.outbox, drainRatePerSecond: 1 });
    after.broker.behaviour = drop();
    await after.connect();
    expect(after.publishedIds()).toEqual([ids[0]]);
    after.broker.ack([ids[1]!], 'accepted'); // the receiver's answer to the last run's publish
    await after.settle();
    expect(before.outbox.get(ids[1]!)?.state).toBe('pending');
    after.broker.behaviour = ackAtOnce('duplicate');
    await after.settle(1000);
    expect(after.publishedIds()).toEqual(ids);
    expect(before.outbox.get(ids[1]!)?.state).toBe('acked');
  });

  it('records made pending again (the province lost them) are published once more', async () => {
    const r = rig();
    await r.connect();
    const ids = r.store(2);
    await r.settle();
    expect(r.outbox.requeueRange(1, 2)).toBe(2);
    await r.settle();
    expect(r.publishedIds()).toEqual([...ids, ...ids]);
    expect(r.outbox.stats()).toMatchObject({ pending: 0, acked: 2 });
  });
});

describe('uplink: the time probe (clock.trust ntp, the OS cannot say)', () => {
  /** The ids of the time probes published on `…/time`, in order. */
  const probes = (r: ReturnType<typeof rig>): string[] =>
    r.broker.published.filter((m) => m.topic === 'hcp/v1/T-1/time').map((m) => (JSON.parse(m.payload) as { probe: string }).probe);
  const unsynced = (r: ReturnType<typeof rig>, id: string) =>
    r.outbox.append({ ...strayPress(id, r.clock.now()), clock: { synced: false, bootId: 'boot-1', monoMs: r.timers.now() } });

  it('asks the province the time on connecting: its answer trusts the clock, and held records go corrected at once', async () => {
    const r = rig({ clockTrust: 'ntp', holdUnsyncedMs: 300_000 });
    unsynced(r, 'r-early');
    await r.connect();
    expect(r.publishedIds()).toEqual([]);
    const [probe] = probes(r);
    r.broker.deliverAck({ ids: [probe!], status: 'accepted', serverTime: '2026-11-29T12:00:00Z' });
    await r.settle();
    expect(r.clock.trustedFrom).toBe('province');
    expect(r.broker.records()).toEqual([expect.objectContaining({ id: 'r-early', flags: ['time_corrected'], at: '2026-11-29T12:00:00.000Z' })]);
    expect(r.uplink.status()).toMatchObject({ unexpectedAcks: 0, acked: 1, heldForClock: 0 });
  });

  it('asks again while unanswered, at the ack timeout, and no more once the clock is trusted', async () => {
    const r = rig({ clockTrust: 'ntp', ackTimeoutMs: 2000 });
    await r.connect();
    expect(probes(r)).toHaveLength(1);
    await r.settle(2000);
    expect(probes(r)).toHaveLength(2);
    r.broker.deliverAck({ ids: [probes(r)[0]!], status: 'accepted', serverTime: '2026-11-29T12:00:00Z' });
    await r.settle();
    expect(r.clock.isSynced()).toBe(false); // the answer to a probe no longer awaited
    r.broker.deliverAck({ ids: [probes(r)[1]!], status: 'accepted', serverTime: '2026-11-29T12:00:00Z' });
    await r.settle(10_000);
    expect(r.clock.isSynced()).toBe(true);
    expect(probes(r)).toHaveLength(2);
  });

  it('a trusted clock sends no probe', async () => {
    const r = rig();
    await r.connect();
    await r.settle(10_000);
    expect(probes(r)).toEqual([]);
  });
});

describe('uplink: the connection', () => {
  it('reconnects with exponential backoff while the broker is away, and resets it once connected', async () => {
    const r = rig();
    r.broker.up = false;
    await r.connect();
    expect(r.broker.attempts).toBe(1);
    // Half of 1, 2, 4, 8 s (no jitter), the ceiling 8 s.
    for (const [delay, attempts] of [[500, 2], [1000, 3], [2000, 4], [4000, 5], [4000, 6]] as const) {
      await r.settle(delay - 1);
      expect(r.broker.attempts).toBe(attempts - 1);
      await r.settle(1);
      expect(r.broker.attempts).toBe(attempts);
    }
    r.broker.up = true;
    await r.settle(4000);
    expect(r.uplink.status()).toMatchObject({ connected: true, reconnectAttempts: 0 });
  });

  it('records in flight at a cut are published again after the reconnect, the oldest first', async () => {
    const r = rig();
    r.broker.behaviour = drop();
    await r.connect();
    const ids = r.store(2);
    await r.settle();
    r.broker.cut();
    const [madeOffline] = r.store();
    await r.settle();
    expect(r.uplink.status()).toMatchObject({ connected: false, inflight: 0 });
    r.broker.up = true;
    r.broker.behaviour = ackAtOnce();
    await r.settle(500);
    expect(r.publishedIds()).toEqual([...ids, ...ids, madeOffline]);
    expect(r.outbox.stats().pending).toBe(0);
  });

  it('announces itself online, retained, on every connection', async () => {
    const r = rig({ versions: { bridge: '9.9.9' } });
    await r.connect();
    expect(r.broker.published[0]).toMatchObject({ topic: 'hcp/v1/T-1/state' });
    expect(JSON.parse(r.broker.published[0]!.payload)).toMatchObject({ online: true, bridge: '9.9.9' });
  });
});
