import { describe, expect, it } from 'vitest';
import {
  displayWidth,
  formatChinaTime,
  layoutReceipt,
  printerProfileSchema,
  wrap,
  type PrinterProfile,
  type ReceiptContent,
} from '../../bridge/printer/receipt-layout.js';
import { EscPosParser, type QrItem, type TextLine } from '../../protocol/escpos/parser.js';
import { parseReceipts, type PrintedReceipt } from '../../simulator/printed-receipt.js';
import { SAMPLE_RECEIPT, SAMPLE_URL } from '../support/sample-receipt.js';

const URL = SAMPLE_URL;

function content(overrides: Partial<ReceiptContent> = {}): ReceiptContent {
  return { ...SAMPLE_RECEIPT, ...overrides }; // printedAt 06:06 UTC: 14:06 in Beijing
}

const profile = (overrides: Partial<PrinterProfile> = {}): PrinterProfile => printerProfileSchema.parse(overrides);

/** The one receipt the layout makes, as the simulator's parser reads it. */
function print(c: ReceiptContent, p: PrinterProfile = profile()): PrintedReceipt {
  const receipts = parseReceipts(layoutReceipt(c, p), p.columns);
  expect(receipts).toHaveLength(1);
  return receipts[0]!;
}

const trimmed = (r: PrintedReceipt) => r.lines().map((l) => l.trim());
const textLines = (r: PrintedReceipt) => r.items.filter((i): i is TextLine => i.kind === 'text');

/** Columns a received line takes, counted from its bytes (1 per single-byte, 2 per multi-byte character) and size. */
const printedWidth = (line: TextLine) => line.runs.reduce((n, run) => n + run.columns * run.width, 0);

describe('layoutReceipt: content', () => {
  it('prints every field of a single service, Chinese first', () => {
    const r = print(content());
    expect(trimmed(r)).toEqual([
      '办件回执',
      '西湖区行政服务中心',
      '-'.repeat(32),
      '窗口：A03',
      '工号：S1001',
      '时间：2026-11-22 14:06',
      '事项：食品经营许可',
      '事项编码：330106-XK-0012',
      '办件编号：330106202611220001',
      '-'.repeat(32),
      '请扫描下方二维码',
      '对本次服务进行评价',
      '（7日内有效）',
      '-'.repeat(32),
    ]);
    expect(textLines(r)[0]).toMatchObject({ text: '办件回执', bold: true, width: 2, height: 2, align: 'center' });
    expect(r.lines()[1]).toBe('       西湖区行政服务中心'); // centred: (32 - 18) / 2
    expect(r.qrCodes()).toEqual([{ payload: URL, via: 'native' }]);
    expect(r.items.at(-1)).toMatchObject({ kind: 'cut' });
  });

  it('shows the item code as 事项 when there is no item name (and no separate 事项编码)', () => {
    const lines = trimmed(print(content({ services: [{ itemCode: '330106-QT-0301', caseNo: 'C-1' }] })));
    expect(lines).toContain('事项：330106-QT-0301');
    expect(lines.some((l) => l.startsWith('事项编码'))).toBe(false);
    expect(lines).toContain('办件编号：C-1');
  });

  it('lists each service of a batch of 3, numbered', () => {
    const services = [1, 2, 3].map((i) => ({ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: `33010620261122000${i}` }));
    const lines = trimmed(print(content({ services })));
    for (const i of [1, 2, 3]) {
      expect(lines).toContain(`第${i}件（共3件）`);
      expect(lines).toContain(`办件编号：33010620261122000${i}`);
    }
    expect(lines.filter((l) => l === '事项：食品经营许可')).toHaveLength(3);
    expect(lines.filter((l) => l === '事项编码：330106-XK-0012')).toHaveLength(3);
    expect(lines).toContain('窗口：A03');
    expect(lines).toContain('工号：S1001');
  });

  it('not rated: invites a rating by QR code within 7 days', () => {
    const text = trimmed(print(content())).join('');
    expect(text).toContain('请扫描下方二维码对本次服务进行评价');
    expect(text).toContain('（7日内有效）');
    expect(text).not.toContain('您的评价');
  });

  it('invitation on one line when the paper is wide enough', () => {
    expect(trimmed(print(content(), profile({ columns: 48 })))).toContain('请扫描下方二维码对本次服务进行评价');
  });

  it('rated: says so and thanks, never the grade (the counter hands it over), and keeps the QR code for a follow-up rating (追评)', () => {
    const r = print(content({ rated: true }));
    const lines = trimmed(r);
    expect(lines).toContain('已评价，感谢您的评价！');
    expect(lines.join('')).toContain('如需追评');
    expect(lines.join('')).not.toContain('对本次服务进行评价');
    expect(lines.join('')).not.toMatch(/您的评价：|满意/);
    expect(r.qrCodes()).toEqual([{ payload: URL, via: 'native' }]);
  });

  it('marks a reprint in the title and a test receipt with a 测试 line; neither otherwise', () => {
    const plain = trimmed(print(content()));
    expect(plain.join('')).not.toMatch(/补打|测试/);
    const marked = print(content({ reprint: true, test: true }));
    expect(textLines(marked)[0]).toMatchObject({ text: '办件回执【补打】', width: 2 });
    expect(trimmed(marked)).toContain('*** 测试回执 评价不计入统计 ***');
  });

  it('prints the time in China time, across midnight UTC', () => {
    expect(formatChinaTime(new Date('2026-11-22T16:30:00Z'))).toBe('2026-11-23 00:30');
    expect(formatChinaTime(new Date('2026-12-31T15:59:59Z'))).toBe('2026-12-31 23:59');
    expect(trimmed(print(content({ printedAt: new Date('2026-11-22T16:30:00Z') })))).toContain('时间：2026-11-23 00:30');
  });

  it('draws the QR code the profile asks for: native with its settings, or raster', () => {
    const native = print(content(), profile({ qrCellSize: 5, qrErrorCorrection: 'Q' }));
    expect(native.items.find((i): i is QrItem => i.kind === 'qr')).toMatchObject({ data: URL, cellSize: 5, errorCorrection: 'Q', align: 'center' });
    const raster = print(content(), profile({ qr: 'raster', columns: 48 }));
    expect(raster.items.some((i) => i.kind === 'qr')).toBe(false);
    expect(raster.qrCodes()).toEqual([{ payload: URL, via: 'raster' }]);
  });

  it('shrinks a QR cell size that would not fit the paper', () => {
    const r = print(content(), profile({ qr: 'raster', qrCellSize: 16 }));
    expect(r.images[0]!.width).toBeLessThanOrEqual(384);
    expect(r.qrCodes()).toEqual([{ payload: URL, via: 'raster' }]);
  });

  it('sends no byte the printer would not understand, even with control characters in the fields', () => {
    const bytes = layoutReceipt(content({ hallName: '西湖\x1b@区', services: [{ itemCode: 'X\x1dV1', caseNo: 'C\n2' }] }), profile());
    const parser = new EscPosParser();
    parser.feed(bytes);
    expect(parser.counters.unknown).toBe(0);
    expect(parser.counters.ignored).toBe(0);
  });
});

