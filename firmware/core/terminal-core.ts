import { BUTTON_COUNT, GRADE_INFO, GRADES, type Grade } from '../../protocol/grades.js';
import { LinkEndpoint, type LinkCounters } from '../../protocol/link.js';
import { isLowerHex, lineSession, lineTagger, PAIRING_KEY_HEX_LENGTH, sealFrameJson, type LineTagger } from '../../protocol/line-auth.js';
import {
  bridgeMessageSchema,
  terminalMessageSchema,
  HELLO_PENDING_LIMIT,
  SERIAL_PROTOCOL_VERSION,
  type BridgeMessage,
  type TerminalMessage,
  type Unsequenced,
} from '../../protocol/serial-messages.js';
import type { KeyStore, TerminalHardware } from './hardware.js';

export const FIRMWARE_VERSION = '0.1.0';
export const DEFAULT_DEBOUNCE_MS = 30;
/** Test mode ends by itself this long after the last test frame: a bridge gone mid-test. */
export const TEST_MODE_IDLE_MS = 60_000;
/**
 * A paired terminal takes a new pairing key only this long after power-up: re-pairing needs a
 * technician at the terminal (power it off and on), not merely someone on the line.
 */
export const PAIRING_WINDOW_MS = 60_000;
/** While the window is paused (暂停服务), the middle LED is on and off this long in turn. */
export const PAUSE_BLINK_MS = 1000;

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
  /** A button held down this long is reported stuck (once per hold). */
  stuckMs?: number;
  link?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number; firstSeq?: number };
  /** Where the pairing key outlives a reset (flash); without one, the terminal is unpaired at every boot. */
  keyStore?: KeyStore;
  pairingWindowMs?: number;
  /** Reports held unacknowledged at most (default JOURNAL_LIMIT): fewer on a board with little memory. */
  journalLimit?: number;
}

/** What the terminal reports to the bridge (as opposed to link housekeeping). */
type NotReport = 'hello' | 'ack' | 'nak' | 'hb' | 'press' | 'choosing';
type Report = Unsequenced<Exclude<TerminalMessage, { type: NotReport }>>;
const NOT_REPORTS: readonly string[] = ['hello', 'ack', 'nak', 'hb', 'press', 'choosing'] satisfies NotReport[];
function isReport(message: TerminalMessage): message is Exclude<TerminalMessage, { type: NotReport }> {
  return NOT_REPORTS.indexOf(message.type) < 0;
}

/** A journal entry's report, or undefined for one torn or not a report (that entry is lost, the others are not). */
function journaledReport(text: string): Report | undefined {
  try {
    const parsed = terminalMessageSchema.safeParse({ ...(JSON.parse(text) as object), seq: 0 });
    if (!parsed.success || !isReport(parsed.data)) return undefined;
    const { seq: _seq, ...report } = parsed.data;
    return report;
  } catch {
    return undefined;
  }
}

/** Adds the report's invitation to `pending`, once. */
function addInvitation(pending: string[], report: Report | undefined): void {
  if (report && 'inv' in report && pending.indexOf(report.inv) < 0) pending.push(report.inv);
}

/**
 * Reports awaiting their ack at most (TerminalCoreOptions.journalLimit), in memory and in the
 * journal alike; past it, the oldest stray press goes (else the oldest report), resent no more.
 * Without a bound a terminal left without its bridge would fill its MCU's memory: on an Espruino
 * Pico each costs ~30 variables, so the Espruino terminal holds fewer (docs/espruino.md, "Memory").
 */
export const JOURNAL_LIMIT = 64;
/**
 * Bridge frames remembered for dedupe: the bridge has a handful unacknowledged at most (hello,
 * invite, cancel, test), and each entry costs the MCU RAM.
 */
const SEEN_WINDOW = 32;

export type TerminalState =
  | { name: 'idle' }
  | { name: 'invited'; inv: string; invitedAt: number; timer: unknown; reasons: number; reasonTimeoutMs: number }
  | { name: 'reason'; inv: string; grade: Grade; latencyMs: number; choices: number; timer: unknown }
  | { name: 'thanks'; inv: string; timer: unknown }
  | { name: 'test'; timer: unknown }
  | { name: 'paused'; timer: unknown };

