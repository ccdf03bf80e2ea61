import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { buildExport, ExportTooLarge, type ExportQuery } from '../../gateway/exports/export.js';
import { recordsTable } from '../../gateway/exports/records-table.js';
import { monthPeriod } from '../../gateway/stats/period.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';
import { readBack } from '../support/exports-read-back.js';
import { fixtureDatabase, ITEM_A, storeFixture, ZONE, type FixtureInvitation } from './stats-fixture.js';

/**
 * A month's exports of the fixed hall days (tests/integration/stats-fixture.ts) read back by
 * Python's csv module and openpyxl: Chinese headers, the rows, the rates, the scope, and hostile
 * text in records that no spreadsheet may run as a formula.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

const PROVINCE: Scope = { role: 'province', areaPrefix: '33', hallCode: null };
const COUNTY_330106: Scope = { role: 'county', areaPrefix: '330106', hallCode: null };

const RECORD_HEADERS = ['记录编号', '邀请时间', '区划代码', '大厅', '窗口', '工作人员', '事项编码', '事项名称', '办理方式', '结果', '评价', '评价类别', '差评原因', '评价方式', '评价时间', '疑似异常', '办件数'];
const FIGURE_HEADERS = ['邀请数', '已评价', '未评价', '已取消', '非常满意', '满意', '基本满意', '不满意', '非常不满意', '好评', '中评', '差评', '参评率', '好评率'];

const FORMULA = '=HYPERLINK("http://x.example/?q=1","点我")';
const NAME = '+1,"quoted"\nsecond line';
const STAFF = '@SUM(A1)';
const HOSTILE: FixtureInvitation[] = [{ name: 'h1', terminal: 'T1', at: '12-05 10:00', staff: STAFF, outcome: 'rated', grade: 'satisfied', items: [{ itemCode: FORMULA, itemName: NAME }, ITEM_A], channel: 'screen' }];

for (const engine of engines) {
  describe(`exports on ${engine.name}`, () => {
    let db: Database;
    let ids: Map<string, string>;
    beforeAll(async () => {
      ({ db, ids } = await fixtureDatabase(() => engine.open()));
      await storeFixture(db, { invitations: HOSTILE, later: [] });
    }, 120_000);
    afterAll(async () => {
      await db?.close();
    });

    const exportOf = (q: Partial<ExportQuery>) => buildExport(db, { scope: PROVINCE, month: '2026-11', timeZone: ZONE, cancelsPerDay: 5, includeFlagged: false, what: 'records', format: 'csv', ...q });

    it("writes a month's records as CSV with a BOM and Chinese headers, one row per counted invitation of the scope, no case number", async () => {
      const file = await exportOf({ scope: COUNTY_330106 });
      expect(file.filename).toBe('hcp-records-2026-11-330106.csv');
      expect(file.contentType).toBe('text/csv; charset=utf-8');
      expect(file.body.toString('utf8')).not.toContain('CASE-');
      const csv = await readBack(file.body, 'csv');
      expect(csv.bom).toBe(true);
      expect(csv.crlf).toBe(true);
      const [headers, ...rows] = csv.rows;
      expect(headers).toEqual(RECORD_HEADERS);
      // The 20th: ten shown; the 21st: i8 and the one cancel of that day.
      expect(rows).toHaveLength(12);
      expect(new Set(rows.map((r) => r[2]))).toEqual(new Set(['330106']));
      const byId = new Map(rows.map((r) => [r[0], Object.fromEntries(headers!.map((h, i) => [h, r[i]]))]));
      expect(byId.get(ids.get('i5'))).toMatchObject({ 邀请时间: '2026-11-20 09:40:00', 结果: '已评价', 评价: '非常满意', 评价类别: '好评', 评价方式: '回执扫码', 评价时间: '2026-11-20 12:00:00', 疑似异常: '' });
      expect(byId.get(ids.get('i4'))).toMatchObject({ 评价: '不满意', 评价类别: '差评', 差评原因: 'R01', 评价方式: '窗口评价器', 评价时间: '2026-11-20 09:30:05' });
      expect(byId.get(ids.get('i20'))).toMatchObject({ 工作人员: 'S1', 窗口: '02', 事项编码: '330106-XK-0012；330106-QT-0003', 事项名称: '食品经营许可；不动产登记, "一件事"', 办理方式: '一件事', 办件数: '2' });
      expect(byId.get(ids.get('i6'))).toMatchObject({ 结果: '未评价', 评价: '', 评价方式: '', 评价时间: '' });
      expect(byId.has(ids.get('i19'))).toBe(false);
      // Oldest first: i7 at 00:30 on the 20th leads.
      expect(rows[0]![0]).toBe(ids.get('i7'));
    });

    it('includes the flagged records with the switch, each saying why', async () => {
      const csv = await readBack((await exportOf({ scope: COUNTY_330106, includeFlagged: true })).body, 'csv');
      const rows = csv.rows.slice(1);
      expect(rows).toHaveLength(19);
      const i19 = rows.find((r) => r[0] === ids.get('i19'))!;
      expect([i19[9], i19[10], i19[13], i19[15]]).toEqual(['已评价', '非常满意', '窗口码扫码', '扫窗口码评价（无回执凭证）']);
      expect(rows.filter((r) => r[15] === '该工作人员当日取消邀请过多')).toHaveLength(5);
    });

    it('writes the figures by window as XLSX: headers, numbers, rates as percentages, the total last', async () => {
      const file = await exportOf({ what: 'windows', format: 'xlsx' });
      expect(file.filename).toBe('hcp-windows-2026-11-33.xlsx');
      expect(file.contentType).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      const book = await readBack(file.body, 'xlsx');
      expect(book.sheets).toEqual(['窗口统计 2026-11']);
      expect(book.freeze).toBe('A2');
      expect(book.bold).toBe(true);
      const [headers, ...rows] = book.rows;
      expect(headers!.map((c) => c.v)).toEqual(['区划代码', '大厅', '窗口', ...FIGURE_HEADERS, '疑似异常（未计入）']);
      const values = rows.map((r) => r.map((c) => c.v));
      expect(values.map((r) => r.slice(0, 7))).toEqual([
        ['330106', 'H01', '01', 10, 9, 1, 0],
        ['330106', 'H01', '02', 2, 1, 0, 1],
        ['330108', 'H02', '01', 3, 1, 1, 1],
        ['330203', 'H03', '01', 1, 1, 0, 0],
        ['合计', null, null, 16, 12, 2, 2],
      ]);
      const total = rows.at(-1)!;
      expect(total[15]).toEqual({ v: 0.75, t: 'n', f: '0.0%' });
      expect(total[16]!.v).toBeCloseTo(8 / 12, 12);
      expect(total[17]).toMatchObject({ v: 7, t: 'n' });
      expect(rows[0]![0]).toMatchObject({ t: 's', f: '@' });
    });

    it('writes the figures by staff member as CSV, rates as percentages', async () => {
      const file = await exportOf({ what: 'staff', includeFlagged: true, scope: COUNTY_330106 });
      const [headers, ...rows] = (await readBack(file.body, 'csv')).rows;
      expect(headers).toEqual(['区划代码', '大厅', '工作人员', ...FIGURE_HEADERS, '疑似异常（已计入）']);
      expect(rows.map((r) => [r[2], r[3], r[4], r[15], r[17]])).toEqual([
        ['S1', '12', '11', '91.7%', '1'],
        ['S2', '7', '1', '14.3%', '6'],
        ['', '19', '12', '63.2%', '7'],
      ]);
      expect(rows.at(-1)![0]).toBe('合计');
    });

    it('keeps hostile text as text: a CSV cell starting with = + - @ gets a quote, an XLSX cell is a string, never a formula', async () => {
      const csv = await readBack((await exportOf({ month: '2026-12' })).body, 'csv');
      expect(csv.rows).toHaveLength(2);
      const row = csv.rows[1]!;
      expect(row[5]).toBe(`'${STAFF}`);
      expect(row[6]).toBe(`'${FORMULA}；${ITEM_A.itemCode}`);
      expect(row[7]).toBe(`'${NAME}；${ITEM_A.itemName}`);
      expect(row[13]).toBe('窗口评价屏'); // rated on the customer screen
      const book = await readBack((await exportOf({ month: '2026-12', format: 'xlsx' })).body, 'xlsx');
      const cells = book.rows[1]!;
      expect(cells[5]).toEqual({ v: STAFF, t: 's', f: '@' });
      expect(cells[6]).toEqual({ v: `${FORMULA}；${ITEM_A.itemCode}`, t: 's', f: '@' });
      expect(cells[7]).toEqual({ v: `${NAME}；${ITEM_A.itemName}`, t: 's', f: '@' });
      expect(book.rows.flat().some((c) => c.t === 'f')).toBe(false);
    });

    it('answers an empty month with the headers alone, and refuses what is not a month', async () => {
      const csv = await readBack((await exportOf({ month: '2027-01' })).body, 'csv');
      expect(csv.rows).toEqual([RECORD_HEADERS]);
      await expect(exportOf({ month: '2026-13' })).rejects.toThrow(RangeError);
      await expect(exportOf({ month: '2026-1' })).rejects.toThrow(RangeError);
    });

    it('refuses a records export beyond its row limit, saying what to do instead', async () => {
      const q = { scope: COUNTY_330106, period: monthPeriod('2026-11', ZONE), timeZone: ZONE, cancelsPerDay: 5, includeFlagged: false, sheet: 's' };
      expect((await recordsTable(db, { ...q, maxRows: 12 })).rows).toHaveLength(12);
      await expect(recordsTable(db, { ...q, maxRows: 11 })).rejects.toThrow(ExportTooLarge);
      await expect(recordsTable(db, { ...q, maxRows: 11 })).rejects.toThrow(/more than 11 records: export a narrower scope, or the figures/);
    });
  });
}
