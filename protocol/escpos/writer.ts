import iconv from 'iconv-lite';
import QRCode from 'qrcode';
import {
  bytesPerRow,
  CMD,
  LF,
  qrErrorCorrection,
  qrModuleSize,
  qrPrint,
  qrSelectModel,
  qrStore,
  rasterImageHeader,
  type BigTextCommand,
  type ChineseSelect,
  type QrErrorCorrection,
} from './commands.js';

/** A 1-bit image: rows of `bytesPerRow(width)` bytes, MSB = leftmost dot, 1 = black. */
export interface MonoBitmap {
  /** Dots. */
  width: number;
  height: number;
  bits: Uint8Array;
}

export interface QrOptions {
  errorCorrection: QrErrorCorrection;
  /** Dots per module, 1-16. */
  cellSize: number;
}

/** Text goes to the printer in GB18030 (how the printer is told: EscPosDialect.chinese). */
export const PRINTER_ENCODING = 'gb18030';

/** The commands a particular printer wants for Chinese text and big text (see commands.ts). */
export interface EscPosDialect {
  chinese: ChineseSelect;
  /** The code table that is GB18030 on this printer (ESC t n); used with chinese `ESC t`. */
  codePage?: number;
  bigText: BigTextCommand;
}

export const DEFAULT_DIALECT: EscPosDialect = { chinese: 'FS &', bigText: 'GS !' };
/** Modules of white around a raster QR code (the QR standard asks for 4). */
export const QR_QUIET_ZONE = 4;

/** C0 controls (but LF) and DEL/C1: a printer would take them for commands. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

function checkInt(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${what} must be an integer ${min}-${max}, got ${value}`);
}

/** The module matrix the `qrcode` package makes for `data` (byte mode, UTF-8). */
export function qrMatrix(data: string, errorCorrection: QrErrorCorrection): { size: number; dark(row: number, col: number): boolean } {
  const { modules } = QRCode.create(data, { errorCorrectionLevel: errorCorrection });
  return { size: modules.size, dark: (row, col) => modules.get(row, col) === 1 };
}

/**
 * A QR code as a bitmap: each module `cellSize` dots square, a quiet zone of 4 modules, and the
 * width padded to whole bytes with white split evenly between both sides (so it stays centred).
 */
export function qrBitmap(data: string, { errorCorrection, cellSize }: QrOptions): MonoBitmap {
  checkInt('QR cell size', cellSize, 1, 16);
  const matrix = qrMatrix(data, errorCorrection);
  const side = (matrix.size + 2 * QR_QUIET_ZONE) * cellSize;
  const rowBytes = bytesPerRow(side);
  const width = rowBytes * 8;
  const left = Math.floor((width - side) / 2) + QR_QUIET_ZONE * cellSize;
  const top = QR_QUIET_ZONE * cellSize;
  const bits = new Uint8Array(rowBytes * side);
  for (let y = 0; y < matrix.size * cellSize; y++) {
    const row = Math.floor(y / cellSize);
    const offset = (top + y) * rowBytes;
    for (let x = 0; x < matrix.size * cellSize; x++) {
      if (!matrix.dark(row, Math.floor(x / cellSize))) continue;
      const dot = left + x;
      bits[offset + (dot >> 3)]! |= 0x80 >> (dot & 7);
    }
  }
  return { width, height: side, bits };
}

/**
 * Builds the bytes of an ESC/POS print job, fluently:
 * `new EscPosWriter().init().align('center').line('办件回执').cut().bytes()`.
 * Command bytes come from commands.ts; this adds text encoding, QR codes and the printer's dialect.
 */
export class EscPosWriter {
  private readonly parts: Buffer[] = [];
  /** ESC ! carries bold too: kept so that a size change does not turn it off. */
  private boldOn = false;

  constructor(private readonly dialect: EscPosDialect = DEFAULT_DIALECT) {
    if (dialect.chinese === 'ESC t') checkInt('GB18030 code page', dialect.codePage ?? -1, 0, 255);
  }

