import { createHash, randomBytes } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import { explain } from '../../protocol/issues.js';
import type { Sign } from '../../protocol/seal/seal.js';
import { terminalTopics } from '../../protocol/topics.js';
import { ConfigError, isLoopbackHost, mqttPasswordSchema, type BridgeConfig } from '../config.js';
import { readSecretFile } from '../secret-file.js';
import { readTlsFiles } from './tls-files.js';

/**
 * Who connects. Each has its own client id, so that doctor or provisioning never throws the
 * running service off a broker that keys sessions by client id (it drops the older of two
 * sessions with one id). A broker that binds the client id to the account (the shipped Mosquitto
 * config: use_username_as_clientid) replaces them all by the username: there doctor asks the
 * running service instead of connecting (diagnose/running-service.ts), or uses mqtt.probe.
 */
export type BrokerRole = 'service' | 'probe' | 'provision';

export interface BrokerConnection {
  url: string;
  options: IClientOptions;
}

const ROLE_SUFFIX: Record<BrokerRole, string> = { service: '', provision: '-provision', probe: '-doctor' };

/** What the terminal's key signs to make the service's client id. */
const CLIENT_ID_MESSAGE = new TextEncoder().encode('hcp-terminal mqtt client id v1');

/**
 * `hcp-{terminal id}[-role]-{12 hex digits}`: where the broker does not bind the id to the
 * account, whoever knows a client id can take that session over, so it must not be guessable.
 * The service's digits come from a signature by the terminal's key (Ed25519 signs
 * deterministically): the same id at every start, so a restarted bridge takes over its own stale
 * session at once (whose last will would otherwise be published after the new birth), and no one
 * without the key can work it out. Doctor's and provisioning's are random. An id the operator
 * fixed in mqtt.clientId is kept for the service (the broker must bind it).
 */
function clientIdFor(config: BridgeConfig, role: BrokerRole, sign: Sign | undefined): string {
  const fixed = config.mqtt.clientId;
  if (fixed !== undefined && role === 'service') return fixed;
  const digits = role === 'service' && sign ? createHash('sha256').update(sign(CLIENT_ID_MESSAGE)).digest('hex') : randomBytes(6).toString('hex');
  return `${fixed ?? `hcp-${config.terminal.id}`}${ROLE_SUFFIX[role]}-${digits.slice(0, 12)}`;
}

/**
 * How this terminal reaches its broker, built once from the config for every connection it
 * makes (the service's uplink, doctor's probe, provisioning): URL, credentials, TLS files, client
 * id (the service's from `sign`, the terminal's key), keepalive, and for the service its last will. Throws ConfigError for a TLS or password file
 * it cannot read.
 */
export function brokerConnection(config: BridgeConfig, role: BrokerRole, connectTimeoutMs = 10_000, sign?: Sign): BrokerConnection {
  const { mqtt, terminal } = config;
  // Doctor's own account, when there is one: it never competes with the service's session.
  const account = role === 'probe' && mqtt.probe ? mqtt.probe : mqtt;
  const options: IClientOptions = {
    clientId: clientIdFor(config, role, sign),
    username: account.username,
    password: passwordOf(account, account === mqtt ? 'mqtt.passwordFile' : 'mqtt.probe.passwordFile'),
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

/** An account's password: inline, or read from its file (which only the bridge's user may read). */
function passwordOf(account: { password?: string | undefined; passwordFile?: string | undefined }, setting: string): string | undefined {
  if (account.passwordFile === undefined) return account.password;
  let text: string;
  try {
    text = readSecretFile(account.passwordFile, { ownerOnly: true });
  } catch (err) {
    throw new ConfigError(`${setting}: cannot use ${account.passwordFile}: ${(err as Error).message}`, []);
  }
  const checked = explain(mqttPasswordSchema, text);
  if (!checked.ok) throw new ConfigError(`${setting}: the password in ${account.passwordFile} ${checked.problems.map((p) => p.replace(/^[^:]*: /, '')).join('; ')}`, []);
  return text;
}

/**
 * Why this broker connection would carry its password in clear, or undefined: plain `mqtt://` or
 * `ws://` with a password to a host other than this machine (anyone on the way reads it, and
 * can then speak as this terminal). TLS (mqtts://, wss://) or a loopback broker is fine.
 */
export function plaintextPasswordRisk(mqtt: PasswordHolder & { url: string; probe?: PasswordHolder | undefined }): string | undefined {
  // Doctor's own account (mqtt.probe) crosses the same wire.
  if (!hasPassword(mqtt) && !(mqtt.probe && hasPassword(mqtt.probe))) return undefined;
  const url = new URL(mqtt.url);
  if (url.protocol !== 'mqtt:' && url.protocol !== 'ws:') return undefined;
  if (isLoopbackHost(url.hostname)) return undefined;
  return `${url.protocol}// to ${url.hostname} sends the broker password unencrypted: anyone on the network path can read it and speak as this terminal; use mqtts://${url.hostname}:8883 (or wss://)`;
}

type PasswordHolder = { password?: string | undefined; passwordFile?: string | undefined };
const hasPassword = (account: PasswordHolder): boolean => account.password !== undefined || account.passwordFile !== undefined;
