import { stringify } from 'csv-stringify/sync';
import { inSlices, type Cell, type Column, type ExportTable } from './table.js';

/**
 * An export as CSV for Excel and WPS: UTF-8 with a byte-order mark (without it Excel reads the
 * Chinese as the local code page), CRLF lines, a header row in Chinese. A text starting with
 * = + - @ (or a tab, a carriage return, their full-width forms) gets a leading ' so that no
 * spreadsheet runs it as a formula (csv-stringify's escape_formulas: OWASP's CSV injection advice).
 */
export async function toCsv(table: ExportTable): Promise<Buffer> {
  const parts = [csvText([table.columns.map((c) => c.header)], true)];
  for await (const slice of inSlices(table.rows)) parts.push(csvText(slice.map((row) => row.map((cell, i) => csvCell(cell, table.columns[i]!))), false));
  return Buffer.concat(parts);
}

function csvText(rows: (string | number)[][], bom: boolean): Buffer {
  // quoted_match: a line break inside a text is quoted too (csv-stringify quotes only the record delimiter, \r\n, itself).
  return Buffer.from(stringify(rows, { bom, record_delimiter: '\r\n', escape_formulas: true, quoted_match: /[\r\n]/ }), 'utf8');
}

/** A rate as a percentage with one decimal ("85.7%": Excel reads it as a number); nothing as an empty cell. */
function csvCell(cell: Cell, column: Column): string | number {
  if (cell === null) return '';
  if (column.kind === 'rate' && typeof cell === 'number') return `${(cell * 100).toFixed(1)}%`;
  return cell;
}
