import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHexFont } from '../../gateway/qr-sign/hex-font.js';
import { A4_POINTS, layoutSign, SIGN_EXPLANATION, SIGN_HEADLINE, SignContentError, windowTitle, wrapText, type SignLayout, type TextBlock } from '../../gateway/qr-sign/layout.js';
import { renderQrSign, SIGN_DPI } from '../../gateway/qr-sign/sign.js';
import { qrSignSpecSchema, type QrSignSpec } from '../../gateway/qr-sign/spec.js';
import { decodeQr, findCentredText, pngDpi, readPdf } from '../support/qr-sign-read.js';
import { gatewayQrSignCommand } from '../../cli/gateway-qr-sign.js';

const font = loadHexFont();
const URL = 'https://hall.example.gov.cn/rate?window=A03&hall=330106001';
const SPEC: QrSignSpec = qrSignSpecSchema.parse({ window: 'A03', hallName: '西湖区政务服务中心', area: '杭州市西湖区', url: URL });
const problems = (input: object): string[] => {
  const result = qrSignSpecSchema.safeParse({ ...SPEC, ...input });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};
const textBlocks = (layout: SignLayout): TextBlock[] => layout.blocks.filter((b): b is TextBlock => b.kind === 'text');

describe('the sign options (qrSignSpecSchema)', () => {
  it('takes a window, hall name, area and an http(s) URL; trims the texts', () => {
    expect(qrSignSpecSchema.parse({ window: '3', hallName: '  市民中心 ', url: 'http://10.0.0.5:8471/rate' })).toEqual({ window: '3', hallName: '市民中心', url: 'http://10.0.0.5:8471/rate' });
  });

  it('refuses a URL that is not http(s), not a URL, or too long, saying what it expects', () => {
    for (const url of ['ftp://hall.example/rate', 'javascript:alert(1)', 'hall.example.gov.cn/rate', '', `https://h.example/${'a'.repeat(600)}`]) {
      expect(problems({ url })).toEqual([expect.stringMatching(/^url: (expected the rating page as an http:\/\/ or https:\/\/ URL|the URL is longer than 512)/)]);
    }
  });

  it("refuses a window number outside the protocol's rule (1-16 characters), with spaces around it or control characters", () => {
    const rule = 'window: expected the window number as its terminal has it: 1-16 characters, e.g. A03';
    expect(problems({ window: '' })).toEqual([rule]);
    expect(problems({ window: 'W'.repeat(17) })).toEqual([rule]);
    expect(problems({ window: 3 })).toEqual(['window: Invalid input: expected string, received number']);
    expect(problems({ window: ' 3' })).toEqual(['window: the window number must not start or end with spaces']);
    expect(problems({ window: 'A\n3' })).toEqual(['window: the window number must be printable text (no control characters)']);
    expect(problems({ window: 'W'.repeat(16) })).toEqual([]);
  });

  it('refuses a blank or multi-line hall name and unknown options', () => {
    expect(problems({ hallName: '   ' })).toEqual(['hallName: the hall name must not be blank']);
    expect(problems({ hallName: '市民\n中心' })).toEqual(['hallName: the hall name must be one line of printable text (no control characters or line breaks)']);
    expect(problems({ area: 'x'.repeat(41) })).toEqual(['area: the area is longer than 40 characters']);
    expect(problems({ colour: 'red' })).toEqual([expect.stringMatching(/Unrecognized key/)]);
  });
});

