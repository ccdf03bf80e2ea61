import { GRADES, type Grade } from '../../protocol/grades.js';
import { LinkEndpoint, type LinkCounters } from '../../protocol/link.js';
import {
  bridgeMessageSchema,
  SERIAL_PROTOCOL_VERSION,
  type BridgeMessage,
  type DeviceMessage,
} from '../../protocol/serial-messages.js';
import { BUTTON_COUNT, type TerminalHardware } from './hardware.js';

export const FIRMWARE_VERSION = '0.1.0';
export const DEFAULT_DEBOUNCE_MS = 30;

export interface TerminalCoreOptions {
  /** Device serial number, reported in hello. */
  serial: string;
  /** Random per boot (8-32 hex digits): lets the bridge tell a reset terminal from a resend. */
  bootId: string;
  firmwareVersion?: string;
  /** A down edge counts as a press only after the button was quiet this long. */
  debounceMs?: number;
  /** How long the chosen grade stays lit after a rating. */
  thanksMs?: number;
  link?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
}

export type TerminalState =
  | { name: 'idle' }
  | { name: 'invited'; inv: string; invitedAt: number; timer: unknown }
  | { name: 'thanks'; inv: string; timer: unknown };

export interface TerminalCounters {
  presses: number;
  ignoredPresses: number;
  bounces: number;
  link: LinkCounters;
}

const ALL_ON = Array<boolean>(BUTTON_COUNT).fill(true);
const ALL_OFF = Array<boolean>(BUTTON_COUNT).fill(false);

/**
 * The terminal program, free of any platform: idle → invited → thanks → idle.
 * One press per invitation; the invitation times out on the device; presses with no invitation
 * are reported as stray; every report is resent until the bridge acknowledges it.
 */
export class TerminalCore {
  private current: TerminalState = { name: 'idle' };
  private readonly link: LinkEndpoint<BridgeMessage, DeviceMessage>;
  private readonly lastEdgeAt: number[] = Array<number>(BUTTON_COUNT).fill(-Infinity);
  private readonly debounceMs: number;
  private readonly thanksMs: number;
  private readonly counts = { presses: 0, ignoredPresses: 0, bounces: 0 };

  constructor(
    private readonly hw: TerminalHardware,
    private readonly opts: TerminalCoreOptions,
  ) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.thanksMs = opts.thanksMs ?? 2000;
    this.link = new LinkEndpoint<BridgeMessage, DeviceMessage>({
      schema: bridgeMessageSchema,
      write: (frame) => hw.write(frame),
      timers: hw.timers,
      onMessage: (message) => this.handle(message),
      ...opts.link,
    });
  }

  start(): void {
    this.hw.setLeds(ALL_OFF);
    this.link.start();
    this.sayHello();
  }

  stop(): void {
    this.link.stop();
    this.clearStateTimer();
    this.current = { name: 'idle' };
  }

  get state(): TerminalState['name'] {
    return this.current.name;
  }

  get counters(): TerminalCounters {
    return { ...this.counts, link: this.link.counters };
  }

  /** Unacknowledged reports waiting to be resent. */
  get unacknowledged(): number {
    return this.link.pendingCount;
  }

  /** Feeds one line received on the serial port. */
  receiveLine(line: string): void {
    this.link.receive(line);
  }

  /** A raw edge from button `index` (0 = 非常满意); bounces are filtered here. */
  buttonEdge(index: number, down: boolean): void {
    if (index < 0 || index >= BUTTON_COUNT) return;
    const now = this.hw.timers.now();
    const quietFor = now - (this.lastEdgeAt[index] ?? -Infinity);
    this.lastEdgeAt[index] = now;
    if (!down) return;
    if (quietFor < this.debounceMs) {
      this.counts.bounces += 1;
      return;
    }
    this.press(GRADES[index] as Grade, index);
  }

  private press(grade: Grade, index: number): void {
    this.counts.presses += 1;
    const state = this.current;
    if (state.name === 'idle') {
      this.link.send({ type: 'stray', grade });
      return;
    }
    if (state.name === 'thanks') {
      // 一次一评: the invitation already has its rating.
      this.counts.ignoredPresses += 1;
      return;
    }
    this.clearStateTimer();
    const latencyMs = Math.max(0, Math.round(this.hw.timers.now() - state.invitedAt));
    this.link.send({ type: 'rating', inv: state.inv, grade, latencyMs });
    this.hw.setLeds(ALL_OFF.map((_, i) => i === index));
    this.hw.beep(80);
    this.current = {
      name: 'thanks',
      inv: state.inv,
      timer: this.hw.timers.setTimeout(() => this.toIdle(), this.thanksMs),
    };
  }

  private handle(message: BridgeMessage): void {
    switch (message.type) {
      case 'hello':
        // The bridge (re)started: introduce ourselves and replay what it has not acknowledged.
        this.sayHello();
        this.link.resendAll();
        return;
      case 'invite':
        return this.invite(message.inv, message.timeoutMs);
      case 'cancel':
        return this.cancel(message.inv);
      case 'ack':
      case 'hb':
        return; // handled by the link
    }
  }

  private invite(inv: string, timeoutMs: number): void {
    const state = this.current;
    if (state.name !== 'idle' && state.inv === inv) return;
    if (state.name === 'invited') this.link.send({ type: 'cancelled', inv: state.inv });
    this.clearStateTimer();
    this.hw.setLeds(ALL_ON);
    this.hw.beep(120);
    this.current = {
      name: 'invited',
      inv,
      invitedAt: this.hw.timers.now(),
      timer: this.hw.timers.setTimeout(() => {
        this.link.send({ type: 'expired', inv });
        this.toIdle();
      }, timeoutMs),
    };
  }

  private cancel(inv: string): void {
    const state = this.current;
    // Anything else means the outcome was already reported (rated or expired).
    if (state.name !== 'invited' || state.inv !== inv) return;
    this.link.send({ type: 'cancelled', inv });
    this.toIdle();
  }

  private toIdle(): void {
    this.clearStateTimer();
    this.current = { name: 'idle' };
    this.hw.setLeds(ALL_OFF);
  }

  private clearStateTimer(): void {
    if (this.current.name !== 'idle') this.hw.timers.clearTimeout(this.current.timer);
  }

  private sayHello(): void {
    this.link.send({
      type: 'hello',
      proto: SERIAL_PROTOCOL_VERSION,
      fw: this.opts.firmwareVersion ?? FIRMWARE_VERSION,
      serial: this.opts.serial,
      boot: this.opts.bootId,
    });
  }
}
