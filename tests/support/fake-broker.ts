import { EventEmitter } from 'node:events';
import type { BrokerClient, ConnectBroker } from '../../bridge/uplink/uplink.js';
import type { Ack, AckStatus } from '../../protocol/acks.js';
import type { TerminalTopics } from '../../protocol/topics.js';
import type { ManualTimers } from './manual-timers.js';

/** What the province does with a record published on `…/records`. */
export type Behaviour = (record: { id: string; seq: number }, broker: FakeBroker) => void;

export const ackAtOnce =
  (status: AckStatus = 'accepted'): Behaviour =>
  (record, broker) =>
    broker.ack([record.id], status);
export const ackLate =
  (ms: number): Behaviour =>
  (record, broker) =>
    void broker.timers.setTimeout(() => broker.ack([record.id]), ms);
export const drop = (): Behaviour => () => {};
export const reject =
  (reason: string): Behaviour =>
  (record, broker) =>
    broker.ack([record.id], 'rejected', reason);

/**
 * A broker with the province behind it, for one terminal's uplink: connections succeed while it
 * is up, and each record published meets the current behaviour ("ack late", "drop", "reject").
 */
export class FakeBroker {
  up = true;
  behaviour: Behaviour = ackAtOnce();
  /** Connection attempts, the first included. */
  attempts = 0;
  /** Every message the terminal published, in order. */
  readonly published: Array<{ topic: string; payload: string }> = [];
  private client: FakeClient | undefined;

  constructor(
    readonly timers: ManualTimers,
    private readonly topics: TerminalTopics,
  ) {}

  readonly connect: ConnectBroker = () => {
    this.client = new FakeClient(this);
    this.client.reconnect();
    return this.client;
  };

  /** Records published on `…/records`, resends included. */
  records(): Array<{ id: string; seq: number }> {
    return this.published.filter((m) => m.topic === this.topics.records).map((m) => JSON.parse(m.payload) as { id: string; seq: number });
  }

  ack(ids: string[], status: AckStatus = 'accepted', reason?: string): void {
    this.deliverAck({ ids, status, ...(reason && { reason }) });
  }

  /** Delivers an ack as given (e.g. with a `serverTime`) on `…/acks`. */
  deliverAck(ack: Ack): void {
    this.client?.deliver(this.topics.acks, JSON.stringify(ack));
  }

  /** The network goes: the connection drops, and none can be made until `up` again. */
  cut(): void {
    this.up = false;
    this.client?.end(true);
  }

  /** Called by the client for each message it publishes. */
  received(topic: string, payload: string): void {
    this.published.push({ topic, payload });
    if (topic === this.topics.records) this.behaviour(JSON.parse(payload) as { id: string; seq: number }, this);
  }
}

class FakeClient extends EventEmitter implements BrokerClient {
  connected = false;

  constructor(private readonly broker: FakeBroker) {
    super();
  }

  /** Connects, as mqtt.js does, after the caller has attached its listeners. */
  reconnect(): void {
    this.broker.attempts += 1;
    queueMicrotask(() => {
      this.connected = this.broker.up;
      this.emit(this.connected ? 'connect' : 'close');
    });
  }

  deliver(topic: string, payload: string): void {
    if (this.connected) this.emit('message', topic, Buffer.from(payload));
  }

  async subscribeAsync(): Promise<void> {}

  async publishAsync(topic: string, payload: string): Promise<void> {
    this.broker.received(topic, payload);
  }

  publish(topic: string, payload: string, _options: unknown, callback?: (err?: Error) => void): void {
    if (!this.connected) return callback?.(new Error('not connected'));
    this.broker.received(topic, payload);
    callback?.();
  }

  end(_force?: boolean): void {
    if (!this.connected) return;
    this.connected = false;
    this.emit('close');
  }

  async endAsync(): Promise<void> {
    this.end();
  }
}