  /** ESC @ (reset modes), then whatever makes the text below GB18030 on this printer. */
  init(): this {
    this.boldOn = false;
    this.raw(CMD.init);
    const { chinese, codePage } = this.dialect;
    if (chinese === 'FS &') return this.raw(CMD.chineseOn);
    if (chinese === 'ESC t') return this.raw(CMD.codePage(codePage!));
    return this;
  }

  /**
   * Text in GB18030, no line feed. Control characters other than LF are printed as '?': in a
   * field from the business system, an ESC would otherwise reach the printer as a command.
   */
  text(s: string): this {
    return this.push(iconv.encode(s.replace(CONTROL, '?'), PRINTER_ENCODING));
  }

  /** Text, then LF (prints the line; an empty one feeds a blank line). */
  line(s = ''): this {
    return this.text(s).raw([LF]);
  }

  bold(on: boolean): this {
    this.boldOn = on;
    return this.raw(CMD.bold(on));
  }

  /** Character size: width and height multipliers, 1-8 each with GS !, 1-2 with FS ! and ESC !. */
  size(width: number, height: number): this {
    const { bigText } = this.dialect;
    const most = bigText === 'GS !' ? 8 : 2;
    checkInt(`character width with ${bigText}`, width, 1, most);
    checkInt(`character height with ${bigText}`, height, 1, most);
    if (bigText === 'GS !') return this.raw(CMD.size(width, height));
    const mode = { bold: this.boldOn, doubleWidth: width === 2, doubleHeight: height === 2 };
    if (bigText === 'FS !') this.raw(CMD.chineseMode(mode));
    return this.raw(CMD.printMode(mode));
  }

  /** Justification (ESC a); takes effect at the start of a line, and for QR codes and images. */
  align(where: 'left' | 'center' | 'right'): this {
    return this.raw(CMD.align(where));
  }

  /** Prints what is buffered and feeds `lines` lines (ESC d), 0-255. */
  feed(lines: number): this {
    checkInt('feed', lines, 0, 255);
    return this.raw(CMD.feed(lines));
  }

  /** Partial cut (GS V 66 0). Feed first: the cutter sits a few lines above the print head. */
  cut(): this {
    return this.raw(CMD.cut);
  }

  /**
   * The printer's own QR code (GS ( k): model 2, module size, error correction, store, print.
   * The data is sent as UTF-8 bytes, which is what phone scanners expect in byte mode.
   */
  qrNative(data: string, { errorCorrection, cellSize }: QrOptions): this {
    checkInt('QR cell size', cellSize, 1, 16);
    return this.raw(qrSelectModel(2))
      .raw(qrModuleSize(cellSize))
      .raw(qrErrorCorrection(errorCorrection))
      .raw(qrStore(Buffer.from(data, 'utf8')))
      .raw(qrPrint());
  }

  /** A QR code drawn here (see qrBitmap) and sent as a raster image, for printers without GS ( k. */
  qrRaster(data: string, options: QrOptions): this {
    return this.image(qrBitmap(data, options));
  }

  /** GS v 0 m=0: `bits` holds `height` rows of `bytesPerRow(width)` bytes, MSB first, 1 = black. */
  image({ width, height, bits }: MonoBitmap): this {
    checkInt('image width', width, 1, 0xffff * 8);
    checkInt('image height', height, 1, 0xffff);
    const rowBytes = bytesPerRow(width);
    if (bits.length !== rowBytes * height) {
      throw new RangeError(`image of ${width}x${height} dots needs ${rowBytes * height} bytes of bits, got ${bits.length}`);
    }
    return this.raw(rasterImageHeader(rowBytes, height)).push(Buffer.from(bits));
  }

  /** Bytes as they are: for commands this writer has no method for (e.g. status requests). */
  raw(bytes: ArrayLike<number>): this {
    return this.push(Buffer.from(Array.from(bytes)));
  }

  /** Everything written so far (the writer can keep going). */
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }

  private push(part: Buffer): this {
    this.parts.push(part);
    return this;
  }
}
