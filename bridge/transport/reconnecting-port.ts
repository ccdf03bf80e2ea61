import { EventEmitter } from 'node:events';
import type { Timers } from '../../protocol/timers.js';
import type { Logger } from '../log.js';
import type { SerialPortLike } from './transport.js';

export interface ReconnectingPortOptions {
  /** The device's address as configured, for log lines. */
  path: string;
  /** Makes a new port to the device, not yet open (openTransport): at start and on every reconnect. */
  openPort: () => SerialPortLike;
  timers: Timers;
  logger: Logger;
  /** What the port is for, in log lines: "terminal", "printer". */
  role: string;
  reconnectMs?: number;
  maxReconnectMs?: number;
}

/**
 * A port that stays open, whatever carries it (serial, TCP, a USB printer device): opened at
 * start, reopened (with backoff) whenever the cable is pulled, the connection drops or the device
 * is not there yet. Bytes written while it is closed are dropped.
 */
export class ReconnectingPort extends EventEmitter<{ data: [Buffer]; open: []; close: [] }> {
  private port: SerialPortLike | undefined;
  private reconnectTimer: unknown;
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
    this.opts.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
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
    const port = opts.openPort();
    this.port = port;
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.on('error', (err: Error) => opts.logger.warn({ err: err.message, port: opts.path }, `${opts.role} port error`));
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
          opts.logger.warn({ err: err.message, port: opts.path }, `cannot open the ${opts.role} port; retrying`);
          this.scheduleReopen();
          return;
        }
        this.reconnectDelay = opts.reconnectMs ?? 500;
        this.emit('open');
      });
    });
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = this.opts.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.open();
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.opts.maxReconnectMs ?? 5000);
  }
}
