import { describe, expect, it } from 'vitest';
import { terminalFaults, type FaultSettings, type TerminalFacts } from '../../gateway/alerts/fault-scan.js';
import { telemetryBody } from '../integration/alerts-fixture.js';

/** Which fleet faults a terminal's row shows, on fixed rows and a fixed clock. */

const NOW = new Date('2026-11-30T04:00:00Z');
const SETTINGS: FaultSettings = { offlineMinutes: 10, backlogHours: 2, clockUnsynced: true, paperOut: true };
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

function facts(more: Partial<TerminalFacts> = {}): TerminalFacts {
  return {
    terminalId: 'T-1',
    areaCode: '370102',
    hallCode: 'hall-lixia',
    windowNo: '7',
    approved: true,
    online: true,
    lastSeen: minutesAgo(1),
    stateAt: minutesAgo(60),
    telemetry: telemetryBody(NOW),
    telemetryAt: minutesAgo(1),
    ...more,
  };
}

const kinds = (t: TerminalFacts, s: FaultSettings = SETTINGS) => terminalFaults(t, s, NOW).active.map((f) => f.kind);

describe('fleet faults of a terminal', () => {
  it('a healthy terminal has none', () => {
    expect(terminalFaults(facts(), SETTINGS, NOW)).toEqual({ active: [], unknown: [] });
  });

  it('offline: by its last will after offlineMinutes, or silent that long; the rest is unknown then', () => {
    expect(terminalFaults(facts({ online: false, stateAt: minutesAgo(9), lastSeen: minutesAgo(9) }), SETTINGS, NOW)).toEqual({ active: [], unknown: ['backlog_old', 'clock_unsynced', 'paper_out'] });
    const willed = terminalFaults(facts({ online: false, stateAt: minutesAgo(10), lastSeen: minutesAgo(10), telemetry: telemetryBody(NOW, { printer: 'paper_out' }) }), SETTINGS, NOW);
    expect(willed.active).toEqual([{ kind: 'terminal_offline', since: minutesAgo(10), detail: {} }]);
    expect(willed.unknown).toEqual(['backlog_old', 'clock_unsynced', 'paper_out']);
    // Said online, but not heard from (the gateway missed its will).
    expect(terminalFaults(facts({ lastSeen: minutesAgo(11) }), SETTINGS, NOW).active).toEqual([{ kind: 'terminal_offline', since: minutesAgo(11), detail: {} }]);
  });

  it('a backlog older than backlogHours, aged since the report', () => {
    // 1 h 55 min old when reported 1 minute ago: not yet; 5 minutes later it is.
    const t = facts({ telemetry: telemetryBody(NOW, { pending: 4, oldestMs: 115 * 60_000 }) });
    expect(kinds(t)).toEqual([]);
    const later = terminalFaults(t, SETTINGS, new Date(NOW.getTime() + 5 * 60_000)).active;
    expect(later).toEqual([{ kind: 'backlog_old', since: minutesAgo(116), detail: { pending: 4, oldestPendingHours: 2 } }]);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { pending: 0, oldestMs: 10 * 3600_000 }) }))).toEqual([]);
  });

  it('clock unsynced and paper out, by the report or its alarms; each can be switched off', () => {
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { synced: false }) }))).toEqual(['clock_unsynced']);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { alarms: ['clock_unsynced'] }) }))).toEqual(['clock_unsynced']);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { printer: 'paper_out' }) }))).toEqual(['paper_out']);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { printer: null, alarms: ['printer_paper_out'] }) }))).toEqual(['paper_out']);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { printer: 'paper_low' }) }))).toEqual([]);
    expect(kinds(facts({ telemetry: telemetryBody(NOW, { synced: false, printer: 'paper_out' }) }), { ...SETTINGS, clockUnsynced: false, paperOut: false })).toEqual([]);
  });

  it('no telemetry yet: nothing known; not approved: nothing at all', () => {
    expect(terminalFaults(facts({ telemetry: null }), SETTINGS, NOW)).toEqual({ active: [], unknown: ['backlog_old', 'clock_unsynced', 'paper_out'] });
    expect(terminalFaults(facts({ approved: false, lastSeen: minutesAgo(600) }), SETTINGS, NOW)).toEqual({ active: [], unknown: [] });
  });

  it('unreadable telemetry is no fault, never a throw', () => {
    for (const body of ['x', 42, [], { backlog: 'lots', clock: { synced: 'no' }, printer: { condition: 'on fire' }, alarms: [1, {}] }]) {
      expect(kinds(facts({ telemetry: body }))).toEqual([]);
    }
  });
});
