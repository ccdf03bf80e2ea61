import { GRADE_INFO, GRADES, type Grade, type GradeClass } from '../../protocol/grades.js';
import type { Scope } from '../accounts/scope.js';
import type { Queryable } from '../db/database.js';
import { GROUPINGS, groupKey, type FigureBy } from './dimensions.js';
import { checkFactsQuery, factsSql, param } from './facts.js';
import { periodDays, type Period } from './period.js';

export { FIGURE_DIMENSIONS, figureBySchema, type FigureBy } from './dimensions.js';

/** One line of figures: a hall, a window, a staff member, an item, a day, or the total. */
export interface FigureRow {
  key: string;
  label: string;
  /** The group's values exactly: hall [area, hall]; window [area, hall, window]; staff [area, hall, staff]; item [code]; day [YYYY-MM-DD]; total []. */
  parts: string[];
  invitations: number;
  rated: number;
  notRated: number;
  cancelled: number;
  grades: Record<Grade, number>;
  good: number;
  neutral: number;
  bad: number;
  /** 参评率 = rated ÷ invitations; null without invitations. */
  participation: number | null;
  /** 好评率 = good ÷ rated; null without ratings. */
  goodRate: number | null;
  /** Flagged invitations of the group (counted in the figures above only with includeFlagged). */
  flagged: number;
}

export interface StatisticsQuery {
  scope: Scope;
  period: Period;
  timeZone: string;
  by: FigureBy;
  includeFlagged: boolean;
  cancelsPerDay: number;
}

type CountRow = Record<string, unknown> & { name: string | null };

/** The figures of the scope's counted invitations in the period, by `by` (docs/statistics.md says what counts). */
export async function statistics(db: Queryable, q: StatisticsQuery): Promise<FigureRow[]> {
  checkFactsQuery(q);
  if (!Object.hasOwn(GROUPINGS, q.by)) throw new RangeError(`by: one of ${Object.keys(GROUPINGS).join(', ')}`);
  const params: unknown[] = [];
  const facts = factsSql(q, params);
  const shown = `(NOT f.flagged OR ${param(params, q.includeFlagged)}::boolean)`;
  const g = GROUPINGS[q.by];
  const parts = g.parts.map((p, i) => `${p} AS p${i}`);
  const counts = [
    `count(*) FILTER (WHERE ${shown})::int AS invitations`,
    ...['rated', 'not_rated', 'cancelled'].map((o) => `count(*) FILTER (WHERE ${shown} AND f.outcome = '${o}')::int AS "${o}"`),
    ...GRADES.map((grade) => `count(*) FILTER (WHERE ${shown} AND f.outcome = 'rated' AND f.grade = '${grade}')::int AS "${grade}"`),
    'count(*) FILTER (WHERE f.flagged)::int AS flagged',
  ];
  const { rows } = await db.query<CountRow>(
    `WITH ${facts}
     SELECT ${[...parts, `${g.name ?? 'NULL'} AS name`, ...counts].join(', ')}
       FROM facts f ${g.join ?? ''}
      ${g.parts.length > 0 ? `GROUP BY ${g.parts.join(', ')}` : ''}`,
    params,
  );
  const figures = rows.map((row) => figureRow(q.by, row, g.parts.length));
  figures.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return q.by === 'day' ? withEveryDay(figures, periodDays(q.period, q.timeZone)) : figures;
}


function figureRow(by: FigureBy, row: CountRow, partCount: number): FigureRow {
  const parts = Array.from({ length: partCount }, (_, i) => String(row[`p${i}`] ?? ''));
  const grades = Object.fromEntries(GRADES.map((grade) => [grade, Number(row[grade])])) as Record<Grade, number>;
  return figures(groupKey(by, parts), GROUPINGS[by].label(parts, row.name), parts, {
    invitations: Number(row.invitations),
    rated: Number(row.rated),
    notRated: Number(row.not_rated),
    cancelled: Number(row.cancelled),
    grades,
    flagged: Number(row.flagged),
  });
}

/** A row from its counts: the grade classes and the rates follow from them. */
export function figures(key: string, label: string, parts: string[], c: Pick<FigureRow, 'invitations' | 'rated' | 'notRated' | 'cancelled' | 'grades' | 'flagged'>): FigureRow {
  const inClass = (cls: GradeClass) => GRADES.reduce((sum, grade) => sum + (GRADE_INFO[grade].class === cls ? c.grades[grade] : 0), 0);
  const good = inClass('good');
  return {
    key,
    label,
    parts,
    ...c,
    good,
    neutral: inClass('neutral'),
    bad: inClass('bad'),
    participation: c.invitations > 0 ? c.rated / c.invitations : null,
    goodRate: c.rated > 0 ? good / c.rated : null,
  };
}

/** A trend has every day of the period, those without invitations at zero. */
function withEveryDay(rows: FigureRow[], days: readonly string[]): FigureRow[] {
  const byDay = new Map(rows.map((r) => [r.key, r]));
  const zero = Object.fromEntries(GRADES.map((grade) => [grade, 0])) as Record<Grade, number>;
  return days.map((day) => byDay.get(day) ?? figures(day, day, [day], { invitations: 0, rated: 0, notRated: 0, cancelled: 0, grades: { ...zero }, flagged: 0 }));
}