describe('layoutSign', () => {
  it('puts everything on the A4 page inside its margins, top to bottom without overlap: area, hall, window, rule, words, QR, URL', () => {
    const layout = layoutSign(SPEC, { dpi: SIGN_DPI, font });
    expect(layout).toMatchObject({ width: 1654, height: 2339 });
    const margin = Math.round((15 * SIGN_DPI) / 25.4);
    const spans = layout.blocks.map((b) => {
      if (b.kind === 'rule') return { top: b.top, bottom: b.top + b.height, width: b.width };
      if (b.kind === 'qr') return { top: b.top, bottom: b.top + (b.size + 8) * b.modulePx, width: (b.size + 8) * b.modulePx };
      const widest = Math.max(...b.lines.map((l) => [...l].reduce((sum, ch) => sum + font.glyph(ch.codePointAt(0)!)!.width, 0)));
      return { top: b.top, bottom: b.top + b.lines.length * 16 * b.scale + (b.lines.length - 1) * b.lineGap, width: widest * b.scale };
    });
    expect(layout.blocks.map((b) => (b.kind === 'text' ? b.lines.join('|') : b.kind))).toEqual(['杭州市西湖区', '西湖区政务服务中心', '窗口 A03', 'rule', SIGN_HEADLINE, SIGN_EXPLANATION, 'qr', URL]);
    for (const [i, span] of spans.entries()) {
      expect(span.top).toBeGreaterThanOrEqual(margin);
      expect(span.bottom).toBeLessThanOrEqual(layout.height - margin);
      expect(span.width).toBeLessThanOrEqual(layout.width - 2 * margin);
      if (i > 0) expect(span.top).toBeGreaterThan(spans[i - 1]!.bottom);
    }
    // The window's title is the largest text; the QR code takes most of the width, in whole pixels per module.
    const scales = textBlocks(layout).map((b) => b.scale);
    expect(Math.max(...scales)).toBe(textBlocks(layout)[2]!.scale);
    const qr = layout.blocks.find((b) => b.kind === 'qr')!;
    expect(spans[6]!.width).toBeGreaterThan((layout.width - 2 * margin) * 0.6);
    expect(qr.kind === 'qr' && Number.isInteger(qr.modulePx) && qr.modulePx >= Math.round((0.8 * SIGN_DPI) / 25.4)).toBe(true);
  });

  it('wraps a long hall name onto two lines, smaller, and refuses one that does not fit even so, naming the option', () => {
    const long = layoutSign({ ...SPEC, hallName: '浙江省杭州市西湖区人民政府政务服务中心综合受理大厅' }, { dpi: SIGN_DPI, font });
    const hall = textBlocks(long)[1]!;
    expect(hall.lines).toHaveLength(2);
    expect(hall.lines.join('')).toBe('浙江省杭州市西湖区人民政府政务服务中心综合受理大厅');
    expect(hall.scale).toBeLessThan(textBlocks(layoutSign(SPEC, { dpi: SIGN_DPI, font }))[1]!.scale);
    const tooLong = (): SignLayout => layoutSign({ ...SPEC, hallName: '政务服务'.repeat(15) }, { dpi: SIGN_DPI, font });
    expect(tooLong).toThrow(SignContentError);
    expect(tooLong).toThrow(/too long for the sign: it takes more than 2 line\(s\)/);
  });

  it('refuses a character the font cannot draw, naming the option and the code point', () => {
    try {
      layoutSign({ ...SPEC, hallName: '市民中心 😀' }, { dpi: SIGN_DPI, font });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SignContentError);
      expect((err as SignContentError).field).toBe('hallName');
      expect((err as Error).message).toBe('the sign\'s font (GNU Unifont) cannot draw the character U+1F600 "😀"');
    }
  });

  it('keeps Latin words whole and breaks Chinese and URLs between characters', () => {
    expect(wrapText(font, 'Xihu District Service Centre', 8 * 16, 'hallName')).toEqual(['Xihu District', 'Service Centre']);
    expect(wrapText(font, '西湖区政务服务中心', 16 * 4, 'hallName')).toEqual(['西湖区政', '务服务中', '心']);
    expect(wrapText(font, 'https://hall.example.gov.cn/rate', 8 * 12, 'url').join('')).toBe('https://hall.example.gov.cn/rate');
    expect(wrapText(font, 'Supercalifragilistic', 8 * 8, 'hallName')).toEqual(['Supercal', 'ifragili', 'stic']);
  });

  it('titles the window 窗口 N, and a number that says 窗口 already as it is', () => {
    expect(windowTitle('A03')).toBe('窗口 A03');
    expect(windowTitle('3号窗口')).toBe('3号窗口');
  });
});

describe('renderQrSign', () => {
  let png: Buffer;
  let image: PNG;
  beforeAll(async () => {
    png = await renderQrSign(SPEC, 'png');
    image = PNG.sync.read(png);
  });

  it('PNG: A4 at 200 dpi (and says so), whose QR code reads back as the URL', () => {
    expect([image.width, image.height]).toEqual([1654, 2339]);
    expect(pngDpi(png)).toBe(200);
    expect(decodeQr(image)).toBe(URL);
  });

  it('PNG: the texts are drawn, centred, in order from the top: area, hall, 窗口 A03, the call to scan, the explanation, the URL', () => {
    const layout = layoutSign(SPEC, { dpi: SIGN_DPI, font });
    const tops = textBlocks(layout).map((block) => {
      const found = findCentredText(image, font, block.lines[0]!, block.scale);
      expect(found, block.lines[0]).toHaveLength(1);
      return found[0]!;
    });
    expect(tops).toEqual([...tops].sort((a, b) => a - b));
    // And a text that is not on the sign is not found: the search can fail.
    expect(findCentredText(image, font, '窗口 B07', textBlocks(layout)[2]!.scale)).toEqual([]);
  });

  it('PDF: one A4 page (595.28 x 841.89 pt) carrying the same picture, titled, with a sound cross-reference table', async () => {
    const pdf = await renderQrSign(SPEC, 'pdf', { now: () => new Date('2026-11-30T04:00:00Z') });
    const facts = readPdf(pdf);
    expect(facts.header).toMatch(/^%PDF-1\.\d/);
    expect(pdf.subarray(-6).toString('latin1')).toMatch(/%%EOF\n?$/);
    expect(facts.pages).toBe(1);
    expect(facts.mediaBoxes).toEqual([`0 0 ${A4_POINTS.width} ${A4_POINTS.height}`]);
    expect(facts.xrefSound).toBe(true);
    expect(facts.title).toBe('西湖区政务服务中心 窗口 A03 评价二维码');
    expect(facts.images).toHaveLength(1);
    const picture = PNG.sync.read(facts.images[0]!.png);
    expect([picture.width, picture.height]).toEqual([1654, 2339]);
    expect(Buffer.compare(picture.data, image.data)).toBe(0);
    // The same options and date give the same file.
    expect(Buffer.compare(await renderQrSign(SPEC, 'pdf', { now: () => new Date('2026-11-30T04:00:00Z') }), pdf)).toBe(0);
    expect(pdf.length).toBeLessThan(100_000);
  });

  it('says which package to install when the font is missing', async () => {
    await expect(renderQrSign(SPEC, 'png', { fontPath: '/nonexistent/unifont.hex' })).rejects.toThrow(/apt-get install unifont/);
  });
});

