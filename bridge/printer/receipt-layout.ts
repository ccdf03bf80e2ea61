import { z } from 'zod';
import type { Service } from '../../protocol/records.js';
import { BIG_TEXT_COMMANDS, CHINESE_SELECTS } from '../../protocol/escpos/commands.js';
import { EscPosWriter, QR_QUIET_ZONE, qrMatrix } from '../../protocol/escpos/writer.js';

/**
 * How a receipt printer is set up: paper width in columns of half-width characters, how it draws
 * QR codes, and the commands it wants for Chinese text and big text (printers differ).
 */
export const printerProfileSchema = z.strictObject({
  /** 32 on 58 mm paper (384 dots), 48 on 80 mm paper (576 dots). */
  columns: z
    .union([z.literal(32), z.literal(48)], { error: 'columns must be 32 (58 mm paper) or 48 (80 mm paper)' })
    .default(32),
  /** native: the printer's own QR command (GS ( k); raster: a QR drawn here, sent as an image (GS v 0). */
  qr: z.enum(['native', 'raster']).default('native'),
  /** Dots per QR module, 1-16 (made smaller if the code would not fit the paper). */
  qrCellSize: z.number().int().min(1).max(16).default(4),
  qrErrorCorrection: z.enum(['L', 'M', 'Q', 'H']).default('M'),
  /** "FS &": Chinese mode (Epson and most); "ESC t": the code page codePage is GB18030; none: Chinese from power-on (Xprinter). */
  chinese: z.enum(CHINESE_SELECTS, { error: 'chinese must be "FS &", "ESC t" (with codePage) or "none"' }).default('FS &'),
  /** With chinese "ESC t": the printer's code page number for GB18030 (see its manual or self-test page). */
  codePage: z.number().int().min(0).max(255).optional(),
  /** "GS !": one command for all text; "FS !": FS ! for Chinese with ESC ! for the rest; "ESC !": ESC ! alone. */
  bigText: z.enum(BIG_TEXT_COMMANDS, { error: 'bigText must be "GS !", "FS !" or "ESC !"' }).default('GS !'),
}).refine((profile) => profile.chinese !== 'ESC t' || profile.codePage !== undefined, {
  path: ['codePage'],
  message: 'chinese "ESC t" needs codePage: the number of the printer\'s GB18030 code page (ESC t n)',
});
/** A parsed profile (every field present). Config files may leave fields out: parse with the schema. */
export type PrinterProfile = z.infer<typeof printerProfileSchema>;
export const DEFAULT_PRINTER_PROFILE: PrinterProfile = printerProfileSchema.parse({});

/** Printable dots per line for each paper width (12-dot half-width characters). */
export const DOTS_PER_LINE = { 32: 384, 48: 576 } as const;

export interface ReceiptContent {
  hallName: string;
  windowNo: string;
  staffId: string;
  services: Service[];
  printedAt: Date;
  /**
   * Whether the citizen rated at the counter. Never the grade: staff hand the receipt over, reprint
   * it, and see it on the printer, so a grade on paper would reach the counter (ARCHITECTURE
   * invariant 8). The citizen saw their grade on the terminal.
   */
  rated: boolean;
  /** Where the citizen rates later (or adds a follow-up rating, 追评): the QR code's content. */
  evaluationUrl: string;
  test: boolean;
  reprint: boolean;
}

/*
 * Display width. The brief asked for East Asian Width ranges (what `string-width` does, which is
 * not installed). But a printer in Chinese mode does not look at Unicode properties: every
 * single-byte character (ASCII) gets a half-width cell and every multi-byte GB18030 character a
 * full-width one. East Asian Width would count the "Ambiguous" characters that Chinese text is full
 * of (· — … “ ” ° × ※ №) as 1 column, and the printer prints them 2 wide: the line would overflow.
 * GB18030 encodes every code point other than U+0000-U+007F in 2 or 4 bytes, so the rule is exact:
 * ASCII 1, anything else 2. (Control characters never reach the printer: see clean().)
 */
export function charWidth(codePoint: number): 1 | 2 {
  return codePoint < 0x80 ? 1 : 2;
}

/** Columns `s` takes on paper at normal size (double-width text takes twice that). */
export function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) width += charWidth(ch.codePointAt(0)!);
  return width;
}

/**
 * Breaks `s` into lines of at most `width` columns, character by character (Chinese has no spaces
 * to break at). A run of ASCII that would be split is broken after its last space, '-' or '/'
 * instead, when it has one (330106202611220002-SUPPLEMENT breaks after the '-'); a closing mark
 * never starts a line (避头). A character wider than `width` (only if width is 1) gets a line of its own.
 */
