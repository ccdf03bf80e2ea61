import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import type { Queryable } from '../db/database.js';
import { statistics, type FigureRow, type StatisticsQuery } from '../stats/figures.js';
import { count, rate, text, type Cell, type Column, type ExportTable } from './table.js';

/** The figures' columns after the group's own: counts, grades, classes, rates, flagged. */
function figureColumns(includeFlagged: boolean): Column[] {
  return [
    count('邀请数'), count('已评价'), count('未评价'), count('已取消'),
    ...GRADES.map((grade) => count(GRADE_INFO[grade].zh, 10)),
    count('好评'), count('中评'), count('差评'), rate('参评率'), rate('好评率'),
    // Whether the flagged ones are in the figures is said in the header: the file travels without the switch.
    count(includeFlagged ? '疑似异常（已计入）' : '疑似异常（未计入）', 16),
  ];
}

function figureCells(row: FigureRow): Cell[] {
  return [row.invitations, row.rated, row.notRated, row.cancelled, ...GRADES.map((grade) => row.grades[grade]), row.good, row.neutral, row.bad, row.participation, row.goodRate, row.flagged];
}

const GROUP_COLUMNS = {
  window: [text('区划代码', 10), text('大厅'), text('窗口', 8)],
  staff: [text('区划代码', 10), text('大厅'), text('工作人员')],
} as const;

/** The period's figures by window or by staff member, one row each, then the total (合计). */
export async function figuresTable(db: Queryable, q: Omit<StatisticsQuery, 'by'> & { by: 'window' | 'staff'; sheet: string }): Promise<ExportTable> {
  const groups = await statistics(db, q);
  const [total] = await statistics(db, { ...q, by: 'total' });
  const blanks: Cell[] = GROUP_COLUMNS[q.by].map(() => null);
  return {
    sheet: q.sheet,
    columns: [...GROUP_COLUMNS[q.by], ...figureColumns(q.includeFlagged)],
    rows: [...groups.map((g) => [...g.parts, ...figureCells(g)]), [total!.label, ...blanks.slice(1), ...figureCells(total!)]],
  };
}
