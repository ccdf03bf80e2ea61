import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { BridgeEvents } from '../../bridge/bridge-events.js';
import { parseConfig } from '../../bridge/config.js';
import type { OpenInvitation } from '../../bridge/desk/invitation-desk.js';
import { DESK_REPORT_GAP_MS, Telemetry, deskInvitation, telemetryReport } from '../../bridge/features/telemetry.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { TELEMETRY_DESK_ITEMS, telemetrySchema } from '../../protocol/telemetry.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

const STATUS = {
  terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', hallName: '西湖区政务服务中心', windowNo: '07' },
  alarms: ['clock_unsynced'],
  staffId: null,
  invitation: null,
  backlog: { pending: 3, quarantined: 0, oldestPendingAgeMs: 1200, acked: 9, oldestPendingAt: null, recentlyQuarantined: [] },
  link: { alive: true, portOpen: true, terminal: { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1 }, counters: { rejected: { crc: 2 } } },
  broker: { inflight: 1, backlogToDrain: 2, heldForClock: 0, unexpectedAcks: 4 },
  clock: { synced: false, trustedFrom: null },
  storage: { usedBytes: 10, capBytes: 100, full: false, fault: null },
  printer: { configured: false },
} as unknown as BridgeStatus;

const OPEN: OpenInvitation = {
  id: '0190a000-0000-7000-8000-000000000001',
  staffId: 'S-007',
  services: [
    { itemCode: 'ITEM-A', itemName: '营业执照办理', caseNo: 'CASE-SECRET-1' },
    { itemCode: 'ITEM-B', caseNo: 'CASE-SECRET-2' },
  ],
  mode: 'theme',
  proxy: false,
  test: false,
  invitedAt: '2026-03-02T01:00:05.000Z',
  timeoutMs: 30_000,
  flags: [],
};

function rig(status: () => BridgeStatus = () => STATUS) {
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
    status,
    uplink: { telemetry: (body) => void sent.push(body) },
  });
  return { timers, events, sent, telemetry };
}

const signIn = { action: 'sign_in', actor: 'S-007', detail: { windowNo: '07' } } as const;

