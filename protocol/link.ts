import type { z } from 'zod';
import { explain } from './issues.js';
import { decodeFrame, encodeFrame, type FrameError } from './frame.js';
import { isReliable, type Unsequenced } from './serial-messages.js';
import type { Timers } from './timers.js';


export type LinkRejectReason = FrameError | 'schema' | 'unsendable';

export interface LinkCounters {
  framesIn: number;
  framesOut: number;
  resent: number;
  duplicates: number;
  rejected: Partial<Record<LinkRejectReason, number>>;
}

type Sequenced = { type: string; seq: number };
type AckMessage = { type: 'ack'; seq: number; ack: number };
type HelloMessage = { type: 'hello'; seq: number; boot: string };

export interface LinkEndpointOptions<In extends Sequenced> {
  /** Schema of what the peer may send. */
  schema: z.ZodType<In>;
  /** Writes one encoded frame (with its newline) to the line. */
  write(frame: string): void;
  timers: Timers;
  /** Called once per distinct reliable frame; the frame is acknowledged only after this settles. */
  onMessage(message: In): void | Promise<void>;
  onReject?(reason: LinkRejectReason, detail: string): void;
  /** Called when the peer acknowledged one of our reliable frames. */
  onAcknowledged?(seq: number): void;
  resendMs?: number;
  maxResendMs?: number;
  heartbeatMs?: number;
}

interface Pending {
  frame: string;
  interval: number;
  timer: unknown;
}

const SEEN_WINDOW = 256;
const SEQ_LIMIT = 2 ** 31;

/**
 * One end of the serial line: numbers outgoing frames, resends reliable ones until acknowledged,
 * acknowledges incoming ones once handled, drops duplicates, and tracks peer liveness.
 * Platform-free: it runs in the bridge, the simulator and on the terminal MCU.
 */
export class LinkEndpoint<In extends Sequenced, Out extends Sequenced> {
  readonly counters: LinkCounters = { framesIn: 0, framesOut: 0, resent: 0, duplicates: 0, rejected: {} };
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly seen = new Set<number>();
  private readonly inProgress = new Set<number>();
  private peerBoot: string | undefined;
  private lastRxAt = -Infinity;
  private heartbeatTimer: unknown;
  private running = false;
  private readonly resendMs: number;
  private readonly maxResendMs: number;
  private readonly heartbeatMs: number;

  constructor(private readonly opts: LinkEndpointOptions<In>) {
    this.resendMs = opts.resendMs ?? 500;
    this.maxResendMs = opts.maxResendMs ?? 4000;
    this.heartbeatMs = opts.heartbeatMs ?? 2000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const [seq, entry] of this.pending) this.armResend(seq, entry);
    this.scheduleHeartbeat();
  }

  stop(): void {
    this.running = false;
    this.opts.timers.clearTimeout(this.heartbeatTimer);
    for (const p of this.pending.values()) this.opts.timers.clearTimeout(p.timer);
  }

  /** Sends a message; reliable ones are resent until acknowledged. Returns the sequence number. */
  send(message: Unsequenced<Out>): number {
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq + 1 >= SEQ_LIMIT ? 1 : this.nextSeq + 1;
    const frame = encodeFrame({ ...message, seq });
    this.writeFrame(frame);
    if (isReliable(message)) {
      const entry: Pending = { frame, interval: this.resendMs, timer: undefined };
      this.pending.set(seq, entry);
      this.armResend(seq, entry);
    }
    return seq;
  }

  /** Feeds one received line (without newline). */
  receive(line: string): void {
    const decoded = decodeFrame(line);
    if (!decoded.ok) return this.reject(decoded.error, decoded.detail);
    const parsed = explain(this.opts.schema, decoded.value);
    if (!parsed.ok) return this.reject('schema', parsed.problems.join('; '));
    const message = parsed.data;
    this.counters.framesIn += 1;
    this.lastRxAt = this.opts.timers.now();

    if (message.type === 'ack') return this.acknowledged((message as unknown as AckMessage).ack);
    if (message.type === 'hb') return;
    if (message.type === 'hello') this.peerHello((message as unknown as HelloMessage).boot);

    if (this.seen.has(message.seq)) {
      this.counters.duplicates += 1;
      this.sendAck(message.seq);
      return;
    }
    if (this.inProgress.has(message.seq)) {
      this.counters.duplicates += 1;
      return;
    }
    this.inProgress.add(message.seq);
    Promise.resolve()
      .then(() => this.opts.onMessage(message))
      .then(
        () => {
          this.inProgress.delete(message.seq);
          this.remember(message.seq);
          this.sendAck(message.seq);
        },
        // Not acknowledged: the peer will resend, and we will try again.
        () => this.inProgress.delete(message.seq),
      );
  }

  /** Resends every unacknowledged frame now, e.g. after the line came back. */
  resendAll(): void {
    for (const [seq, entry] of this.pending) {
      this.opts.timers.clearTimeout(entry.timer);
      this.counters.resent += 1;
      this.writeFrame(entry.frame);
      entry.interval = this.resendMs;
      this.armResend(seq, entry);
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** True when the peer was heard from within three heartbeat periods. */
  isPeerAlive(): boolean {
    return this.opts.timers.now() - this.lastRxAt < this.heartbeatMs * 3;
  }

  private peerHello(boot: string): void {
    if (boot === this.peerBoot) return;
    // A new peer boot restarts its sequence numbers: forget what we saw from the old one.
    this.peerBoot = boot;
    this.seen.clear();
    this.inProgress.clear();
  }

  private acknowledged(seq: number): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    this.opts.timers.clearTimeout(entry.timer);
    this.pending.delete(seq);
    this.opts.onAcknowledged?.(seq);
  }

  private remember(seq: number): void {
    this.seen.add(seq);
    if (this.seen.size > SEEN_WINDOW) {
      const oldest = this.seen.values().next().value as number;
      this.seen.delete(oldest);
    }
  }

  private sendAck(seq: number): void {
    this.send({ type: 'ack', ack: seq } as unknown as Unsequenced<Out>);
  }

  private armResend(seq: number, entry: Pending): void {
    if (!this.running) return;
    entry.timer = this.opts.timers.setTimeout(() => {
      if (!this.pending.has(seq)) return;
      this.counters.resent += 1;
      this.writeFrame(entry.frame);
      entry.interval = Math.min(entry.interval * 2, this.maxResendMs);
      this.armResend(seq, entry);
    }, entry.interval);
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.opts.timers.setTimeout(() => {
      if (!this.running) return;
      this.send({ type: 'hb' } as unknown as Unsequenced<Out>);
      this.scheduleHeartbeat();
    }, this.heartbeatMs);
  }

  private writeFrame(frame: string): void {
    this.counters.framesOut += 1;
    this.opts.write(frame);
  }

  private reject(reason: LinkRejectReason, detail: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.opts.onReject?.(reason, detail);
  }
}
