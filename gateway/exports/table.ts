/**
 * What an export holds, before it is written as CSV or XLSX: one sheet of columns and rows. The
 * writers apply the columns' kinds (a rate is a fraction: 0.5 shows as 50.0%).
 */
export type ColumnKind = 'text' | 'count' | 'rate';

export interface Column {
  header: string;
  kind: ColumnKind;
  /** Width in characters, for XLSX. */
  width: number;
}

/** A text, a number, or nothing (an empty cell: a rate without a denominator). */
export type Cell = string | number | null;

export interface ExportTable {
  /** The sheet's name (XLSX: at most 31 characters, none of []:*?/\). */
  sheet: string;
  columns: readonly Column[];
  rows: readonly (readonly Cell[])[];
}

export const text = (header: string, width = 12): Column => ({ header, kind: 'text', width });
export const count = (header: string, width = 8): Column => ({ header, kind: 'count', width });
export const rate = (header: string, width = 8): Column => ({ header, kind: 'rate', width });

/** Rows per slice when an export is written: small enough that one slice blocks the event loop for milliseconds. */
const SLICE_ROWS = 2000;

/**
 * `rows` in slices, with a turn of the event loop before each slice after the first: an export of
 * 200,000 rows is written in the gateway's own process, and ingest must not stall meanwhile.
 */
export async function* inSlices<T>(rows: readonly T[], size = SLICE_ROWS): AsyncGenerator<readonly T[]> {
  for (let i = 0; i < rows.length; i += size) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    yield rows.slice(i, i + size);
  }
}
