import type { z } from 'zod';
import { explain } from './issues.js';
import { asciiJson, decodeFrame, encodeJsonFrame, frameFingerprint, tooLongDetail, type FrameError } from './frame.js';
import { lineSplitter } from './line-splitter.js';
import { isReliable, NAK_PROBLEM_LENGTH, type Unsequenced } from './serial-messages.js';
import type { Timers } from './timers.js';

/**
 * Beyond framing and schema (protocol/line-auth.ts): `unauthenticated` a reliable frame without a
 * tag that holds; `stale_session` a hello answering another boot of ours (it is greeted, not taken);
 * `unpaired` a hello while no terminal is paired yet (it is offered the key); `foreign_device` a
 * hello from a device other than the paired one, and anything while that stands.
 */
export type LinkRejectReason = FrameError | 'schema' | 'unsendable' | 'unauthenticated' | 'stale_session' | 'unpaired' | 'foreign_device';

/** How one end tags what it sends and checks what it receives; each end knows its own session. */
export interface LinkAuthHooks<In> {
  /** Rewrites an outgoing reliable frame's JSON (appends its tag), or leaves it. */
  seal(json: string): string;
  /** Refuses an incoming reliable frame (counted under the reason, never acknowledged), or null to take it. */
  check(message: In, json: string): LinkRejectReason | null;
}

export interface LinkCounters {
  framesIn: number;
  framesOut: number;
  resent: number;
  duplicates: number;
  rejected: Partial<Record<LinkRejectReason, number>>;
  /** Our frames the peer refused for their content (its `nak`): dropped, never resent. */
  refusedByPeer: number;
  /** Acks and naks naming our pending seq but another frame (a forgery's, or our previous boot's): ignored. */
  foreignAnswers: number;
}

type Sequenced = { type: string; seq: number };
type AckMessage = { type: 'ack'; seq: number; ack: number; fp: number | null };
type NakMessage = { type: 'nak'; seq: number; nak: number; fp: number | null; problem: string };
type HelloMessage = { type: 'hello'; seq: number; boot: string };

export interface LinkEndpointOptions<In extends Sequenced> {
  /** Schema of what the peer may send. */
  schema: z.ZodType<In>;
  /** Writes one encoded frame (with its newline) to the line. */
  write(frame: string): void;
  timers: Timers;
  /** Called once per distinct reliable frame; the frame is acknowledged only after this settles. */
  onMessage(message: In): void | Promise<void>;
  /** A line dropped; `type` is the frame's type when its checksum held but its content was refused. */
  onReject?(reason: LinkRejectReason, detail: string, type?: string): void;
  /** Called when the peer acknowledged one of our reliable frames. */
  onAcknowledged?(seq: number): void;
  /** Called when the peer refused one of our reliable frames for its content (it is not resent). */
  onRefused?(seq: number, problem: string): void;
  resendMs?: number;
  maxResendMs?: number;
  heartbeatMs?: number;
  /** How many handled frames are remembered for dedupe: more than the peer ever has unacknowledged. */
  seenWindow?: number;
  /**
   * Frames still unacknowledged when the peer says hello from a new boot are void, not resent: the
   * bridge's frames (invite, cancel, test) were for a terminal that is gone. The terminal does not
   * set this: its reports live in its journal and go to whichever bridge comes.
   */
  voidPendingOnPeerReset?: boolean;
  /** The first sequence number sent (default 1): tests start near the wrap at 2^31. */
  firstSeq?: number;
  /** Tags and tag checks for reliable frames; without it, frames go and come untagged. */
  auth?: LinkAuthHooks<In>;
}

/**
 * A reliable frame awaiting its ack. Kept small, since a terminal's MCU holds tens of them
 * (docs/espruino.md, "Memory"): the message as its ASCII JSON text without seq (to seal it again
 * when the session changes, and what the terminal's journal keeps), the frame as written, and when
 * it is resent next. One timer serves them all (`resendTimer`), not one each.
 */
interface Pending {
  json: string;
  frame: string;
  fingerprint: number;
  interval: number;
  /** When it is resent next (timers.now()). */
  due: number;
}

