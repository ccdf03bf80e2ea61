import { decodeStatus, isStatusByte, STATUS_REQUEST, type PrinterStatus } from '../../protocol/escpos/commands.js';
import type { PrinterCondition } from '../../protocol/printer.js';
import type { Timers } from '../../protocol/timers.js';
import type { Logger } from '../log.js';
import { portAddress, type PortAddress } from '../transport/address.js';
import { ReconnectingPort } from '../transport/reconnecting-port.js';
import { openTransport, type OpenSerialPort } from '../transport/transport.js';

/** How long the line must be quiet before a status request. */
const QUIET_MS = 30;

/** The printer as the bridge sees it: what the last status check found. */
export interface PrinterState {
  condition: PrinterCondition;
  status: PrinterStatus | null;
  checkedAt: string | null;
}

/** Whether a receipt can go out: paper low still prints (with an alarm), and so does a printer that cannot tell. */
export function canPrint(condition: PrinterCondition): boolean {
  return condition === 'ready' || condition === 'paper_low' || condition === 'unknown';
}

export interface PrinterLinkOptions {
  /** A serial port, tcp://host:port or /dev/usb/lp0 (see transport/address.ts). */
  path: string;
  baudRate: number;
  /** Serial ports (the other transports need none). */
  openPort: OpenSerialPort;
  timers: Timers;
  logger: Logger;
  /** A printer that does not answer a status request within this is offline. */
  statusTimeoutMs: number;
  now: () => Date;
}

/**
 * The receipt printer on its port (serial, TCP or USB printer class): checks its sensors (DLE
 * EOT, answered in real time even when the printer cannot print) and writes receipts. One
 * operation at a time.
 */
export class PrinterLink {
  private readonly port: ReconnectingPort;
  private readonly address: PortAddress;
  private answers: number[] = [];
  private lastByteAt = -Infinity;
  /** Whether the printer has answered a status request since the port opened. */
  private answered = false;
  private onAnswer: (() => void) | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  private last: PrinterState = { condition: 'disconnected', status: null, checkedAt: null };

  constructor(private readonly opts: PrinterLinkOptions) {
    this.address = portAddress(opts.path);
    this.port = new ReconnectingPort({
      ...opts,
      openPort: () => openTransport(this.address, opts.baudRate, { openSerialPort: opts.openPort, timers: opts.timers }),
      role: 'printer',
    });
    this.port.on('data', (chunk) => {
      this.lastByteAt = opts.timers.now();
      // Only status answers come back; anything else is noise.
      for (const byte of chunk) if (isStatusByte(byte)) this.answers.push(byte);
      this.onAnswer?.();
    });
    this.port.on('open', () => (this.answered = false));
    this.port.on('close', () => (this.last = { ...this.last, condition: 'disconnected' }));
  }

  start(): void {
    this.port.start();
  }

  stop(): Promise<void> {
    return this.port.stop();
  }

  get state(): PrinterState {
    return this.last;
  }

  /** Asks the printer for its paper, cover and online state. */
  check(): Promise<PrinterState> {
    return this.exclusive(async () => {
      this.last = { ...(await this.query()), checkedAt: this.opts.now().toISOString() };
      return this.last;
    });
  }

  /** Writes a receipt's bytes and waits until they have left for the printer. */
  write(bytes: Buffer): Promise<boolean> {
    return this.exclusive(async () => {
      if (!this.port.write(bytes)) return false;
      await this.port.drain();
      return true;
    });
  }

  private async query(): Promise<Omit<PrinterState, 'checkedAt'>> {
    if (!this.port.isOpen) return { condition: 'disconnected', status: null };
    const { timers } = this.opts;
    // A printer answers DLE EOT wherever the bytes occur, also by chance inside raster data just
    // sent: let such stray answers arrive before asking, so they are not taken for ours.
    while (timers.now() - this.lastByteAt < QUIET_MS) await new Promise((resolve) => timers.setTimeout(() => resolve(undefined), QUIET_MS));
    this.answers = [];
    // Listening before asking: a port may deliver the answers while the request is being written.
    const answered = new Promise<boolean>((resolve) => {
      const timer = timers.setTimeout(() => resolve(false), this.opts.statusTimeoutMs);
      this.onAnswer = () => {
        if (this.answers.length < 3) return;
        timers.clearTimeout(timer);
        resolve(true);
      };
    });
    this.port.write(Buffer.from([...STATUS_REQUEST.printer, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper]));
    const got = await answered;
    this.onAnswer = undefined;
    if (!got) {
      // Silence from a printer that answers is a hung printer. Many USB printer-class devices
      // never answer at all: for them silence says nothing, and receipts go on printing.
      const neverAnswers = this.address.kind === 'usb-lp' && !this.answered;
      return { condition: neverAnswers ? 'unknown' : 'offline', status: null };
    }
    this.answered = true;
    const [printer, cause, paper] = this.answers as [number, number, number];
    const status = decodeStatus(printer, cause, paper);
    const condition: PrinterCondition = status.coverOpen
      ? 'cover_open'
      : status.paper === 'out'
        ? 'paper_out'
        : !status.online
          ? 'offline'
          : status.paper === 'low'
            ? 'paper_low'
            : 'ready';
    return { condition, status };
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.busy.then(task, task);
    this.busy = run.catch(() => undefined);
    return run;
  }
}
