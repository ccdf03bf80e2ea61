import { describe, expect, it } from 'vitest';
import { EscPosWriter, qrBitmap } from '../../protocol/escpos/writer.js';
import { STATUS_REQUEST } from '../../protocol/escpos/commands.js';
import { EscPosParser, type EscPosItem, type ImageItem, type QrItem, type TextLine } from '../../protocol/escpos/parser.js';
import { seededRandom } from '../../simulator/random.js';

const URL_A = 'https://hcp.example.gov.cn/e/330106/01a20394?t=abc';

/** A job that uses every writer command, plus a status request in the middle. */
function everyCommand(): { bytes: Buffer; bitmap: ReturnType<typeof qrBitmap> } {
  const bitmap = qrBitmap(URL_A, { errorCorrection: 'H', cellSize: 2 });
  const bytes = new EscPosWriter()
    .init()
    .align('center')
    .bold(true)
    .size(2, 2)
    .line('办件回执')
    .size(1, 1)
    .bold(false)
    .align('left')
    .line('窗口：A03')
    .text('事项：')
    .bold(true)
    .text('不满意')
    .bold(false)
    .line()
    .line()
    .raw(STATUS_REQUEST.paper)
    .align('right')
    .line('¥12·😀')
    .feed(2)
    .align('center')
    .qrNative(URL_A, { errorCorrection: 'Q', cellSize: 5 })
    .qrRaster(URL_A, { errorCorrection: 'H', cellSize: 2 })
    .image({ width: 16, height: 2, bits: Uint8Array.from([0xf0, 0x0f, 0xaa, 0x55]) })
    .align('left')
    .line('--')
    .feed(4)
    .cut()
    .bytes();
  return { bytes, bitmap };
}

function feedInChunks(bytes: Uint8Array, sizes: () => number): { items: EscPosItem[]; parser: EscPosParser } {
  const parser = new EscPosParser();
  const items: EscPosItem[] = [];
  parser.onItem((item) => items.push(item));
  for (let at = 0; at < bytes.length; ) {
    const size = Math.max(1, sizes());
    parser.feed(bytes.subarray(at, at + size));
    at += size;
  }
  return { items, parser };
}

const texts = (items: EscPosItem[]) => items.filter((i): i is TextLine => i.kind === 'text');

describe('EscPosParser: writer round trip', () => {
  const { bytes, bitmap } = everyCommand();
  const whole = EscPosParser.parse(bytes);

  it('reads back every command with the modes in force', () => {
    expect(whole.map((i) => i.kind)).toEqual([
      'text', 'text', 'text', 'text', 'status', 'text', 'feed', 'qr', 'image', 'image', 'text', 'feed', 'cut',
    ]);
    const [title, window, mixed, blank, yen] = texts(whole);
    expect(title).toMatchObject({ text: '办件回执', align: 'center', bold: true, width: 2, height: 2 });
    expect(window).toMatchObject({ text: '窗口：A03', align: 'left', bold: false, width: 1, height: 1 });
    expect(mixed?.text).toBe('事项：不满意');
    expect(mixed?.runs.map((r) => [r.text, r.bold, r.columns])).toEqual([
      ['事项：', false, 6],
      ['不满意', true, 6],
    ]);
    expect(blank).toMatchObject({ text: '', runs: [] });
    expect(yen).toMatchObject({ text: '¥12·😀', align: 'right' }); // four-byte GB18030 characters too
    expect(yen?.runs[0]?.columns).toBe(2 + 1 + 1 + 2 + 2);
    expect(whole.find((i) => i.kind === 'status')).toEqual({ kind: 'status', n: 4 });
    expect(whole.filter((i) => i.kind === 'feed')).toEqual([
      { kind: 'feed', lines: 2 },
      { kind: 'feed', lines: 4 },
    ]);
    expect(whole.at(-1)).toEqual({ kind: 'cut', partial: true, feedDots: 0 });
  });

  it('reads the native QR code with its model, cell size, error correction and justification', () => {
    const qr = whole.find((i): i is QrItem => i.kind === 'qr');
    expect(qr).toMatchObject({ data: URL_A, model: 2, cellSize: 5, errorCorrection: 'Q', align: 'center' });
    expect(Buffer.from(qr!.bytes).toString()).toBe(URL_A);
  });

  it('reads raster images dot for dot', () => {
    const [qrImage, small] = whole.filter((i): i is ImageItem => i.kind === 'image');
    expect(qrImage).toMatchObject({ width: bitmap.width, height: bitmap.height, mode: 0, align: 'center' });
    expect(Buffer.from(qrImage!.bits).equals(Buffer.from(bitmap.bits))).toBe(true);
    expect(small).toMatchObject({ width: 16, height: 2 });
    expect([...small!.bits]).toEqual([0xf0, 0x0f, 0xaa, 0x55]);
  });

  it('gives the same items fed one byte at a time', () => {
    const { items, parser } = feedInChunks(bytes, () => 1);
    expect(items).toEqual(whole);
    expect(parser.counters).toMatchObject({ bytes: bytes.length, unknown: 0 });
    expect(parser.pending).toBe(0);
  });

  it.each([1, 2, 3, 42, 2026])('gives the same items fed in random chunks (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const { items } = feedInChunks(bytes, () => Math.floor(random() * 40));
    expect(items).toEqual(whole);
  });

  it('holds a command split across chunks until it is complete', () => {
    const parser = new EscPosParser();
    const qr = new EscPosWriter().qrNative('abc', { errorCorrection: 'L', cellSize: 3 }).bytes();
    const at = qr.length - 4; // in the middle of the print function
    expect(parser.feed(qr.subarray(0, at))).toEqual([]);
    expect(parser.pending).toBe(4);
    expect(parser.feed(qr.subarray(at)).map((i) => i.kind)).toEqual(['qr']);
  });
});

