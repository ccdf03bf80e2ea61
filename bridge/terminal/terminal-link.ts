import { EventEmitter } from 'node:events';
import { LinkEndpoint, type LinkCounters, type LinkRejectReason } from '../../protocol/link.js';
import type { Timers } from '../../protocol/timers.js';
import {
  terminalMessageSchema,
  SERIAL_PROTOCOL_VERSION,
  type BridgeMessage,
  type TerminalMessage,
  type Unsequenced,
} from '../../protocol/serial-messages.js';
import type { Logger } from '../log.js';
import { portAddress } from '../transport/address.js';
import { ReconnectingPort } from '../transport/reconnecting-port.js';
import { openTransport, type OpenSerialPort } from '../transport/transport.js';

export type { OpenSerialPort, SerialPortLike } from '../transport/transport.js';

export interface TerminalInfo {
  serial: string;
  fw: string;
  /** Lower-cased: the terminal may write its hex digits in either case. */
  boot: string;
  proto: number;
  /** The invitations this boot still holds a report for; absent or null if its firmware does not say. */
  pending?: string[] | null;
}

/** A report from the terminal (a rating, an expiry, a cancel, a stray or stuck button). */
export type TerminalReport = Exclude<TerminalMessage, { type: 'ack' | 'nak' | 'hb' | 'hello' | 'press' }>;

export interface TerminalLinkOptions {
  path: string;
  baudRate: number;
  openPort: OpenSerialPort;
  timers: Timers;
  /** This link session's id, sent in our hello: new for every bridge process. */
  bootId: string;
  logger: Logger;
  /** Handles a report; the terminal is acknowledged only after this returns (i.e. after commit). */
  onReport(report: TerminalReport, terminal: TerminalInfo): void;
  link?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
}

export interface TerminalLinkStatus {
  path: string;
  portOpen: boolean;
  /** The terminal is heard from and its hello was accepted: frames alone do not make a usable terminal. */
  alive: boolean;
  /** Who said hello on the line (forgotten when a hello is refused). */
  terminal: TerminalInfo | null;
  unacknowledged: number;
  /** Reports left unacknowledged because the terminal had not said hello yet. */
  reportsBeforeHello: number;
  counters: LinkCounters;
}

/**
 * The bridge's end of the serial line to one terminal: keeps the port open (reopening it when
 * the cable comes back), and speaks the v1 line protocol over it.
 */
export class TerminalLink extends EventEmitter<{
  hello: [TerminalInfo];
  /** A button pressed in test mode (self-test): not a rating, nothing is stored. */
  press: [number];
  /** The terminal acknowledged our reliable frame with this sequence number. */
  acknowledged: [number];
  reject: [LinkRejectReason, string];
}> {
  private readonly port: ReconnectingPort;
  private readonly link: LinkEndpoint<TerminalMessage, BridgeMessage>;
  private terminal: TerminalInfo | undefined;
  private reportsBeforeHello = 0;
  private greetedAt = -Infinity;

  constructor(private readonly opts: TerminalLinkOptions) {
    super();
    const address = portAddress(opts.path);
    this.port = new ReconnectingPort({
      ...opts,
      openPort: () => openTransport(address, opts.baudRate, { openSerialPort: opts.openPort, timers: opts.timers }),
      role: 'terminal',
    });
    this.link = new LinkEndpoint<TerminalMessage, BridgeMessage>({
      schema: terminalMessageSchema,
      timers: opts.timers,
      // A frame written while the cable is out is lost; reliable frames are resent later.
      write: (frame) => this.port.write(frame),
      onMessage: (message) => this.handle(message),
      voidPendingOnPeerReset: true,
      onAcknowledged: (seq) => this.emit('acknowledged', seq),
      onRefused: (seq, problem) => opts.logger.warn({ seq, problem, port: opts.path }, 'the terminal refused a frame'),
      onReject: (reason, detail, type) => {
        opts.logger.warn({ reason, detail, type, port: opts.path }, 'serial frame rejected');
        // A terminal whose hello we cannot accept is not one we can serve, however lively its line.
        if (type === 'hello') this.terminal = undefined;
        this.emit('reject', reason, detail);
      },
      ...opts.link,
    });
    // One line reader for the life of the link: a line cut by a pulled cable ends up garbled
    // and is dropped by its checksum.
    this.port.on('data', (chunk) => {
      this.link.receiveData(chunk.toString('latin1'));
      // Heard from but not introduced (its hello refused or lost): ask again, now and then.
      if (!this.terminal && this.link.isPeerAlive() && this.opts.timers.now() - this.greetedAt >= this.link.livenessMs) this.greet();
    });
    this.port.on('open', () => this.greet());
  }

  /** Introduces the bridge: the terminal answers with its hello and replays what we missed. */
  greet(): void {
    this.greetedAt = this.opts.timers.now();
    this.link.send({ type: 'hello', proto: SERIAL_PROTOCOL_VERSION, boot: this.opts.bootId });
  }

  start(): void {
    this.link.start();
    this.port.start();
  }

  async stop(): Promise<void> {
    this.link.stop();
    await this.port.stop();
  }

  send(message: Unsequenced<BridgeMessage>): number {
    return this.link.send(message);
  }

  status(): TerminalLinkStatus {
    return {
      path: this.opts.path,
      portOpen: this.port.isOpen,
      alive: this.terminal !== undefined && this.link.isPeerAlive(),
      terminal: this.terminal ?? null,
      unacknowledged: this.link.pendingCount,
      reportsBeforeHello: this.reportsBeforeHello,
      counters: this.link.counters,
    };
  }

  private handle(message: TerminalMessage): void {
    if (message.type === 'ack' || message.type === 'nak' || message.type === 'hb') return;
    if (message.type === 'press') {
      this.emit('press', message.button);
      return;
    }
    if (message.type === 'hello') {
      this.terminal = { serial: message.serial, fw: message.fw, boot: message.boot.toLowerCase(), proto: message.proto, pending: message.pending };
      if (message.proto !== SERIAL_PROTOCOL_VERSION) {
        this.opts.logger.warn({ terminal: this.terminal }, 'terminal speaks another serial protocol version');
      }
      this.emit('hello', this.terminal);
      return;
    }
    // Until the terminal says who it is (and which boot), a report cannot be deduplicated
    // safely: leave it unacknowledged, and the terminal resends it after its hello.
    if (!this.terminal) {
      this.reportsBeforeHello += 1;
      throw new Error('report before hello');
    }
    this.opts.onReport(message, this.terminal);
  }
}
