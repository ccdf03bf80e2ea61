import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { listAlerts } from '../../gateway/alerts/alert-store.js';
import { FaultScanner, scanFaults, type FaultSettings } from '../../gateway/alerts/fault-scan.js';
import { WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import type { Database } from '../../gateway/db/database.js';
import { waitUntil } from '../../simulator/wait.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { ManualTimers } from '../support/manual-timers.js';
import { addTerminal, alertRows, forgetPlace, PROVINCE, storeRating, telemetryBody } from './alerts-fixture.js';

/** Fleet faults raised and cleared from the terminals table, one open per (kind, terminal), on both engines. */

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });
const NOW = new Date('2026-11-30T04:00:00Z');
const SETTINGS: FaultSettings = { offlineMinutes: 10, backlogHours: 2, clockUnsynced: true, paperOut: true };
const minutesAgo = (m: number, from = NOW) => new Date(from.getTime() - m * 60_000);

describe.each(engines)('fault scan on $name', (engine) => {
  const database = databasePerTest(engine);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  async function open(): Promise<string[]> {
    return (await alertRows(db)).filter((r) => r.cleared_at === null).map((r) => `${r.kind}:${r.subject}`);
  }

  it('raises each fault once, keeps it while it lasts, clears it when it ends; bad reviews are left alone', async () => {
    await storeRating(db, 'dissatisfied');
    await addTerminal(db, { id: 'T-LX-07', lastSeen: minutesAgo(1), telemetry: telemetryBody(NOW), telemetryAt: minutesAgo(1) });
    await addTerminal(db, { id: 'T-OFF', windowNo: '1', online: false, stateAt: minutesAgo(30), lastSeen: minutesAgo(30) });
    await addTerminal(db, { id: 'T-PAPER', windowNo: '2', lastSeen: minutesAgo(1), telemetry: telemetryBody(NOW, { printer: 'paper_out', synced: false }), telemetryAt: minutesAgo(1) });
    await addTerminal(db, { id: 'T-BACKLOG', windowNo: '3', lastSeen: minutesAgo(1), telemetry: telemetryBody(NOW, { pending: 9, oldestMs: 3 * 3600_000 }), telemetryAt: minutesAgo(1) });
    await addTerminal(db, { id: 'T-OK', windowNo: '4', lastSeen: minutesAgo(1), telemetry: telemetryBody(NOW), telemetryAt: minutesAgo(1) });
    await addTerminal(db, { id: 'T-PENDING', status: 'pending', lastSeen: minutesAgo(600) });

    expect(await scanFaults(db, { now: NOW, settings: SETTINGS })).toEqual({ raised: 4, cleared: 0 });
    expect((await open()).sort()).toEqual(['backlog_old:T-BACKLOG', expect.stringMatching(/^bad_review:record:/), 'clock_unsynced:T-PAPER', 'paper_out:T-PAPER', 'terminal_offline:T-OFF']);
    const offline = (await listAlerts(db, { scope: PROVINCE, state: 'open', kinds: ['terminal_offline'], limit: 10, offset: 0, timeZone: 'Asia/Shanghai', followUp: { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 }, calendar: WEEKDAYS_CALENDAR, now: NOW })).rows[0]!;
    expect(offline).toMatchObject({ kindZh: '评价器离线', terminalId: 'T-OFF', windowNo: '1', occurredAt: minutesAgo(30), raisedAt: NOW, clocks: null, followUp: null });
    const backlog = (await alertRows(db)).find((r) => r.kind === 'backlog_old');
    expect(backlog?.detail).toEqual({ pending: 9, oldestPendingHours: 3 });

    // Again, nothing changed: nothing new (one open per kind and terminal).
    const later = new Date(NOW.getTime() + 30_000);
    expect(await scanFaults(db, { now: later, settings: SETTINGS })).toEqual({ raised: 0, cleared: 0 });

    // Paper loaded and the backlog sent; the offline one comes back online.
    await addTerminal(db, { id: 'T-PAPER', windowNo: '2', lastSeen: later, telemetry: telemetryBody(later, { synced: false }), telemetryAt: later });
    await addTerminal(db, { id: 'T-BACKLOG', windowNo: '3', lastSeen: later, telemetry: telemetryBody(later), telemetryAt: later });
    await addTerminal(db, { id: 'T-OFF', windowNo: '1', online: true, stateAt: later, lastSeen: later });
    expect(await scanFaults(db, { now: later, settings: SETTINGS })).toEqual({ raised: 0, cleared: 3 });
    expect((await open()).filter((k) => !k.startsWith('bad_review'))).toEqual(['clock_unsynced:T-PAPER']);
    const cleared = (await alertRows(db)).filter((r) => r.cleared_at !== null);
    expect(cleared.every((r) => r.notify_due_at === null)).toBe(true);

    // Out of paper again: a new alert (the old one stays cleared, in the history).
    await addTerminal(db, { id: 'T-PAPER', windowNo: '2', lastSeen: later, telemetry: telemetryBody(later, { synced: false, printer: 'paper_out' }), telemetryAt: later });
    expect(await scanFaults(db, { now: later, settings: SETTINGS })).toEqual({ raised: 1, cleared: 0 });
    expect((await alertRows(db)).filter((r) => r.kind === 'paper_out')).toHaveLength(2);
  });

  it('a terminal with no place in the registry (approved on its first key) is placed by its telemetry', async () => {
    const place = { areaCode: '370102', hallCode: 'hall-first', hallName: null, windowNo: '12' };
    await addTerminal(db, { id: 'T-FIRST', lastSeen: minutesAgo(1), telemetry: { ...telemetryBody(NOW, { printer: 'paper_out' }), place }, telemetryAt: minutesAgo(1) });
    await forgetPlace(db, 'T-FIRST');
    expect(await scanFaults(db, { now: NOW, settings: SETTINGS })).toEqual({ raised: 1, cleared: 0 });
    const { rows } = await db.query<{ kind: string; hall_code: string; window_no: string }>('SELECT kind, hall_code, window_no FROM alerts');
    expect(rows).toEqual([{ kind: 'paper_out', hall_code: 'hall-first', window_no: '12' }]);
  });

  it('an offline terminal keeps the alerts its last report raised: they are not known to have ended', async () => {
    await addTerminal(db, { id: 'T-1', lastSeen: minutesAgo(1), telemetry: telemetryBody(NOW, { printer: 'paper_out' }), telemetryAt: minutesAgo(1) });
    await scanFaults(db, { now: NOW, settings: SETTINGS });
    const muchLater = new Date(NOW.getTime() + 3600_000);
    await addTerminal(db, { id: 'T-1', online: false, stateAt: minutesAgo(-1), lastSeen: minutesAgo(-1), telemetry: telemetryBody(NOW), telemetryAt: minutesAgo(1) });
    expect(await scanFaults(db, { now: muchLater, settings: SETTINGS })).toEqual({ raised: 1, cleared: 0 });
    expect((await open()).sort()).toEqual(['paper_out:T-1', 'terminal_offline:T-1']);
    // Revoked: everything of it ends.
    await addTerminal(db, { id: 'T-1', status: 'revoked', online: false, stateAt: minutesAgo(-1), lastSeen: minutesAgo(-1) });
    expect(await scanFaults(db, { now: muchLater, settings: SETTINGS })).toEqual({ raised: 0, cleared: 2 });
  });

  it('the scanner scans every interval and calls onRaised when it raised something', async () => {
    const timers = new ManualTimers();
    const clock = { now: () => new Date(NOW.getTime() + timers.now()) };
    let kicks = 0;
    const scanner = new FaultScanner({ db, clock, timers, logger: pino({ level: 'silent' }), settings: SETTINGS, intervalMs: 30_000, onRaised: () => (kicks += 1) });
    await addTerminal(db, { id: 'T-1', lastSeen: minutesAgo(5), telemetry: telemetryBody(NOW), telemetryAt: minutesAgo(5) });
    scanner.start();
    timers.advance(0);
    await waitUntil(() => scanner.status().scans === 1, 'the first scan');
    expect(kicks).toBe(0);
    // Five minutes on, it has been silent for ten.
    for (let i = 0; i < 10; i += 1) {
      const scans = scanner.status().scans;
      timers.advance(30_000);
      await waitUntil(() => scanner.status().scans === scans + 1, 'the next scan');
    }
    expect(scanner.status()).toMatchObject({ scans: 11, raised: 1, failures: 0 });
    expect(kicks).toBe(1);
    await scanner.stop();
  });
});