describe('EscPosParser: modes', () => {
  it('without FS &, text is read in the single-byte code page: a job that forgets Chinese mode shows mojibake', () => {
    const bytes = new EscPosWriter().raw([0x1b, 0x40]).line('办件').bytes();
    const [line] = texts(EscPosParser.parse(bytes));
    expect(line?.text).not.toBe('办件');
    expect(line?.runs[0]).toMatchObject({ chinese: false, columns: 4 });
    expect(texts(EscPosParser.parse(bytes, { chineseByDefault: true }))[0]?.text).toBe('办件');
  });

  it('FS . leaves Chinese mode; ESC @ resets bold, size and justification', () => {
    const bytes = new EscPosWriter().init().bold(true).size(3, 2).align('right').raw([0x1b, 0x40, 0x1c, 0x2e]).line('A').bytes();
    const parser = new EscPosParser();
    const [line] = texts(parser.feed(bytes));
    expect(line).toMatchObject({ text: 'A', bold: false, width: 1, height: 1, align: 'left' });
    expect(parser.state.chinese).toBe(false);
  });

  it('ESC ! sets bold, double height and double width at once', () => {
    const [line] = texts(EscPosParser.parse(Uint8Array.from([0x1b, 0x21, 0x38, 0x41, 0x0a])));
    expect(line).toMatchObject({ bold: true, width: 2, height: 2 });
  });

  it('ESC a in the middle of a line applies from the next line', () => {
    const bytes = new EscPosWriter().text('ab').align('center').line('cd').line('ef').bytes();
    expect(texts(EscPosParser.parse(bytes)).map((l) => l.align)).toEqual(['left', 'center']);
  });

  it('a QR print, an image or a cut first prints the text waiting in the line buffer', () => {
    const bytes = new EscPosWriter().init().text('before qr').qrNative('x', { errorCorrection: 'L', cellSize: 3 }).text('before cut').cut().bytes();
    expect(EscPosParser.parse(bytes).map((i) => (i.kind === 'text' ? i.text : i.kind))).toEqual(['before qr', 'qr', 'before cut', 'cut']);
  });
});

describe('EscPosParser: status requests are real-time', () => {
  it('answers DLE EOT 1, 2 and 4 as they arrive, in the middle of text', () => {
    const items = EscPosParser.parse(Uint8Array.from([0x41, ...STATUS_REQUEST.printer, 0x42, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper, 0x0a]));
    expect(items).toEqual([
      { kind: 'status', n: 1 },
      { kind: 'status', n: 2 },
      { kind: 'status', n: 4 },
      expect.objectContaining({ kind: 'text', text: 'AB' }),
    ]);
  });

  it('sees DLE EOT n inside image data too, as real printers do, and still prints the image intact', () => {
    const bits = Uint8Array.from([0x10, 0x04, 0x01, 0xff]);
    const items = EscPosParser.parse(new EscPosWriter().image({ width: 16, height: 2, bits }).bytes());
    expect(items.map((i) => i.kind)).toEqual(['status', 'image']);
    expect([...(items[1] as ImageItem).bits]).toEqual([...bits]);
  });
});

describe('EscPosParser: bad input is counted, never thrown', () => {
  it('counts unknown commands and stray bytes and goes on printing', () => {
    const parser = new EscPosParser();
    const items = parser.feed(
      Uint8Array.from([
        0x1c, 0x26, // Chinese mode
        0x1b, 0x01, // ESC 0x01: no such command
        0x1d, 0x99, // GS 0x99: no such command
        0x07, // BEL
        0x80, // not a GB18030 lead byte
        0xb0, 0x0a, // a lead byte cut short by LF
        0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30, // QR print with nothing stored
        0x1d, 0x28, 0x4c, 0x02, 0x00, 0x30, 0x32, // GS ( L: length known, not modelled
        0x41, 0x0a,
      ]),
    );
    expect(parser.counters.unknown).toBe(7);
    expect(items.filter((i) => i.kind === 'unknown').map((i) => i.kind === 'unknown' && i.reason)).toEqual([
      'unknown command ESC 0x01',
      'unknown command GS 0x99',
      'control byte',
      'not a GB18030 lead byte',
      'GB18030 lead byte without a trail byte',
      'QR print with no data stored',
      'GS ( L is not modelled',
    ]);
    expect(texts(items).map((l) => l.text)).toEqual(['', 'A']);
  });

  it('skips known commands it does not model by their length, without printing their parameters', () => {
    const parser = new EscPosParser();
    const items = parser.feed(Uint8Array.from([0x1b, 0x33, 0x41, 0x1b, 0x4d, 0x42, 0x1d, 0x4c, 0x43, 0x44, 0x45, 0x0d, 0x0a]));
    expect(items.map((i) => (i.kind === 'ignored' ? i.command : i.kind === 'text' ? i.text : i.kind))).toEqual(['ESC 3', 'ESC M', 'GS L', '0x0d', 'E']);
    expect(parser.counters).toMatchObject({ unknown: 0, ignored: 4 });
  });

  it('survives random garbage', () => {
    const random = seededRandom(7);
    const garbage = Uint8Array.from({ length: 20_000 }, () => Math.floor(random() * 256));
    const parser = new EscPosParser();
    expect(() => feedInChunks(garbage, () => Math.floor(random() * 64))).not.toThrow();
    expect(() => parser.feed(garbage)).not.toThrow();
    expect(parser.counters.unknown).toBeGreaterThan(0);
  });
});