const SEQ_LIMIT = 2 ** 31;

/**
 * One end of the serial line: numbers outgoing frames, resends reliable ones until acknowledged,
 * acknowledges incoming ones once handled, drops duplicates, and tracks peer liveness.
 * Platform-free: it runs in the bridge, the simulator and on the terminal MCU.
 *
 * A duplicate is the same frame again, not merely the same seq: a peer that reset (its hello lost
 * to noise) or a forger reuses numbers, and taking their frames for resends would acknowledge and
 * drop them unhandled. So each handled seq is remembered with its frame's fingerprint (length and
 * CRC, one number); a different frame under a seen seq is handled, and its meaning deduped above
 * (the desk by invitation id or ref).
 */
export class LinkEndpoint<In extends Sequenced, Out extends Sequenced> {
  readonly counters: LinkCounters = { framesIn: 0, framesOut: 0, resent: 0, duplicates: 0, rejected: {}, refusedByPeer: 0, foreignAnswers: 0 };
  private nextSeq: number;
  private readonly pending = new Map<number, Pending>();
  /** seq → fingerprint of the frame handled under it, oldest first. */
  private readonly seen = new Map<number, number>();
  private readonly inProgress = new Map<number, number>();
  private readonly seenWindow: number;
  private readonly split: (chunk: string) => void;
  private peerBoot: string | undefined;
  private lastRxAt = -Infinity;
  private heartbeatTimer: unknown;
  /** The one resend timer, set for the earliest `due` of the pending frames (at `resendAt`). */
  private resendTimer: unknown;
  private resendAt = Infinity;
  private running = false;
  private readonly resendMs: number;
  private readonly maxResendMs: number;
  private readonly heartbeatMs: number;

