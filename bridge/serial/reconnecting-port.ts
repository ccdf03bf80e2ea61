import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';

/** What we need of a serial port: serialport's SerialPort / SerialPortStream fit. */
export interface SerialPortLike extends Duplex {
  readonly isOpen: boolean;
  open(callback?: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
}

export type OpenSerialPort = (path: string, baudRate: number) => SerialPortLike;

export interface ReconnectingPortOptions {
  path: string;
  baudRate: number;
  openPort: OpenSerialPort;
  logger: Logger;
  /** What the port is for, in log lines: "terminal", "printer". */
  role: string;
  reconnectMs?: number;
  maxReconnectMs?: number;
}

/**
 * A serial port that stays open: opened at start, reopened (with backoff) whenever the cable
 * is pulled or the device is not there yet. Bytes written while it is closed are dropped.
 */
export class ReconnectingPort extends EventEmitter<{ data: [Buffer]; open: []; close: [] }> {
  private port: SerialPortLike | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  private stopped = true;
  private opening: Promise<void> | undefined;

  constructor(private readonly opts: ReconnectingPortOptions) {
    super();
    this.reconnectDelay = opts.reconnectMs ?? 500;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const port = this.port;
    this.port = undefined;
    // A port still opening (a board's handshake takes seconds) is closed as soon as it opens.
    await this.opening;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Writes if open; returns false (and drops the bytes) if not. */
  write(data: string | Buffer, encoding: BufferEncoding = 'latin1'): boolean {
    if (!this.port?.isOpen) return false;
    this.port.write(data, encoding);
    return true;
  }

  /** Resolves once what was written has left for the device. */
  drain(): Promise<void> {
    const port = this.port as (SerialPortLike & { drain?(cb: (err: Error | null) => void): void }) | undefined;
    if (!port?.isOpen || !port.drain) return Promise.resolve();
    return new Promise((resolve) => port.drain?.(() => resolve()));
  }

  private open(): void {
    const { opts } = this;
    const port = opts.openPort(opts.path, opts.baudRate);
    this.port = port;
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.on('error', (err: Error) => opts.logger.warn({ err: err.message, port: opts.path }, `${opts.role} serial error`));
    port.on('close', () => {
      this.emit('close');
      this.scheduleReopen();
    });
    this.opening = new Promise((settled) => {
      port.open((err) => {
        if (this.stopped) {
          if (err) settled();
          else port.close(() => settled());
          return;
        }
        settled();
        if (err) {
          opts.logger.warn({ err: err.message, port: opts.path }, `cannot open the ${opts.role} serial port; retrying`);
          this.scheduleReopen();
          return;
        }
        this.reconnectDelay = opts.reconnectMs ?? 500;
        this.emit('open');
      });
    });
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.open();
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.opts.maxReconnectMs ?? 5000);
  }
}
