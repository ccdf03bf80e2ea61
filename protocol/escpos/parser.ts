import iconv from 'iconv-lite';
import { DLE, EOT, ESC, FS, GS, LF, QR_CN, QR_FN, type QrErrorCorrection } from './commands.js';

/*
 * A streaming ESC/POS parser: what the virtual printer makes of the bytes it receives. Feed it
 * chunks of any size (a command may be split anywhere); it emits one item per printed line, QR
 * code, image, feed, cut, status request, and per command it ignores or does not know. Bad input is
 * counted, never thrown.
 *
 * Real-time commands (DLE EOT n) are found the way a printer finds them: by watching the raw byte
 * stream, so they are reported the moment their third byte arrives, even inside the data of another
 * command (printer manuals warn about exactly this: "10 04 01" in bit-image data is answered).
 */

export type Align = 'left' | 'center' | 'right';

export interface TextStyle {
  bold: boolean;
  /** Character width multiplier, 1-8. */
  width: number;
  /** Character height multiplier, 1-8. */
  height: number;
}

/** A stretch of one line printed in one style. */
export interface TextRun extends TextStyle {
  text: string;
  /** Received in Chinese mode: multi-byte characters are GB18030 and print full width. */
  chinese: boolean;
  /** Columns at normal size: 1 per single-byte character, 2 per multi-byte one. */
  columns: number;
}

export interface TextLine extends TextStyle {
  kind: 'text';
  /** The line's text (every run); '' for a blank line. */
  text: string;
  /** Justification in force when the line began (ESC a only acts at the start of a line). */
  align: Align;
  /** bold/width/height above are the first run's (the style in force, for a blank line). */
  runs: TextRun[];
}

export interface QrItem {
  kind: 'qr';
  /** The stored data as UTF-8 text. */
  data: string;
  bytes: Uint8Array;
  model: 1 | 2 | 'micro';
  /** Dots per module. */
  cellSize: number;
  errorCorrection: QrErrorCorrection;
  align: Align;
}

export interface ImageItem {
  kind: 'image';
  /** Dots (the byte width times 8). */
  width: number;
  height: number;
  /** `width / 8` bytes per row, MSB = leftmost dot, 1 = black. */
  bits: Uint8Array;
  /** GS v 0 m: 0 normal, 1 double width, 2 double height, 3 quadruple. */
  mode: 0 | 1 | 2 | 3;
  align: Align;
}

export interface FeedItem {
  kind: 'feed';
  lines: number;
}

export interface CutItem {
  kind: 'cut';
  partial: boolean;
  /** Dots fed before the cut (GS V 65/66 n). */
  feedDots: number;
}

/** DLE EOT n: the printer must answer one status byte at once. */
export interface StatusRequestItem {
  kind: 'status';
  n: number;
}

/** A command understood, with nothing to show in the simulator (line spacing, code page, …). */
export interface IgnoredItem {
  kind: 'ignored';
  command: string;
  length: number;
}

/** Bytes that are no command the printer knows, or a known command with bad parameters. */
export interface UnknownItem {
  kind: 'unknown';
  reason: string;
  /** The first bytes (at most 16). */
  bytes: number[];
  length: number;
}

/** What ends up on paper. */
export type PrintItem = TextLine | QrItem | ImageItem | FeedItem | CutItem;
export type EscPosItem = PrintItem | StatusRequestItem | IgnoredItem | UnknownItem;

/** width and height are of single-byte characters; Chinese characters have their own (FS !). */
export interface ParserState extends TextStyle {
  align: Align;
  /** Chinese mode (FS & / FS .): multi-byte characters are GB18030. */
  chinese: boolean;
  /** The code table selected with ESC t (0 after power-on). */
  codePage: number;
  chineseWidth: number;
  chineseHeight: number;
}

