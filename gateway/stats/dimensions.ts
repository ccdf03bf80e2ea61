import { z } from 'zod';

/** What figures are broken down by. */
export const FIGURE_DIMENSIONS = ['total', 'hall', 'window', 'staff', 'item', 'day'] as const;
export const figureBySchema = z.enum(FIGURE_DIMENSIONS);
export type FigureBy = z.infer<typeof figureBySchema>;

/** The words a hall manager reads for each breakdown. */
export const DIMENSION_NAMES: Record<FigureBy, string> = { total: '合计', hall: '大厅', window: '窗口', staff: '工作人员', item: '事项', day: '日期' };

/**
 * How the facts (gateway/stats/facts.ts, alias f) are grouped: the SQL values of a group's parts,
 * a join that makes them (an invitation of several items counts once for each item), and the
 * label's SQL (an aggregate). Values are fixed text, never input.
 */
interface Grouping {
  parts: readonly string[];
  join?: string;
  name?: string;
  label(parts: readonly string[], name: string | null): string;
}

const ITEMS_JOIN = `CROSS JOIN LATERAL (
    SELECT s->>'itemCode' AS code, max(s->>'itemName') AS name
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(f.record->'services') = 'array' THEN f.record->'services' ELSE '[]'::jsonb END) AS s
     WHERE jsonb_typeof(s->'itemCode') = 'string'
     GROUP BY 1) AS it`;

export const GROUPINGS: Record<FigureBy, Grouping> = {
  total: { parts: [], label: () => '合计' },
  hall: { parts: ['f.area_code', 'f.hall_code'], label: ([, hall]) => `${hall}` },
  window: { parts: ['f.area_code', 'f.hall_code', 'f.window_no'], label: ([, hall, window]) => `${hall} ${window}号窗口` },
  staff: { parts: ['f.area_code', 'f.hall_code', "COALESCE(f.staff_id, '')"], label: ([, hall, staff]) => `${staff || '未签到'}（${hall}）` },
  item: { parts: ['it.code'], join: ITEMS_JOIN, name: 'max(it.name)', label: ([code], name) => name ?? `${code}` },
  day: { parts: ['f.day'], label: ([day]) => `${day}` },
};

/** A group's key: its parts joined (for display and lookups; `parts` holds them exactly). */
export function groupKey(by: FigureBy, parts: readonly string[]): string {
  return by === 'total' ? 'total' : parts.join('/');
}
