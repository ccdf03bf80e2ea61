import { afterEach, describe, expect, it } from 'vitest';
import type { WallSource } from '../../bridge/time/wall-source.js';
import { seededRandom } from '../../simulator/random.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { TcpProxy } from '../../simulator/tcp-proxy.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { FAST_RECONNECT, HallFixture } from '../support/hall-fixture.js';
import { notAudit } from '../support/audit-events.js';

/**
 * The network side of "every press the terminal acknowledged appears exactly once at the
 * province", against each broker of the matrix (the embedded one and Debian's Mosquitto).
 */

let broker: TestBroker | undefined;
let proxy: TcpProxy | undefined;
let hall: HallFixture | undefined;

afterEach(async () => {
  await hall?.close();
  await proxy?.stop();
  await broker?.stop();
  hall = proxy = broker = undefined;
});

async function serveMany(h: HallFixture, w: SimWindow, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await h.serve(w, `${prefix}-${i}`, i % 5));
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating to be stored');
  }
  return ids;
}

describe.each(BROKERS)('uplink faults ($name broker)', ({ start }) => {
  it('a broker restart loses nothing: ratings made while it is down arrive once', async () => {
    broker = await start();
    hall = await HallFixture.start(broker.url);
    const w = await hall.window({ config: { mqtt: { url: broker.url, ...FAST_RECONNECT } } });
    const before = await serveMany(hall, w, 'C-BR-A', 2);
    await hall.expectExactlyOnce(w, before);
    const restarted = broker.restart();
    const during = await serveMany(hall, w, 'C-BR-B', 3);
    await restarted;
    const after = await serveMany(hall, w, 'C-BR-C', 2);
    await hall.expectExactlyOnce(w, [...before, ...during, ...after]);
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'the outbox to empty');
  });

  it('a network cut and a silent black hole: the backlog drains once the path is back', async () => {
    broker = await start();
    hall = await HallFixture.start(broker.url);
    proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port: broker.port } });
    const w = await hall.window({ brokerUrl: proxy.url, config: { mqtt: { url: proxy.url, ...FAST_RECONNECT } } });
    proxy.cut();
    await waitUntil(() => !w.bridge.status().broker.connected, 'the bridge to notice the cut');
    const cut = await serveMany(hall, w, 'C-CUT', 3);
    expect(cut.map((id) => w.bridge.outbox.get(id)?.state)).toEqual(['pending', 'pending', 'pending']);
    proxy.restore();
    await hall.expectExactlyOnce(w, cut);

    proxy.blackhole(); // TCP stays up, nothing passes: only the MQTT keepalive can tell
    const hole = await serveMany(hall, w, 'C-HOLE', 2);
    await waitUntil(() => !w.bridge.status().broker.connected, 'the keepalive to detect the black hole', { timeoutMs: 10_000 });
    proxy.restore();
    await hall.expectExactlyOnce(w, [...cut, ...hole]);
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'the outbox to empty');
  });

  it('acks delayed and lost: records are published again and answered duplicate, stored once', async () => {
    broker = await start();
    const random = seededRandom(7);
    let dropped = 0;
    hall = await HallFixture.start(broker.url, {
      ackDelayMs: 150,
      dropAck: (ack) => ack.status === 'accepted' && random() < 0.6 && ++dropped > 0,
    });
    const w = await hall.window({ config: { mqtt: { url: broker.url, ackTimeoutSeconds: 0.5 } } });
    const ids = await serveMany(hall, w, 'C-ACK', 6);
    await hall.expectExactlyOnce(w, ids);
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'every record to be settled', { timeoutMs: 15_000 });
    expect(dropped).toBeGreaterThan(0);
    expect(hall.province.stats.duplicates).toBeGreaterThan(0);
    expect(ids.map((id) => w.bridge.outbox.get(id)?.state)).toEqual(Array(6).fill('acked'));
  });

  it('a rejected record is quarantined and visible, never resent nor deleted', async () => {
    broker = await start();
    hall = await HallFixture.start(broker.url, {
      rejectIf: (r) => (r.kind === 'invitation' && r.services[0]?.caseNo === 'C-BAD' ? 'services.0.caseNo: unknown case at the province' : undefined),
    });
    const w = await hall.window({ config: { mqtt: { url: broker.url, ackTimeoutSeconds: 0.5 } } });
    const bad = await hall.serve(w, 'C-BAD', 3);
    await waitUntil(() => w.bridge.outbox.stats().quarantined === 1, 'the record to be quarantined');
    const status = w.bridge.status();
    expect(status.alarms).toContain('records_quarantined');
    expect(status.backlog.recentlyQuarantined).toEqual([expect.objectContaining({ id: bad, reason: 'services.0.caseNo: unknown case at the province' })]);
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the desk to be free');
    const good = await hall.serve(w, 'C-GOOD', 0);
    await hall.expectExactlyOnce(w, [good]);
    expect(hall.province.stats.rejected).toBe(1); // published once, never again
    expect(w.bridge.outbox.get(bad)?.state).toBe('quarantined');
  });
});

