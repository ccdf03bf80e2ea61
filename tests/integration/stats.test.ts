import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { statistics, type FigureRow, type StatisticsQuery } from '../../gateway/stats/figures.js';
import { listFlagged } from '../../gateway/stats/misuse.js';
import { daysPeriod } from '../../gateway/stats/period.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';
import { fixtureDatabase, shanghai, storeFixture, TERMINALS, ZONE } from './stats-fixture.js';

/**
 * Statistics on a fixed hall day (tests/integration/stats-fixture.ts) whose answers are worked out
 * by hand, on PGlite and on PostgreSQL: what counts, the rates, the breakdowns, the local day
 * across the time zone's boundary, the scopes, the misuse switch and many_cancels.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

const PROVINCE: Scope = { role: 'province', areaPrefix: '33', hallCode: null };
const CITY_3302: Scope = { role: 'city', areaPrefix: '3302', hallCode: null };
const COUNTY_330106: Scope = { role: 'county', areaPrefix: '330106', hallCode: null };
const HALL_H02: Scope = { role: 'hall', areaPrefix: '330108', hallCode: 'H02' };
const DAY = daysPeriod('2026-11-20', '2026-11-20', ZONE);

type Counts = Pick<FigureRow, 'invitations' | 'rated' | 'notRated' | 'cancelled' | 'good' | 'neutral' | 'bad' | 'flagged'>;
function counts(row: FigureRow | undefined): Counts & { grades: number[] } {
  if (!row) throw new Error('no such row');
  const { invitations, rated, notRated, cancelled, good, neutral, bad, flagged } = row;
  return { invitations, rated, notRated, cancelled, good, neutral, bad, flagged, grades: Object.values(row.grades) };
}

for (const engine of engines) {
  describe(`statistics on ${engine.name}`, () => {
    let db: Database;
    let ids: Map<string, string>;
    beforeAll(async () => {
      ({ db, ids } = await fixtureDatabase(() => engine.open()));
    }, 120_000);
    afterAll(async () => {
      await db?.close();
    });

    const query = (q: Partial<StatisticsQuery>) => statistics(db, { scope: PROVINCE, period: DAY, timeZone: ZONE, by: 'total', includeFlagged: false, cancelsPerDay: 5, ...q });

    it('counts the day: tests, superseded records and follow-ups never; later first ratings when the counter had none; flagged ones hidden', async () => {
      const [total, ...rest] = await query({});
      expect(rest).toEqual([]);
      expect(total!.key).toBe('total');
      expect(total!.label).toBe('合计');
      expect(counts(total)).toEqual({ invitations: 14, rated: 11, notRated: 2, cancelled: 1, good: 7, neutral: 1, bad: 3, flagged: 7, grades: [4, 3, 1, 2, 1] });
      expect(total!.participation).toBeCloseTo(11 / 14, 12);
      expect(total!.goodRate).toBeCloseTo(7 / 11, 12);
    });

    it('shows the flagged ones again with includeFlagged (fast_press, many_cancels, window_sign), flagged the same', async () => {
      const [total] = await query({ includeFlagged: true });
      expect(counts(total)).toEqual({ invitations: 21, rated: 13, notRated: 2, cancelled: 6, good: 9, neutral: 1, bad: 3, flagged: 7, grades: [6, 3, 1, 2, 1] });
      expect(total!.participation).toBeCloseTo(13 / 21, 12);
      expect(total!.goodRate).toBeCloseTo(9 / 13, 12);
    });

    it('flags a staff member\'s cancels only from cancelsPerDay a local day on', async () => {
      const [five] = await query({ cancelsPerDay: 5, includeFlagged: true });
      const [six] = await query({ cancelsPerDay: 6, includeFlagged: true });
      expect(five!.flagged).toBe(7);
      expect(six!.flagged).toBe(2);
      const [hidden] = await query({ cancelsPerDay: 6 });
      expect(counts(hidden)).toMatchObject({ invitations: 19, cancelled: 6, flagged: 2 });
    });

    it('keeps every scope to its place: a county sees its county, a hall its hall, a city its city', async () => {
      expect(counts((await query({ scope: COUNTY_330106 }))[0])).toEqual({ invitations: 10, rated: 9, notRated: 1, cancelled: 0, good: 6, neutral: 1, bad: 2, flagged: 7, grades: [4, 2, 1, 1, 1] });
      expect(counts((await query({ scope: HALL_H02 }))[0])).toEqual({ invitations: 3, rated: 1, notRated: 1, cancelled: 1, good: 1, neutral: 0, bad: 0, flagged: 0, grades: [0, 1, 0, 0, 0] });
      expect(counts((await query({ scope: CITY_3302 }))[0])).toMatchObject({ invitations: 1, rated: 1, bad: 1 });
      // A hall account bound to another county's code sees nothing of a hall of the same name elsewhere.
      const [nothing] = await query({ scope: { role: 'hall', areaPrefix: '330108', hallCode: 'H01' } });
      expect(counts(nothing)).toMatchObject({ invitations: 0, flagged: 0 });
      expect(nothing!.participation).toBeNull();
      expect(nothing!.goodRate).toBeNull();
      const halls = await query({ scope: COUNTY_330106, by: 'hall', includeFlagged: true });
      expect(halls.map((h) => h.key)).toEqual(['330106/H01']);
    });

    it('breaks the figures down by hall', async () => {
      const halls = await query({ by: 'hall' });
      expect(halls.map((h) => [h.key, h.label, h.parts, h.invitations, h.rated, h.flagged])).toEqual([
        ['330106/H01', 'H01', ['330106', 'H01'], 10, 9, 7],
        ['330108/H02', 'H02', ['330108', 'H02'], 3, 1, 0],
        ['330203/H03', 'H03', ['330203', 'H03'], 1, 1, 0],
      ]);
    });

    it('breaks the figures down by window and by staff member (who may move between windows)', async () => {
      const windows = await query({ scope: COUNTY_330106, by: 'window' });
      expect(windows.map((w) => [w.key, w.label, w.invitations, w.rated, w.bad, w.flagged])).toEqual([
        ['330106/H01/01', 'H01 01号窗口', 9, 8, 1, 1],
        ['330106/H01/02', 'H01 02号窗口', 1, 1, 1, 6],
      ]);
      const staff = await query({ scope: COUNTY_330106, by: 'staff' });
      expect(staff.map((s) => [s.key, s.label, s.invitations, s.rated, s.notRated, s.flagged])).toEqual([
        ['330106/H01/S1', 'S1（H01）', 10, 9, 1, 1],
        ['330106/H01/S2', 'S2（H01）', 0, 0, 0, 6],
      ]);
      expect(staff[1]!.participation).toBeNull();
      const shown = await query({ scope: COUNTY_330106, by: 'staff', includeFlagged: true });
      expect(shown.map((s) => [s.key, s.invitations, s.rated, s.cancelled])).toEqual([
        ['330106/H01/S1', 11, 10, 0],
        ['330106/H01/S2', 6, 1, 5],
      ]);
    });

    it('breaks the figures down by item: an invitation of two items counts once for each, labelled by name or code', async () => {
      const items = await query({ by: 'item' });
      expect(items.map((i) => [i.key, i.label, i.invitations, i.rated, i.notRated, i.cancelled, i.good, i.bad])).toEqual([
        ['330106-QT-0003', '不动产登记, "一件事"', 1, 1, 0, 0, 0, 1],
        ['330106-XK-0012', '食品经营许可', 11, 8, 2, 1, 7, 1],
        ['330106-XK-0020', '公共场所卫生许可', 2, 2, 0, 0, 0, 1],
        ['330203-XK-0001', '330203-XK-0001', 1, 1, 0, 0, 0, 1],
      ]);
    });

    it('counts a day from local midnight to local midnight, every day of the period in the trend', async () => {
      const days = await query({ by: 'day', period: daysPeriod('2026-11-19', '2026-11-21', ZONE) });
      expect(days.map((d) => [d.key, d.invitations, d.rated, d.cancelled, d.flagged])).toEqual([
        ['2026-11-19', 0, 0, 0, 0],
        ['2026-11-20', 14, 11, 1, 7],
        ['2026-11-21', 2, 1, 1, 0],
      ]);
      expect(days[0]!.participation).toBeNull();
    });

    it('counts the same records by UTC days when the zone is UTC', async () => {
      const days = await query({ by: 'day', timeZone: 'UTC', period: daysPeriod('2026-11-19', '2026-11-21', 'UTC') });
      // i7 (00:30 in Shanghai) moves to the 19th, i8 (00:00 of the 21st in Shanghai) to the 20th.
      expect(days.map((d) => [d.key, d.invitations, d.rated])).toEqual([
        ['2026-11-19', 1, 1],
        ['2026-11-20', 14, 11],
        ['2026-11-21', 1, 0],
      ]);
    });

    it('refuses a period that is empty or too long', async () => {
      await expect(query({ period: { from: DAY.to, to: DAY.from } })).rejects.toThrow(RangeError);
      await expect(query({ period: daysPeriod('2025-01-01', '2026-12-31', ZONE) })).rejects.toThrow(/366 days/);
    });

    const flaggedQuery = (q: Partial<Parameters<typeof listFlagged>[1]>) => listFlagged(db, { scope: PROVINCE, period: DAY, timeZone: ZONE, cancelsPerDay: 5, limit: 50, offset: 0, ...q });

    it('lists the flagged ones newest first: the record or the later rating that counts, with its misuse flags only', async () => {
      const { rows, total } = await flaggedQuery({});
      expect(total).toBe(7);
      expect(rows.map((r) => [r.recordId, r.source, r.flags])).toEqual([
        ...['c4', 'c3', 'c2', 'c1', 'c0'].map((name) => [ids.get(name), 'record', ['many_cancels']]),
        [ids.get('i19'), 'later', ['window_sign']],
        [ids.get('i11'), 'record', ['fast_press']],
      ]);
      const [cancel] = rows;
      expect(cancel).toMatchObject({ id: ids.get('c4'), at: shanghai('11-20 14:40'), areaCode: '330106', hallCode: 'H01', windowNo: '02', staffId: 'S2', outcome: 'cancelled', grade: null });
      const later = rows[5]!;
      expect(later.id).not.toBe(ids.get('i19'));
      const { rows: stored } = await db.query<{ via: string }>('SELECT via FROM later_ratings WHERE id = $1', [later.id]);
      expect(stored).toEqual([{ via: 'window_sign' }]);
      expect(later).toMatchObject({ at: shanghai('11-20 11:05'), outcome: 'rated', grade: 'very_satisfied', staffId: 'S2' });
      expect(rows[6]).toMatchObject({ id: ids.get('i11'), outcome: 'rated', grade: 'very_satisfied', windowNo: '01' });
    });

    it('pages the list, the total known past the last page', async () => {
      expect(await flaggedQuery({ limit: 2, offset: 6 })).toMatchObject({ total: 7, rows: [{ id: ids.get('i11') }] });
      expect(await flaggedQuery({ limit: 2, offset: 10 })).toEqual({ total: 7, rows: [] });
      await expect(flaggedQuery({ limit: 0 })).rejects.toThrow(/limit/);
      await expect(flaggedQuery({ offset: -1 })).rejects.toThrow(/offset/);
    });

    it('lists as many as the figures count flagged, in every scope', async () => {
      for (const scope of [PROVINCE, COUNTY_330106, HALL_H02, CITY_3302]) {
        for (const cancelsPerDay of [5, 6]) {
          const [total] = await query({ scope, cancelsPerDay });
          expect((await flaggedQuery({ scope, cancelsPerDay })).total).toBe(total!.flagged);
        }
      }
      expect((await flaggedQuery({ scope: HALL_H02 })).total).toBe(0);
    });

    it('counts a later first rating of a cancelled invitation as its rating; one whose record has not arrived, or of a test, not at all', async () => {
      const december = await storeFixture(db, {
        invitations: [
          { name: 'd1', terminal: 'T3', at: '12-02 10:00', staff: 'S3', outcome: 'cancelled' },
          { name: 'd2', terminal: 'T3', at: '12-02 10:10', staff: 'S3', outcome: 'not_rated', test: true },
        ],
        later: [
          { invitation: 'd1', assessNumber: 1, grade: 'basically_satisfied', via: 'receipt', at: '12-02 11:00' },
          { invitation: 'd2', assessNumber: 1, grade: 'very_satisfied', via: 'receipt', at: '12-02 11:00' },
        ],
      });
      // The bridge is offline: the page has a rating of an invitation the gateway has not seen.
      await db.query(
        `INSERT INTO later_ratings (id, terminal_id, invitation_id, case_no, assess_number, grade, receipt_issued_at, rated_at, instance)
         VALUES (gen_random_uuid(), $1, gen_random_uuid()::text, 'CASE-ORPHAN', 1, 'very_satisfied', $2, $2, 'gw-test')`,
        [TERMINALS.T3.id, shanghai('12-02 11:30')],
      );
      expect(december.size).toBe(2);
      const [total] = await query({ period: daysPeriod('2026-12-02', '2026-12-02', ZONE), includeFlagged: true });
      expect(counts(total)).toEqual({ invitations: 1, rated: 1, notRated: 0, cancelled: 0, good: 0, neutral: 1, bad: 0, flagged: 0, grades: [0, 0, 1, 0, 0] });
    });
  });
}
