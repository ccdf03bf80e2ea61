import { GRADE_INFO, gradeSchema } from '../../protocol/grades.js';
import { MISUSE_FLAG_CODES, MISUSE_FLAGS } from '../../protocol/misuse-flags.js';
import { INVITATION_MODES, invitationModeSchema, outcomeSchema } from '../../protocol/records.js';
import type { Queryable } from '../db/database.js';
import { checkFactsQuery, factsSql, param, type FactsQuery } from '../stats/facts.js';
import { GRADE_CLASS_NAMES, OUTCOME_NAMES, RATED_VIA_NAMES, type RatedVia } from '../stats/words.js';
import { count, inSlices, text, type Cell, type ExportTable } from './table.js';

/** More rows than this in one export is refused: a narrower scope, or the figures, instead. */
export const MAX_EXPORT_ROWS = 200_000;

export class ExportTooLarge extends Error {
  override name = 'ExportTooLarge';
}

const COLUMNS = [
  text('记录编号', 38), text('邀请时间', 20), text('区划代码', 10), text('大厅'), text('窗口', 8), text('工作人员'), text('事项编码', 20),
  text('事项名称', 28), text('办理方式', 8), text('结果', 8), text('评价', 10), text('评价类别', 8), text('差评原因', 12), text('评价方式', 12),
  text('评价时间', 20), text('疑似异常', 24), count('办件数', 8),
];

type RecordsRow = {
  id: string;
  invited: string;
  area_code: string;
  hall_code: string;
  window_no: string;
  staff_id: string | null;
  services: unknown;
  mode: string | null;
  outcome: string;
  grade: string | null;
  reasons: unknown;
  later_via: string | null;
  /** Where the counter's rating was made: the terminal's buttons or the customer screen. */
  channel: string | null;
  rated: string | null;
  flags: string[];
};

/**
 * The period's counted invitations, one row each, oldest first (flagged ones only with
 * includeFlagged). No case number: with the grade beside it, whoever holds the business system
 * could tell who rated what (DOMAIN: confidentiality); the record id leads to it when an appeal
 * needs it.
 */
export async function recordsTable(db: Queryable, q: FactsQuery & { includeFlagged: boolean; sheet: string; maxRows?: number }): Promise<ExportTable> {
  const maxRows = q.maxRows ?? MAX_EXPORT_ROWS;
  checkFactsQuery(q);
  const params: unknown[] = [];
  const facts = factsSql(q, params);
  const shown = param(params, q.includeFlagged);
  const tz = param(params, q.timeZone);
  const local = (at: string) => `to_char(${at} AT TIME ZONE ${tz}, 'YYYY-MM-DD HH24:MI:SS')`;
  const limit = param(params, maxRows + 1);
  const { rows } = await db.query<RecordsRow>(
    `WITH ${facts}
     SELECT f.id, ${local('f.occurred_at')} AS invited, f.area_code, f.hall_code, f.window_no, f.staff_id, f.record->'services' AS services, f.record->>'mode' AS mode,
            f.outcome, f.grade, CASE WHEN f.later_id IS NULL THEN f.record->'rating'->'reasons' ELSE f.later_reasons END AS reasons, f.later_via, f.record->>'channel' AS channel,
            -- pressedAt was checked as an ISO time at ingest (protocol/records.ts).
            CASE WHEN f.later_id IS NOT NULL THEN ${local('f.later_at')}
                 WHEN f.counter_outcome = 'rated' THEN ${local("(f.record->'rating'->>'pressedAt')::timestamptz")} END AS rated, f.flags
       FROM facts f
      WHERE NOT f.flagged OR ${shown}::boolean
      ORDER BY f.occurred_at, f.id
      LIMIT ${limit}`,
    params,
  );
  if (rows.length > maxRows) throw new ExportTooLarge(`more than ${maxRows} records: export a narrower scope, or the figures by window or staff`);
  const cells: Cell[][] = [];
  for await (const slice of inSlices(rows)) for (const row of slice) cells.push(recordCells(row));
  return { sheet: q.sheet, columns: COLUMNS, rows: cells };
}

function recordCells(row: RecordsRow): Cell[] {
  const services = Array.isArray(row.services) ? (row.services as { itemCode?: unknown; itemName?: unknown }[]) : [];
  const grade = gradeSchema.safeParse(row.grade);
  const mode = invitationModeSchema.safeParse(row.mode);
  const outcome = outcomeSchema.safeParse(row.outcome);
  const flags = new Set(row.flags);
  return [
    String(row.id),
    row.invited,
    row.area_code,
    row.hall_code,
    row.window_no,
    row.staff_id ?? '',
    services.map((s) => textOf(s.itemCode)).join('；'),
    services.map((s) => textOf(s.itemName)).join('；'),
    mode.success ? INVITATION_MODES[mode.data] : '',
    outcome.success ? OUTCOME_NAMES[outcome.data] : row.outcome,
    grade.success ? GRADE_INFO[grade.data].zh : '',
    grade.success ? GRADE_CLASS_NAMES[GRADE_INFO[grade.data].class] : '',
    Array.isArray(row.reasons) ? row.reasons.map(textOf).join('；') : '',
    grade.success ? RATED_VIA_NAMES[ratedVia(row)] : '',
    row.rated ?? '',
    MISUSE_FLAG_CODES.filter((code) => flags.has(code)).map((code) => MISUSE_FLAGS[code]).join('；'),
    services.length,
  ];
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** How the rating that counts was made: later on a page (the receipt's QR, the window's code), or at the counter on its buttons or screen. */
function ratedVia(row: RecordsRow): RatedVia {
  if (row.later_via === 'window_sign') return 'window_sign';
  if (row.later_via !== null) return 'receipt';
  return row.channel === 'screen' ? 'screen' : 'counter';
}
