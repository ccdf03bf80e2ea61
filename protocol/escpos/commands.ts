/**
 * The ESC/POS subset the terminal's receipt printer speaks: the driver writes it, the virtual
 * printer parses it. Bytes only; text encoding (GB18030) is the driver's and the parser's job.
 */
export const ESC = 0x1b;
export const GS = 0x1d;
export const FS = 0x1c;
export const DLE = 0x10;
export const EOT = 0x04;
export const LF = 0x0a;

export const CMD = {
  /** ESC @: initialise (clears modes, buffer stays). */
  init: [ESC, 0x40],
  /** FS &: enter Chinese (double-byte) character mode, GB18030 on the printers we support. */
  chineseOn: [FS, 0x26],
  /** FS .: leave Chinese mode (single-byte code page, PC437 after power-on). */
  chineseOff: [FS, 0x2e],
  /** ESC t n: select character code table n (on some printers one of them is GB18030). */
  codePage: (n: number) => [ESC, 0x74, n],
  /** ESC E n: bold on (1) / off (0). */
  bold: (on: boolean) => [ESC, 0x45, on ? 1 : 0],
  /** GS ! n: character size of every character; width and height multipliers 1-8. */
  size: (width: number, height: number) => [GS, 0x21, ((width - 1) << 4) | (height - 1)],
  /** ESC ! n: print mode of single-byte characters: bit 3 bold, bit 4 double height, bit 5 double width. */
  printMode: (mode: { bold: boolean; doubleWidth: boolean; doubleHeight: boolean }) => [
    ESC,
    0x21,
    (mode.bold ? 0x08 : 0) | (mode.doubleHeight ? 0x10 : 0) | (mode.doubleWidth ? 0x20 : 0),
  ],
  /** FS ! n: print mode of Chinese (double-byte) characters: bit 2 double width, bit 3 double height. */
  chineseMode: (mode: { doubleWidth: boolean; doubleHeight: boolean }) => [FS, 0x21, (mode.doubleWidth ? 0x04 : 0) | (mode.doubleHeight ? 0x08 : 0)],
  /** ESC a n: 0 left, 1 centre, 2 right. */
  align: (where: 'left' | 'center' | 'right') => [ESC, 0x61, where === 'left' ? 0 : where === 'center' ? 1 : 2],
  /** ESC d n: print and feed n lines. */
  feed: (lines: number) => [ESC, 0x64, lines],
  /** GS V 66 n: feed n dots, then a partial cut. */
  cut: [GS, 0x56, 0x42, 0x00],
} as const;

/**
 * How a printer is told that text is GB18030, printer by printer: `FS &` (Chinese mode, Epson and
 * most), `ESC t` (a code page that is GB18030 on that printer), or `none` (Chinese from power-on,
 * e.g. Xprinter: the bytes are sent with no command at all).
 */
export const CHINESE_SELECTS = ['FS &', 'ESC t', 'none'] as const;
export type ChineseSelect = (typeof CHINESE_SELECTS)[number];

/**
 * How big text is made: `GS !` (every character, 1-8 times), `FS !` (Chinese characters, sent with
 * `ESC !` for the others; double only), or `ESC !` alone (double only; on printers that apply it to
 * Chinese characters too).
 */
export const BIG_TEXT_COMMANDS = ['GS !', 'FS !', 'ESC !'] as const;
export type BigTextCommand = (typeof BIG_TEXT_COMMANDS)[number];

/** GS v 0 m xL xH yL yH d1…dk: print a raster bit image (1 = black, MSB = leftmost dot). */
export const RASTER_IMAGE = [GS, 0x76, 0x30] as const;
/** GS ( k pL pH cn fn …: 2D symbols. cn 49 is QR code; the manuals call fn 65 "function 165", and so on. */
export const SYMBOL_2D = [GS, 0x28, 0x6b] as const;
export const QR_CN = 49;
export const QR_FN = {
  /** 165: select the model (n1 49 model 1, 50 model 2, 51 micro QR; n2 0). */
  selectModel: 65,
  /** 167: module (cell) size in dots, 1-16. */
  moduleSize: 67,
  /** 169: error correction level, 48-51 (L, M, Q, H). */
  errorCorrection: 69,
  /** 180: store the data in the symbol storage area (m 48). */
  store: 80,
  /** 181: print the stored symbol (m 48). */
  print: 81,
  /** 182: transmit the size of the stored symbol (the printer answers; not used by the driver). */
  transmitSize: 82,
} as const;
export const QR_MODEL = { 1: 49, 2: 50, micro: 51 } as const;
/** Most bytes a model 2 QR code holds (version 40, level L, numeric); byte data holds 2953. */
export const QR_MAX_DATA = 7089;

