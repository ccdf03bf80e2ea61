import { randomBytes } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import { terminalTopics } from '../../protocol/topics.js';
import type { BridgeConfig } from '../config.js';
import { readTlsFiles } from './tls-files.js';

/**
 * Who connects. Each has its own client id, so that doctor or provisioning never throws the
 * running service off the broker (a broker drops the older of two sessions with one id).
 */
export type BrokerRole = 'service' | 'probe' | 'provision';

export interface BrokerConnection {
  url: string;
  options: IClientOptions;
}

const CLIENT_ID_SUFFIX: Record<BrokerRole, () => string> = {
  service: () => '',
  provision: () => '-provision',
  // Two doctors at once must not throw each other off either.
  probe: () => `-doctor-${randomBytes(3).toString('hex')}`,
};

/**
 * How this terminal reaches its broker, built once from the config for every connection it
 * makes (the service's uplink, doctor's probe, provisioning): URL, credentials, TLS files, client
 * id, keepalive, and for the service its last will. Throws ConfigError for a TLS file it cannot read.
 */
export function brokerConnection(config: BridgeConfig, role: BrokerRole, connectTimeoutMs = 10_000): BrokerConnection {
  const { mqtt, terminal } = config;
  const options: IClientOptions = {
    clientId: `${mqtt.clientId ?? `hcp-${terminal.id}`}${CLIENT_ID_SUFFIX[role]()}`,
    username: mqtt.username,
    password: mqtt.password,
    ...readTlsFiles(mqtt.tls),
    clean: true,
    keepalive: mqtt.keepaliveSeconds,
    // Never mqtt.js's own retries: the uplink reconnects with backoff and jitter, a probe tries once.
    reconnectPeriod: 0,
    connectTimeout: connectTimeoutMs,
  };
  if (role === 'service') {
    // The outbox is the durable queue: mqtt.js must not queue in memory while offline.
    options.queueQoSZero = false;
    const state = terminalTopics(terminal.id, mqtt.topicPrefix).state;
    options.will = { topic: state, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true };
  }
  return { url: mqtt.url, options };
}

/**
 * Why this broker connection would carry its password in clear, or undefined: plain `mqtt://` or
 * `ws://` with a password to a host other than this machine (anyone on the way reads it, and
 * can then speak as this terminal). TLS (mqtts://, wss://) or a loopback broker is fine.
 */
export function plaintextPasswordRisk(mqtt: Pick<BridgeConfig['mqtt'], 'url' | 'password'>): string | undefined {
  if (mqtt.password === undefined) return undefined;
  const url = new URL(mqtt.url);
  if (url.protocol !== 'mqtt:' && url.protocol !== 'ws:') return undefined;
  if (isLoopbackHost(url.hostname)) return undefined;
  return `${url.protocol}// to ${url.hostname} sends the broker password unencrypted: anyone on the network path can read it and speak as this terminal; use mqtts://${url.hostname}:8883 (or wss://)`;
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
