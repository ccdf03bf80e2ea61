import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ackSchema, type Ack } from '../../protocol/acks.js';
import type { GradeCodeProfileName } from '../../protocol/grades.js';
import type { z } from 'zod';
import { explain, type Explained } from '../../protocol/issues.js';
import { provinceConfigSchema, type ProvinceConfig } from '../../protocol/province-config.js';
import type { TlsMaterial } from './tls-files.js';
import { commandSchema, type Command, type CommandResult } from '../../protocol/commands.js';
import { terminalTopics, type TerminalTopics } from '../../protocol/topics.js';
import type { Logger } from '../log.js';
import type { Outbox, OutboxEntry } from '../store/outbox.js';
import { toUpstream, type StoredRecord } from '../store/stored-record.js';
import type { TimeKeeper } from '../time/time-keeper.js';
import { Backoff } from './backoff.js';
import { TokenBucket } from './token-bucket.js';

export interface UplinkOptions {
  url: string;
  username?: string;
  password?: string;
  /** For mqtts:// and wss://: the broker's CA, and a client certificate and key. */
  tls?: TlsMaterial;
  clientId: string;
  terminalId: string;
  topicPrefix: string;
  gradeProfile: GradeCodeProfileName;
  /** Published records awaiting the province's acknowledgement, at most. */
  inflight: number;
  ackTimeoutMs: number;
  /** Pace of the backlog (records made before this connection), records a second; 0: unlimited. */
  drainRatePerSecond: number;
  /** Records made before the clock was trusted wait this long for a correction. */
  holdUnsyncedMs: number;
  reconnect: { minMs: number; maxMs: number };
  keepaliveSeconds: number;
  telemetryMs: number;
  /** What telemetry reports; called at each interval. */
  telemetry(): object;
  outbox: Outbox;
  clock: TimeKeeper;
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
  invalidConfigs: number;
}

type Lane = 'live' | 'backlog';

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
  config: [ProvinceConfig];
  command: [Command | { invalid: string; id: string | null }];
}> {
  private client: MqttClient | undefined;
  private readonly topics: TerminalTopics;
  private readonly inflight = new Map<string, { seq: number; at: number }>();
  /** Records up to this seq were made before the current connection: the backlog. */
  private ceiling = 0;
  private readonly cursors: Record<Lane, number> = { live: 0, backlog: 0 };
  private bucket: TokenBucket;
  private readonly backoff: Backoff;
  private online = false;
  private stopping = false;
  private heldForClock = 0;
  private timers: { ack?: NodeJS.Timeout; pump?: NodeJS.Timeout; reconnect?: NodeJS.Timeout; telemetry?: NodeJS.Timeout; acks?: NodeJS.Immediate } = {};
  /** Valid acks received in this event-loop turn, settled together at its end. */
  private acksWaiting: Ack[] = [];
  private readonly counts = { published: 0, acked: 0, rejectedAcks: 0, invalidAcks: 0, invalidConfigs: 0 };

  constructor(private readonly opts: UplinkOptions) {
    super();
    this.topics = terminalTopics(opts.terminalId, opts.topicPrefix);
    this.bucket = new TokenBucket(opts.drainRatePerSecond, () => opts.clock.monoMs());
    this.backoff = new Backoff(opts.reconnect.minMs, opts.reconnect.maxMs, opts.random);
  }

  start(): void {
    const { opts, topics } = this;
    const clientOptions: IClientOptions = {
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      ...opts.tls,
      clean: true,
      keepalive: opts.keepaliveSeconds,
      // Reconnecting is ours: exponential backoff with jitter (see Backoff).
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // We keep our own durable queue; never let mqtt.js queue in memory while offline.
      queueQoSZero: false,
      will: { topic: topics.state, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
    };
    const client = mqtt.connect(opts.url, clientOptions);
    this.client = client;
    client.on('connect', () => void this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => opts.logger.warn({ err: err.message }, 'mqtt error'));
    client.on('message', (topic, payload) => {
      if (topic === topics.acks) this.onAck(payload);
      else if (topic === topics.config) this.onConfig(payload);
      else if (topic === topics.cmd) this.onCommand(payload);
    });
    this.timers.ack = setInterval(() => this.republishOverdue(), Math.max(50, Math.min(opts.ackTimeoutMs / 2, 5000)));
    this.timers.telemetry = setInterval(() => this.sendTelemetry(), opts.telemetryMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.online = false; // an intended stop is not an outage
    clearImmediate(this.timers.acks);
    for (const timer of [this.timers.ack, this.timers.pump, this.timers.reconnect, this.timers.telemetry]) clearTimeout(timer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  /** Call after a record was appended to the outbox. */
  notify(): void {
    this.pump();
  }

  status(): UplinkStatus {
    const backlogToDrain = this.online ? this.opts.outbox.countPending(this.cursors.backlog, this.ceiling) : 0;
    return {
      connected: this.client?.connected ?? false,
      url: redactUrl(this.opts.url),
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
    this.opts.logger.info({ url: redactUrl(this.opts.url) }, 'connected to broker');
    try {
      await client.subscribeAsync([this.topics.acks, this.topics.config, this.topics.cmd], { qos: 1 });
      await client.publishAsync(
        this.topics.state,
        JSON.stringify({ online: true, at: this.opts.clock.now().toISOString(), ...this.opts.versions }),
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
    this.sendTelemetry();
    this.pump();
  }

  private onClose(): void {
    if (this.online) {
      this.online = false;
      this.opts.logger.warn('disconnected from broker; records stay in the outbox');
      this.emit('disconnected');
    }
    this.inflight.clear();
    if (this.stopping || this.timers.reconnect) return;
    const delay = this.backoff.next();
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /** Publishes what the window and the pace allow: the live lane first, then the backlog. */
  private pump(): void {
    if (!this.online || !this.client?.connected) return;
    clearTimeout(this.timers.pump);
    this.timers.pump = undefined;
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
      this.timers.pump = setTimeout(() => this.pump(), Math.max(1, this.bucket.msUntilNext()));
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
          this.timers.pump ??= setTimeout(() => this.pump(), Math.min(holdMs, 1000));
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

  private publish({ seq, record }: OutboxEntry): void {
    const id = record.id;
    this.inflight.set(id, { seq, at: this.opts.clock.monoMs() });
    const payload = JSON.stringify(toUpstream(this.opts.clock.forUpstream(record), seq, this.opts.gradeProfile));
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

  /** Publishing starts over from the oldest pending record (after records were made pending again). */
  rewind(): void {
    this.cursors.backlog = 0;
    this.ceiling = Math.max(this.ceiling, this.opts.outbox.maxSeq());
    this.pump();
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
    this.timers.acks ??= setImmediate(() => this.settleAcks());
  }

  private settleAcks(): void {
    this.timers.acks = undefined;
    const acks = this.acksWaiting;
    this.acksWaiting = [];
    const withTime = acks.findLast((a) => a.serverTime);
    if (withTime?.serverTime) this.opts.clock.observeServerTime(new Date(withTime.serverTime));
    const settled = this.opts.outbox.settle(acks, this.opts.clock.now());
    acks.forEach((ack, i) => {
      for (const id of ack.ids) this.inflight.delete(id);
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

  private republishOverdue(): void {
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

  private sendTelemetry(): void {
    if (!this.online) return;
    const body = { at: this.opts.clock.now().toISOString(), ...this.opts.telemetry() };
    this.client?.publish(this.topics.telemetry, JSON.stringify(body), { qos: 0 });
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
