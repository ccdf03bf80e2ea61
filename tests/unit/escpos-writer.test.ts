import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { EscPosWriter, qrBitmap, QR_QUIET_ZONE } from '../../protocol/escpos/writer.js';

const hex = (bytes: Uint8Array | number[]) => Buffer.from(bytes).toString('hex');
const bytesOf = (build: (w: EscPosWriter) => EscPosWriter) => hex(build(new EscPosWriter()).bytes());

describe('EscPosWriter: exact bytes', () => {
  it('init: ESC @ then FS & (Chinese mode)', () => {
    expect(bytesOf((w) => w.init())).toBe('1b401c26');
  });

  it('text in GB18030: two bytes per Chinese character, four beyond GBK, one per ASCII character', () => {
    expect(bytesOf((w) => w.text('办件回执'))).toBe('b0ecbcfebbd8d6b4');
    expect(bytesOf((w) => w.text('A3：'))).toBe('4133a3ba');
    expect(bytesOf((w) => w.text('·—'))).toBe('a1a4a1aa');
    expect(bytesOf((w) => w.text('¥'))).toBe('81308436'); // not in GBK: a GB18030 four-byte sequence
    expect(bytesOf((w) => w.text('😀'))).toBe('9439fc36');
  });

  it('text never lets a control character through as a command (it prints as "?")', () => {
    expect(bytesOf((w) => w.text('A\x1b@B\x1dV'))).toBe('413f40423f56');
    expect(bytesOf((w) => w.text('a\x00b\x7fc'))).toBe('613f623f63');
  });

  it('line: text then LF; an empty line is a bare LF', () => {
    expect(bytesOf((w) => w.line('窗口'))).toBe('b4b0bfda0a');
    expect(bytesOf((w) => w.line())).toBe('0a');
  });

  it('bold, size, align, feed, cut', () => {
    expect(bytesOf((w) => w.bold(true).bold(false))).toBe('1b45011b4500');
    expect(bytesOf((w) => w.size(1, 1).size(2, 2).size(2, 1).size(8, 8))).toBe('1d21001d21111d21101d2177');
    expect(bytesOf((w) => w.align('left').align('center').align('right'))).toBe('1b61001b61011b6102');
    expect(bytesOf((w) => w.feed(3).feed(0))).toBe('1b64031b6400');
    expect(bytesOf((w) => w.cut())).toBe('1d564200');
  });

  it('refuses sizes and feeds the printer does not have', () => {
    const w = new EscPosWriter();
    expect(() => w.size(0, 1)).toThrow(RangeError);
    expect(() => w.size(1, 9)).toThrow(/1-8/);
    expect(() => w.size(1.5, 1)).toThrow(RangeError);
    expect(() => w.feed(256)).toThrow(/0-255/);
    expect(w.bytes()).toHaveLength(0);
  });

  it('qrNative: GS ( k model 2, module size, error correction, store (pL pH = data + 3), print', () => {
    const url = 'https://e.example/r?t=1';
    const data = Buffer.from(url).toString('hex');
    const stored = (url.length + 3).toString(16).padStart(2, '0');
    expect(bytesOf((w) => w.qrNative(url, { errorCorrection: 'M', cellSize: 6 }))).toBe(
      '1d286b0400314132' + '00' + // 165: model 2
        '1d286b03003143' + '06' + // 167: module size 6
        '1d286b03003145' + '31' + // 169: level M (49)
        `1d286b${stored}00315030${data}` + // 180: store
        '1d286b0300315130', // 181: print
    );
    expect(bytesOf((w) => w.qrNative('x', { errorCorrection: 'L', cellSize: 1 }))).toContain('1d286b0300314530');
    expect(bytesOf((w) => w.qrNative('x', { errorCorrection: 'H', cellSize: 16 }))).toContain('1d286b0300314533');
  });

  it('qrNative: pH counts the data beyond 255 bytes; the data goes as UTF-8', () => {
    const long = `https://e.example/${'a'.repeat(282)}`; // 300 bytes, 303 with cn fn m
    expect(bytesOf((w) => w.qrNative(long, { errorCorrection: 'L', cellSize: 3 }))).toContain('1d286b2f01315030');
    expect(bytesOf((w) => w.qrNative('评价', { errorCorrection: 'L', cellSize: 3 }))).toContain(
      `1d286b0900315030${Buffer.from('评价', 'utf8').toString('hex')}`,
    );
    expect(() => new EscPosWriter().qrNative('x', { errorCorrection: 'L', cellSize: 17 })).toThrow(/1-16/);
  });

  it('qrRaster: GS v 0 m=0 with the qrcode matrix scaled, a 4-module quiet zone, rows padded to whole bytes', () => {
    const url = 'https://e.example/r?t=1';
    const cell = 3;
    const { modules } = QRCode.create(url, { errorCorrectionLevel: 'Q' });
    const side = (modules.size + 2 * QR_QUIET_ZONE) * cell;
    const rowBytes = Math.ceil(side / 8);
    const bytes = new EscPosWriter().qrRaster(url, { errorCorrection: 'Q', cellSize: cell }).bytes();
    expect(hex(bytes.subarray(0, 8))).toBe(hex([0x1d, 0x76, 0x30, 0, rowBytes & 0xff, rowBytes >> 8, side & 0xff, side >> 8]));
    expect(bytes).toHaveLength(8 + rowBytes * side);

    const bits = bytes.subarray(8);
    const dark = (x: number, y: number) => (bits[y * rowBytes + (x >> 3)]! & (0x80 >> (x & 7))) !== 0;
    const left = Math.floor((rowBytes * 8 - side) / 2) + QR_QUIET_ZONE * cell;
    const top = QR_QUIET_ZONE * cell;
    for (let r = 0; r < modules.size; r++) {
      for (let c = 0; c < modules.size; c++) {
        for (const [dx, dy] of [[0, 0], [cell - 1, cell - 1]] as const) {
          expect(dark(left + c * cell + dx, top + r * cell + dy)).toBe(modules.get(r, c) === 1);
        }
      }
    }
    // The quiet zone is white all round.
    for (let i = 0; i < rowBytes * 8; i++) {
      for (const y of [0, top - 1, top + modules.size * cell, side - 1]) expect(dark(i, y)).toBe(false);
    }
    for (let y = 0; y < side; y++) for (const x of [left - 1, left + modules.size * cell]) expect(dark(x, y)).toBe(false);
  });

  it('qrBitmap pads the width to whole bytes evenly on both sides', () => {
    const bitmap = qrBitmap('x', { errorCorrection: 'L', cellSize: 1 }); // 21 + 8 = 29 dots → 32
    expect(bitmap).toMatchObject({ width: 32, height: 29 });
  });

  it('image: GS v 0 0 xL xH yL yH and the bits as given; refuses bits of the wrong length', () => {
    const bits = Uint8Array.from([0xff, 0x80, 0x01, 0x00]);
    expect(bytesOf((w) => w.image({ width: 10, height: 2, bits }))).toBe('1d76300002000200' + 'ff800100');
    expect(() => new EscPosWriter().image({ width: 10, height: 3, bits })).toThrow(/needs 6 bytes/);
  });

  it('is fluent and accumulates', () => {
    const w = new EscPosWriter();
    expect(w.init().bold(true).line('A').raw([0x10, 0x04, 0x01])).toBe(w);
    expect(hex(w.bytes())).toBe('1b401c261b4501410a100401');
  });
});
