import { z } from 'zod';
import type { Scope } from '../accounts/scope.js';
import type { Queryable } from '../db/database.js';
import { monthPeriod } from '../stats/period.js';
import { toCsv } from './csv.js';
import { figuresTable } from './figures-table.js';
import { recordsTable } from './records-table.js';
import type { ExportTable } from './table.js';
import { toXlsx } from './xlsx.js';

export { ExportTooLarge, MAX_EXPORT_ROWS } from './records-table.js';
export { monthTextSchema } from '../stats/period.js';

export const exportWhatSchema = z.enum(['records', 'windows', 'staff']);
export type ExportWhat = z.infer<typeof exportWhatSchema>;
export const exportFormatSchema = z.enum(['csv', 'xlsx']);
export type ExportFormat = z.infer<typeof exportFormatSchema>;

export interface ExportQuery {
  scope: Scope;
  /** YYYY-MM, a local month in timeZone (parse with monthTextSchema: anything else throws RangeError). */
  month: string;
  timeZone: string;
  cancelsPerDay: number;
  includeFlagged: boolean;
  what: ExportWhat;
  format: ExportFormat;
}

export interface ExportFile {
  /** ASCII only (a header's filename=): hcp-<what>-<month>-<scope>.<format>. */
  filename: string;
  contentType: string;
  body: Buffer;
}

const SHEET_NAMES: Record<ExportWhat, string> = { records: '评价记录', windows: '窗口统计', staff: '工作人员统计' };
const CONTENT_TYPES: Record<ExportFormat, string> = { csv: 'text/csv; charset=utf-8', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' };

/** A month's records, or its figures by window or staff member, of the scope, as a CSV or XLSX file. */
export async function buildExport(db: Queryable, q: ExportQuery): Promise<ExportFile> {
  const period = monthPeriod(q.month, q.timeZone);
  const common = { scope: q.scope, period, timeZone: q.timeZone, cancelsPerDay: q.cancelsPerDay, includeFlagged: q.includeFlagged, sheet: `${SHEET_NAMES[q.what]} ${q.month}` };
  const table: ExportTable = q.what === 'records' ? await recordsTable(db, common) : await figuresTable(db, { ...common, by: q.what === 'windows' ? 'window' : 'staff' });
  return {
    filename: `hcp-${q.what}-${q.month}-${scopeTag(q.scope)}.${q.format}`,
    contentType: CONTENT_TYPES[q.format],
    body: q.format === 'csv' ? await toCsv(table) : await toXlsx(table),
  };
}

function scopeTag(scope: Scope): string {
  return scope.hallCode === null ? scope.areaPrefix : `${scope.areaPrefix}-${scope.hallCode.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32)}`;
}
