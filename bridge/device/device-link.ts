import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ReadlineParser } from '@serialport/parser-readline';
import { LinkEndpoint, type LinkCounters, type LinkRejectReason, type LinkTimers } from '../../protocol/link.js';
import {
  deviceMessageSchema,
  SERIAL_PROTOCOL_VERSION,
  type BridgeMessage,
  type DeviceMessage,
  type Unsequenced,
} from '../../protocol/serial-messages.js';
import type { Logger } from '../log.js';

/** What the link needs of a serial port: serialport's SerialPort / SerialPortStream fit. */
export interface SerialPortLike extends Duplex {
  readonly isOpen: boolean;
  open(callback?: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
}

export type OpenSerialPort = (path: string, baudRate: number) => SerialPortLike;

export interface DeviceInfo {
  serial: string;
  fw: string;
  boot: string;
  proto: number;
}

/** A device report, with the identity of the terminal that sent it (when it has said hello). */
export type DeviceReport = Exclude<DeviceMessage, { type: 'ack' | 'hb' | 'hello' }>;

export interface DeviceLinkOptions {
  path: string;
  baudRate: number;
  openPort: OpenSerialPort;
  timers: LinkTimers;
  /** This link session's id, sent in our hello: new for every bridge process. */
  bootId: string;
  logger: Logger;
  /** Handles a report; the device is acknowledged only after this returns (i.e. after commit). */
  onReport(report: DeviceReport, device: DeviceInfo): void;
  link?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
  reconnectMs?: number;
  maxReconnectMs?: number;
}

export interface DeviceLinkStatus {
  path: string;
  portOpen: boolean;
  alive: boolean;
  device: DeviceInfo | null;
  unacknowledged: number;
  /** Reports left unacknowledged because the terminal had not said hello yet. */
  reportsBeforeHello: number;
  counters: LinkCounters;
}

/**
 * The bridge's end of the serial line to one terminal: keeps the port open (reopening it when
 * the cable comes back), and speaks the v1 line protocol over it.
 */
export class DeviceLink extends EventEmitter<{
  hello: [DeviceInfo];
  reject: [LinkRejectReason, string];
  port: ['open' | 'closed'];
}> {
  private port: SerialPortLike | undefined;
  private readonly link: LinkEndpoint<DeviceMessage, BridgeMessage>;
  private device: DeviceInfo | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  private stopped = true;
  private reportsBeforeHello = 0;

  constructor(private readonly opts: DeviceLinkOptions) {
    super();
    this.reconnectDelay = opts.reconnectMs ?? 500;
    this.link = new LinkEndpoint<DeviceMessage, BridgeMessage>({
      schema: deviceMessageSchema,
      timers: opts.timers,
      write: (frame) => this.write(frame),
      onMessage: (message) => this.handle(message),
      onReject: (reason, detail) => {
        opts.logger.warn({ reason, detail, port: opts.path }, 'serial frame rejected');
        this.emit('reject', reason, detail);
      },
      ...opts.link,
    });
  }

  start(): void {
    this.stopped = false;
    this.link.start();
    this.openPort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.link.stop();
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  send(message: Unsequenced<BridgeMessage>): number {
    return this.link.send(message);
  }

  status(): DeviceLinkStatus {
    return {
      path: this.opts.path,
      portOpen: this.port?.isOpen ?? false,
      alive: this.link.isPeerAlive(),
      device: this.device ?? null,
      unacknowledged: this.link.pendingCount,
      reportsBeforeHello: this.reportsBeforeHello,
      counters: this.link.counters,
    };
  }

  private openPort(): void {
    const port = this.opts.openPort(this.opts.path, this.opts.baudRate);
    this.port = port;
    const lines = port.pipe(new ReadlineParser({ delimiter: '\n', encoding: 'latin1' }));
    lines.on('data', (line: string) => this.link.receive(line));
    port.on('error', (err: Error) => this.opts.logger.warn({ err: err.message, port: this.opts.path }, 'serial error'));
    port.on('close', () => {
      this.emit('port', 'closed');
      this.scheduleReopen();
    });
    port.open((err) => {
      if (err) {
        this.opts.logger.warn({ err: err.message, port: this.opts.path }, 'cannot open serial port; retrying');
        this.scheduleReopen();
        return;
      }
      this.reconnectDelay = this.opts.reconnectMs ?? 500;
      this.emit('port', 'open');
      // Introduce ourselves: the terminal answers with its hello and replays what we missed.
      this.link.send({ type: 'hello', proto: SERIAL_PROTOCOL_VERSION, boot: this.opts.bootId });
    });
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.openPort();
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.opts.maxReconnectMs ?? 5000);
  }

  private write(frame: string): void {
    // A frame written while the cable is out is lost; reliable frames are resent later.
    if (this.port?.isOpen) this.port.write(frame, 'latin1');
  }

  private handle(message: DeviceMessage): void {
    if (message.type === 'ack' || message.type === 'hb') return;
    if (message.type === 'hello') {
      this.device = { serial: message.serial, fw: message.fw, boot: message.boot, proto: message.proto };
      if (message.proto !== SERIAL_PROTOCOL_VERSION) {
        this.opts.logger.warn({ device: this.device }, 'terminal speaks another serial protocol version');
      }
      this.emit('hello', this.device);
      return;
    }
    // Until the terminal says who it is (and which boot), a report cannot be deduplicated
    // safely: leave it unacknowledged, and the terminal resends it after its hello.
    if (!this.device) {
      this.reportsBeforeHello += 1;
      throw new Error('report before hello');
    }
    this.opts.onReport(message, this.device);
  }
}
