import { describe, expect, it } from 'vitest';
import { toCsv } from '../../gateway/exports/csv.js';
import { count, rate, text, type ExportTable } from '../../gateway/exports/table.js';
import { figures } from '../../gateway/stats/figures.js';

describe('figures from counts', () => {
  const grades = { very_satisfied: 3, satisfied: 2, basically_satisfied: 1, dissatisfied: 1, very_dissatisfied: 1 };

  it('adds up the grade classes and divides: 参评率 = rated ÷ invitations, 好评率 = good ÷ rated', () => {
    const row = figures('k', 'K', [], { invitations: 10, rated: 8, notRated: 1, cancelled: 1, grades, flagged: 2 });
    expect(row).toMatchObject({ good: 5, neutral: 1, bad: 2, participation: 0.8, goodRate: 5 / 8, flagged: 2 });
  });

  it('has no rate without a denominator (null, not 0 or NaN)', () => {
    const none = { very_satisfied: 0, satisfied: 0, basically_satisfied: 0, dissatisfied: 0, very_dissatisfied: 0 };
    expect(figures('k', 'K', [], { invitations: 0, rated: 0, notRated: 0, cancelled: 0, grades: none, flagged: 3 })).toMatchObject({ participation: null, goodRate: null });
    expect(figures('k', 'K', [], { invitations: 4, rated: 0, notRated: 4, cancelled: 0, grades: none, flagged: 0 })).toMatchObject({ participation: 0, goodRate: null });
  });
});

describe('CSV', () => {
  const table: ExportTable = { sheet: 's', columns: [text('名称'), count('数'), rate('率')], rows: [['a,b', 3, 2 / 3], ['-1', -1, null], ['line\nbreak "q"', 0, 1]] };

  it('starts with a BOM, ends lines with CRLF, shows rates as percentages and nothing as an empty cell', async () => {
    const csv = (await toCsv(table)).toString('utf8');
    expect(csv.startsWith('\uFEFF名称,数,率\r\n')).toBe(true);
    expect(csv).toContain('"a,b",3,66.7%\r\n');
    expect(csv).toContain('"line\nbreak ""q""",0,100.0%\r\n');
  });

  it('quotes a text that starts like a formula, not a negative number', async () => {
    expect((await toCsv(table)).toString('utf8')).toContain("'-1,-1,\r\n");
  });
});

describe('CSV of many rows', () => {
  it('is written in slices, letting the event loop turn between them, with one BOM and one header', async () => {
    const rows = Array.from({ length: 4500 }, (_, i) => [`r${i}`, i, null]);
    let turned = false;
    setImmediate(() => (turned = true));
    const csv = (await toCsv({ sheet: 's', columns: [text('名称'), count('数'), rate('率')], rows })).toString('utf8');
    expect(turned).toBe(true);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('\uFEFF名称,数,率');
    expect(lines).toHaveLength(4502);
    expect(lines[4500]).toBe('r4499,4499,');
    expect(csv.split('\uFEFF')).toHaveLength(2);
  });
});

describe('CSV line breaks', () => {
  it('quotes a text holding a bare line feed or carriage return', async () => {
    const csv = (await toCsv({ sheet: 's', columns: [text('a'), text('b')], rows: [['x\ny', 'p\rq']] })).toString('utf8');
    expect(csv).toBe('\uFEFFa,b\r\n"x\ny","p\rq"\r\n');
  });
});
