import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import type { HexFont } from './hex-font.js';
import { QR_QUIET_MODULES, type SignLayout } from './layout.js';

/*
 * The laid-out sign as a greyscale PNG: black on white, every glyph dot and QR module a whole
 * square of pixels. The file says its resolution (pHYs), so it prints at A4 size as it is.
 */

class Canvas {
  readonly pixels: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = Buffer.alloc(width * height, 255);
  }

  fill(left: number, top: number, w: number, h: number): void {
    const x0 = Math.max(0, left);
    const x1 = Math.min(this.width, left + w);
    if (x1 <= x0) return;
    for (let y = Math.max(0, top); y < Math.min(this.height, top + h); y++) this.pixels.fill(0, y * this.width + x0, y * this.width + x1);
  }
}

function drawLine(canvas: Canvas, font: HexFont, line: string, top: number, scale: number): void {
  const glyphs = [...line].map((ch) => font.glyph(ch.codePointAt(0)!));
  const units = glyphs.reduce((sum, g) => sum + (g?.width ?? 0), 0);
  let x = Math.floor((canvas.width - units * scale) / 2);
  for (const glyph of glyphs) {
    if (!glyph) continue; // the layout refused characters without a glyph
    for (let row = 0; row < 16; row++) {
      const bits = glyph.rows[row]!;
      for (let col = 0; col < glyph.width; col++) {
        if ((bits >> (glyph.width - 1 - col)) & 1) canvas.fill(x + col * scale, top + row * scale, scale, scale);
      }
    }
    x += glyph.width * scale;
  }
}

/** A PNG chunk: length, type, data, CRC of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** `png` with a pHYs chunk after IHDR (signature 8 bytes, IHDR 25): pixels per metre, so viewers and printers know the size. */
export function withResolution(png: Buffer, dpi: number): Buffer {
  const perMetre = Math.round(dpi / 0.0254);
  const data = Buffer.alloc(9);
  data.writeUInt32BE(perMetre, 0);
  data.writeUInt32BE(perMetre, 4);
  data[8] = 1; // unit: metre
  return Buffer.concat([png.subarray(0, 33), chunk('pHYs', data), png.subarray(33)]);
}

export function renderSignPng(layout: SignLayout, font: HexFont): Buffer {
  const canvas = new Canvas(layout.width, layout.height);
  for (const block of layout.blocks) {
    if (block.kind === 'rule') canvas.fill(block.left, block.top, block.width, block.height);
    else if (block.kind === 'text') {
      block.lines.forEach((line, i) => drawLine(canvas, font, line, block.top + i * (16 * block.scale + block.lineGap), block.scale));
    } else {
      const origin = QR_QUIET_MODULES * block.modulePx;
      for (let r = 0; r < block.size; r++) {
        for (let c = 0; c < block.size; c++) {
          if (block.dark(r, c)) canvas.fill(block.left + origin + c * block.modulePx, block.top + origin + r * block.modulePx, block.modulePx, block.modulePx);
        }
      }
    }
  }
  const png = new PNG({ width: layout.width, height: layout.height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = canvas.pixels;
  return withResolution(PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }), layout.dpi);
}
