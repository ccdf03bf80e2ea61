import { beforeEach, describe, expect, it } from 'vitest';
import { acknowledge, followUpHistory, listAlerts, recordFollowUp, type ListAlertsOptions } from '../../gateway/alerts/alert-store.js';
import { WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { addTerminal, alertRows, COUNTY, forgetPlace, HALL, OTHER_COUNTY, PROVINCE, storeLater, storeRating } from './alerts-fixture.js';

/** Bad reviews raise their alert in the storing transaction (schema v3's triggers), and the dashboard's reads and changes of alerts keep to the user's scope. */

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });
const NOW = new Date('2026-11-30T04:00:00Z');

function list(scope: Scope, more: Partial<ListAlertsOptions> = {}): ListAlertsOptions {
  return {
    scope,
    state: 'all',
    limit: 50,
    offset: 0,
    timeZone: 'Asia/Shanghai',
    followUp: { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 },
    calendar: WEEKDAYS_CALENDAR,
    now: NOW,
    ...more,
  };
}

describe.each(engines)('alerts on $name', (engine) => {
  const database = databasePerTest(engine);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  it('one alert per bad review, none for good or neutral grades, tests, or nothing rated', async () => {
    const bad = await storeRating(db, 'dissatisfied');
    const veryBad = await storeRating(db, 'very_dissatisfied', { windowNo: '8' });
    await storeRating(db, 'very_satisfied');
    await storeRating(db, 'basically_satisfied');
    await storeRating(db, null);
    await storeRating(db, 'very_dissatisfied', { test: true });
    // The same record again (a resend): still one alert.
    await storeRating(db, 'dissatisfied', { id: bad.id });
    const rows = await alertRows(db);
    expect(rows.map((r) => [r.kind, r.subject])).toEqual([
      ['bad_review', `record:${bad.id}`],
      ['bad_review', `record:${veryBad.id}`],
    ]);
    expect(rows[0]?.detail).toMatchObject({ grade: 'dissatisfied', reasons: ['R02'], channel: 'counter' });
    // Due at once (received_at), never sent yet.
    expect(rows[0]).toMatchObject({ notify_count: 0, cleared_at: null, notify_due_at: new Date('2026-11-30T02:15:08Z') });
  });

  it('a bad later rating raises its alert, at the terminal’s place; a good one does not', async () => {
    await addTerminal(db, { id: 'T-LX-07' });
    const id = await storeLater(db, 'very_dissatisfied', { via: 'window_sign' });
    await storeLater(db, 'satisfied');
    const { rows } = await listAlerts(db, list(PROVINCE));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'bad_review', hallCode: 'hall-lixia', windowNo: '7', detail: { grade: 'very_dissatisfied', gradeZh: '非常不满意', reasons: ['R01'], channel: 'window_sign' } });
    expect((await alertRows(db))[0]?.subject).toBe(`later:${id}`);
  });

  it('a terminal with no place in the registry (approved on its first key): a bad later rating takes its invitation record’s place', async () => {
    const record = await storeRating(db, 'satisfied', { terminalId: 'T-FIRST', hallCode: 'hall-first', windowNo: '12' });
    await forgetPlace(db, 'T-FIRST');
    const id = await storeLater(db, 'dissatisfied', { terminalId: 'T-FIRST', invitationId: record.id });
    const { rows } = await listAlerts(db, list(COUNTY));
    expect(rows.map((r) => [r.hallCode, r.windowNo])).toEqual([['hall-first', '12']]);
    expect((await alertRows(db))[0]?.subject).toBe(`later:${id}`);
  });

  it('lists by scope, unacknowledged first, with follow-up clocks for bad reviews', async () => {
    await storeRating(db, 'dissatisfied', { rating: { grade: 'dissatisfied', gradeCode: 2, reasons: ['R02'], reasonCatalogVersion: '2026.11', pressedAt: '2026-11-27T11:30:00.000Z', latencyMs: 1000 } });
    await storeRating(db, 'very_dissatisfied', { areaCode: '370103', hallCode: 'hall-other', terminalId: 'T-OT-01' });
    await storeRating(db, 'dissatisfied', { hallCode: 'hall-second', terminalId: 'T-LX-99' });
    expect((await listAlerts(db, list(PROVINCE))).total).toBe(3);
    expect((await listAlerts(db, list(COUNTY))).rows.map((r) => r.hallCode).sort()).toEqual(['hall-lixia', 'hall-second']);
    expect((await listAlerts(db, list(OTHER_COUNTY))).rows.map((r) => r.hallCode)).toEqual(['hall-other']);
    const hall = await listAlerts(db, list(HALL));
    expect(hall.rows).toHaveLength(1);
    const row = hall.rows[0]!;
    expect(row.occurredAt).toEqual(new Date('2026-11-27T11:30:00.000Z'));
    expect(row.followUp).toBe('open');
    expect(row.followUpZh).toBe('待回访');
    // Friday evening: due at the end of Monday; NOW is Monday noon.
    expect(row.clocks?.callback).toMatchObject({ dueDay: '2026-11-30', overdue: false, workingDaysLeft: 1 });
    expect(await acknowledge(db, { id: row.id, actor: 'duty', scope: HALL, now: NOW })).toBe('ok');
    // Acknowledged ones go after the others; 'unacknowledged' leaves them out.
    const all = await listAlerts(db, list(COUNTY));
    expect(all.rows.map((r) => r.acknowledgedAt === null)).toEqual([true, false]);
    expect((await listAlerts(db, list(COUNTY, { state: 'unacknowledged' }))).rows.map((r) => r.hallCode)).toEqual(['hall-second']);
    expect((await listAlerts(db, list(COUNTY, { kinds: ['paper_out'] }))).total).toBe(0);
    expect((await listAlerts(db, list(COUNTY, { limit: 1, offset: 1 }))).rows.map((r) => r.hallCode)).toEqual(['hall-lixia']);
  });

  it('acknowledging: ok once, then already; out of scope or unknown is not_found and changes nothing', async () => {
    await storeRating(db, 'dissatisfied');
    const [row] = (await listAlerts(db, list(PROVINCE))).rows;
    const id = row!.id;
    expect(await acknowledge(db, { id, actor: 'other-county', scope: OTHER_COUNTY, now: NOW })).toBe('not_found');
    expect((await alertRows(db))[0]?.notify_due_at).not.toBeNull();
    expect(await acknowledge(db, { id: '999999', actor: 'duty', scope: PROVINCE, now: NOW })).toBe('not_found');
    expect(await acknowledge(db, { id: 'x; DROP TABLE alerts', actor: 'duty', scope: PROVINCE, now: NOW })).toBe('not_found');
    expect(await acknowledge(db, { id, actor: 'duty', scope: HALL, now: NOW })).toBe('ok');
    expect(await acknowledge(db, { id, actor: 'duty2', scope: PROVINCE, now: NOW })).toBe('already');
    const after = (await listAlerts(db, list(PROVINCE))).rows[0]!;
    expect(after).toMatchObject({ acknowledgedBy: 'duty', acknowledgedAt: NOW });
    expect((await alertRows(db))[0]?.notify_due_at).toBeNull();
  });

  it('follow-ups: appended with who and when, acknowledge, closed ends it; faults and other scopes refused', async () => {
    await storeRating(db, 'dissatisfied');
    const id = (await listAlerts(db, list(PROVINCE))).rows[0]!.id;
    expect(await recordFollowUp(db, { id, status: 'called_back', note: '已电话回访', actor: 'other', scope: OTHER_COUNTY, now: NOW })).toBe('not_found');
    expect(await followUpHistory(db, id, OTHER_COUNTY)).toBeNull();
    expect(await recordFollowUp(db, { id, status: 'called_back', note: '已电话回访，群众表示理解', actor: 'duty', scope: HALL, now: NOW })).toBe('ok');
    const later = new Date(NOW.getTime() + 3600_000);
    expect(await recordFollowUp(db, { id, status: 'closed', note: '', actor: 'chief', scope: COUNTY, now: later })).toBe('ok');
    expect(await recordFollowUp(db, { id, status: 'rectifying', note: 'again', actor: 'chief', scope: COUNTY, now: later })).toBe('closed');
    expect(await followUpHistory(db, id, HALL)).toEqual([
      { at: NOW, actor: 'duty', status: 'called_back', statusZh: '已回访', note: '已电话回访，群众表示理解' },
      { at: later, actor: 'chief', status: 'closed', statusZh: '已办结', note: '' },
    ]);
    const row = (await listAlerts(db, list(PROVINCE))).rows[0]!;
    expect(row).toMatchObject({ followUp: 'closed', acknowledgedBy: 'duty', clearedAt: later });
    expect((await listAlerts(db, list(PROVINCE, { state: 'open' }))).total).toBe(0);
    // The history cannot be edited.
    await expect(db.query(`UPDATE follow_up_events SET note = 'changed'`)).rejects.toThrow(/append-only/);
    // A fault has no follow-up.
    await db.query(
      `INSERT INTO alerts (kind, subject, terminal_id, area_code, hall_code, occurred_at, raised_at) VALUES ('paper_out', 'T-LX-07', 'T-LX-07', '370102', 'hall-lixia', $1, $1)`,
      [NOW],
    );
    const fault = (await listAlerts(db, list(PROVINCE, { kinds: ['paper_out'] }))).rows[0]!;
    expect(fault.clocks).toBeNull();
    expect(await recordFollowUp(db, { id: fault.id, status: 'called_back', note: '', actor: 'duty', scope: PROVINCE, now: NOW })).toBe('not_bad_review');
  });
});