describe('telemetry feature', () => {
  it('reports on every connection and then every telemetrySeconds, until stopped', () => {
    const { timers, events, sent, telemetry } = rig();
    telemetry.start();
    events.emit('broker', 'connected');
    expect(sent).toEqual([
      {
        at: '2026-03-02T01:00:00.000Z',
        place: { areaCode: '330106', hallCode: 'H-1', hallName: '西湖区政务服务中心', windowNo: '07' },
        beatSeconds: 60,
        alarms: ['clock_unsynced'],
        backlog: { pending: 3, quarantined: 0, oldestPendingAgeMs: 1200 },
        link: { alive: true, portOpen: true, serial: 'DEV-1', fw: '1.0.0', rejectedFrames: { crc: 2 } },
        uplink: { inflight: 1, backlogToDrain: 2, heldForClock: 0, unexpectedAcks: 4 },
        clock: { synced: false, trustedFrom: null },
        storage: { usedBytes: 10, capBytes: 100, full: false, fault: null },
        printer: null,
        desk: { staffId: null, invitation: null },
      },
    ]);
    expect(telemetrySchema.safeParse(sent[0]).success).toBe(true);
    events.emit('broker', 'disconnected');
    timers.advance(60_000);
    expect(sent).toHaveLength(2);
    telemetry.stop();
    events.emit('broker', 'connected');
    events.emit('staffAction', signIn);
    timers.advance(600_000);
    expect(sent).toHaveLength(2);
  });

  it('reports soon after a sign-in, an invitation and its close, at most one a second, with the desk as it is when sent', () => {
    let status = STATUS;
    const { timers, events, sent, telemetry } = rig(() => status);
    telemetry.start();
    status = { ...STATUS, staffId: 'S-007' };
    events.emit('staffAction', signIn);
    timers.advance(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ desk: { staffId: 'S-007', invitation: null } });

    // The invitation 200 ms later waits for the second since the last report to pass.
    timers.advance(200);
    status = { ...status, invitation: OPEN };
    events.emit('invitation', OPEN);
    timers.advance(DESK_REPORT_GAP_MS - 201);
    expect(sent).toHaveLength(1);
    // Its close comes before that report leaves: one report, of the desk after the close.
    status = { ...status, invitation: null };
    events.emit('closed', {} as StoredInvitation);
    timers.advance(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ at: '2026-03-02T01:00:01.000Z', desk: { staffId: 'S-007', invitation: null } });
    timers.advance(5000);
    expect(sent).toHaveLength(2);

    // A change long after the last report goes at once; other staff actions send nothing.
    events.emit('staffAction', { action: 'reprint', actor: 'S-007', detail: {} });
    timers.advance(0);
    expect(sent).toHaveLength(2);
    status = { ...status, invitation: OPEN };
    events.emit('invitation', OPEN);
    timers.advance(0);
    expect(sent).toHaveLength(3);
    expect(sent[2]).toMatchObject({ desk: { staffId: 'S-007', invitation: { invitedAt: OPEN.invitedAt, mode: 'theme', cases: 2 } } });
    for (const body of sent) expect(telemetrySchema.safeParse(body).success).toBe(true);
  });

  it('reports soon after a pause (暂停服务) and a resume, saying whether the window is paused', () => {
    let status = { ...STATUS, paused: false };
    const { timers, events, sent, telemetry } = rig(() => status);
    telemetry.start();
    status = { ...status, paused: true };
    events.emit('paused', { paused: true, actor: 'S-007' });
    timers.advance(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ desk: { paused: true } });
    status = { ...status, paused: false };
    events.emit('paused', { paused: false, actor: 'S-007' });
    timers.advance(DESK_REPORT_GAP_MS);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ desk: { paused: false } });
    for (const body of sent) expect(telemetrySchema.safeParse(body).success).toBe(true);
    telemetry.stop();
    events.emit('paused', { paused: true, actor: null });
    timers.advance(DESK_REPORT_GAP_MS);
    expect(sent).toHaveLength(2);
  });

  it('counts the beat as a report: a change right after it waits out the gap', () => {
    const { timers, events, sent, telemetry } = rig();
    telemetry.start();
    timers.advance(60_000);
    expect(sent).toHaveLength(1);
    timers.advance(300);
    events.emit('staffAction', { action: 'sign_out', actor: 'S-007', detail: {} });
    timers.advance(699);
    expect(sent).toHaveLength(1);
    timers.advance(1);
    expect(sent).toHaveLength(2);
  });

  it('stop() drops a report that was waiting', () => {
    const { timers, events, sent, telemetry } = rig();
    telemetry.start();
    events.emit('broker', 'connected');
    events.emit('staffAction', signIn);
    telemetry.stop();
    timers.advance(10_000);
    expect(sent).toHaveLength(1);
  });
});

describe('the desk in the report', () => {
  it('names the items, never a case number or a grade', () => {
    const report = telemetryReport({ ...STATUS, staffId: 'S-007', invitation: OPEN }, 60);
    expect(report.desk).toEqual({
      staffId: 'S-007',
      invitation: { invitedAt: OPEN.invitedAt, mode: 'theme', items: [{ itemCode: 'ITEM-A', itemName: '营业执照办理' }, { itemCode: 'ITEM-B' }], cases: 2 },
    });
    const text = JSON.stringify(report);
    expect(text).not.toContain('CASE-SECRET');
    expect(text).not.toMatch(/caseNo|grade|satisf/i);
  });

  it('lists a batch item once and bounds a large theme', () => {
    const batch = deskInvitation({ ...OPEN, mode: 'batch', services: Array.from({ length: 30 }, (_, i) => ({ itemCode: 'ITEM-A', caseNo: `C-${i}` })) });
    expect(batch).toEqual({ invitedAt: OPEN.invitedAt, mode: 'batch', items: [{ itemCode: 'ITEM-A' }], cases: 30 });
    const theme = deskInvitation({ ...OPEN, services: Array.from({ length: 50 }, (_, i) => ({ itemCode: `ITEM-${i}`, itemName: '事'.repeat(200), caseNo: `C-${i}` })) });
    expect(theme.items).toHaveLength(TELEMETRY_DESK_ITEMS);
    expect(theme.cases).toBe(50);
    // Within the gateway's 16 KB for a telemetry message (gateway/registry/state-messages.ts).
    const body = { at: OPEN.invitedAt, ...telemetryReport({ ...STATUS, invitation: { ...OPEN, services: [] }, staffId: 'S-1' }, 60), desk: { staffId: 'S-1', invitation: theme } };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(16 * 1024);
    expect(telemetrySchema.safeParse(body).success).toBe(true);
  });
});
