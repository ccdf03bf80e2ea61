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
  /** ESC E n: bold on (1) / off (0). */
  bold: (on: boolean) => [ESC, 0x45, on ? 1 : 0],
  /** GS ! n: character size; width and height multipliers 1-8. */
  size: (width: number, height: number) => [GS, 0x21, ((width - 1) << 4) | (height - 1)],
  /** ESC a n: 0 left, 1 centre, 2 right. */
  align: (where: 'left' | 'center' | 'right') => [ESC, 0x61, where === 'left' ? 0 : where === 'center' ? 1 : 2],
  /** ESC d n: print and feed n lines. */
  feed: (lines: number) => [ESC, 0x64, lines],
  /** GS V 66 n: feed n dots, then a partial cut. */
  cut: [GS, 0x56, 0x42, 0x00],
} as const;

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
