import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { EscPosWriter } from '../../protocol/escpos/writer.js';
import { layoutReceipt, printerProfileSchema } from '../../bridge/printer/receipt-layout.js';
import { parseReceipts } from '../../simulator/printed-receipt.js';
import { previewReceiptPng, RECEIPT_PNG_MARGIN, renderReceiptPng } from '../../simulator/receipt-png.js';
import { SAMPLE_RECEIPT, SAMPLE_URL } from '../support/sample-receipt.js';

const jsQR = jsQRModule.default; // see simulator/printed-receipt.ts
const URL = SAMPLE_URL;
const CONTENT = SAMPLE_RECEIPT;

function decode(png: Buffer) {
  const image = PNG.sync.read(png);
  return { image, qr: jsQR(new Uint8ClampedArray(image.data), image.width, image.height) };
}

/** The bounding box of the dark pixels in rows [top, bottom). */
function inkBox(image: PNG, top: number, bottom: number) {
  let left = Infinity;
  let right = -Infinity;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[(y * image.width + x) * 4]! < 128) {
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  return { left, right };
}

describe('renderReceiptPng', () => {
  for (const [columns, qr, dots] of [
    [32, 'native', 384],
    [48, 'raster', 576],
    [32, 'raster', 384],
    [48, 'native', 576],
  ] as const) {
    it(`${columns} columns, ${qr} QR: ${dots} dots wide plus margins, and the QR code on it scans`, () => {
      const png = previewReceiptPng(CONTENT, printerProfileSchema.parse({ columns, qr }));
      const { image, qr: found } = decode(png);
      expect(image.width).toBe(dots + 2 * RECEIPT_PNG_MARGIN);
      expect(found?.data).toBe(URL);
      // Square and centred on the paper.
      const { topLeftCorner: tl, topRightCorner: tr, bottomLeftCorner: bl } = found!.location;
      expect(Math.abs(tr.x - tl.x - (bl.y - tl.y))).toBeLessThan(3);
      expect(Math.abs((tl.x + tr.x) / 2 - image.width / 2)).toBeLessThan(6);
    });
  }

  it('draws the title double size, bold and centred, at the printer resolution (12x24 cells on 384 dots)', () => {
    const [receipt] = parseReceipts(new EscPosWriter().init().align('center').bold(true).size(2, 2).line('办件回执').cut().bytes());
    const { image } = decode(renderReceiptPng(receipt!, { dotsPerLine: 384 }));
    const { left, right } = inkBox(image, RECEIPT_PNG_MARGIN, image.height - RECEIPT_PNG_MARGIN);
    // 4 characters x 2 columns x 12 dots x double width = 192 dots, centred on 384.
    expect(right - left).toBeGreaterThan(160);
    expect(right - left).toBeLessThanOrEqual(193);
    expect(Math.abs((left + right) / 2 - image.width / 2)).toBeLessThan(8);
    expect(image.height).toBeGreaterThanOrEqual(48 + 2 * RECEIPT_PNG_MARGIN);
  });

  it('draws raster images dot for dot', () => {
    const bits = new Uint8Array(8 * 3).fill(0xff);
    const [receipt] = parseReceipts(new EscPosWriter().image({ width: 64, height: 3, bits }).cut().bytes());
    const { image } = decode(renderReceiptPng(receipt!, { dotsPerLine: 384 }));
    expect(image.height).toBe(3 + 2 * RECEIPT_PNG_MARGIN);
    expect(inkBox(image, RECEIPT_PNG_MARGIN, RECEIPT_PNG_MARGIN + 3)).toEqual({ left: RECEIPT_PNG_MARGIN, right: RECEIPT_PNG_MARGIN + 63 });
  });

  it('says which package to install when the font is missing', () => {
    const [receipt] = parseReceipts(layoutReceipt(CONTENT, printerProfileSchema.parse({})));
    expect(() => renderReceiptPng(receipt!, { dotsPerLine: 384, fontPath: '/nonexistent/unifont.hex' })).toThrow(/apt-get install unifont/);
  });
});
