import jsQRModule from 'jsqr';
import { charColumns, EscPosParser, isPrintItem, type Align, type EscPosParserOptions, type ImageItem, type PrintItem, type TextLine } from '../protocol/escpos/parser.js';

/** One character cell on paper. */
export interface PaperCell {
  ch: string;
  /** Columns at normal size (1 half width, 2 full width); the cell takes columns × width. */
  columns: 1 | 2;
  bold: boolean;
  width: number;
  height: number;
}

/** One printed row of text: a received line, or the part of it that wrapped onto the next row. */
export interface PaperRow {
  align: Align;
  cells: PaperCell[];
  /** Columns the row takes, size multipliers included. */
  used: number;
  /** The tallest height multiplier in the row. */
  height: number;
}

/**
 * How a printer `columns` wide lays out a received line: a character that does not fit wraps onto
 * the next row, as real printers do. Each row is justified on its own.
 */
export function paperRows(line: TextLine, columns: number): PaperRow[] {
  const rows: PaperRow[] = [];
  let row: PaperRow = { align: line.align, cells: [], used: 0, height: line.height };
  for (const run of line.runs) {
    for (const ch of run.text) {
      const cell: PaperCell = { ch, columns: charColumns(ch, run.chinese), bold: run.bold, width: run.width, height: run.height };
      const takes = cell.columns * cell.width;
      if (row.used + takes > columns && row.cells.length > 0) {
        rows.push(row);
        row = { align: line.align, cells: [], used: 0, height: 1 };
      }
      if (row.cells.length === 0) row.height = cell.height;
      row.cells.push(cell);
      row.used += takes;
      row.height = Math.max(row.height, cell.height);
    }
  }
  rows.push(row);
  return rows;
}

/** Columns of white before a row, from its justification. */
export function rowIndent(row: PaperRow, columns: number): number {
  const free = Math.max(0, columns - row.used);
  return row.align === 'left' ? 0 : row.align === 'center' ? Math.floor(free / 2) : free;
}

// jsqr is CommonJS typed as an ES module: under NodeNext the default import is the module object.
// At run time it is the function, which also carries itself as `.default`: that works both ways.
const jsQR = jsQRModule.default;

/** The QR code in a 1-bit image, read with jsQR (from RGBA pixels, with a white margin added); null if none. */
export function decodeQrImage(image: Pick<ImageItem, 'width' | 'height' | 'bits'>): string | null {
  const margin = 16;
  const width = image.width + 2 * margin;
  const height = image.height + 2 * margin;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  const rowBytes = Math.ceil(image.width / 8);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (((image.bits[y * rowBytes + (x >> 3)] ?? 0) & (0x80 >> (x & 7))) === 0) continue;
      const at = ((y + margin) * width + x + margin) * 4;
      rgba[at] = rgba[at + 1] = rgba[at + 2] = 0;
    }
  }
  return jsQR(rgba, width, height, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

export interface FoundQr {
  payload: string;
  /** native: the printer's own QR command; raster: decoded from a printed image. */
  via: 'native' | 'raster';
}

/** What came out of the printer between two cuts (the cut included). */
export class PrintedReceipt {
  /** The raster images, in order. */
  readonly images: readonly ImageItem[];
  private found: FoundQr[] | undefined;

  constructor(
    readonly items: readonly PrintItem[],
    /** Columns of the printer it came out of (half-width characters per line). */
    readonly columns: number = 32,
  ) {
    this.images = items.filter((i): i is ImageItem => i.kind === 'image');
  }

  /** The text rows as printed: wrapped at the paper width, justified with spaces, trimmed right. Not QR codes or feeds. */
  lines(): string[] {
    const out: string[] = [];
    for (const item of this.items) {
      if (item.kind !== 'text') continue;
      for (const row of paperRows(item, this.columns)) {
        out.push((' '.repeat(rowIndent(row, this.columns)) + row.cells.map((c) => c.ch).join('')).trimEnd());
      }
    }
    return out;
  }

  /** lines() joined with newlines. */
  text(): string {
    return this.lines().join('\n');
  }

  /** Every QR code on the receipt, in order: native ones as stored, raster ones as jsQR reads them. */
  qrCodes(): FoundQr[] {
    this.found ??= this.items.flatMap((item): FoundQr[] => {
      if (item.kind === 'qr') return [{ payload: item.data, via: 'native' }];
      if (item.kind !== 'image') return [];
      const payload = decodeQrImage(item);
      return payload === null ? [] : [{ payload, via: 'raster' }];
    });
    return this.found;
  }
}

/**
 * Cuts a stream of print items into receipts (each ends at a cut). Whatever follows the last cut
 * is returned as `rest`: the start of a receipt still being printed.
 */
export function splitReceipts(items: readonly PrintItem[], columns = 32): { receipts: PrintedReceipt[]; rest: PrintItem[] } {
  const receipts: PrintedReceipt[] = [];
  let current: PrintItem[] = [];
  for (const item of items) {
    current.push(item);
    if (item.kind === 'cut') {
      receipts.push(new PrintedReceipt(current, columns));
      current = [];
    }
  }
  return { receipts, rest: current };
}

/** Parses a print job straight into receipts, with no printer and no serial line in between. */
export function parseReceipts(bytes: Uint8Array, columns = 32, options?: EscPosParserOptions): PrintedReceipt[] {
  const items = EscPosParser.parse(bytes, options).filter(isPrintItem);
  return splitReceipts(items, columns).receipts;
}