/** How a particular printer model reads Chinese and big text (see commands.ts CHINESE_SELECTS, BIG_TEXT_COMMANDS). */
export interface EscPosParserOptions {
  /**
   * Whether the printer is in Chinese mode after power-on and ESC @ (a memory switch on real
   * printers, on by default on e.g. Xprinter). Default false, so that a job that forgets FS &
   * shows up as mojibake.
   */
  chineseByDefault?: boolean;
  /** The code table (ESC t n) that is GB18030 on this printer; default none. */
  gb18030CodePage?: number;
  /** Whether ESC ! enlarges Chinese characters too (Epson: no, FS ! does that). Default false. */
  printModeSizesChinese?: boolean;
}

export function isPrintItem(item: EscPosItem): item is PrintItem {
  return item.kind === 'text' || item.kind === 'qr' || item.kind === 'image' || item.kind === 'feed' || item.kind === 'cut';
}

/** Columns a decoded character takes at normal size: full width for multi-byte GB18030 characters. */
export function charColumns(ch: string, chinese: boolean): 1 | 2 {
  return chinese && ch.codePointAt(0)! >= 0x80 ? 2 : 1;
}

const ALIGNS: readonly Align[] = ['left', 'center', 'right'];
const EC_LEVELS: readonly QrErrorCorrection[] = ['L', 'M', 'Q', 'H'];
const MAX_BARCODE = 255;

/** Commands of a fixed length that change nothing the simulator shows. Key: second byte. */
const IGNORED_ESC: Record<number, number> = {
  0x20: 3, 0x24: 4, 0x25: 3, 0x2d: 3, 0x32: 2, 0x33: 3, 0x3d: 3, 0x3f: 3, 0x47: 3, 0x4a: 3, 0x4d: 3,
  0x52: 3, 0x54: 3, 0x55: 3, 0x56: 3, 0x5c: 4, 0x65: 3, 0x70: 5, 0x7b: 3,
};
const IGNORED_GS: Record<number, number> = {
  0x24: 4, 0x2f: 3, 0x42: 3, 0x48: 3, 0x49: 3, 0x4c: 4, 0x50: 4, 0x57: 4, 0x5c: 4, 0x61: 3, 0x62: 3, 0x66: 3,
  0x68: 3, 0x72: 3, 0x77: 3,
};
const IGNORED_FS: Record<number, number> = { 0x2d: 3, 0x43: 3, 0x53: 4, 0x57: 3 };
/** Single control bytes a printer takes without complaint: HT, FF, CR, CAN. */
const IGNORED_CONTROL = new Set([0x09, 0x0c, 0x0d, 0x18]);

function commandName(bytes: ArrayLike<number>): string {
  const names: Record<number, string> = { [ESC]: 'ESC', [GS]: 'GS', [FS]: 'FS', [DLE]: 'DLE' };
  const first = bytes[0] ?? 0;
  const second = bytes[1];
  if (second === undefined) return `0x${first.toString(16).padStart(2, '0')}`;
  const shown = second >= 0x21 && second <= 0x7e ? String.fromCharCode(second) : `0x${second.toString(16).padStart(2, '0')}`;
  return `${names[first] ?? first} ${shown}`;
}

/** Run boundaries: a new run starts whenever the style or the mode changes within a line. */
interface OpenRun extends TextStyle {
  chinese: boolean;
  bytes: number[];
  columns: number;
}

export class EscPosParser {
  /** Bytes fed, items emitted by kind. */
  readonly counters = { bytes: 0, items: 0, unknown: 0, ignored: 0, statusRequests: 0 };
  private readonly listeners: ((item: EscPosItem) => void)[] = [];
  private readonly options: EscPosParserOptions;
  private style: ParserState;
  private qr: { model: 1 | 2 | 'micro'; cellSize: number; errorCorrection: QrErrorCorrection; data: Uint8Array | undefined };
  /** The line being received (printed at LF, ESC d, a cut, a QR code or an image). */
  private runs: OpenRun[] = [];
  private lineAlign: Align | undefined;
  /** Received bytes not yet parsed: buf[head, tail). */
  private buf = new Uint8Array(1024);
  private head = 0;
  private tail = 0;
  /** The last two raw bytes, for spotting DLE EOT n across chunks. */
  private prev1 = -1;
  private prev2 = -1;
  private emitted: EscPosItem[] = [];

