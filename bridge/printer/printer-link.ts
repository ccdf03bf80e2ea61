import { setTimeout as delay } from 'node:timers/promises';
import { decodeStatus, isStatusByte, STATUS_REQUEST, type PrinterStatus } from '../../protocol/escpos/commands.js';
import type { Logger } from '../log.js';
import { ReconnectingPort, type OpenSerialPort } from '../serial/reconnecting-port.js';

/** How long the line must be quiet before a status request. */
const QUIET_MS = 30;

/** The printer as the bridge sees it: what a status check found. */
export type PrinterCondition = 'ready' | 'paper_low' | 'paper_out' | 'cover_open' | 'offline' | 'disconnected';

export interface PrinterState {
  condition: PrinterCondition;
  status: PrinterStatus | null;
  checkedAt: string | null;
}

/** Whether a receipt can go out: paper low still prints (with an alarm). */
export function canPrint(condition: PrinterCondition): boolean {
  return condition === 'ready' || condition === 'paper_low';
}

export interface PrinterLinkOptions {
  path: string;
  baudRate: number;
  openPort: OpenSerialPort;
  logger: Logger;
  /** A printer that does not answer a status request within this is offline. */
  statusTimeoutMs: number;
  now: () => Date;
}

/**
 * The receipt printer on its serial port: checks its sensors (DLE EOT, answered in real time
 * even when the printer cannot print) and writes receipts. One operation at a time.
 */
export class PrinterLink {
  private readonly port: ReconnectingPort;
  private answers: number[] = [];
  private lastByteAt = 0;
  private onAnswer: (() => void) | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  private last: PrinterState = { condition: 'disconnected', status: null, checkedAt: null };

  constructor(private readonly opts: PrinterLinkOptions) {
    this.port = new ReconnectingPort({ ...opts, role: 'printer' });
    this.port.on('data', (chunk) => {
      this.lastByteAt = performance.now();
      // Only status answers come back; anything else is noise.
      for (const byte of chunk) if (isStatusByte(byte)) this.answers.push(byte);
      this.onAnswer?.();
    });
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
    // A printer answers DLE EOT wherever the bytes occur, also by chance inside raster data just
    // sent: let such stray answers arrive before asking, so they are not taken for ours.
    while (performance.now() - this.lastByteAt < QUIET_MS) await delay(QUIET_MS);
    this.answers = [];
    this.port.write(Buffer.from([...STATUS_REQUEST.printer, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper]));
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.opts.statusTimeoutMs);
      this.onAnswer = () => {
        if (this.answers.length < 3) return;
        clearTimeout(timer);
        resolve(true);
      };
    });
    this.onAnswer = undefined;
    if (!got) return { condition: 'offline', status: null };
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
