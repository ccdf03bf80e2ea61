import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { inSlices, type Cell, type Column, type ExportTable } from './table.js';

/** Excel's limit of characters in a cell. */
const MAX_CELL_CHARS = 32_767;
/** Characters XML 1.0 cannot carry (an .xlsx is XML): control characters, unpaired surrogates, U+FFFE/U+FFFF. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const NUMBER_FORMATS: Record<Column['kind'], string> = { text: '@', count: '0', rate: '0.0%' };

/**
 * An export as one XLSX sheet (exceljs): a bold, frozen header row; counts as whole numbers, rates
 * as numbers shown as percentages; every text a string cell (never a formula, whatever it starts
 * with) in the text format, so a spreadsheet shows "=HYPERLINK(…)" as the text it is. Written with
 * exceljs's streaming writer, row by row: a month of records is tens of thousands of rows.
 */
export async function toXlsx(table: ExportTable): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    out.on('end', resolve);
    out.on('error', reject);
  });
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  workbook.creator = 'hcp-terminal';
  const sheet = workbook.addWorksheet(table.sheet, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = table.columns.map((c) => ({ header: c.header, width: c.width, style: { numFmt: NUMBER_FORMATS[c.kind] } }));
  sheet.getRow(1).font = { bold: true };
  for await (const slice of inSlices(table.rows)) for (const row of slice) sheet.addRow(row.map(xlsxValue)).commit();
  sheet.commit();
  await workbook.commit();
  await ended;
  return Buffer.concat(chunks);
}

/** A text as XML can carry it: a line ends in \n (XML reads a bare \r as one), what it cannot carry becomes U+FFFD. */
function xlsxValue(cell: Cell): string | number | null {
  if (typeof cell !== 'string') return cell;
  return cell.replace(/\r\n?/g, '\n').slice(0, MAX_CELL_CHARS).replace(NOT_XML, '\uFFFD');
}