  constructor(private readonly opts: LinkEndpointOptions<In>) {
    this.resendMs = opts.resendMs ?? 500;
    this.maxResendMs = opts.maxResendMs ?? 4000;
    this.heartbeatMs = opts.heartbeatMs ?? 2000;
    this.seenWindow = opts.seenWindow ?? 256;
    this.nextSeq = opts.firstSeq ?? 1;
    this.split = lineSplitter({
      line: (line) => this.receive(line),
      tooLong: (length) => this.reject('too_long', tooLongDetail(length)),
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // forEach rather than for…of over the maps in this file: ES5 lowers for…of to iterator helpers,
    // variables on the terminal's MCU (docs/espruino.md, "Memory").
    const now = this.opts.timers.now();
    this.pending.forEach((entry) => (entry.due = now + entry.interval));
    this.scheduleResends();
    this.scheduleHeartbeat();
  }

  stop(): void {
    this.running = false;
    this.opts.timers.clearTimeout(this.heartbeatTimer);
    this.scheduleResends();
  }

  /** Sends a message; reliable ones are resent until acknowledged. Returns the sequence number. */
  send(message: Unsequenced<Out>): number {
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq + 1 >= SEQ_LIMIT ? 1 : this.nextSeq + 1;
    const json = asciiJson(message);
    const reliable = isReliable(message);
    const frame = this.encode(json, seq, reliable);
    this.writeFrame(frame);
    if (reliable) {
      this.pending.set(seq, { json, frame, fingerprint: frameFingerprint(frame), interval: this.resendMs, due: this.opts.timers.now() + this.resendMs });
      this.scheduleResends();
    }
    return seq;
  }

  /** Feeds bytes as they come off the line (latin1 text), cut into lines here. */
  receiveData(chunk: string): void {
    this.split(chunk);
  }

  /** Feeds one received line (without newline). */
  receive(line: string): void {
    const decoded = decodeFrame(line);
    if (!decoded.ok) return this.reject(decoded.error, decoded.detail);
    const parsed = explain(this.opts.schema, decoded.value);
    if (!parsed.ok) return this.refuse(decoded.value, decoded.fingerprint, parsed.problems.join('; '));
    const message = parsed.data;
    const fingerprint = decoded.fingerprint;
    const refusal = this.opts.auth && isReliable(message) ? this.opts.auth.check(message, decoded.json) : null;
    // Before anything is counted as heard or handled: a forgery neither keeps the peer alive nor resets it.
    if (refusal) return this.reject(refusal, `${message.type} frame seq ${message.seq} refused`, message.type);
    this.counters.framesIn += 1;
    this.lastRxAt = this.opts.timers.now();

    if (message.type === 'ack') return this.acknowledged(message as unknown as AckMessage);
    if (message.type === 'nak') return this.refused(message as unknown as NakMessage);
    if (message.type === 'hb') return;
    if (message.type === 'hello') this.peerHello((message as unknown as HelloMessage).boot);

    const { seq } = message;
    if (this.seen.get(seq) === fingerprint) {
      this.counters.duplicates += 1;
      this.sendAck(seq, fingerprint);
      return;
    }
    const busy = this.inProgress.get(seq);
    if (busy !== undefined) {
      // The same frame is being handled; another one under that seq waits for its resend, so
      // that one ack never answers two frames.
      if (busy === fingerprint) this.counters.duplicates += 1;
      return;
    }
    this.inProgress.set(seq, fingerprint);
    Promise.resolve()
      .then(() => this.opts.onMessage(message))
      .then(
        () => {
          this.inProgress.delete(seq);
          this.remember(seq, fingerprint);
          this.sendAck(seq, fingerprint);
        },
        // Not acknowledged: the peer will resend, and we will try again.
        () => this.inProgress.delete(seq),
      );
  }

  /**
   * Resends every unacknowledged frame now, e.g. after the line came back or a new session began:
   * each is sealed again (a tag holds for one session), so an ack must name the frame as resent.
   * Frame `except` (e.g. a hello just sent for the new session) is left alone.
   */
  resendAll(except?: number): void {
    const now = this.opts.timers.now();
    this.pending.forEach((entry, seq) => {
      if (seq === except) return;
      this.counters.resent += 1;
      entry.frame = this.encode(entry.json, seq, true);
      entry.fingerprint = frameFingerprint(entry.frame);
      this.writeFrame(entry.frame);
      entry.interval = this.resendMs;
      entry.due = now + this.resendMs;
    });
    this.scheduleResends();
  }

  /** Stops resending frame `seq` (e.g. a hello a newer one replaced); true if it was pending. */
  withdraw(seq: number): boolean {
    if (!this.pending.delete(seq)) return false;
    this.scheduleResends();
    return true;
  }

  /**
   * Our frame `seq`'s message as JSON (ASCII, without its seq and tag) while it awaits its ack:
   * what the terminal's journal keeps, without a copy of its own.
   */
  pendingJson(seq: number): string | undefined {
    return this.pending.get(seq)?.json;
  }

  /** Whether frame `seq` still waits for its ack (not acknowledged, withdrawn, or voided by a peer reset). */
  isPending(seq: number): boolean {
    return this.pending.has(seq);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** How long the peer may be silent and still count as alive: three heartbeat periods. */
  get livenessMs(): number {
    return this.heartbeatMs * 3;
  }

  /** True when the peer was heard from within the liveness window. */
  isPeerAlive(): boolean {
    return this.opts.timers.now() - this.lastRxAt < this.livenessMs;
  }

  private peerHello(rawBoot: string): void {
    const boot = rawBoot.toLowerCase(); // hex digits, either case
    if (boot === this.peerBoot) return;
    if (this.peerBoot !== undefined && this.opts.voidPendingOnPeerReset) {
      this.pending.clear();
      this.scheduleResends();
    }
    // A new peer boot restarts its sequence numbers: forget what we saw from the old one.
    this.peerBoot = boot;
    this.seen.clear();
    this.inProgress.clear();
  }

  private acknowledged(ack: AckMessage): void {
    if (!this.settle(ack.ack, ack.fp)) return;
    this.opts.onAcknowledged?.(ack.ack);
  }

  /** Takes our pending frame `seq` off the resend list, if the answer is about that very frame. */
  private settle(seq: number, fingerprint: number | null): boolean {
    const entry = this.pending.get(seq);
    if (!entry) return false;
    if (fingerprint !== null && fingerprint !== entry.fingerprint) {
      this.counters.foreignAnswers += 1;
      return false;
    }
    this.pending.delete(seq);
    this.scheduleResends();
    return true;
  }

  private refused(nak: NakMessage): void {
    if (!this.settle(nak.nak, nak.fp)) return;
    this.counters.refusedByPeer += 1;
    this.opts.onRefused?.(nak.nak, nak.problem);
  }

  private remember(seq: number, fingerprint: number): void {
    this.seen.delete(seq); // a re-used seq moves to the newest end
    this.seen.set(seq, fingerprint);
    if (this.seen.size > this.seenWindow) {
      const oldest = this.seen.keys().next().value as number;
      this.seen.delete(oldest);
    }
  }

  private sendAck(seq: number, fingerprint: number): void {
    this.send({ type: 'ack', ack: seq, fp: fingerprint } as unknown as Unsequenced<Out>);
  }

  /**
   * A frame whose checksum held but whose content is not a valid message: counted, and, when it
   * names a reliable frame, answered with a `nak` saying why, so the peer stops resending it.
   */
  private refuse(value: unknown, fingerprint: number, problems: string): void {
    const frame = (typeof value === 'object' && value !== null ? value : {}) as { type?: unknown; seq?: unknown };
    const type = typeof frame.type === 'string' ? frame.type : undefined;
    this.reject('schema', problems, type);
    const seq = frame.seq;
    if (type === undefined || !isReliable({ type }) || typeof seq !== 'number' || !(seq >= 0 && seq <= SEQ_LIMIT && Math.floor(seq) === seq)) return;
    // Printable ASCII only, so the nak cannot outgrow a frame however its text is escaped.
    let problem = '';
    for (let i = 0; i < problems.length && problem.length < NAK_PROBLEM_LENGTH; i++) {
      const code = problems.charCodeAt(i);
      problem += code >= 0x20 && code <= 0x7e ? problems.charAt(i) : '?';
    }
    this.send({ type: 'nak', nak: seq, fp: fingerprint, problem } as unknown as Unsequenced<Out>);
  }

  /** Sets the resend timer for the earliest due frame (none while stopped or with nothing pending). */
  private scheduleResends(): void {
    let next = Infinity;
    if (this.running) this.pending.forEach((entry) => (next = Math.min(next, entry.due)));
    if (next === this.resendAt) return;
    this.opts.timers.clearTimeout(this.resendTimer);
    this.resendAt = next;
    if (next === Infinity) return;
    this.resendTimer = this.opts.timers.setTimeout(() => this.resendDue(), Math.max(0, next - this.opts.timers.now()));
  }

  /** Resends each frame whose time has come, its interval doubled up to maxResendMs. */
  private resendDue(): void {
    this.resendAt = Infinity;
    const now = this.opts.timers.now();
    this.pending.forEach((entry) => {
      if (entry.due > now) return;
      this.counters.resent += 1;
      this.writeFrame(entry.frame);
      entry.interval = Math.min(entry.interval * 2, this.maxResendMs);
      entry.due = now + entry.interval;
    });
    this.scheduleResends();
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.opts.timers.setTimeout(() => {
      if (!this.running) return;
      this.send({ type: 'hb' } as unknown as Unsequenced<Out>);
      this.scheduleHeartbeat();
    }, this.heartbeatMs);
  }

  /** The frame of `json` (a message without seq) under `seq`: the same text as encodeFrame({ ...message, seq }). */
  private encode(json: string, seq: number, reliable: boolean): string {
    const auth = this.opts.auth;
    const sequenced = `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"seq":${seq}}`;
    return encodeJsonFrame(sequenced, reliable && auth ? (sealed) => auth.seal(sealed) : undefined);
  }

  private writeFrame(frame: string): void {
    this.counters.framesOut += 1;
    this.opts.write(frame);
  }

  private reject(reason: LinkRejectReason, detail: string, type?: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.opts.onReject?.(reason, detail, type);
  }
}
