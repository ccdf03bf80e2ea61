import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions } from 'mqtt';
import { ackSchema, type Ack, type TimeProbe } from '../../protocol/acks.js';
import { profileIn, type GradeProfileSource } from '../../protocol/grades.js';
import type { z } from 'zod';
import { explain, type Explained } from '../../protocol/issues.js';
import { provinceConfigSchema, type ProvinceConfig } from '../../protocol/province-config.js';
import { commandSchema, type Command, type CommandResult } from '../../protocol/commands.js';
import { repeat, type Timers } from '../../protocol/timers.js';
import { terminalTopics, type TerminalTopics } from '../../protocol/topics.js';
import type { Logger } from '../log.js';
import type { Outbox, OutboxEntry } from '../store/outbox.js';
import type { StoredRecord } from '../../protocol/records.js';
import { encodeRecord, RECORD_FORMATS, type RecordFormatName } from '../../protocol/record-formats/index.js';
import type { TimeKeeper } from '../time/time-keeper.js';
import { Backoff } from './backoff.js';
import type { BrokerConnection } from './mqtt-options.js';
import { withTimeCorrection, type Sign } from '../../protocol/seal/seal.js';
import type { Birth } from '../../protocol/registration.js';
import { StorageFailure } from '../store/commits.js';
import { TokenBucket } from './token-bucket.js';

/** What the uplink needs of an MQTT client (mqtt.js's MqttClient; a double in unit tests). */
export interface BrokerClient {
  readonly connected: boolean;
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  subscribeAsync(topics: string[], options: { qos: 1 }): Promise<unknown>;
  publishAsync(topic: string, payload: string, options: { qos: 1; retain: boolean }): Promise<unknown>;
  publish(topic: string, payload: string, options: { qos: 0 | 1 }, callback?: (err?: Error) => void): unknown;
  /** Closes the connection at once; 'close' follows. */
  end(force: true): unknown;
  endAsync(force: true): Promise<void>;
  reconnect(): unknown;
}

export type ConnectBroker = (url: string, options: IClientOptions) => BrokerClient;

/** A command that failed validation: answered with what was wrong (and its id, when it had one). */
export type InvalidCommand = { invalid: string; id: string | null };

export interface UplinkOptions {
  broker: BrokerConnection;
  /** Opens the client (it connects, and reconnects when asked); default mqtt.connect. */
  connect?: ConnectBroker;
  terminalId: string;
  topicPrefix: string;
  /** For records stored unsealed (layout 1), laid out when published. */
  gradeProfile: GradeProfileSource;
  /** The upstream record layout (mqtt.recordFormat) of records stored unsealed (sealed ones go as stored). */
  recordFormat: RecordFormatName;
  /** The terminal's key: signs a time correction beside a sealed record made on an untrusted clock. */
  sign: Sign;
  /** Its public half (SPKI DER, base64), announced in every birth: the province pins the first it registers. */
  publicKey: string;
  /** Published records awaiting the province's acknowledgement, at most. */
  inflight: number;
  ackTimeoutMs: number;
  /** Pace of the backlog (records made before this connection), records a second; 0: unlimited. */
  drainRatePerSecond: number;
  /** Records made before the clock was trusted wait this long for a correction. */
  holdUnsyncedMs: number;
  reconnect: { minMs: number; maxMs: number };
  outbox: Outbox;
  clock: TimeKeeper;
  timers: Timers;
  random: () => number;
  logger: Logger;
  versions: Record<string, string>;
}

export interface UplinkStatus {
  connected: boolean;
  url: string;
  inflight: number;
  /** Records of the backlog (made before this connection) still to publish. */
  backlogToDrain: number;
  drainRatePerSecond: number;
  /** Unsynced records waiting for a trusted time before they are published. */
  heldForClock: number;
  reconnectAttempts: number;
  published: number;
  acked: number;
  rejectedAcks: number;
  invalidAcks: number;
  /** Ids in valid acks that named nothing this uplink published and awaits: ignored. */
  unexpectedAcks: number;
  invalidConfigs: number;
}

type Lane = 'live' | 'backlog';
type SealedBody = Record<string, unknown> & { id: string };

