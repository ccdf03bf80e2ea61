import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { liveWindows } from '../../gateway/live/windows.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';

/**
 * Where liveWindows places a terminal, on both engines: its registration or the roster first
 * (what its telemetry claims does not move it out of its scope), else its telemetry's place (one
 * approved on its first key), else its latest record's; a terminal placed nowhere, or not
 * approved, is not shown.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 1 });
const NOW = new Date('2026-11-30T08:00:00Z');
const county = (areaPrefix: string): Scope => ({ role: 'county', areaPrefix, hallCode: null });

describe.each(engines)('live windows’ places on $name', (engine) => {
  let db: Database;

  beforeAll(async () => {
    db = await engine.open();
    await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    await migrate(db);
    const terminal = (id: string, status: string, place: [string, string, string] | null, telemetry: unknown) =>
      db.query(
        `INSERT INTO terminals (terminal_id, status, area_code, hall_code, window_no, first_seen, last_seen, online, telemetry, telemetry_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, true, $7::jsonb, $6)`,
        [id, status, place?.[0] ?? null, place?.[1] ?? null, place?.[2] ?? null, NOW, telemetry === null ? null : JSON.stringify(telemetry)],
      );
    const claim = (areaCode: string, hallCode: string, windowNo: string) => ({ place: { areaCode, hallCode, hallName: null, windowNo }, beatSeconds: 60 });
    await terminal('A-REGISTERED', 'approved', ['330106', 'H1', '1'], claim('330107', 'H9', '9'));
    await terminal('B-TELEMETRY', 'approved', null, claim('330106', 'H2', '3'));
    await terminal('C-RECORDS', 'approved', null, { beatSeconds: 60 });
    await terminal('D-NOWHERE', 'approved', null, { place: { areaCode: '33010', hallCode: 'H5', windowNo: '1' } });
    await terminal('E-PENDING', 'pending', ['330106', 'H1', '2'], null);
    for (const [seq, hall, windowNo] of [
      [1, 'H3', '5'],
      [2, 'H4', '6'],
    ] as const) {
      await db.query(
        `INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)
         VALUES ($1, 'C-RECORDS', $2, 'event', 2, 'ok', false, '330106', $3, $4, $5, '{}'::jsonb, '{}', $5, 'gw')`,
        [`00000000-0000-4000-8000-00000000000${seq}`, seq, hall, windowNo, NOW],
      );
    }
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  it('places each by registration, else telemetry, else its latest record', async () => {
    const windows = await liveWindows(db, { scope: county('330106'), now: NOW });
    expect(windows.map((w) => [w.terminalId, w.areaCode, w.hallCode, w.windowNo])).toEqual([
      ['A-REGISTERED', '330106', 'H1', '1'],
      ['B-TELEMETRY', '330106', 'H2', '3'],
      ['C-RECORDS', '330106', 'H4', '6'],
    ]);
  });

  it('filters the scope on that place', async () => {
    expect(await liveWindows(db, { scope: county('330107'), now: NOW })).toEqual([]);
    const hall = await liveWindows(db, { scope: { role: 'hall', areaPrefix: '330106', hallCode: 'H2' }, now: NOW });
    expect(hall.map((w) => w.terminalId)).toEqual(['B-TELEMETRY']);
    const province = await liveWindows(db, { scope: { role: 'province', areaPrefix: '33', hallCode: null }, now: NOW });
    expect(province.map((w) => w.terminalId)).toEqual(['A-REGISTERED', 'B-TELEMETRY', 'C-RECORDS']);
  });
});
