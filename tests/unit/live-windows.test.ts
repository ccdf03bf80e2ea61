import { describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Queryable } from '../../gateway/db/database.js';
import { readTelemetry } from '../../gateway/live/telemetry-view.js';
import { DEFAULT_BEAT_SECONDS, STALE_BEATS, liveWindows } from '../../gateway/live/windows.js';

/** liveWindows over rows as the database gives them (a stand-in that keeps the query it was asked). */
const NOW = new Date('2026-11-30T08:00:00Z');
const HALL: Scope = { role: 'hall', areaPrefix: '330106', hallCode: 'H1' };

function row(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    terminal_id: 'T-1',
    place_area: '330106',
    place_hall: 'H1',
    place_window: '1',
    online: true,
    last_seen: NOW,
    telemetry: { beatSeconds: 30, place: { areaCode: '330106', hallCode: 'H1', hallName: '西湖区政务服务中心', windowNo: '1' } },
    telemetry_at: NOW,
    ...over,
  };
}

function database(rows: Record<string, unknown>[]): Queryable & { asked: { text: string; params: readonly unknown[] }[] } {
  const asked: { text: string; params: readonly unknown[] }[] = [];
  return {
    asked,
    query: async <R,>(text: string, params: readonly unknown[] = []) => {
      asked.push({ text, params });
      return { rows: rows as R[] };
    },
    exec: async () => undefined,
  };
}

describe('liveWindows', () => {
  it('asks for approved terminals in the scope only', async () => {
    const db = database([]);
    await liveWindows(db, { scope: HALL, now: NOW });
    expect(db.asked).toHaveLength(1);
    expect(db.asked[0]!.text).toMatch(/status = 'approved'/);
    expect(db.asked[0]!.text).toMatch(/place_area LIKE \$1 AND place_hall = \$2/);
    expect(db.asked[0]!.params).toEqual(['330106%', 'H1']);
  });

  it('is stale after three of the terminal’s own beats, not before', async () => {
    const beatMs = 30_000;
    const at = (ms: number) => new Date(NOW.getTime() - ms);
    const [fresh] = await liveWindows(database([row({ telemetry_at: at(STALE_BEATS * beatMs) })]), { scope: HALL, now: NOW });
    expect(fresh!.stale).toBe(false);
    const [old] = await liveWindows(database([row({ telemetry_at: at(STALE_BEATS * beatMs + 1) })]), { scope: HALL, now: NOW });
    expect(old!.stale).toBe(true);
    // A report that does not say its beat: the bridge's default.
    const [unsaid] = await liveWindows(database([row({ telemetry: {}, telemetry_at: at(STALE_BEATS * DEFAULT_BEAT_SECONDS * 1000) })]), { scope: HALL, now: NOW });
    expect(unsaid!.stale).toBe(false);
  });

  it('is stale when offline or without telemetry', async () => {
    const windows = await liveWindows(database([row({ terminal_id: 'A', online: false }), row({ terminal_id: 'B', online: null }), row({ terminal_id: 'C', telemetry: null, telemetry_at: null })]), { scope: HALL, now: NOW });
    expect(windows.map((w) => [w.terminalId, w.online, w.stale])).toEqual([
      ['A', false, true],
      ['B', false, true],
      ['C', true, true],
    ]);
    expect(windows[2]).toMatchObject({ telemetryAt: null, staffId: null, invitation: null, backlog: null, alarms: [], printer: null, clockSynced: null, hallName: null });
  });

  it('shows the desk, backlog, alarms and printer with their Chinese words', async () => {
    const telemetry = {
      beatSeconds: 60,
      place: { areaCode: '330106', hallCode: 'H1', hallName: '西湖区政务服务中心', windowNo: '1' },
      alarms: ['printer_paper_out', 'clock_unsynced', 'not_an_alarm'],
      backlog: { pending: 4, quarantined: 0, oldestPendingAgeMs: 90_000 },
      clock: { synced: false, trustedFrom: null },
      printer: { condition: 'paper_out', pending: 1, printed: 9 },
      desk: { staffId: 'S-7', invitation: { invitedAt: '2026-11-30T07:59:50.000Z', mode: 'batch', items: [{ itemCode: 'X-1', itemName: '食品经营许可' }], cases: 3 }, paused: true },
    };
    const [w] = await liveWindows(database([row({ telemetry })]), { scope: HALL, now: NOW });
    expect(w).toEqual({
      terminalId: 'T-1',
      areaCode: '330106',
      hallCode: 'H1',
      hallName: '西湖区政务服务中心',
      windowNo: '1',
      online: true,
      lastSeen: NOW.toISOString(),
      telemetryAt: NOW.toISOString(),
      staffId: 'S-7',
      paused: true,
      invitation: telemetry.desk.invitation,
      backlog: { pending: 4, oldestPendingAgeMs: 90_000 },
      alarms: [
        { code: 'printer_paper_out', zh: '打印机缺纸' },
        { code: 'clock_unsynced', zh: '时钟未校准' },
      ],
      printer: { condition: 'paper_out', zh: '缺纸' },
      clockSynced: false,
      stale: false,
    });
  });

  it('takes the hall’s name from telemetry only for the hall the terminal is placed in', async () => {
    const [w] = await liveWindows(database([row({ place_hall: 'H2' })]), { scope: { role: 'county', areaPrefix: '330106', hallCode: null }, now: NOW });
    expect(w!.hallName).toBeNull();
  });

  it('orders by area, hall and window number, 2 before 10', async () => {
    const rows = [row({ terminal_id: 'A', place_window: '10' }), row({ terminal_id: 'B', place_window: '2' }), row({ terminal_id: 'C', place_hall: 'H0', place_window: '9' }), row({ terminal_id: 'D', place_window: null })];
    const windows = await liveWindows(database(rows), { scope: { role: 'county', areaPrefix: '330106', hallCode: null }, now: NOW });
    expect(windows.map((w) => w.terminalId)).toEqual(['C', 'D', 'B', 'A']);
  });
});