export function wrap(s: string, width: number): string[] {
  if (width < 1) throw new RangeError(`cannot wrap text into ${width} columns`);
  const lines: string[] = [];
  let line = '';
  let used = 0;
  for (const ch of s) {
    const w = charWidth(ch.codePointAt(0)!);
    if (used + w > width && line !== '') {
      let [head, tail] = breakAsciiRun(line, ch);
      if (tail === '' && NO_LINE_START.includes(ch)) {
        const chars = [...head];
        // The character before the mark comes down with it (if the two fit on a line).
        if (chars.length > 1 && displayWidth(chars.at(-1)! + ch) <= width) tail = chars.pop()!;
        head = chars.join('');
      }
      lines.push(head);
      line = tail;
      used = displayWidth(line);
      if (ch === ' ' && line === '') continue; // no line starts with the space it broke at
    }
    line += ch;
    used += w;
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines.map((l) => l.trimEnd());
}

const WORD = /^[\x21-\x7e]+$/;

/** Splits a full line in front of `next`: after the last space, '-' or '/' of the ASCII word `next` continues, if any. */
function breakAsciiRun(line: string, next: string): [string, string] {
  if (!WORD.test(next)) return [line, ''];
  for (let i = line.length - 1; i > 0; i--) {
    const c = line[i]!;
    if (c === ' ') return [line.slice(0, i), line.slice(i + 1)];
    if (c === '-' || c === '/') return i === line.length - 1 ? [line, ''] : [line.slice(0, i + 1), line.slice(i + 1)];
    if (!WORD.test(c)) break;
  }
  return [line, ''];
}

/** Closing punctuation that must not begin a line (Chinese typesetting rule 避头). */
const NO_LINE_START = '，。、；：？！）】》」』”’…·%,.;:?!)]}';

/**
 * Like wrap(), with the lines made about as long as each other: for centred text, so that a hall
 * name one character too long for a line does not leave that character alone on the next.
 */
export function wrapBalanced(s: string, width: number): string[] {
  const greedy = wrap(s, width);
  if (greedy.length < 2) return greedy;
  for (let target = Math.ceil(displayWidth(s) / greedy.length); target < width; target++) {
    const attempt = wrap(s, target);
    if (attempt.length === greedy.length) return attempt;
  }
  return greedy;
}

/** Packs whole phrases onto lines of `width` columns; only a phrase longer than a line is broken. */
export function wrapPhrases(phrases: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const phrase of phrases) {
    if (displayWidth(line + phrase) <= width) {
      line += phrase;
      continue;
    }
    if (line !== '') lines.push(line);
    const pieces = wrap(phrase, width);
    line = pieces.pop() ?? '';
    lines.push(...pieces);
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** `label：value`, the value wrapped onto continuation lines indented under its first character. */
export function labelled(label: string, value: string, columns: number): string[] {
  const head = `${label}：`;
  const indent = displayWidth(head);
  if (columns - indent < 8) return [head, ...wrap(value, columns - 2).map((l) => `  ${l}`)];
  return wrap(value, columns - indent).map((l, i) => (i === 0 ? head : ' '.repeat(indent)) + l);
}

/** `YYYY-MM-DD HH:mm` in China Standard Time (Asia/Shanghai: UTC+8, no daylight saving since 1991). */
export function formatChinaTime(at: Date): string {
  const t = new Date(at.getTime() + 8 * 3600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}`;
}

/** Fields from other systems: control characters (a printer would take them for commands) become spaces. */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
}

/**
 * The QR cell size that fits: the profile's, made smaller until the code with its quiet zone is
 * within the paper width (a native code is printed without one, but the paper margin is not enough).
 */
export function fittingQrCellSize(data: string, profile: PrinterProfile): number {
  const modules = qrMatrix(data, profile.qrErrorCorrection).size + 2 * QR_QUIET_ZONE;
  const fit = Math.floor(DOTS_PER_LINE[profile.columns] / modules);
  if (fit < 1) throw new RangeError(`the evaluation URL makes a QR code too large for ${profile.columns}-column paper`);
  return Math.min(profile.qrCellSize, fit);
}

/**
 * The bytes of a case receipt (办件回执). Chinese first, plain, never wider than the paper. The QR
 * code is printed on every receipt, rated or not: unrated, it is the way to rate within 7 days;
 * rated, it opens the follow-up rating (追评) at the province, and the citizen keeps a receipt that
 * looks the same either way. What the link allows is the province's decision, not the printer's.
 */
export function layoutReceipt(content: ReceiptContent, profile: PrinterProfile): Buffer {
  const columns = profile.columns;
  const w = new EscPosWriter(profile).init();
  const rule = () => w.line('-'.repeat(columns));
  const field = (label: string, value: string) => {
    for (const l of labelled(label, clean(value), columns)) w.line(l);
  };
  const centred = (lines: string[]) => {
    w.align('center');
    for (const l of lines) w.line(l);
    w.align('left');
  };

  // Title: double width and height, so half as many columns.
  w.align('center').bold(true).size(2, 2);
  for (const l of wrapPhrases(content.reprint ? ['办件回执', '【补打】'] : ['办件回执'], Math.floor(columns / 2))) w.line(l);
  w.size(1, 1);
  if (content.test) centred(wrapPhrases(['*** ', '测试回执 ', '评价不计入统计', ' ***'], columns));
  w.bold(false);
  centred(wrapBalanced(clean(content.hallName), columns));
  rule();

  field('窗口', content.windowNo);
  field('工号', content.staffId);
  field('时间', formatChinaTime(content.printedAt));
  content.services.forEach((service, i) => {
    if (content.services.length > 1) w.line(`第${i + 1}件（共${content.services.length}件）`);
    const name = service.itemName !== undefined ? clean(service.itemName) : '';
    field('事项', name !== '' ? name : service.itemCode);
    if (name !== '') field('事项编码', service.itemCode);
    field('办件编号', service.caseNo);
  });
  rule();

  if (content.rated) {
    w.bold(true);
    centred(['已评价，感谢您的评价！']);
    w.bold(false);
    centred(wrapPhrases(['如需追评，', '请扫描下方二维码', '（7日内有效）'], columns));
  } else {
    w.bold(true);
    centred(wrapPhrases(['请扫描下方二维码', '对本次服务进行评价'], columns));
    w.bold(false);
    centred(['（7日内有效）']);
  }

  const qr = { errorCorrection: profile.qrErrorCorrection, cellSize: fittingQrCellSize(content.evaluationUrl, profile) };
  w.align('center');
  // A native code comes without a quiet zone: a blank line above and below keeps text out of it.
  if (profile.qr === 'native') w.feed(1).qrNative(content.evaluationUrl, qr).feed(1);
  else w.qrRaster(content.evaluationUrl, qr);
  w.align('left');
  rule();
  return w.feed(4).cut().bytes();
}