/** How many bytes one row of a bitmap `width` dots wide takes (rows are padded to whole bytes). */
export function bytesPerRow(width: number): number {
  return Math.ceil(width / 8);
}

function symbolCommand(fn: number, params: ArrayLike<number>): number[] {
  const length = params.length + 2; // pL pH count the bytes after them: cn, fn and the parameters
  return [...SYMBOL_2D, length & 0xff, length >> 8, QR_CN, fn, ...Array.from(params)];
}

/** GS ( k function 165: select the QR model (2 unless told otherwise). */
export function qrSelectModel(model: keyof typeof QR_MODEL = 2): number[] {
  return symbolCommand(QR_FN.selectModel, [QR_MODEL[model], 0]);
}

/** GS ( k function 167: module size in dots, 1-16. */
export function qrModuleSize(dots: number): number[] {
  if (!Number.isInteger(dots) || dots < 1 || dots > 16) throw new RangeError(`QR module size must be 1-16 dots, got ${dots}`);
  return symbolCommand(QR_FN.moduleSize, [dots]);
}

/** GS ( k function 169: error correction level. */
export function qrErrorCorrection(level: QrErrorCorrection): number[] {
  return symbolCommand(QR_FN.errorCorrection, [QR_ERROR_CORRECTION[level]]);
}

/** GS ( k function 180: store `data` (already encoded bytes); pL pH count the data plus cn, fn and m. */
export function qrStore(data: ArrayLike<number>): number[] {
  if (data.length < 1 || data.length > QR_MAX_DATA) {
    throw new RangeError(`QR data must be 1-${QR_MAX_DATA} bytes, got ${data.length}`);
  }
  return symbolCommand(QR_FN.store, [48, ...Array.from(data)]);
}

/** GS ( k function 181: print the stored symbol. */
export function qrPrint(): number[] {
  return symbolCommand(QR_FN.print, [48]);
}

/**
 * GS v 0 header for an image `widthBytes` bytes (8 dots each) wide and `height` dots tall; the
 * rows of packed bits follow. m: 0 normal, 1 double width, 2 double height, 3 quadruple.
 */
export function rasterImageHeader(widthBytes: number, height: number, mode: 0 | 1 | 2 | 3 = 0): number[] {
  if (!Number.isInteger(widthBytes) || widthBytes < 1 || widthBytes > 0xffff) {
    throw new RangeError(`raster width must be 1-65535 bytes, got ${widthBytes}`);
  }
  if (!Number.isInteger(height) || height < 1 || height > 0xffff) throw new RangeError(`raster height must be 1-65535 dots, got ${height}`);
  return [...RASTER_IMAGE, mode, widthBytes & 0xff, widthBytes >> 8, height & 0xff, height >> 8];
}

/** QR error correction levels, as GS ( k function 169 takes them (48-51). */
export const QR_ERROR_CORRECTION = { L: 48, M: 49, Q: 50, H: 51 } as const;
export type QrErrorCorrection = keyof typeof QR_ERROR_CORRECTION;

/** DLE EOT n: real-time status requests; the printer answers one byte each, even when offline. */
export const STATUS_REQUEST = {
  printer: [DLE, EOT, 1],
  offlineCause: [DLE, EOT, 2],
  paper: [DLE, EOT, 4],
} as const;

export interface PrinterStatus {
  online: boolean;
  coverOpen: boolean;
  paper: 'ok' | 'low' | 'out';
}

/** Bits 1 and 4 are set in every status byte: how a real answer is told from line noise. */
export function isStatusByte(byte: number): boolean {
  return (byte & 0x93) === 0x12;
}

/** Reads the three answers to printer, offlineCause and paper requests. */
export function decodeStatus(printer: number, offlineCause: number, paper: number): PrinterStatus {
  return {
    online: (printer & 0x08) === 0,
    coverOpen: (offlineCause & 0x04) !== 0,
    paper: (paper & 0x60) !== 0 ? 'out' : (paper & 0x0c) !== 0 ? 'low' : 'ok',
  };
}

/** The three answers a printer in `status` gives: what the virtual printer sends back. */
export function encodeStatus(status: PrinterStatus): [number, number, number] {
  const printer = 0x12 | (status.online ? 0 : 0x08);
  const offlineCause = 0x12 | (status.coverOpen ? 0x04 : 0) | (status.paper === 'out' ? 0x20 : 0);
  const paper = 0x12 | (status.paper === 'low' ? 0x0c : 0) | (status.paper === 'out' ? 0x6c : 0);
  return [printer, offlineCause, paper];
}
