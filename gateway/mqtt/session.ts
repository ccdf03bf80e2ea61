import { EventEmitter } from 'node:events';
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt';
import { ConfigError } from '../../bridge/config.js';
import { readSecretFile } from '../../bridge/secret-file.js';
import { readTlsFiles } from '../../bridge/uplink/tls-files.js';
import { terminalIdOfTopic, type ProvinceLeaf } from '../../protocol/topics.js';
import type { GatewayConfig } from '../config.js';
import type { Logger, Publisher } from '../ports.js';
import { gatewaySubscriptions } from './subscriptions.js';

/** The broker could not be reached or refused the gateway: said with where and what to check. */
export class BrokerUnavailable extends Error {
  override name = 'BrokerUnavailable';
}

/** Makes a client that starts connecting (mqtt.js `connect`): the session attaches its listeners before the broker can hand it anything. */
export type Connect = (url: string, options: IClientOptions) => MqttClient;

/** Where a message on one of the gateway's leaves goes. Called synchronously; must not throw. */
export type LeafHandlers = Record<ProvinceLeaf, (topic: string, payload: Buffer) => void>;

export interface SessionStatus {
  connected: boolean;
  clientId: string;
  subscriptions: string[];
  /** Connections lost since start. */
  disconnects: number;
  lastError: string | null;
}

/**
 * The gateway instance's MQTT session: subscriptions per mqtt/subscriptions.ts, each message
 * handed to its leaf's handler, and publishing for acks, configs and answers. mqtt.js reconnects
 * on its own; a lost connection costs nothing, since every bridge publishes again what it has not
 * seen acknowledged. Clean by default (sessionExpirySeconds 0): a broker keeps routing a share
 * group's messages to the session of a member that is away (Mosquitto does), so a persistent
 * session of an instance that stopped for good would sit on its share until it expires.
 */
export class GatewaySession extends EventEmitter<{ connected: []; disconnected: [] }> implements Publisher {
  readonly #client: MqttClient;
  readonly #subscriptions: string[];
  readonly #status: SessionStatus;
  #stopping: Promise<void> | undefined;

  private constructor(client: MqttClient, clientId: string, subscriptions: string[], private readonly log: Logger) {
    super();
    this.#client = client;
    this.#subscriptions = subscriptions;
    this.#status = { connected: true, clientId, subscriptions, disconnects: 0, lastError: null };
    client.on('connect', () => {
      this.#status.connected = true;
      this.log.info({ clientId }, 'gateway: connected to the broker');
      this.emit('connected');
    });
    client.on('close', () => {
      if (!this.#status.connected) return;
      this.#status.connected = false;
      this.#status.disconnects += 1;
      if (!this.#stopping) this.log.warn({ clientId }, 'gateway: lost the broker; reconnecting');
      this.emit('disconnected');
    });
    client.on('error', (err) => {
      this.#status.lastError = err.message;
      this.log.error({ err: err.message }, 'gateway: MQTT error');
    });
  }

  static async start(config: GatewayConfig, handlers: LeafHandlers, log: Logger, connect: Connect = mqttConnect): Promise<GatewaySession> {
    const { mqtt } = config;
    const clientId = `hcp-gateway-${config.instance}`;
    const options: IClientOptions = {
      clientId,
      username: mqtt.username,
      password: mqtt.passwordFile !== undefined ? readPasswordFile(mqtt.passwordFile) : mqtt.password,
      ...readTlsFiles(mqtt.tls),
      protocolVersion: mqtt.protocolVersion,
      clean: mqtt.sessionExpirySeconds === 0,
      keepalive: mqtt.keepaliveSeconds,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      ...(mqtt.protocolVersion === 5 && mqtt.sessionExpirySeconds > 0 ? { properties: { sessionExpiryInterval: mqtt.sessionExpirySeconds } } : {}),
    };
    const subscriptions = gatewaySubscriptions(mqtt.topicPrefix, mqtt.sharedGroup);
    const client = connect(mqtt.url, options);
    // mqtt.js waits for the socket's 'drain' with one listener per packet written while it is full:
    // at full ingest that is every ack of the batches settled at once (one message per terminal),
    // which is backpressure working, not a leak. Node's warning is set above that bound.
    const drainWaiters = config.ingest.concurrency * config.ingest.maxBatch + DRAIN_LISTENERS_BESIDE_ACKS;
    client.on('connect', () => client.stream.setMaxListeners(Math.max(client.stream.getMaxListeners(), drainWaiters)));
    // Before the CONNACK: a resumed session is handed what the broker kept for it right after it.
    client.on('message', (topic, payload) => {
      const subscription = subscriptions.find(({ leaf }) => terminalIdOfTopic(topic, leaf, mqtt.topicPrefix) !== undefined);
      if (!subscription) {
        log.warn({ topic }, 'gateway: a message on a topic it does not read; ignored');
        return;
      }
      handlers[subscription.leaf](topic, payload);
    });
    try {
      await firstConnection(client, mqtt.url);
      const grants = await client.subscribeAsync(subscriptions.map((s) => s.filter), { qos: 1 });
      const refused = grants.filter((g) => g.qos !== 1 && g.qos !== 0);
      if (refused.length > 0) {
        const shared = mqtt.sharedGroup !== null ? ` (shared subscriptions: set mqtt.sharedGroup: null on a broker without them, and run one instance)` : '';
        throw new BrokerUnavailable(`the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}: check the gateway account's ACL${shared}`);
      }
    } catch (err) {
      await client.endAsync(true);
      throw err;
    }
    return new GatewaySession(client, clientId, subscriptions.map((s) => s.filter), log);
  }

  async publish(topic: string, payload: string, options: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    await this.#client.publishAsync(topic, payload, { qos: options.qos, retain: options.retain ?? false });
  }

  status(): SessionStatus {
    return { ...this.#status, subscriptions: [...this.#subscriptions] };
  }

  /** Idempotent. Waits for the acks in flight when connected. */
  stop(): Promise<void> {
    this.#stopping ??= this.#client.endAsync(!this.#client.connected).then(() => undefined);
    return this.#stopping;
  }
}

/** Other packets that may wait for the socket's drain beside a full load of acks: time-probe answers, configs. */
const DRAIN_LISTENERS_BESIDE_ACKS = 1000;

/** Resolves on the first CONNACK; rejects on the first error (a refused login, an unreachable broker). */
function firstConnection(client: MqttClient, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = (): void => done();
    const onError = (err: Error): void => done(new BrokerUnavailable(`cannot connect to the broker at ${url}: ${err.message} (is it running there; are mqtt.username and the password right?)`));
    const onClose = (): void => done(new BrokerUnavailable(`cannot connect to the broker at ${url}: the connection closed before the broker accepted it (is it running, and is this the right port?)`));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

function readPasswordFile(path: string): string {
  try {
    return readSecretFile(path, { ownerOnly: true });
  } catch (err) {
    throw new ConfigError(`mqtt.passwordFile: cannot use ${path}: ${(err as Error).message}`, []);
  }
}