describe('readTelemetry', () => {
  it('keeps known alarms once each, and reads the staff member without an invitation that does not parse', () => {
    const view = readTelemetry({ alarms: ['clock_unsynced', 'clock_unsynced', 'made_up', 7], desk: { staffId: 'S-1', invitation: { invitedAt: 'yesterday', mode: 'single', items: [], cases: 1 } } });
    expect(view.alarms).toEqual(['clock_unsynced']);
    // A bridge from before pause was reported does not say: not known, not "serving".
    expect(view.desk).toEqual({ staffId: 'S-1', invitation: null, paused: null });
    expect(readTelemetry({ desk: { staffId: null, invitation: null, paused: 'yes' } }).desk).toEqual({ staffId: null, invitation: null, paused: null });
  });

  it('leaves out what the view does not carry: a case number sent by mistake, the link, storage', () => {
    const view = readTelemetry({
      link: { alive: true },
      storage: { full: false },
      desk: { staffId: null, invitation: { invitedAt: '2026-11-30T07:59:50.000Z', mode: 'single', items: [{ itemCode: 'X-1', caseNo: 'SECRET' }], cases: 1, grade: 'very_satisfied' } },
    });
    expect(JSON.stringify(view)).not.toMatch(/SECRET|grade|link|storage/);
    expect(view.desk?.invitation?.items).toEqual([{ itemCode: 'X-1' }]);
  });

  it('reads nothing from a value that is not an object', () => {
    for (const value of [null, undefined, 'text', 42, [], [{ desk: {} }]]) {
      expect(readTelemetry(value)).toEqual({ at: null, place: null, beatSeconds: null, alarms: null, backlog: null, clock: null, printer: null, desk: null });
    }
  });
});