  constructor(options: EscPosParserOptions = {}) {
    this.options = options;
    this.style = this.powerOnStyle();
    this.qr = EscPosParser.powerOnQr();
  }

  /** Parses everything in `bytes` at once. */
  static parse(bytes: Uint8Array, options?: EscPosParserOptions): EscPosItem[] {
    return new EscPosParser(options).feed(bytes);
  }

  /** Called for every item, in order, as soon as it is complete. */
  onItem(listener: (item: EscPosItem) => void): this {
    this.listeners.push(listener);
    return this;
  }

  /** Feeds a chunk; returns the items it completed (they also go to the onItem listeners). */
  feed(chunk: Uint8Array): EscPosItem[] {
    this.emitted = [];
    this.counters.bytes += chunk.length;
    for (const byte of chunk) {
      if (this.prev2 === DLE && this.prev1 === EOT && byte >= 1 && byte <= 4) this.emit({ kind: 'status', n: byte });
      this.prev2 = this.prev1;
      this.prev1 = byte;
      this.append(byte);
      this.parse();
    }
    return this.emitted;
  }

  /** The modes in force (after the bytes parsed so far). */
  get state(): Readonly<ParserState> {
    return { ...this.style };
  }

  /** Bytes received but not parsed yet (the start of an incomplete command), plus text not yet printed. */
  get pending(): number {
    return this.tail - this.head + this.runs.reduce((n, r) => n + r.bytes.length, 0);
  }

  private powerOnStyle(): ParserState {
    return { bold: false, width: 1, height: 1, align: 'left', chinese: this.options.chineseByDefault ?? false, codePage: 0, chineseWidth: 1, chineseHeight: 1 };
  }

  private static powerOnQr(): EscPosParser['qr'] {
    return { model: 2, cellSize: 3, errorCorrection: 'L', data: undefined };
  }

  private emit(item: EscPosItem): void {
    this.counters.items += 1;
    if (item.kind === 'unknown') this.counters.unknown += 1;
    if (item.kind === 'ignored') this.counters.ignored += 1;
    if (item.kind === 'status') this.counters.statusRequests += 1;
    this.emitted.push(item);
    for (const listener of this.listeners) listener(item);
  }

  private append(byte: number): void {
    if (this.tail === this.buf.length) {
      const used = this.tail - this.head;
      if (used * 2 <= this.buf.length) {
        this.buf.copyWithin(0, this.head, this.tail);
      } else {
        const grown = new Uint8Array(this.buf.length * 2);
        grown.set(this.buf.subarray(this.head, this.tail));
        this.buf = grown;
      }
      this.head = 0;
      this.tail = used;
    }
    this.buf[this.tail++] = byte;
  }

  private at(i: number): number | undefined {
    return this.head + i < this.tail ? this.buf[this.head + i] : undefined;
  }

  private get available(): number {
    return this.tail - this.head;
  }

  private parse(): void {
    while (this.head < this.tail) {
      const used = this.step();
      if (used === 0) return;
      this.head += used;
    }
    this.head = 0;
    this.tail = 0;
  }

  private unknown(length: number, reason: string): number {
    const bytes = Array.from(this.buf.subarray(this.head, this.head + Math.min(length, 16)));
    this.emit({ kind: 'unknown', reason, bytes, length });
    return length;
  }

  private ignored(length: number): number {
    this.emit({ kind: 'ignored', command: commandName(this.buf.subarray(this.head, this.head + Math.min(length, 2))), length });
    return length;
  }

