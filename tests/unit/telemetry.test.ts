import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { BridgeEvents } from '../../bridge/bridge-events.js';
import { parseConfig } from '../../bridge/config.js';
import { Telemetry } from '../../bridge/features/telemetry.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

const STATUS = {
  alarms: ['clock_unsynced'],
  backlog: { pending: 3, quarantined: 0, oldestPendingAgeMs: 1200, acked: 9, oldestPendingAt: null, recentlyQuarantined: [] },
  link: { alive: true, portOpen: true, terminal: { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1 }, counters: { rejected: 2 } },
  broker: { inflight: 1, backlogToDrain: 2, heldForClock: 0, unexpectedAcks: 4 },
  clock: { synced: false, trustedFrom: null },
  storage: { usedBytes: 10, capBytes: 100, full: false },
  printer: { configured: false },
} as unknown as BridgeStatus;

describe('telemetry feature', () => {
  it('reports on every connection and then every telemetrySeconds, until stopped', () => {
    const timers = new ManualTimers();
    const events = new EventEmitter<BridgeEvents>();
    const sent: object[] = [];
    const config = parseConfig({
      terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
      serial: { path: '/dev/ttyUSB0' },
      mqtt: { url: 'mqtt://localhost:1883', telemetrySeconds: 60 },
      database: { path: '/tmp/hcp.db' },
    });
    const telemetry = new Telemetry({
      events,
      timers,
      config,
      clock: new TimeKeeper(manualWall(timers, Date.parse('2026-03-02T01:00:00Z')), 'boot-1', 'system'),
      status: () => STATUS,
      uplink: { telemetry: (body) => void sent.push(body) },
    });
    telemetry.start();
    events.emit('broker', 'connected');
    expect(sent).toEqual([
      {
        at: '2026-03-02T01:00:00.000Z',
        alarms: ['clock_unsynced'],
        backlog: { pending: 3, quarantined: 0, oldestPendingAgeMs: 1200 },
        link: { alive: true, portOpen: true, serial: 'DEV-1', fw: '1.0.0', rejectedFrames: 2 },
        uplink: { inflight: 1, backlogToDrain: 2, heldForClock: 0, unexpectedAcks: 4 },
        clock: { synced: false, trustedFrom: null },
        storage: { usedBytes: 10, capBytes: 100, full: false },
        printer: null,
      },
    ]);
    events.emit('broker', 'disconnected');
    timers.advance(60_000);
    expect(sent).toHaveLength(2);
    telemetry.stop();
    events.emit('broker', 'connected');
    timers.advance(600_000);
    expect(sent).toHaveLength(2);
  });
});