/**
 * Carries the outbox to the province over MQTT. A record leaves the outbox only on the
 * province's application-level acknowledgement (never on a broker PUBACK); anything not
 * acknowledged in time is published again, and the province dedupes by id.
 *
 * Two lanes: records made since this connection came up go first; the backlog (everything
 * older) drains oldest first at a configured pace, so that terminals coming back from an
 * outage together do not flood the province.
 */
export class Uplink extends EventEmitter<{
  connected: [];
  disconnected: [];
  published: [string];
  acked: [Ack];
  /** Ids answered that this uplink did not publish or no longer awaits: counted (unexpectedAcks), logged, dropped. */
  ignoredAcks: [ids: string[]];
  config: [ProvinceConfig];
  command: [Command | InvalidCommand];
}> {
  private client: BrokerClient | undefined;
  private readonly topics: TerminalTopics;
  private readonly inflight = new Map<string, { seq: number; at: number }>();
  /**
   * Every record this process has published and not yet seen settled, in flight or not (a late
   * ack after a timeout or a reconnect still counts). Only these can an ack settle: an ack for
   * anything else (never sent, another terminal's, a forgery) changes nothing. After a restart it
   * starts empty: acks for the last run's publishes are ignored, and the records, still pending,
   * are published again and settled by the receiver's new (duplicate) ack.
   */
  private readonly awaiting = new Set<string>();
  /** The time probe awaiting its answer, while the clock is not trusted (monotonic ms when sent). */
  private timeProbe: { id: string; at: number } | undefined;
  /** Records up to this seq were made before the current connection: the backlog. */
  private ceiling = 0;
  private readonly cursors: Record<Lane, number> = { live: 0, backlog: 0 };
  private bucket: TokenBucket;
  private readonly backoff: Backoff;
  private online = false;
  private stopping = false;
  private heldForClock = 0;
  /** Pending timers, by what they are for (handles of opts.timers). */
  private pending: { pump?: unknown; reconnect?: unknown; acks?: unknown } = {};
  private stopRepublishing: (() => void) | undefined;
  /** Valid acks received in this event-loop turn, settled together at its end. */
  private acksWaiting: Ack[] = [];
  private readonly counts = { published: 0, acked: 0, rejectedAcks: 0, invalidAcks: 0, unexpectedAcks: 0, invalidConfigs: 0 };

  /**
   * The layout of a row stored unsealed: the configured one, or, when that is sealed, layout 1 (a
   * row from before an upgrade cannot be sealed now: it goes as it was, and the receiver flags it).
   */
  private readonly unsealedFormat: RecordFormatName;

  constructor(private readonly opts: UplinkOptions) {
    super();
    this.unsealedFormat = RECORD_FORMATS[opts.recordFormat].sealed ? 'v1' : opts.recordFormat;
    this.topics = terminalTopics(opts.terminalId, opts.topicPrefix);
    this.bucket = new TokenBucket(opts.drainRatePerSecond, () => opts.clock.monoMs());
    this.backoff = new Backoff(opts.reconnect.minMs, opts.reconnect.maxMs, opts.random);
  }

  start(): void {
    const { opts, topics } = this;
    const connect: ConnectBroker = opts.connect ?? mqtt.connect;
    const client = connect(opts.broker.url, opts.broker.options);
    this.client = client;
    opts.outbox.on('appended', this.onAppended);
    opts.outbox.on('requeued', this.onRequeued);
    client.on('connect', () => void this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => opts.logger.warn({ err: err.message }, 'mqtt error'));
    client.on('message', (topic, payload) => {
      if (topic === topics.acks) this.onAck(payload);
      else if (topic === topics.config) this.onConfig(payload);
      else if (topic === topics.cmd) this.onCommand(payload);
    });
    this.stopRepublishing = repeat(opts.timers, Math.max(50, Math.min(opts.ackTimeoutMs / 2, 5000)), () => this.republishOverdue());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.online = false; // an intended stop is not an outage
    this.opts.outbox.off('appended', this.onAppended);
    this.opts.outbox.off('requeued', this.onRequeued);
    this.stopRepublishing?.();
    for (const handle of Object.values(this.pending)) this.opts.timers.clearTimeout(handle);
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  /** A record was stored: the live lane takes it at once, if the window allows. */
  private readonly onAppended = (): void => this.pump();

  /** Records were made pending again (the province lost them): publishing starts over from the oldest. */
  private readonly onRequeued = (): void => {
    this.cursors.backlog = 0;
    this.ceiling = Math.max(this.ceiling, this.opts.outbox.maxSeq());
    this.pump();
  };

  /** Publishes a health report on `…/telemetry` (QoS 0: the next one supersedes it); none while offline. */
  telemetry(body: object): void {
    if (!this.online) return;
    this.client?.publish(this.topics.telemetry, JSON.stringify(body), { qos: 0 });
  }

  status(): UplinkStatus {
    const backlogToDrain = this.online ? this.opts.outbox.countPending(this.cursors.backlog, this.ceiling) : 0;
    return {
      connected: this.client?.connected ?? false,
      url: redactUrl(this.opts.broker.url),
      inflight: this.inflight.size,
      backlogToDrain,
      drainRatePerSecond: this.opts.drainRatePerSecond,
      heldForClock: this.heldForClock,
      reconnectAttempts: this.backoff.attempts,
      ...this.counts,
    };
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.backoff.reset();
    this.opts.logger.info({ url: redactUrl(this.opts.broker.url) }, 'connected to broker');
    try {
      await client.subscribeAsync([this.topics.acks, this.topics.config, this.topics.cmd], { qos: 1 });
      await client.publishAsync(
        this.topics.state,
        JSON.stringify({ online: true, at: this.opts.clock.now().toISOString(), publicKey: this.opts.publicKey, ...this.opts.versions } satisfies Birth),
        { qos: 1, retain: true },
      );
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot subscribe or announce; reconnecting');
      client.end(true);
      return;
    }
    // Whatever was in flight may not have arrived: start over, the backlog from its oldest.
    this.inflight.clear();
    this.ceiling = this.opts.outbox.maxSeq();
    this.cursors.backlog = 0;
    this.cursors.live = this.ceiling;
    this.bucket = new TokenBucket(this.opts.drainRatePerSecond, () => this.opts.clock.monoMs());
    this.online = true;
    this.emit('connected');
    this.askTime();
    this.pump();
  }

  private onClose(): void {
    if (this.online) {
      this.online = false;
      this.opts.logger.warn('disconnected from broker; records stay in the outbox');
      this.emit('disconnected');
    }
    this.inflight.clear();
    if (this.stopping || this.pending.reconnect !== undefined) return;
    this.pending.reconnect = this.opts.timers.setTimeout(() => {
      this.pending.reconnect = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, this.backoff.next());
  }

  /** Publishes what the window and the pace allow: the live lane first, then the backlog. */
  private pump(): void {
    if (!this.online || !this.client?.connected) return;
    this.opts.timers.clearTimeout(this.pending.pump);
    this.pending.pump = undefined;
    this.heldForClock = 0;
    let room = this.opts.inflight - this.inflight.size;
    room -= this.drain('live', room);
    if (room <= 0) return;
    const granted = this.bucket.take(room);
    const sent = this.drain('backlog', granted);
    this.bucket.refund(granted - sent);
    // Held back by the pace, with more to go: come back when the next token is due.
    // (An existence check, not a count: this runs after every ack, and a count is O(backlog).)
    if (sent === granted && this.opts.outbox.pending(this.cursors.backlog, this.ceiling, 1).length > 0) {
      this.pending.pump = this.opts.timers.setTimeout(() => this.pump(), Math.max(1, this.bucket.msUntilNext()));
    }
  }

  /** Publishes up to `limit` records of a lane; returns how many. */
  private drain(lane: Lane, limit: number): number {
    const upTo = lane === 'backlog' ? this.ceiling : Number.MAX_SAFE_INTEGER;
    let sent = 0;
    while (sent < limit) {
      const batch = this.opts.outbox.pending(this.cursors[lane], upTo, limit - sent);
      if (batch.length === 0) break;
      for (const entry of batch) {
        if (this.inflight.has(entry.record.id)) {
          this.cursors[lane] = entry.seq;
          continue;
        }
        const holdMs = this.holdFor(entry.record);
        if (holdMs > 0) {
          // This and every later record of the lane wait for a trusted clock (or the hold to end).
          this.heldForClock = this.opts.outbox.countPending(entry.seq - 1, upTo);
          this.pending.pump ??= this.opts.timers.setTimeout(() => this.pump(), Math.min(holdMs, 1000));
          return sent;
        }
        this.cursors[lane] = entry.seq;
        this.publish(entry);
        sent += 1;
        if (sent >= limit) break;
      }
    }
    return sent;
  }

  /** How much longer a record made on an untrusted clock should wait for a correction. */
  private holdFor(record: StoredRecord): number {
    const { clock } = this.opts;
    if (record.clock.synced || clock.isSynced() || !clock.correctable(record)) return 0;
    return this.opts.holdUnsyncedMs - (clock.monoMs() - record.clock.monoMs);
  }

  private publish(entry: OutboxEntry): void {
    const { seq, record } = entry;
    const id = record.id;
    this.inflight.set(id, { seq, at: this.opts.clock.monoMs() });
    this.awaiting.add(id);
    const payload = this.payloadOf(entry);
    this.client?.publish(this.topics.records, payload, { qos: 1 }, (err) => {
      if (err) {
        // Not on the wire: forget it, so that a later pass publishes it again.
        this.release(id);
        if (!this.stopping) this.opts.logger.warn({ id, err: err.message }, 'publish failed');
        return;
      }
      this.counts.published += 1;
      this.emit('published', id);
    });
  }

  /**
   * The message for a record: a sealed one as it was sealed (with a signed correction beside
   * the seal when its times can be corrected now; the outbox already parsed it into `record`);
   * an unsealed one laid out and corrected now.
   */
  private payloadOf({ seq, record, sealed }: OutboxEntry): string {
    const { clock } = this.opts;
    if (sealed === undefined) return encodeRecord(this.unsealedFormat, clock.forUpstream(record), seq, profileIn(this.opts.gradeProfile));
    const offsetMs = clock.correctionMs(record);
    return offsetMs === null ? sealed : JSON.stringify(withTimeCorrection(record as unknown as SealedBody, offsetMs, this.opts.sign));
  }

  /** Forgets an in-flight record and moves its lane's cursor back so it is published again. */
  private release(id: string): void {
    const entry = this.inflight.get(id);
    if (!entry) return;
    this.inflight.delete(id);
    const lane: Lane = entry.seq <= this.ceiling ? 'backlog' : 'live';
    this.cursors[lane] = Math.min(this.cursors[lane], entry.seq - 1);
  }

  /** The province's retained config: validated, then handed on; a bad one changes nothing. */
  private onConfig(payload: Buffer): void {
    const parsed = parseJson(provinceConfigSchema, payload);
    if (!parsed.ok) {
      this.counts.invalidConfigs += 1;
      this.opts.logger.warn({ problems: parsed.problems, topic: this.topics.config }, 'invalid province config ignored');
      return;
    }
    this.emit('config', parsed.data);
  }

  /** A command from the province: validated here, carried out by the bridge, answered by `answer`. */
  private onCommand(payload: Buffer): void {
    const parsed = parseJson(commandSchema, payload);
    if (parsed.ok) {
      this.emit('command', parsed.data);
      return;
    }
    let id: string | null = null;
    try {
      const raw = JSON.parse(payload.toString('utf8')) as { id?: unknown };
      if (typeof raw.id === 'string') id = raw.id;
    } catch {
      // not JSON: answered without an id
    }
    this.emit('command', { invalid: parsed.problems.join('; '), id });
  }

  /** Publishes a command's result on `…/cmd/result`. */
  answer(result: CommandResult): void {
    this.client?.publish(this.topics.cmdResult, JSON.stringify(result), { qos: 1 });
  }

  private onAck(payload: Buffer): void {
    const parsed = parseJson(ackSchema, payload);
    if (!parsed.ok) {
      this.counts.invalidAcks += 1;
      this.opts.logger.warn({ problems: parsed.problems, topic: this.topics.acks }, 'invalid ack ignored');
      return;
    }
    // Acks that arrive together (one socket read can hold hundreds) are settled together: one
    // commit, and the event loop gets a turn in between, so the counter is never kept waiting.
    this.acksWaiting.push(parsed.data);
    this.pending.acks ??= this.opts.timers.setTimeout(() => this.settleAcks(), 0);
  }

  private settleAcks(): void {
    this.pending.acks = undefined;
    const acks = this.awaited(this.answerToTimeProbe(this.acksWaiting));
    this.acksWaiting = [];
    // Only an ack that answers what we sent is trusted with the time.
    const withTime = acks.findLast((a) => a.serverTime);
    if (withTime?.serverTime) this.opts.clock.observeServerTime(new Date(withTime.serverTime));
    // Nothing awaited (a flood of junk acks): no commit.
    let settled: number[];
    try {
      settled = acks.length > 0 ? this.opts.outbox.settle(acks, this.opts.clock.now()) : [];
    } catch (err) {
      // The disk cannot take it (the store logs and raises it): the records stay in flight, are
      // published again after their ack timeout, and are settled by that ack.
      if (err instanceof StorageFailure) return;
      throw err;
    }
    acks.forEach((ack, i) => {
      for (const id of ack.ids) {
        this.inflight.delete(id);
        this.awaiting.delete(id);
      }
      if (ack.status === 'rejected') {
        this.counts.rejectedAcks += ack.ids.length;
        this.opts.logger.error({ ids: ack.ids, reason: ack.reason }, 'province rejected records; quarantined');
      } else {
        this.counts.acked += settled[i] ?? 0;
      }
      this.emit('acked', ack);
    });
    this.pump();
  }

  /**
   * Without a trusted clock, records wait for a correction (holdUnsyncedMs), and the province's
   * time comes in acks, which only follow a publish: so the uplink asks for it on connecting, and
   * again each ack timeout until answered. The answer is an ack naming the probe, with serverTime.
   */
  private askTime(): void {
    if (!this.online || this.opts.clock.isSynced()) return;
    const overdue = this.opts.clock.monoMs() - this.opts.ackTimeoutMs;
    if (this.timeProbe && this.timeProbe.at > overdue) return;
    this.timeProbe = { id: randomUUID(), at: this.opts.clock.monoMs() };
    this.client?.publish(this.topics.time, JSON.stringify({ probe: this.timeProbe.id } satisfies TimeProbe), { qos: 1 });
  }

  /** Takes the time from the answer to the probe awaited, if one came; returns the other acks' ids. */
  private answerToTimeProbe(acks: Ack[]): Ack[] {
    const probe = this.timeProbe;
    if (!probe) return acks;
    const answer = acks.find((a) => a.ids.includes(probe.id) && a.serverTime);
    if (answer?.serverTime) {
      this.timeProbe = undefined;
      this.opts.clock.observeServerTime(new Date(answer.serverTime));
    }
    return acks.flatMap((a) => {
      const ids = a.ids.filter((id) => id !== probe.id);
      return ids.length > 0 ? [{ ...a, ids }] : [];
    });
  }

  /** The acks cut down to the ids this uplink awaits; the others are counted and logged, and dropped. */
  private awaited(acks: Ack[]): Ack[] {
    const kept: Ack[] = [];
    const unexpected: string[] = [];
    // An id answered twice in one turn (a replayed ack) is settled by the first answer only.
    const claimed = new Set<string>();
    for (const ack of acks) {
      const ids: string[] = [];
      for (const id of ack.ids) {
        if (this.awaiting.has(id) && !claimed.has(id)) {
          claimed.add(id);
          ids.push(id);
        } else unexpected.push(id);
      }
      if (ids.length > 0) kept.push({ ...ack, ids });
    }
    if (unexpected.length > 0) {
      this.counts.unexpectedAcks += unexpected.length;
      this.opts.logger.warn(
        { ids: unexpected.slice(0, 10), count: unexpected.length, topic: this.topics.acks },
        'ack for records this bridge did not publish or no longer awaits ignored',
      );
      this.emit('ignoredAcks', unexpected);
    }
    return kept;
  }

  private republishOverdue(): void {
    this.askTime();
    const deadline = this.opts.clock.monoMs() - this.opts.ackTimeoutMs;
    let overdue = 0;
    for (const [id, { at }] of this.inflight) {
      if (at <= deadline) {
        this.release(id);
        overdue += 1;
      }
    }
    if (overdue) {
      this.opts.logger.warn({ overdue }, 'no ack from the province in time; publishing again');
      this.pump();
    }
  }
}

/** A JSON MQTT payload through its schema: what was wrong, or the typed value. */
function parseJson<T extends z.ZodType>(schema: T, payload: Buffer): Explained<z.output<T>> {
  try {
    return explain(schema, JSON.parse(payload.toString('utf8')));
  } catch (err) {
    return { ok: false, problems: [`not JSON: ${(err as Error).message}`], fields: [] };
  }
}

/** The broker URL without credentials, for status and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