  /** Parses one token at head; returns the bytes it took, or 0 if more bytes are needed. */
  private step(): number {
    const b = this.at(0)!;
    if (b === LF) {
      this.printLine();
      return 1;
    }
    if (b === ESC || b === GS || b === FS || b === DLE) {
      const c = this.at(1);
      if (c === undefined) return 0;
      if (b === ESC) return this.esc(c);
      if (b === GS) return this.gs(c);
      if (b === FS) return this.fs(c);
      return this.dle(c);
    }
    if (IGNORED_CONTROL.has(b)) return this.ignored(1);
    if (b < 0x20 || b === 0x7f) return this.unknown(1, 'control byte');
    return this.text(b);
  }

  /** Whether text is read as GB18030 now: in Chinese mode, or in the code table that is GB18030 here. */
  private get multiByte(): boolean {
    return this.style.chinese || (this.options.gb18030CodePage !== undefined && this.style.codePage === this.options.gb18030CodePage);
  }

  private text(b: number): number {
    if (!this.multiByte) return this.addText([b], 1);
    if (b < 0x80) return this.addText([b], 1);
    if (b === 0x80 || b === 0xff) return this.unknown(1, 'not a GB18030 lead byte');
    const b2 = this.at(1);
    if (b2 === undefined) return 0;
    if (b2 >= 0x30 && b2 <= 0x39) {
      if (this.available < 4) return 0;
      const b3 = this.at(2)!;
      const b4 = this.at(3)!;
      if (b3 < 0x81 || b3 > 0xfe || b4 < 0x30 || b4 > 0x39) return this.unknown(1, 'broken GB18030 four-byte character');
      return this.addText([b, b2, b3, b4], 2);
    }
    if ((b2 >= 0x40 && b2 <= 0x7e) || (b2 >= 0x80 && b2 <= 0xfe)) return this.addText([b, b2], 2);
    return this.unknown(1, 'GB18030 lead byte without a trail byte');
  }

  private addText(bytes: number[], columns: number): number {
    const chinese = this.multiByte;
    const { bold } = this.style;
    // A double-byte character takes the Chinese size, a single-byte one the other.
    const [width, height] = columns === 2 ? [this.style.chineseWidth, this.style.chineseHeight] : [this.style.width, this.style.height];
    if (this.lineAlign === undefined) this.lineAlign = this.style.align;
    let run = this.runs.at(-1);
    if (!run || run.bold !== bold || run.width !== width || run.height !== height || run.chinese !== chinese) {
      run = { bold, width, height, chinese, bytes: [], columns: 0 };
      this.runs.push(run);
    }
    run.bytes.push(...bytes);
    run.columns += columns;
    return bytes.length;
  }

  /** Prints the line buffer; with `blank`, an empty buffer still prints (LF feeds a blank line). */
  private printLine(blank = true): void {
    if (this.runs.length === 0 && !blank) return;
    const runs: TextRun[] = this.runs.map((r) => ({
      text: iconv.decode(Buffer.from(r.bytes), r.chinese ? 'gb18030' : 'cp437'),
      bold: r.bold,
      width: r.width,
      height: r.height,
      chinese: r.chinese,
      columns: r.columns,
    }));
    const first = runs[0] ?? this.style;
    this.emit({
      kind: 'text',
      text: runs.map((r) => r.text).join(''),
      align: this.lineAlign ?? this.style.align,
      bold: first.bold,
      width: first.width,
      height: first.height,
      runs,
    });
    this.runs = [];
    this.lineAlign = undefined;
  }

