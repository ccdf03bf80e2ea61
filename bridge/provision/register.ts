import mqtt from 'mqtt';
import { explain } from '../../protocol/issues.js';
import { provinceConfigSchema, type ProvinceConfig } from '../../protocol/province-config.js';
import type { Registration } from '../../protocol/registration.js';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import { terminalTopics } from '../../protocol/topics.js';
import { brokerFailure } from '../uplink/probe.js';
import type { BridgeConfig } from '../config.js';
import { brokerConnection } from '../uplink/mqtt-options.js';

export type RegistrationOutcome =
  | { ok: true; config: ProvinceConfig; waitedMs: number }
  | { ok: false; reason: string; fix: string };

export interface RegisterDeps {
  /** Opens the MQTT client; default mqtt.connectAsync. */
  connect?: typeof mqtt.connectAsync;
  /** The wait for the province's config; default hostTimers. */
  timers?: Timers;
}

/**
 * Registers a provisioned terminal: publishes its birth (retained on `…/state`: where it is and
 * its public key), then waits for the province to publish its retained `…/config`.
 */
export async function registerWithProvince(
  config: BridgeConfig,
  registration: Omit<Registration, 'provisioning' | 'online'>,
  timeoutMs: number,
  { connect = mqtt.connectAsync, timers = hostTimers }: RegisterDeps = {},
): Promise<RegistrationOutcome> {
  const { mqtt: settings, terminal } = config;
  const topics = terminalTopics(terminal.id, settings.topicPrefix);
  const started = timers.now();
  let client: mqtt.MqttClient;
  try {
    const broker = brokerConnection(config, 'provision', timeoutMs);
    client = await connect(broker.url, broker.options);
  } catch (err) {
    // The same diagnosis as `hcp doctor`'s broker check.
    const diagnosis = brokerFailure(settings.url, err, timeoutMs);
    return { ok: false, reason: diagnosis.message, fix: (diagnosis.fix ?? []).join('; ') };
  }
  let wait: unknown;
  try {
    const answer = new Promise<ProvinceConfig>((resolve) => {
      client.on('message', (topic, payload) => {
        if (topic !== topics.config) return;
        const parsed = explain(provinceConfigSchema, safeJson(payload));
        if (parsed.ok) resolve(parsed.data);
      });
    });
    await client.subscribeAsync(topics.config, { qos: 1 });
    const birth: Registration = { online: false, provisioning: true, ...registration };
    await client.publishAsync(topics.state, JSON.stringify(birth), { qos: 1, retain: true });
    const timeout = new Promise<null>((resolve) => {
      wait = timers.setTimeout(() => resolve(null), Math.max(0, timeoutMs - (timers.now() - started)));
    });
    const provinceConfig = await Promise.race([answer, timeout]);
    if (!provinceConfig) {
      return {
        ok: false,
        reason: `registered on ${topics.state}, but the province sent no config on ${topics.config} within ${Math.round(timeoutMs / 1000)} s`,
        fix: `ask the provincial operator to accept terminal ${terminal.id} (its public key is in the report); run hcp provision again, or just start the bridge: it takes the config whenever it comes`,
      };
    }
    return { ok: true, config: provinceConfig, waitedMs: Math.round(timers.now() - started) };
  } finally {
    // A config that came in time leaves the wait armed: cleared, it cannot hold the process open.
    timers.clearTimeout(wait);
    await client.endAsync();
  }
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}
