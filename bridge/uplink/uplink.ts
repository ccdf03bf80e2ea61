import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ackSchema, type Ack } from '../../protocol/acks.js';
import type { GradeCodeProfileName } from '../../protocol/grades.js';
import { terminalTopics, type TerminalTopics } from '../../protocol/topics.js';
import type { Clock } from '../clock.js';
import { explain } from '../../protocol/issues.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/outbox.js';
import { toUpstream } from '../store/stored-record.js';

export interface UplinkOptions {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  terminalId: string;
  topicPrefix: string;
  gradeProfile: GradeCodeProfileName;
  /** Published records awaiting the province's acknowledgement, at most. */
  inflight: number;
  ackTimeoutMs: number;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  versions: Record<string, string>;
  /** Reconnect delay; mqtt.js retries at this period. */
  reconnectMs?: number;
}

export interface UplinkStatus {
  connected: boolean;
  url: string;
  inflight: number;
  published: number;
  acked: number;
  rejectedAcks: number;
  invalidAcks: number;
}

/**
 * Carries the outbox to the province over MQTT. A record leaves the outbox only on the
 * province's application-level acknowledgement (never on a broker PUBACK); anything not
 * acknowledged is published again, and the province dedupes by id.
 */
export class Uplink extends EventEmitter<{
  connected: [];
  disconnected: [];
  published: [string];
  acked: [Ack];
}> {
  private client: MqttClient | undefined;
  private readonly topics: TerminalTopics;
  /** id -> when it was published (monotonic ms). */
  private readonly inflight = new Map<string, number>();
  private cursor = 0;
  private pumping = false;
  private online = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly counts = { published: 0, acked: 0, rejectedAcks: 0, invalidAcks: 0 };

  constructor(private readonly opts: UplinkOptions) {
    super();
    this.topics = terminalTopics(opts.terminalId, opts.topicPrefix);
  }

  start(): void {
    const { opts, topics } = this;
    const clientOptions: IClientOptions = {
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      clean: true,
      reconnectPeriod: opts.reconnectMs ?? 1000,
      connectTimeout: 10_000,
      // We keep our own durable queue; never let mqtt.js queue in memory while offline.
      queueQoSZero: false,
      will: { topic: topics.state, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
    };
    const client = mqtt.connect(opts.url, clientOptions);
    this.client = client;
    client.on('connect', () => void this.onConnect());
    client.on('close', () => this.onDisconnect());
    client.on('error', (err) => opts.logger.warn({ err: err.message }, 'mqtt error'));
    client.on('message', (topic, payload) => {
      if (topic === topics.acks) this.onAck(payload);
    });
    this.ackTimer = setInterval(() => this.republishOverdue(), Math.max(100, Math.min(opts.ackTimeoutMs / 2, 5000)));
  }

  async stop(): Promise<void> {
    this.online = false; // an intended stop is not an outage
    clearInterval(this.ackTimer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(false);
  }

  /** Call after a record was appended to the outbox. */
  notify(): void {
    void this.pump();
  }

  status(): UplinkStatus {
    return {
      connected: this.client?.connected ?? false,
      url: redactUrl(this.opts.url),
      inflight: this.inflight.size,
      ...this.counts,
    };
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.opts.logger.info({ url: redactUrl(this.opts.url) }, 'connected to broker');
    try {
      await client.subscribeAsync(this.topics.acks, { qos: 1 });
      await client.publishAsync(
        this.topics.state,
        JSON.stringify({ online: true, at: this.opts.clock.now().toISOString(), ...this.opts.versions }),
        { qos: 1, retain: true },
      );
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot subscribe or announce; will retry on reconnect');
      return;
    }
    // Start over from the oldest pending record: whatever was in flight may not have arrived.
    this.inflight.clear();
    this.cursor = 0;
    this.online = true;
    this.emit('connected');
    void this.pump();
  }

  private onDisconnect(): void {
    if (this.online) {
      this.online = false;
      this.opts.logger.warn('disconnected from broker; records stay in the outbox');
      this.emit('disconnected');
    }
    this.inflight.clear();
    this.cursor = 0;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.client?.connected) {
        const room = this.opts.inflight - this.inflight.size;
        if (room <= 0) break;
        const batch = this.opts.outbox.pending(this.cursor, room);
        if (batch.length === 0) break;
        for (const { seq, record } of batch) {
          this.cursor = seq;
          if (this.inflight.has(record.id)) continue;
          this.inflight.set(record.id, this.opts.clock.monoMs());
          this.publish(record.id, JSON.stringify(toUpstream(record, seq, this.opts.gradeProfile)));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private publish(id: string, payload: string): void {
    this.client?.publish(this.topics.records, payload, { qos: 1 }, (err) => {
      if (err) {
        // Not on the wire: forget it, so that the next pass over the outbox publishes it again.
        this.inflight.delete(id);
        this.opts.logger.warn({ id, err: err.message }, 'publish failed');
        return;
      }
      this.counts.published += 1;
      this.emit('published', id);
    });
  }

  private onAck(payload: Buffer): void {
    let parsed;
    try {
      parsed = explain(ackSchema, JSON.parse(payload.toString('utf8')));
    } catch (err) {
      parsed = { ok: false as const, problems: [`not JSON: ${(err as Error).message}`] };
    }
    if (!parsed.ok) {
      this.counts.invalidAcks += 1;
      this.opts.logger.warn({ problems: parsed.problems, topic: this.topics.acks }, 'invalid ack ignored');
      return;
    }
    const ack: Ack = parsed.data;
    const settled = this.opts.outbox.settle(ack.ids, ack.status, ack.reason, this.opts.clock.now());
    for (const id of ack.ids) this.inflight.delete(id);
    if (ack.status === 'rejected') {
      this.counts.rejectedAcks += ack.ids.length;
      this.opts.logger.error({ ids: ack.ids, reason: ack.reason }, 'province rejected records; quarantined');
    } else {
      this.counts.acked += settled;
    }
    this.emit('acked', ack);
    void this.pump();
  }

  private republishOverdue(): void {
    const deadline = this.opts.clock.monoMs() - this.opts.ackTimeoutMs;
    let overdue = false;
    for (const [id, at] of this.inflight) {
      if (at <= deadline) {
        this.inflight.delete(id);
        overdue = true;
      }
    }
    if (overdue) {
      this.cursor = 0;
      void this.pump();
    }
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