  private esc(c: number): number {
    switch (c) {
      case 0x40: // ESC @: modes back to power-on; the line buffer stays (see protocol/escpos.ts)
        this.style = this.powerOnStyle();
        this.qr = EscPosParser.powerOnQr();
        return 2;
      case 0x45: // ESC E n
      case 0x47: // ESC G n (double strike prints like bold)
      case 0x61: // ESC a n
      case 0x64: // ESC d n
      case 0x21: { // ESC ! n
        const n = this.at(2);
        if (n === undefined) return 0;
        if (c === 0x45 || c === 0x47) this.style.bold = (n & 1) === 1;
        else if (c === 0x61) {
          const align = ALIGNS[n >= 48 ? n - 48 : n];
          if (!align) return this.unknown(3, `ESC a ${n}: no such justification`);
          this.style.align = align;
        } else if (c === 0x64) {
          this.printLine(false);
          this.emit({ kind: 'feed', lines: n });
        } else {
          this.style.bold = (n & 0x08) !== 0;
          this.style.height = n & 0x10 ? 2 : 1;
          this.style.width = n & 0x20 ? 2 : 1;
          if (this.options.printModeSizesChinese) {
            this.style.chineseWidth = this.style.width;
            this.style.chineseHeight = this.style.height;
          }
        }
        return 3;
      }
      case 0x74: { // ESC t n: code table
        const n = this.at(2);
        if (n === undefined) return 0;
        this.style.codePage = n;
        return 3;
      }
      case 0x69: // ESC i, ESC m: old full / partial cut
      case 0x6d:
        this.printLine(false);
        this.emit({ kind: 'cut', partial: c === 0x6d, feedDots: 0 });
        return 2;
      default: {
        const length = IGNORED_ESC[c];
        if (length === undefined) return this.unknown(2, `unknown command ${commandName([ESC, c])}`);
        return this.available < length ? 0 : this.ignored(length);
      }
    }
  }

  private gs(c: number): number {
    switch (c) {
      case 0x21: { // GS ! n
        const n = this.at(2);
        if (n === undefined) return 0;
        const width = (n >> 4) + 1;
        const height = (n & 0x0f) + 1;
        if (width > 8 || height > 8) return this.unknown(3, `GS ! 0x${n.toString(16)}: size out of range`);
        this.style.width = this.style.chineseWidth = width;
        this.style.height = this.style.chineseHeight = height;
        return 3;
      }
      case 0x56: // GS V m [n]
        return this.cut();
      case 0x76: // GS v 0 m xL xH yL yH d…
        return this.raster();
      case 0x28: // GS ( X pL pH …
        return this.lengthPrefixed();
      case 0x6b: // GS k: barcode
        return this.barcode();
      default: {
        const length = IGNORED_GS[c];
        if (length === undefined) return this.unknown(2, `unknown command ${commandName([GS, c])}`);
        return this.available < length ? 0 : this.ignored(length);
      }
    }
  }

  private fs(c: number): number {
    if (c === 0x26 || c === 0x2e) {
      this.style.chinese = c === 0x26;
      return 2;
    }
    if (c === 0x21) { // FS ! n: Chinese characters' print mode
      const n = this.at(2);
      if (n === undefined) return 0;
      this.style.chineseWidth = n & 0x04 ? 2 : 1;
      this.style.chineseHeight = n & 0x08 ? 2 : 1;
      return 3;
    }
    const length = IGNORED_FS[c];
    if (length === undefined) return this.unknown(2, `unknown command ${commandName([FS, c])}`);
    return this.available < length ? 0 : this.ignored(length);
  }

  private dle(c: number): number {
    if (c === EOT || c === 0x05) {
      const n = this.at(2);
      if (n === undefined) return 0;
      if (c === 0x05) return this.ignored(3); // DLE ENQ n
      if (n < 1 || n > 4) return this.unknown(2, `DLE EOT ${n}: no such status`);
      return 3; // reported as it arrived (see feed)
    }
    if (c === 0x14) {
      const fn = this.at(2);
      if (fn === undefined) return 0;
      if (fn === 1 || fn === 2) return this.available < 5 ? 0 : this.ignored(5);
      return this.unknown(3, `DLE DC4 ${fn} is not modelled`);
    }
    return this.unknown(1, 'DLE without a real-time command');
  }

  private cut(): number {
    const m = this.at(2);
    if (m === undefined) return 0;
    if (m === 0 || m === 48 || m === 1 || m === 49) {
      this.printLine(false);
      this.emit({ kind: 'cut', partial: m === 1 || m === 49, feedDots: 0 });
      return 3;
    }
    if (m === 65 || m === 66 || m === 97 || m === 98 || m === 103 || m === 104) {
      const n = this.at(3);
      if (n === undefined) return 0;
      this.printLine(false);
      this.emit({ kind: 'cut', partial: m % 2 === 0, feedDots: n });
      return 4;
    }
    return this.unknown(3, `GS V ${m}: no such cut`);
  }

