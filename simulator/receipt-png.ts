import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { DEFAULT_FONT_PATH, loadHexFont, type HexFont } from '../gateway/qr-sign/hex-font.js';
import { DOTS_PER_LINE, layoutReceipt, type PrinterProfile, type ReceiptContent } from '../bridge/printer/receipt-layout.js';
import type { Align, ImageItem, QrItem } from '../protocol/escpos/parser.js';
import { paperRows, parseReceipts, type PaperRow, type PrintedReceipt } from './printed-receipt.js';

/** White dots around the paper in the PNG. */
export const RECEIPT_PNG_MARGIN = 8;

export interface RenderOptions {
  /** Printable dots per line: 384 on 58 mm paper, 576 on 80 mm paper. */
  dotsPerLine: 384 | 576;
  fontPath?: string;
}

/** A strip of paper `width` dots wide that grows downwards as it is printed on. */
class Paper {
  private readonly rows: Uint8Array[] = [];
  /** Where the next thing prints. */
  y = 0;

  constructor(readonly width: number) {}

  dot(x: number, y: number): void {
    if (x < 0 || x >= this.width || y < 0) return; // off the printable width: not printed
    while (this.rows.length <= y) this.rows.push(new Uint8Array(this.width));
    this.rows[y]![x] = 1;
  }

  /** Left edge of something `width` dots wide, justified. */
  left(width: number, align: Align): number {
    const free = Math.max(0, this.width - width);
    return align === 'left' ? 0 : align === 'center' ? Math.floor(free / 2) : free;
  }

  get height(): number {
    return Math.max(this.y, this.rows.length);
  }

  isDark(x: number, y: number): boolean {
    return this.rows[y]?.[x] === 1;
  }
}

interface Metrics {
  /** Dots of a half-width character cell (12 at 32 columns on 384 dots, as printer font A). */
  cellWidth: number;
  cellHeight: number;
  /** Dots between rows of text. */
  gap: number;
}

function drawRow(paper: Paper, row: PaperRow, font: HexFont, m: Metrics): void {
  const rowHeight = row.height * m.cellHeight;
  let x = paper.left(row.used * m.cellWidth, row.align);
  for (const cell of row.cells) {
    const w = cell.columns * cell.width * m.cellWidth;
    const h = cell.height * m.cellHeight;
    const top = paper.y + rowHeight - h; // characters of different heights share the baseline
    const glyph = font.glyph(cell.ch.codePointAt(0)!);
    for (let dy = 0; dy < h; dy++) {
      for (let dx = 0; dx < w; dx++) {
        let dark: boolean;
        if (glyph) {
          const bits = glyph.rows[Math.floor((dy * 16) / h)]!;
          dark = ((bits >> (glyph.width - 1 - Math.floor((dx * glyph.width) / w))) & 1) === 1;
        } else {
          // No glyph (outside the BMP, or not in the font): a box, as printers print for unknown codes.
          const inX = dx >= 1 && dx <= w - 2;
          const inY = dy >= 2 && dy <= h - 3;
          dark = ((dx === 1 || dx === w - 2) && inY) || ((dy === 2 || dy === h - 3) && inX);
        }
        if (!dark) continue;
        paper.dot(x + dx, top + dy);
        if (cell.bold) paper.dot(x + dx + 1, top + dy); // emphasised: each dot smeared one to the right
      }
    }
    x += w;
  }
  paper.y += rowHeight + m.gap;
}

function drawQr(paper: Paper, item: QrItem): void {
  // Models 1 and micro are drawn as model 2: the receipt only ever asks for model 2.
  const { modules } = QRCode.create(item.data, { errorCorrectionLevel: item.errorCorrection });
  const side = modules.size * item.cellSize;
  const left = paper.left(side, item.align);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (modules.get(Math.floor(y / item.cellSize), Math.floor(x / item.cellSize))) paper.dot(left + x, paper.y + y);
    }
  }
  paper.y += side;
}

function drawImage(paper: Paper, item: ImageItem): void {
  const sx = item.mode & 1 ? 2 : 1;
  const sy = item.mode & 2 ? 2 : 1;
  const rowBytes = item.width / 8;
  const left = paper.left(item.width * sx, item.align);
  for (let y = 0; y < item.height * sy; y++) {
    const src = Math.floor(y / sy) * rowBytes;
    for (let x = 0; x < item.width * sx; x++) {
      const sxDot = Math.floor(x / sx);
      if ((item.bits[src + (sxDot >> 3)]! & (0x80 >> (sxDot & 7))) !== 0) paper.dot(left + x, paper.y + y);
    }
  }
  paper.y += item.height * sy;
}

/**
 * What the paper of `receipt` shows, as a PNG, one pixel per printer dot: text in Unifont glyphs
 * scaled to the printer's cells (nearest neighbour), QR codes, images, feeds; a white margin around.
 */
export function renderReceiptPng(receipt: PrintedReceipt, { dotsPerLine, fontPath = DEFAULT_FONT_PATH }: RenderOptions): Buffer {
  const font = loadHexFont(fontPath);
  const cellWidth = Math.floor(dotsPerLine / receipt.columns);
  const m: Metrics = { cellWidth, cellHeight: 2 * cellWidth, gap: Math.round(cellWidth / 2) };
  const paper = new Paper(dotsPerLine);
  for (const item of receipt.items) {
    if (item.kind === 'text') for (const row of paperRows(item, receipt.columns)) drawRow(paper, row, font, m);
    else if (item.kind === 'feed') paper.y += item.lines * (m.cellHeight + m.gap);
    else if (item.kind === 'qr') drawQr(paper, item);
    else if (item.kind === 'image') drawImage(paper, item);
  }

  const png = new PNG({ width: dotsPerLine + 2 * RECEIPT_PNG_MARGIN, height: paper.height + 2 * RECEIPT_PNG_MARGIN });
  png.data.fill(255);
  for (let y = 0; y < paper.height; y++) {
    for (let x = 0; x < dotsPerLine; x++) {
      if (!paper.isDark(x, y)) continue;
      const at = ((y + RECEIPT_PNG_MARGIN) * png.width + x + RECEIPT_PNG_MARGIN) * 4;
      png.data[at] = png.data[at + 1] = png.data[at + 2] = 0;
    }
  }
  return PNG.sync.write(png, { colorType: 0 });
}

/**
 * The receipt `layoutReceipt` makes for `content`, as the paper would show it: the bytes are
 * parsed straight into a receipt (no printer, no serial line) and rendered. For `hcp receipt --preview`.
 */
export function previewReceiptPng(content: ReceiptContent, profile: PrinterProfile, { fontPath }: { fontPath?: string } = {}): Buffer {
  const [receipt] = parseReceipts(layoutReceipt(content, profile), profile.columns);
  if (!receipt) throw new Error('receipt preview: the layout produced no cut receipt');
  return renderReceiptPng(receipt, { dotsPerLine: DOTS_PER_LINE[profile.columns], ...(fontPath !== undefined && { fontPath }) });
}