describe('layoutReceipt: never wider than the paper', () => {
  const longName = '关于个体工商户、农民专业合作社、小微企业（含分支机构）设立变更注销登记及食品经营许可（新办、变更、延续、注销）·告知承诺制一件事联办事项';
  const longCase = '330106202611220002-SUPPLEMENT-0001-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789';
  const longHall = '浙江省杭州市西湖区人民政府政务服务中心（西湖区市民之家·行政服务中心）三楼综合受理区';

  for (const columns of [32, 48] as const) {
    for (const qr of ['native', 'raster'] as const) {
      it(`${columns} columns, ${qr} QR: every line fits, long values wrap under the value`, () => {
        const r = print(
          content({
            hallName: longHall,
            staffId: 'S1001-with-a-very-long-staff-identifier-0001',
            services: [
              { itemCode: '330106-XK-0012', itemName: longName, caseNo: longCase },
              { itemCode: 'A'.repeat(64), caseNo: '9'.repeat(64) },
            ],
            rated: true,
            test: true,
            reprint: true,
          }),
          profile({ columns, qr }),
        );
        for (const line of textLines(r)) expect(printedWidth(line), line.text).toBeLessThanOrEqual(columns);
        // The printer had nothing to wrap itself: one printed row per line sent.
        expect(r.lines()).toHaveLength(textLines(r).length);
        for (const line of r.lines()) expect(displayWidth(line)).toBeLessThanOrEqual(columns);

        // Continuation lines sit under the value, and together give it back whole.
        const lines = r.lines();
        const valueOf = (label: string) => {
          const start = lines.findIndex((l) => l.startsWith(`${label}：`));
          const indent = displayWidth(`${label}：`);
          let value = lines[start]!.slice(label.length + 1);
          for (let i = start + 1; i < lines.length && lines[i]!.startsWith(' '.repeat(indent)) && lines[i]!.trim() !== ''; i++) {
            value += lines[i]!.trim();
          }
          return value;
        };
        expect(valueOf('事项')).toBe(longName);
        expect(valueOf('办件编号')).toBe(longCase);
        expect(trimmed(r).join('')).toContain(longHall.slice(-6));
        expect(r.qrCodes()).toEqual([{ payload: URL, via: qr }]);
      });
    }
  }
});

describe('display width and wrapping', () => {
  it('counts what the printer prints: ASCII half width, every multi-byte GB18030 character full width', () => {
    expect(displayWidth('A03')).toBe(3);
    expect(displayWidth('办件回执')).toBe(8);
    expect(displayWidth('·—…“”')).toBe(10); // "ambiguous" in Unicode, full width on the printer
    expect(displayWidth('（7日内有效）')).toBe(13);
    expect(displayWidth('😀')).toBe(2);
  });

  it('wraps by width, never splits a surrogate pair, keeps closing marks off the start of a line', () => {
    expect(wrap('一二三四五六七', 6)).toEqual(['一二三', '四五六', '七']);
    expect(wrap('😀😀😀', 4)).toEqual(['😀😀', '😀']);
    expect(wrap('一二三，四', 6)).toEqual(['一二', '三，四']);
    expect(wrap('abc-defgh', 6)).toEqual(['abc-', 'defgh']);
    expect(wrap('ab cd efgh', 7)).toEqual(['ab cd', 'efgh']);
    expect(wrap('', 5)).toEqual(['']);
    for (const line of wrap('测试A测试BB测试', 5)) expect(displayWidth(line)).toBeLessThanOrEqual(5);
  });
});

describe('printerProfileSchema', () => {
  it('has defaults: 32 columns, native QR, cell 4, level M, Chinese after FS &, big text with GS !', () => {
    expect(printerProfileSchema.parse({})).toEqual({ columns: 32, qr: 'native', qrCellSize: 4, qrErrorCorrection: 'M', chinese: 'FS &', bigText: 'GS !' });
  });

  it('refuses what a printer cannot do, saying what is wrong', () => {
    const result = printerProfileSchema.safeParse({ columns: 40, qrCellSize: 0, qr: 'laser' });
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(messages).toContain('columns must be 32 (58 mm paper) or 48 (80 mm paper)');
    expect(messages).toContain('qrCellSize');
    expect(messages).toContain('qr:');
  });
});
