import jsQRModule from 'jsqr';
import { crc32 } from 'node:zlib';
import type { PNG } from 'pngjs';
import type { HexFont } from '../../gateway/qr-sign/hex-font.js';

/*
 * Reading a window's QR sign back, as a person and a phone would: the QR code decoded with jsqr,
 * text found by its glyphs on the picture, and the PDF taken apart (pages, page box, the picture).
 */

const jsQR = jsQRModule.default; // jsqr is CommonJS typed as an ES module (see tests/e2e/cli.test.ts)

export function decodeQr(image: PNG): string | null {
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}

/** The resolution a PNG's pHYs chunk states, in dots per inch (null without one). */
export function pngDpi(png: Buffer): number | null {
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'pHYs' && png[at + 16] === 1) return Math.round(png.readUInt32BE(at + 8) * 0.0254);
    at += 12 + length;
  }
  return null;
}

const dark = (image: PNG, x: number, y: number): boolean => x >= 0 && y >= 0 && x < image.width && y < image.height && image.data[(y * image.width + x) * 4]! < 128;

/**
 * The tops of every place where `text` is drawn, centred on the picture, in `font` at `scale`
 * pixels per dot: each dot of each glyph checked at its corner pixels, dark or white as the font says.
 */
export function findCentredText(image: PNG, font: HexFont, text: string, scale: number): number[] {
  const glyphs = [...text].map((ch) => font.glyph(ch.codePointAt(0)!)!);
  const units = glyphs.reduce((sum, g) => sum + g.width, 0);
  const left = Math.floor((image.width - units * scale) / 2);
  const found: number[] = [];
  for (let top = 0; top + 16 * scale <= image.height; top++) {
    let x = left;
    let matches = true;
    for (const glyph of glyphs) {
      for (let row = 0; row < 16 && matches; row++) {
        for (let col = 0; col < glyph.width && matches; col++) {
          const want = ((glyph.rows[row]! >> (glyph.width - 1 - col)) & 1) === 1;
          // The dot's first and last pixel: a picture one pixel off does not match.
          const [dx, dy] = [x + col * scale, top + row * scale];
          matches = dark(image, dx, dy) === want && dark(image, dx + scale - 1, dy + scale - 1) === want;
        }
      }
      if (!matches) break;
      x += glyph.width * scale;
    }
    if (matches) found.push(top);
  }
  return found;
}

export interface PdfFacts {
  header: string;
  pages: number;
  mediaBoxes: string[];
  /** Every image XObject, rebuilt as a PNG file from its Flate stream (PNG predictors, as pdfkit embeds PNGs). */
  images: { width: number; height: number; png: Buffer }[];
  /** Whether every cross-reference entry points at its object. */
  xrefSound: boolean;
  title: string | null;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

const PDF_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

/** A small reader for the PDFs pdfkit writes (uncompressed object table, one level of streams). */
export function readPdf(pdf: Buffer): PdfFacts {
  const text = pdf.toString('latin1');
  const objects = new Map<number, { at: number; body: string; streamAt: number | null }>();
  for (const m of text.matchAll(/(?:^|\n)(\d+) 0 obj\n/g)) {
    const at = m.index + (m[0].startsWith('\n') ? 1 : 0);
    const end = text.indexOf('endobj', at);
    const streamStart = text.indexOf('\nstream\n', at);
    const hasStream = streamStart !== -1 && streamStart < end;
    objects.set(Number(m[1]), { at, body: text.slice(at, hasStream ? streamStart : end), streamAt: hasStream ? streamStart + 8 : null });
  }
  const number = (body: string, key: string): number => Number(new RegExp(`/${key} (\\d+)`).exec(body)?.[1]);
  const images: PdfFacts['images'] = [];
  for (const { body, streamAt } of objects.values()) {
    if (!body.includes('/Subtype /Image') || streamAt === null) continue;
    const width = number(body, 'Width');
    const height = number(body, 'Height');
    const stream = pdf.subarray(streamAt, streamAt + number(body, 'Length'));
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8; // bits per component
    ihdr[9] = body.includes('/DeviceGray') ? 0 : 2;
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', stream), pngChunk('IEND', Buffer.alloc(0))]);
    images.push({ width, height, png });
  }
  const startxref = Number(/startxref\n(\d+)\n%%EOF\s*$/.exec(text)?.[1]);
  const xref = /^xref\n0 (\d+)\n/.exec(text.slice(startxref));
  let xrefSound = xref !== null;
  if (xref) {
    const entries = text.slice(startxref + xref[0].length).split('\n').slice(0, Number(xref[1]));
    entries.forEach((entry, n) => {
      if (n === 0) return;
      const offset = Number(entry.slice(0, 10));
      if (!text.startsWith(`${n} 0 obj`, offset)) xrefSound = false;
    });
  }
  const titleRef = /\/Title (\d+) 0 R/.exec(text)?.[1];
  const titleBody = titleRef === undefined ? undefined : objects.get(Number(titleRef))?.body;
  let title: string | null = null;
  if (titleBody !== undefined) {
    const raw = /\(([\s\S]*)\)\s*$/.exec(titleBody)?.[1]?.replace(/\\([()\\nrtbf])/g, (_, c: string) => (PDF_ESCAPES[c] ?? c)) ?? '';
    const bytes = Buffer.from(raw, 'latin1');
    title = bytes[0] === 0xfe && bytes[1] === 0xff ? Buffer.from(bytes.subarray(2)).swap16().toString('utf16le') : raw;
  }
  return {
    header: text.slice(0, 8),
    pages: [...text.matchAll(/\/Type \/Page\n/g)].length,
    mediaBoxes: [...text.matchAll(/\/MediaBox \[([^\]]*)\]/g)].map((m) => m[1]!),
    images,
    xrefSound,
    title,
  };
}