describe('gatewayQrSignCommand', () => {
  const run = async (options: Record<string, unknown>, deps: { fontPath?: string } = {}) => {
    const printed: string[] = [];
    const errors: string[] = [];
    const written: [string, Buffer][] = [];
    const code = await gatewayQrSignCommand(options, { ...deps, print: (t) => printed.push(t), printError: (t) => errors.push(t), writeFile: (path, bytes) => written.push([path, bytes]) });
    return { code, printed, errors, written };
  };

  it('writes the format the file name says, and prints the absolute path', async () => {
    const { code, printed, errors, written } = await run({ window: 'A03', hallName: '西湖区政务服务中心', url: URL, out: 'Sign-A03.PDF' });
    expect([code, errors]).toEqual([0, []]);
    expect(written).toHaveLength(1);
    expect(written[0]![0]).toBe(`${process.cwd()}/Sign-A03.PDF`);
    expect(written[0]![1].subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^wrote \S+\/Sign-A03\.PDF: the A4 sign for 西湖区政务服务中心 窗口 A03 \(PDF, \d+ KB, drawn at 200 dpi\); its QR code leads to https:/);
  });

  it('refuses in one line, naming every bad option, and writes nothing', async () => {
    const { code, errors, written } = await run({ window: '', hallName: '西湖区', url: 'mailto:x@example.com', out: 'sign.svg' });
    expect([code, written]).toEqual([1, []]);
    expect(errors).toEqual([
      'hcp gateway qr-sign: --window: expected the window number as its terminal has it: 1-16 characters, e.g. A03; --url: expected the rating page as an http:// or https:// URL, e.g. https://hall.example.gov.cn/rate; --out: expected the file to write, ending in .pdf or .png (the format comes from the name)',
    ]);
  });

  it("with --hall, the code leads to --url with the hall and the window (the gateway's list of the window's recent cases)", async () => {
    const { code, printed, errors, written } = await run({ window: 'A03', hallName: '西湖区政务服务中心', hall: 'XH-ZWFW', url: 'https://hall.example.gov.cn/rate', out: 'sign.png' });
    expect([code, errors]).toEqual([0, []]);
    const signUrl = 'https://hall.example.gov.cn/rate?hall=XH-ZWFW&window=A03';
    expect(decodeQr(PNG.sync.read(written[0]![1]))).toBe(signUrl);
    expect(printed[0]).toMatch(new RegExp(`its QR code leads to ${signUrl.replace(/[?.]/g, '\\$&')}$`));
    // A window already in the URL is replaced, not doubled; the page reads them back.
    const replaced = await run({ window: '3号窗口', hallName: '市民中心', hall: 'SM ZX', url: 'http://10.0.0.5:8471/rate?window=A01', out: 'sign.png' });
    expect(new globalThis.URL(decodeQr(PNG.sync.read(replaced.written[0]![1]))!).searchParams.toString()).toBe('window=3%E5%8F%B7%E7%AA%97%E5%8F%A3&hall=SM+ZX');
  });

  it('refuses a bad --hall, and a URL made too long by it, naming the option', async () => {
    const bad = await run({ window: 'A03', hallName: '西湖区', hall: ' XH', url: URL, out: 'sign.png' });
    expect([bad.code, bad.errors, bad.written]).toEqual([1, ['hcp gateway qr-sign: --hall: expected the hall code as the terminals register it (1-64 characters, no spaces around it), e.g. XH-ZWFW'], []]);
    const long = await run({ window: 'A03', hallName: '西湖区', hall: 'H'.repeat(64), url: `https://h.example/${'a'.repeat(440)}`, out: 'sign.png' });
    expect(long.code).toBe(1);
    expect(long.errors).toEqual([expect.stringMatching(/^hcp gateway qr-sign: --url: with the hall and the window the URL is longer than 512 characters/)]);
  });

  it('says a missing font in one line, with the package to install', async () => {
    const { code, errors } = await run({ window: 'A03', hallName: '西湖区', url: URL, out: 'sign.png' }, { fontPath: '/nonexistent/unifont.hex' });
    expect(code).toBe(1);
    expect(errors).toEqual(['hcp gateway qr-sign: the font file /nonexistent/unifont.hex is missing; install GNU Unifont with: apt-get install unifont']);
  });
});
