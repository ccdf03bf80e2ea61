import { describe, expect, it } from 'vitest';
import { layoutReceipt, printerProfileSchema, type PrinterProfile } from '../../bridge/printer/receipt-layout.js';
import { BIG_TEXT_COMMANDS, CHINESE_SELECTS } from '../../protocol/escpos/commands.js';
import { EscPosParser, type EscPosParserOptions, type TextLine } from '../../protocol/escpos/parser.js';
import { EscPosWriter } from '../../protocol/escpos/writer.js';
import { parseReceipts } from '../../simulator/printed-receipt.js';
import { printerModel } from '../../simulator/virtual-printer.js';
import { SAMPLE_RECEIPT } from '../support/sample-receipt.js';

/*
 * Printer profiles: how Chinese is sent (FS &, a code page with ESC t, or raw GB18030) and how big
 * text is made (GS !, FS ! with ESC !, ESC !). Each combination, read by a printer model that
 * matches it, prints legible Chinese at the sizes the layout asked for; a mismatch shows.
 */

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const GB18030_PAGE = 255;

function profileFor(chinese: PrinterProfile['chinese'], bigText: PrinterProfile['bigText']): PrinterProfile {
  return printerProfileSchema.parse({ chinese, bigText, ...(chinese === 'ESC t' && { codePage: GB18030_PAGE }) });
}

function printed(profile: PrinterProfile, model: EscPosParserOptions = printerModel(profile)) {
  const bytes = layoutReceipt(SAMPLE_RECEIPT, profile);
  const parser = new EscPosParser(model);
  const items = parser.feed(bytes);
  const [receipt] = parseReceipts(bytes, profile.columns, model);
  return { receipt: receipt!, title: items.find((i): i is TextLine => i.kind === 'text')!, unknown: parser.counters.unknown };
}

describe('printer profiles: every combination prints legible Chinese', () => {
  for (const chinese of CHINESE_SELECTS) {
    for (const bigText of BIG_TEXT_COMMANDS) {
      it(`Chinese by ${chinese}, big text by ${bigText}`, () => {
        const { receipt, title, unknown } = printed(profileFor(chinese, bigText));
        expect(unknown).toBe(0);
        const lines = receipt.lines().map((l) => l.trim());
        for (const expected of ['办件回执', '西湖区行政服务中心', '窗口：A03', '事项：食品经营许可', '办件编号：330106202611220001', '请扫描下方二维码', '（7日内有效）']) {
          expect(lines).toContain(expected);
        }
        expect(title).toMatchObject({ text: '办件回执', width: 2, height: 2, bold: true });
        expect(title.runs.every((r) => r.chinese && r.width === 2 && r.height === 2)).toBe(true);
        const body = receipt.items.filter((i): i is TextLine => i.kind === 'text').slice(1);
        expect(body.every((l) => l.runs.every((r) => r.width === 1 && r.height === 1))).toBe(true);
      });
    }
  }
});

describe('printer profiles: a profile that does not match the printer shows', () => {
  it('raw GB18030 to a printer not in Chinese mode from power-on: mojibake', () => {
    const { title } = printed(profileFor('none', 'GS !'), {});
    expect(title.text).not.toBe('办件回执');
  });

  it('ESC t with a code page that is not GB18030 on this printer: mojibake', () => {
    const { title } = printed(profileFor('ESC t', 'GS !'), { gb18030CodePage: 254 });
    expect(title.text).not.toBe('办件回执');
  });

  it('ESC ! alone on a printer where only FS ! enlarges Chinese (Epson): the title comes out small', () => {
    const { title } = printed(profileFor('FS &', 'ESC !'), {});
    expect(title).toMatchObject({ text: '办件回执', width: 1, height: 1 });
  });
});

describe('EscPosWriter dialects: exact bytes', () => {
  it('init: FS &, ESC t n, or nothing after ESC @', () => {
    expect(hex(new EscPosWriter({ chinese: 'FS &', bigText: 'GS !' }).init().bytes())).toBe('1b401c26');
    expect(hex(new EscPosWriter({ chinese: 'ESC t', codePage: 255, bigText: 'GS !' }).init().bytes())).toBe('1b401b74ff');
    expect(hex(new EscPosWriter({ chinese: 'none', bigText: 'GS !' }).init().bytes())).toBe('1b40');
    expect(() => new EscPosWriter({ chinese: 'ESC t', bigText: 'GS !' })).toThrow(/GB18030 code page/);
  });

  it('size: GS ! n; FS ! n (bit 2 wide, bit 3 tall) then ESC ! n; ESC ! n, keeping bold (bit 3)', () => {
    expect(hex(new EscPosWriter({ chinese: 'FS &', bigText: 'GS !' }).size(2, 2).bytes())).toBe('1d2111');
    expect(hex(new EscPosWriter({ chinese: 'FS &', bigText: 'FS !' }).size(2, 2).size(1, 1).bytes())).toBe('1c210c1b2130' + '1c21001b2100');
    expect(hex(new EscPosWriter({ chinese: 'FS &', bigText: 'ESC !' }).bold(true).size(2, 1).bytes())).toBe('1b4501' + '1b2128');
    expect(() => new EscPosWriter({ chinese: 'FS &', bigText: 'ESC !' }).size(3, 3)).toThrow(/character width with ESC ! must be an integer 1-2/);
  });

  it('FS ! sizes Chinese and ESC ! the rest; GS ! sizes both', () => {
    const mixed = (bigText: PrinterProfile['bigText'], model: EscPosParserOptions = {}) =>
      new EscPosParser(model)
        .feed(new EscPosWriter({ chinese: 'FS &', bigText }).init().size(2, 2).line('A3窗口').bytes())
        .find((i): i is TextLine => i.kind === 'text')!
        .runs.map((r) => `${r.text}:${r.width}x${r.height}`);
    expect(mixed('GS !')).toEqual(['A3窗口:2x2']);
    expect(mixed('FS !')).toEqual(['A3窗口:2x2']);
    expect(mixed('ESC !')).toEqual(['A3:2x2', '窗口:1x1']);
    expect(mixed('ESC !', { printModeSizesChinese: true })).toEqual(['A3窗口:2x2']);
  });
});

describe('printerProfileSchema: Chinese and big text', () => {
  it('takes each way, and wants the code page with ESC t', () => {
    expect(printerProfileSchema.parse({ chinese: 'ESC t', codePage: 255, bigText: 'FS !' })).toMatchObject({ chinese: 'ESC t', codePage: 255, bigText: 'FS !' });
    const missing = printerProfileSchema.safeParse({ chinese: 'ESC t' });
    expect(missing.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      `codePage: chinese "ESC t" needs codePage: the number of the printer's GB18030 code page (ESC t n)`,
    ]);
    expect(printerProfileSchema.safeParse({ chinese: 'GBK' }).error?.issues[0]?.message).toBe('chinese must be "FS &", "ESC t" (with codePage) or "none"');
    expect(printerProfileSchema.safeParse({ bigText: 'DOUBLE' }).error?.issues[0]?.message).toBe('bigText must be "GS !", "FS !" or "ESC !"');
  });
});