describe.each(BROKERS)('a week-long outage, compressed ($name broker)', ({ start }) => {
  it('a thousand ratings over a week drain once each, paced, with live records first', async () => {
    broker = await start();
    hall = await HallFixture.start(broker.url);
    proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port: broker.port } });
    // One wall clock for the hall that runs a week in the time the test takes.
    let virtualMs = Date.parse('2026-11-16T08:00:00Z');
    const wall: WallSource = { wallMs: () => virtualMs, monoMs: () => performance.now(), ntpSynced: async () => true };
    const windows = await Promise.all(
      [1, 2, 3, 4].map(() =>
        hall!.window({
          brokerUrl: proxy!.url,
          config: { mqtt: { url: proxy!.url, drainRatePerSecond: 100, ...FAST_RECONNECT } },
          bridgeDeps: { wall },
        }),
      ),
    );
    proxy.cut();
    await waitUntil(() => windows.every((w) => !w.bridge.status().broker.connected), 'every bridge to notice the cut');
    const perWindow = 250;
    const ids = await Promise.all(
      windows.map(async (w, n) => {
        const made: string[] = [];
        for (let i = 0; i < perWindow; i++) {
          virtualMs += 10 * 60 * 1000; // ten minutes of hall time per citizen, across the hall: a week in all
          made.push(await hall!.serve(w, `C-WEEK-${n}-${i}`, (i + n) % 5));
          await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating to be stored');
        }
        return made;
      }),
    );
    expect(windows.map((w, n) => ids[n]!.filter((id) => w.bridge.outbox.get(id)?.state === 'pending').length)).toEqual([perWindow, perWindow, perWindow, perWindow]);

    proxy.restore();
    const [first] = windows;
    await waitUntil(() => first!.bridge.status().broker.connected, 'the first bridge to reconnect');
    await waitUntil(() => first!.bridge.desk.current() === undefined && first!.terminal.core.state === 'idle', 'an idle terminal', { timeoutMs: 10_000 });
    const live = await hall.serve(first!, 'C-LIVE', 0);
    await hall.province.waitFor(() => hall!.province.recordsOf(first!.terminalId).some((r) => r.id === live), { timeoutMs: 10_000 });
    // The live record overtook the backlog: the window still had backlog left to drain.
    const backlogArrived = hall.province.recordsOf(first!.terminalId).filter((r) => r.id !== live && notAudit(r)).length;
    expect(backlogArrived).toBeLessThan(perWindow);

    for (const [n, w] of windows.entries()) {
      // Twice the records of the ratings alone (each invitation's audit entry rides the same backlog), each verified at the province.
      const records = await hall.expectExactlyOnce(w, n === 0 ? [...ids[n]!, live] : ids[n]!, 60_000);
      const times = records.filter((r) => r.kind === 'invitation').map((r) => Date.parse(r.kind === 'invitation' ? r.closedAt : ''));
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(6 * 24 * 3600 * 1000);
    }
    await waitUntil(() => windows.every((w) => w.bridge.outbox.stats().pending === 0), 'every outbox to empty');
  }, 150_000);
});
