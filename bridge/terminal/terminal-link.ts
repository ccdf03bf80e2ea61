import { EventEmitter } from 'node:events';
import { LinkEndpoint, type LinkCounters, type LinkRejectReason } from '../../protocol/link.js';
import { lineSession, lineTagger, verifyFrameJson, type LineTagger } from '../../protocol/line-auth.js';
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
import type { Pairing } from './pairing.js';

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
export type TerminalReport = Exclude<TerminalMessage, { type: 'ack' | 'nak' | 'hb' | 'hello' | 'press' | 'choosing' }>;

export interface TerminalLinkOptions {
  path: string;
  baudRate: number;
  openPort: OpenSerialPort;
  timers: Timers;
  /** This link session's id, sent in our hello: new for every bridge process. */
  bootId: string;
  logger: Logger;
  /** The key shared with the terminal and its pinned serial (bridge/terminal/pairing.ts). */
  pairing: Pairing;
  /** Handles a report; the terminal is acknowledged only after this returns (i.e. after commit). */
  onReport(report: TerminalReport, terminal: TerminalInfo): void;
  link?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
}

export interface TerminalLinkStatus {
  path: string;
  /** This bridge's boot id on the line (its hello): with the terminal's, the session tags are made for. */
  bootId: string;
  portOpen: boolean;
  /** The terminal is heard from and its hello was accepted: frames alone do not make a usable terminal. */
  alive: boolean;
  /** Who said hello on the line (forgotten when a hello is refused). */
  terminal: TerminalInfo | null;
  unacknowledged: number;
  /** Reports left unacknowledged because the terminal had not said hello yet. */
  reportsBeforeHello: number;
  /**
   * The paired device (null: none has taken the key yet) and, once a hello came from another
   * device, that device's serial: nothing is taken from the line until a technician re-pairs.
   */
  pairing: { serial: string | null; replacedBy: string | null };
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
  /** After a bad grade for invitation `inv`, the terminal offers `choices` reasons on its first buttons. */
  choosing: [inv: string, choices: number];
  /** The terminal acknowledged our reliable frame with this sequence number. */
  acknowledged: [number];
  reject: [LinkRejectReason, string];
  /** A terminal took the pairing key and its serial is now pinned. */
  paired: [string];
  /** A hello came from a device other than the paired one (the alarm terminal_replaced). */
  replaced: [string];
}> {
  private readonly port: ReconnectingPort;
  private readonly link: LinkEndpoint<TerminalMessage, BridgeMessage>;
  private terminal: TerminalInfo | undefined;
  private reportsBeforeHello = 0;
  private greetedAt = -Infinity;
  private readonly tagger: LineTagger;
  private replacedBy: string | null = null;
  /** Our latest hello while unacknowledged, and the pairing key's frame while on offer. */
  private helloSeq: number | null = null;
  private pairSeq: number | null = null;

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
      // What we send is not tagged: only the terminal's reports can rate (docs/protocol.md).
      auth: { seal: (json) => json, check: (message, json) => this.check(message, json) },
      onAcknowledged: (seq) => {
        if (seq === this.helloSeq) this.helloSeq = null;
        if (seq === this.pairSeq) {
          // The terminal holds the key: its next hello, for this session, is tagged.
          this.pairSeq = null;
          this.greet();
        }
        this.emit('acknowledged', seq);
      },
      onRefused: (seq, problem) => opts.logger.warn({ seq, problem, port: opts.path }, 'the terminal refused a frame'),
      onReject: (reason, detail, type) => {
        // An unpaired terminal's hello is how pairing starts (it is offered the key): news, not a fault.
        if (reason === 'unpaired') opts.logger.info({ detail, port: opts.path }, 'an unpaired terminal said hello: offered the pairing key');
        else opts.logger.warn({ reason, detail, type, port: opts.path }, 'serial frame rejected');
        // A terminal whose hello we cannot accept is not one we can serve, however lively its line.
        // A hello refused for its tag or session is not the terminal's to spend: a forger's would
        // otherwise take the paired terminal offline (another device's is handled in checkHello).
        if (type === 'hello' && reason === 'schema') this.terminal = undefined;
        this.emit('reject', reason, detail);
      },
      ...opts.link,
    });
    this.tagger = lineTagger(opts.pairing.key);
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
    if (this.helloSeq !== null) this.link.withdraw(this.helloSeq);
    this.helloSeq = this.link.send({ type: 'hello', proto: SERIAL_PROTOCOL_VERSION, boot: this.opts.bootId });
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
      bootId: this.opts.bootId,
      portOpen: this.port.isOpen,
      alive: this.terminal !== undefined && this.link.isPeerAlive(),
      terminal: this.terminal ?? null,
      unacknowledged: this.link.pendingCount,
      reportsBeforeHello: this.reportsBeforeHello,
      pairing: { serial: this.opts.pairing.serial, replacedBy: this.replacedBy },
      counters: this.link.counters,
    };
  }

  /** Whether a reliable frame from the line may be handled: see LinkRejectReason. */
  private check(message: TerminalMessage, json: string): LinkRejectReason | null {
    if (message.type === 'hello') return this.checkHello(message, json);
    if (this.replacedBy !== null) return 'foreign_device';
    // No session before a hello is taken: handle() leaves the report for its resend after the hello.
    if (!this.terminal) return null;
    return verifyFrameJson(this.tagger, lineSession(this.terminal.boot, this.opts.bootId), json) ? null : 'unauthenticated';
  }

  private checkHello(hello: Extract<TerminalMessage, { type: 'hello' }>, json: string): LinkRejectReason | null {
    const pinned = this.opts.pairing.serial;
    if (this.replacedBy !== null || (pinned !== null && hello.serial !== pinned)) {
      if (this.replacedBy === null) {
        this.replacedBy = hello.serial;
        this.opts.logger.error({ paired: pinned, heard: hello.serial, port: this.opts.path }, 'a different device answers on the terminal line: nothing is taken from it until a technician re-pairs (hcp pair)');
        this.emit('replaced', hello.serial);
      }
      this.terminal = undefined;
      return 'foreign_device';
    }
    if (hello.peer?.toLowerCase() !== this.opts.bootId) {
      // A hello from before our own (the terminal booted first, or a replay): ask for a fresh one,
      // unless our greeting is still on its way (a greeting voided by the terminal's new boot is not).
      if (this.helloSeq === null || !this.link.isPending(this.helloSeq)) this.greet();
      return 'stale_session';
    }
    if (verifyFrameJson(this.tagger, lineSession(hello.boot, this.opts.bootId), json)) {
      if (pinned === null) {
        try {
          this.opts.pairing.pin(hello.serial);
        } catch (err) {
          // Not pinned, not taken: the terminal's next hello tries again (a full or read-only disk).
          this.opts.logger.error({ err: (err as Error).message, serial: hello.serial }, 'cannot keep the pairing: the terminal is not taken');
          return 'unpaired';
        }
        this.opts.logger.info({ serial: hello.serial, port: this.opts.path }, 'terminal paired: its serial is pinned');
        this.emit('paired', hello.serial);
      }
      return null;
    }
    if (pinned !== null) return 'unauthenticated';
    // Nobody paired yet (a new installation, or re-pairing): offer the key, once at a time; again
    // when the last offer is no longer on its way (voided by a terminal reset, or refused).
    if (this.pairSeq === null || !this.link.isPending(this.pairSeq)) this.pairSeq = this.link.send({ type: 'pair', key: this.opts.pairing.key });
    return 'unpaired';
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
    if (message.type === 'choosing') {
      this.emit('choosing', message.inv, message.choices);
      return;
    }
    this.opts.onReport(message, this.terminal);
  }
}