  private raster(): number {
    if (this.available < 8) return 0;
    if (this.at(2) !== 0x30) return this.unknown(2, 'GS v without 0');
    const m = this.at(3)!;
    const widthBytes = this.at(4)! + this.at(5)! * 256;
    const height = this.at(6)! + this.at(7)! * 256;
    if (!(m <= 3 || (m >= 48 && m <= 51))) return this.unknown(8, `GS v 0 ${m}: no such mode`);
    if (widthBytes === 0 || height === 0) return this.unknown(8, 'GS v 0 with an empty image');
    const total = 8 + widthBytes * height;
    if (this.available < total) return 0;
    this.printLine(false);
    this.emit({
      kind: 'image',
      width: widthBytes * 8,
      height,
      bits: this.buf.slice(this.head + 8, this.head + total),
      mode: (m & 3) as ImageItem['mode'],
      align: this.style.align,
    });
    return total;
  }

  private lengthPrefixed(): number {
    if (this.available < 5) return 0;
    const x = this.at(2)!;
    const total = 5 + this.at(3)! + this.at(4)! * 256;
    if (this.available < total) return 0;
    const name = `GS ( ${String.fromCharCode(x)}`;
    if (x !== 0x6b) return this.unknown(total, `${name} is not modelled`);
    const cn = this.at(5);
    const fn = this.at(6);
    if (cn !== QR_CN || fn === undefined) return this.unknown(total, `GS ( k symbol ${cn ?? '?'} is not modelled (only QR, 49)`);
    const p = this.at(7);
    switch (fn) {
      case QR_FN.selectModel: {
        const model = p === 49 ? 1 : p === 50 ? 2 : p === 51 ? 'micro' : undefined;
        if (model === undefined) return this.unknown(total, `QR model ${p}: no such model`);
        this.qr.model = model;
        return total;
      }
      case QR_FN.moduleSize:
        if (p === undefined || p < 1 || p > 16) return this.unknown(total, `QR module size ${p}: must be 1-16`);
        this.qr.cellSize = p;
        return total;
      case QR_FN.errorCorrection: {
        const level = p === undefined ? undefined : EC_LEVELS[p - 48];
        if (!level) return this.unknown(total, `QR error correction ${p}: must be 48-51`);
        this.qr.errorCorrection = level;
        return total;
      }
      case QR_FN.store:
        if (p !== 48 || total <= 8) return this.unknown(total, 'QR store without data');
        this.qr.data = this.buf.slice(this.head + 8, this.head + total);
        return total;
      case QR_FN.print: {
        const data = this.qr.data;
        if (!data) return this.unknown(total, 'QR print with no data stored');
        this.printLine(false);
        const { model, cellSize, errorCorrection } = this.qr;
        const text = Buffer.from(data).toString('utf8');
        this.emit({ kind: 'qr', data: text, bytes: data, model, cellSize, errorCorrection, align: this.style.align });
        return total;
      }
      case QR_FN.transmitSize:
        return this.ignored(total);
      default:
        return this.unknown(total, `QR function ${fn} is not modelled`);
    }
  }

  private barcode(): number {
    const m = this.at(2);
    if (m === undefined) return 0;
    if (m <= 6) {
      for (let i = 3; i < this.available; i++) if (this.at(i) === 0) return this.unknown(i + 1, 'barcodes (GS k) are not modelled');
      return this.available > 3 + MAX_BARCODE ? this.unknown(3, 'GS k data without its NUL') : 0;
    }
    if (m >= 65 && m <= 79) {
      const n = this.at(3);
      if (n === undefined || this.available < 4 + n) return 0;
      return this.unknown(4 + n, 'barcodes (GS k) are not modelled');
    }
    return this.unknown(3, `GS k ${m}: no such barcode system`);
  }
}