export interface TerminalCounters {
  presses: number;
  ignoredPresses: number;
  bounces: number;
  /** Reports given up past the journal's limit while none was acknowledged. */
  droppedReports: number;
  link: LinkCounters;
}

const ALL_ON = Array<boolean>(BUTTON_COUNT).fill(true);
const GRADE_CLASS_BAD: readonly Grade[] = GRADES.filter((g) => GRADE_INFO[g].class === 'bad');
const ALL_OFF = Array<boolean>(BUTTON_COUNT).fill(false);
/** The LED that blinks while paused: the middle one. */
const PAUSE_LED = (BUTTON_COUNT - 1) >> 1;

/**
 * The terminal program, free of any platform: idle → invited → thanks → idle; paused (暂停服务)
 * in place of idle while the bridge says so.
 * One press per invitation; the invitation times out on the device; presses with no invitation
 * are reported as stray; every report is resent until the bridge acknowledges it.
 */
export class TerminalCore {
  private current: TerminalState = { name: 'idle' };
  private readonly link: LinkEndpoint<BridgeMessage, TerminalMessage>;
  private readonly lastEdgeAt: number[] = Array<number>(BUTTON_COUNT).fill(-Infinity);
  private readonly debounceMs: number;
  private readonly thanksMs: number;
  private readonly counts = { presses: 0, ignoredPresses: 0, bounces: 0, droppedReports: 0 };
  /**
   * Sequence numbers of the reports sent and not yet acknowledged (nor refused), oldest first: what
   * the journal keeps. Their text is the link's (pendingJson), not a copy.
   */
  private readonly unacked: number[] = [];
  private strays = 0;
  /** Our latest hello, and whether the bridge has acknowledged it (see handle()). */
  private helloSeq = -1;
  private introduced = false;
  private readonly holdTimers: unknown[] = Array<unknown>(BUTTON_COUNT).fill(undefined);
  /** The pairing key's tagger; null while unpaired (frames then go untagged). */
  private tagger: LineTagger | null = null;
  /** The boot id of the bridge whose hello we answered last: half of the tags' session. */
  private bridgeBoot = '';
  private startedAt = 0;
  /** The bridge paused the window: where the terminal rests instead of idle, until it says otherwise or greets anew. */
  private pauseWanted = false;

