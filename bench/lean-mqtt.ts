/*
 * A lean MQTT 3.1.1 client for the fleet benchmark's simulated terminals: a real TCP connection
 * to the broker speaking MQTT through mqtt-packet (the encoder and parser mqtt.js itself uses),
 * and nothing else. The load generator shares the machine with the gateways, PostgreSQL and
 * Mosquitto it measures; mqtt.js's per-message bookkeeping (an outgoing store, a callback and
 * a timer per QoS 1 publish, keepalive timers per client) made the generator the third largest
 * CPU user per record, so that the benchmark partly measured itself. Terminals are on their own
 * Raspberry Pis in a hall. What stays is what the broker and the gateway see: a session per
 * terminal, QoS 1 publishes with packet ids (the broker answers each with a PUBACK, read and
 * dropped: the gateway's application ack is what settles a record), and a subscription to the
 * terminal's acks.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface LeanClientOptions {
  host: string;
  port: number;
  clientId: string;
  /** The topic subscribed (QoS 1) on every connection. */
  subscribe: string;
  onMessage(topic: string, payload: Buffer): void;
  /** Connected and subscribed (again, after a reconnect). */
  onReady(): void;
  /** Wait before connecting again after the connection was lost. */
  reconnectMs: number;
}

const SUBSCRIBE_ID = 1;
const MAX_PACKET_ID = 0xffff;
/** Connection attempts before open() gives up (a broker busy accepting thousands may refuse some). */
const FIRST_ATTEMPTS = 30;

export class LeanMqttClient {
  /** Connected and subscribed. */
  ready = false;
  #socket: Socket | undefined;
  #nextId = SUBSCRIBE_ID;
  #closing = false;
  #attempts = 0;

  constructor(private readonly options: LeanClientOptions) {}

  /** Connects (and keeps reconnecting until close()); resolves on the first time ready. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onFirst = (err?: Error): void => (err ? reject(err) : resolve());
      this.#connect(onFirst);
    });
  }

  /** QoS 1, fire and forget: false while not connected. */
  publish(topic: string, payload: string): boolean {
    const socket = this.#socket;
    if (!this.ready || !socket) return false;
    this.#nextId = this.#nextId >= MAX_PACKET_ID ? SUBSCRIBE_ID + 1 : this.#nextId + 1;
    socket.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: this.#nextId, retain: false, dup: false }));
    return true;
  }

  close(): Promise<void> {
    this.#closing = true;
    this.ready = false;
    const socket = this.#socket;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    });
  }

  #connect(first?: (err?: Error) => void): void {
    const { host, port, clientId, subscribe } = this.options;
    const socket = tcpConnect({ host, port, noDelay: true });
    this.#socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: mqttPacket.Packet) => {
      switch (packet.cmd) {
        case 'connack':
          if (packet.returnCode !== 0) {
            socket.destroy(new Error(`${clientId}: CONNACK return code ${String(packet.returnCode)}`));
            return;
          }
          socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: SUBSCRIBE_ID, subscriptions: [{ topic: subscribe, qos: 1 }] }));
          return;
        case 'suback':
          this.ready = true;
          first?.();
          first = undefined;
          this.options.onReady();
          return;
        case 'publish':
          if (packet.qos === 1 && packet.messageId !== undefined) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId }));
          this.options.onMessage(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
          return;
        default:
          return; // PUBACKs of our publishes, PINGRESP: nothing to do
      }
    });
    parser.on('error', (err: Error) => socket.destroy(err));
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('connect', () => {
      // Keepalive 0: the bench's sessions live as long as the run; no PINGREQ timer per terminal.
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ready = false;
      if (this.#closing) return;
      if (first && ++this.#attempts >= FIRST_ATTEMPTS) {
        first(new Error(`${clientId}: no MQTT session with ${host}:${port} after ${FIRST_ATTEMPTS} attempts`));
        return;
      }
      setTimeout(() => this.#connect(first), this.options.reconnectMs).unref();
    });
  }
}