  constructor(
    private readonly hw: TerminalHardware,
    private readonly opts: TerminalCoreOptions,
  ) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.thanksMs = opts.thanksMs ?? 2000;
    this.link = new LinkEndpoint<BridgeMessage, TerminalMessage>({
      schema: bridgeMessageSchema,
      write: (frame) => hw.write(frame),
      timers: hw.timers,
      onMessage: (message) => this.handle(message),
      onAcknowledged: (seq) => {
        if (seq === this.helloSeq) this.introduced = true;
        this.settled(seq);
      },
      // The bridge will never take it: resending it forever would help nobody (counted by the link).
      onRefused: (seq) => this.settled(seq),
      seenWindow: SEEN_WINDOW,
      auth: {
        seal: (json) => (this.tagger ? sealFrameJson(this.tagger, lineSession(opts.bootId, this.bridgeBoot), json) : json),
        // What the bridge sends is not tagged (docs/protocol.md): only reports can rate.
        check: () => null,
      },
      ...opts.link,
    });
  }

  start(): void {
    this.startedAt = this.hw.timers.now();
    const key = this.opts.keyStore?.loadKey();
    if (key && isLowerHex(key, PAIRING_KEY_HEX_LENGTH)) this.tagger = lineTagger(key);
    this.hw.setLeds(ALL_OFF);
    this.link.start();
    const journaled = this.hw.journal?.load() ?? [];
    // The hello says which invitations the journal holds reports for, before they are replayed.
    const pending: string[] = [];
    // forEach, not for-of, in this file: ES5 lowers for-of to an iterator helper, bytes on the board (docs/espruino.md).
    journaled.forEach((text) => addInvitation(pending, journaledReport(text)));
    this.sayHello(pending);
    // Each parsed as it is sent, not all at once (an MCU's memory); the journal is saved once after,
    // so that no replayed report is out of it meanwhile.
    journaled.forEach((text) => {
      const report = journaledReport(text);
      if (report) this.send(report);
    });
    this.persist();
  }

  stop(): void {
    this.holdTimers.forEach((timer) => this.hw.timers.clearTimeout(timer));
    this.link.stop();
    this.clearStateTimer();
    this.current = { name: 'idle' };
  }

  /** Whether a pairing key is held: reports are tagged. */
  get paired(): boolean {
    return this.tagger !== null;
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

  /** Feeds what the serial port received, as it came (cut into lines by the link). */
  receiveData(chunk: string): void {
    this.link.receiveData(chunk);
  }

  /** A raw edge from button `index` (0 = 非常满意); bounces are filtered here. */
  buttonEdge(index: number, down: boolean): void {
    if (index < 0 || index >= BUTTON_COUNT) return;
    const now = this.hw.timers.now();
    const quietFor = now - (this.lastEdgeAt[index] ?? -Infinity);
    this.lastEdgeAt[index] = now;
    this.hw.timers.clearTimeout(this.holdTimers[index]);
    if (!down) return;
    const stuckMs = this.opts.stuckMs ?? 5000;
    this.holdTimers[index] = this.hw.timers.setTimeout(() => {
      this.strays += 1;
      this.report({ type: 'stuck', button: index, heldMs: stuckMs, ref: `${this.opts.bootId}-s${this.strays}` });
    }, stuckMs);
    if (quietFor < this.debounceMs) {
      this.counts.bounces += 1;
      return;
    }
    this.press(GRADES[index] as Grade, index);
  }

  private press(grade: Grade, index: number): void {
    this.counts.presses += 1;
    const state = this.current;
    if (state.name === 'test') {
      // Self-test: the technician sees and hears which button the terminal took.
      this.link.send({ type: 'press', button: index });
      this.hw.setLeds(ALL_OFF.map((_, i) => i === index));
      this.hw.beep(50);
      return;
    }
    if (state.name === 'idle' || state.name === 'paused') {
      // No invitation (paused staff invite none): not a rating, but kept.
      this.strays += 1;
      this.report({ type: 'stray', grade, ref: `${this.opts.bootId}-${this.strays}` });
      return;
    }
    if (state.name === 'thanks') {
      // 一次一评: the invitation already has its rating.
      this.counts.ignoredPresses += 1;
      return;
    }
    if (state.name === 'reason') {
      // A reason is one of the first `choices` buttons; the others mean nothing here.
      if (index >= state.choices) {
        this.counts.ignoredPresses += 1;
        return;
      }
      this.clearStateTimer();
      this.rate(state.inv, state.grade, state.latencyMs, index, GRADES.indexOf(state.grade));
      return;
    }
    this.clearStateTimer();
    const latencyMs = Math.max(0, Math.round(this.hw.timers.now() - state.invitedAt));
    if (state.reasons > 0 && GRADE_CLASS_BAD.includes(grade)) {
      // 差评 must carry a reason: the same buttons now offer the province's reasons.
      this.hw.setLeds(ALL_OFF.map((_, i) => i < state.reasons));
      this.hw.beep(60);
      this.current = {
        name: 'reason',
        inv: state.inv,
        grade,
        latencyMs,
        choices: state.reasons,
        timer: this.hw.timers.setTimeout(() => this.rate(state.inv, grade, latencyMs, null, index), state.reasonTimeoutMs),
      };
      // The bridge reads the reasons out and labels them; not journaled: after a reset it means nothing.
      this.link.send({ type: 'choosing', inv: state.inv, choices: state.reasons });
      return;
    }
    this.rate(state.inv, grade, latencyMs, null, index);
  }

  /** Reports the rating (with its reason, if any) and thanks the citizen. */
  private rate(inv: string, grade: Grade, latencyMs: number, reason: number | null, lit: number): void {
    // Thanks first: on a board the report's tag takes a while to compute (docs/espruino.md).
    this.hw.setLeds(ALL_OFF.map((_, i) => i === lit));
    this.hw.beep(80);
    this.current = { name: 'thanks', inv, timer: this.hw.timers.setTimeout(() => this.toIdle(), this.thanksMs) };
    this.report({ type: 'rating', inv, grade, latencyMs, reason });
  }

  private handle(message: BridgeMessage): void {
    // Until the bridge has our hello, what it sends may be meant for our previous boot (a resend
    // of an invitation long closed): leave it unacknowledged; the bridge voids such frames on our
    // hello, and resends those it still means.
    if (!this.introduced && (message.type === 'invite' || message.type === 'cancel' || message.type === 'test' || message.type === 'pause')) {
      throw new Error('the bridge has not acknowledged our hello yet');
    }
    switch (message.type) {
      case 'hello':
        // The bridge (re)started: introduce ourselves and replay what it has not acknowledged,
        // tagged for the session with this bridge boot.
        this.bridgeBoot = message.boot.toLowerCase();
        // The hello first, and once: it was just written, sealed for this session.
        this.sayHello(this.pendingInvitations());
        this.link.resendAll(this.helloSeq);
        // A pause lasts one session: the bridge says it again after our hello if it still holds.
        this.pause(false);
        return;
      case 'invite':
        return this.invite(message.inv, message.timeoutMs, message.reasons, message.reasonTimeoutMs);
      case 'cancel':
        return this.cancel(message.inv);
      case 'test':
        return this.test(message.active, message.leds, message.beepMs);
      case 'pair':
        return this.pair(message.key);
      case 'pause':
        return this.pause(message.active);
      case 'say':
        // Acknowledged either way: a terminal without a sound module stays silent.
        this.hw.play?.(message.clip);
        return;
      case 'ack':
      case 'nak':
      case 'hb':
        return; // handled by the link
      default:
        // Exhaustive: a frame type added to the protocol and not handled here does not compile.
        return message satisfies never;
    }
  }

  /**
   * Paused (暂停服务) or back: the terminal rests in `paused` instead of idle, entered now from
   * idle, or when what it is showing ends (an invitation, its thanks, a self-test).
   */
  private pause(active: boolean): void {
    this.pauseWanted = active;
    const state = this.current.name;
    if ((active && state === 'idle') || (!active && state === 'paused')) this.toIdle();
  }

  /** The paused pattern: the middle LED on and off in turn. */
  private blink(lit: boolean): void {
    this.hw.setLeds(ALL_OFF.map((_, i) => lit && i === PAUSE_LED));
    this.current = { name: 'paused', timer: this.hw.timers.setTimeout(() => this.blink(!lit), PAUSE_BLINK_MS) };
  }

  private invite(inv: string, timeoutMs: number, reasons: number, reasonTimeoutMs: number): void {
    const state = this.current;
    if ('inv' in state && state.inv === inv) return;
    if (state.name === 'invited') this.report({ type: 'cancelled', inv: state.inv });
    // A rating waiting for its reason is not lost to the next invitation: it goes without one.
    if (state.name === 'reason') this.report({ type: 'rating', inv: state.inv, grade: state.grade, latencyMs: state.latencyMs, reason: null });
    this.clearStateTimer();
    this.hw.setLeds(ALL_ON);
    this.hw.beep(120);
    this.current = {
      name: 'invited',
      inv,
      reasons,
      reasonTimeoutMs,
      invitedAt: this.hw.timers.now(),
      timer: this.hw.timers.setTimeout(() => {
        this.report({ type: 'expired', inv });
        this.toIdle();
      }, timeoutMs),
    };
  }

  /**
   * Takes the bridge's pairing key while unpaired or within the pairing window after power-up;
   * otherwise the frame stays unacknowledged (the bridge keeps offering it until a power cycle).
   */
  private pair(key: string): void {
    const window = this.opts.pairingWindowMs ?? PAIRING_WINDOW_MS;
    if (this.tagger && this.hw.timers.now() - this.startedAt >= window) {
      throw new Error(`paired already: a new key is taken only within ${window} ms of power-up`);
    }
    this.opts.keyStore?.saveKey(key);
    this.tagger = lineTagger(key);
  }

  /** Self-test mode: only from idle, so that no invitation is ever cut short by a test. */
  private test(active: boolean, leds: readonly boolean[], beepMs: number): void {
    const state = this.current;
    if (state.name !== 'idle' && state.name !== 'test' && state.name !== 'paused') return;
    if (!active) {
      if (state.name === 'test') this.toIdle();
      return;
    }
    this.clearStateTimer();
    this.hw.setLeds(leds);
    if (beepMs > 0) this.hw.beep(beepMs);
    this.current = { name: 'test', timer: this.hw.timers.setTimeout(() => this.toIdle(), TEST_MODE_IDLE_MS) };
  }

  private cancel(inv: string): void {
    const state = this.current;
    // Only an invitation nobody has pressed yet is cancelled: once a button is pressed (a reason
    // being chosen included) the rating is the outcome; in any other state it was already reported.
    if (state.name !== 'invited' || state.inv !== inv) return;
    this.report({ type: 'cancelled', inv });
    this.toIdle();
  }

  /** Sends a report (resent until acknowledged) and keeps it in the journal meanwhile. */
  private report(report: Report): void {
    this.send(report);
    this.persist();
  }

  /** Sends a report and holds it until its ack, within the journal's limit. */
  private send(report: Report): void {
    this.unacked.push(this.link.send(report));
    if (this.unacked.length <= (this.opts.journalLimit ?? JOURNAL_LIMIT)) return;
    const oldestStray = this.unacked.findIndex((seq) => this.pendingReport(seq)?.type === 'stray');
    this.link.withdraw(this.unacked.splice(oldestStray >= 0 ? oldestStray : 0, 1)[0] as number);
    this.counts.droppedReports += 1;
  }

  private settled(seq: number): void {
    const index = this.unacked.indexOf(seq);
    if (index < 0) return;
    this.unacked.splice(index, 1);
    this.persist();
  }

  private persist(): void {
    this.hw.journal?.save(this.unacked.map((seq) => this.link.pendingJson(seq) as string));
  }

  /** Our report `seq` as sent, while it awaits its ack. */
  private pendingReport(seq: number): Report | undefined {
    const json = this.link.pendingJson(seq);
    return json === undefined ? undefined : (JSON.parse(json) as Report);
  }

  /** The invitations of the reports awaiting their ack (each parsed in turn: an MCU's memory). */
  private pendingInvitations(): string[] {
    const pending: string[] = [];
    this.unacked.forEach((seq) => addInvitation(pending, this.pendingReport(seq)));
    return pending;
  }

  /** Rests: idle, or paused while the bridge says so. */
  private toIdle(): void {
    this.clearStateTimer();
    this.current = { name: 'idle' };
    if (this.pauseWanted) this.blink(true);
    else this.hw.setLeds(ALL_OFF);
  }

  private clearStateTimer(): void {
    if (this.current.name !== 'idle') this.hw.timers.clearTimeout(this.current.timer);
  }

  /** Hello, naming the invitations of the reports held (the newest, if more than a hello may list). */
  private sayHello(pending: string[]): void {
    this.introduced = false;
    // The newer hello replaces the older: a hello for a past session would be refused forever.
    this.link.withdraw(this.helloSeq);
    this.helloSeq = this.link.send({
      type: 'hello',
      proto: SERIAL_PROTOCOL_VERSION,
      fw: this.opts.firmwareVersion ?? FIRMWARE_VERSION,
      serial: this.opts.serial,
      boot: this.opts.bootId,
      pending: pending.slice(-HELLO_PENDING_LIMIT),
      peer: this.bridgeBoot === '' ? null : this.bridgeBoot,
    });
  }
}

