import mqtt from 'mqtt';
import type { BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, withTimeout, type CheckResult } from '../diagnose/check.js';
import type { ServiceAnswer } from '../diagnose/running-service.js';
import { brokerConnection, plaintextPasswordRisk, type BrokerConnection } from './mqtt-options.js';

export interface BrokerDeps {
  /** mqtt.connectAsync without retries; resolves once connected. */
  connect: (url: string, options: mqtt.IClientOptions) => Promise<{ end: (force?: boolean) => unknown }>;
  timeoutMs: number;
}

export const defaultConnect: BrokerDeps['connect'] = (url, options) => mqtt.connectAsync(url, options, false);

/**
 * doctor's broker check. While the service runs, its own view (from its status): connecting with
 * its account would take over its session where the broker binds the client id to the account.
 * Only a separate probe account (mqtt.probe) connects then. With the service stopped, doctor
 * connects itself. The message says which it did.
 */
export async function checkUplink(config: BridgeConfig, service: ServiceAnswer, deps: BrokerDeps): Promise<CheckResult> {
  const own = config.mqtt.probe ? `doctor's own account ${config.mqtt.probe.username} (mqtt.probe)` : undefined;
  if (service.running === false) {
    return noted(await checkBroker(config, deps), `the service is not running (nothing at ${service.apiUrl}): doctor connected itself${own ? `, as ${own}` : " with the terminal's account"}`);
  }
  if (service.running === 'unknown') {
    if (own) return noted(await checkBroker(config, deps), `cannot tell whether the service runs (${service.why}): doctor connected as ${own}`);
    return warn('broker', `not checked: cannot tell whether the service runs (${service.why}), and connecting with its account would take over its broker session`, [
      'stop the service (`sudo systemctl stop hcp-bridge`) and run doctor again, or see `hcp status`',
      'or give doctor its own broker account: mqtt.probe (docs/broker.md)',
    ]);
  }
  const { broker } = service.status;
  const view = `asked the running service (${service.apiUrl}), which is ${broker.connected ? 'connected to' : 'NOT connected to'} ${broker.url}`;
  if (!broker.connected) {
    const down = `${view}${broker.reconnectAttempts ? ` (${broker.reconnectAttempts} reconnect attempts)` : ''}`;
    const log = 'its log says why: `journalctl -u hcp-bridge -n 50`';
    if (!own) return fail('broker', down, [log, 'for doctor to connect and name the cause, stop the service (`sudo systemctl stop hcp-bridge`) and run doctor again']);
    // Doctor's own account tells a broker out of reach from a refusal of the terminal's account.
    const probe = await checkBroker(config, deps);
    if (probe.level !== 'ok') return noted(probe, `${down}; doctor connected as ${own}`);
    return fail('broker', `${down}, while doctor's own account (${config.mqtt.probe?.username}) gets in: the broker is reachable, so the terminal's account is the likely cause`, [
      log,
      "check mqtt.username and the password against what the province issued, and that the broker's ACL knows the terminal",
    ]);
  }
  if (!own) return ok('broker', `${view}; doctor did not connect itself (that would take over the service's session)`);
  return noted(await checkBroker(config, deps), `${view}; doctor also connected as ${own}`);
}

/** The check's message with how it was made; a failure keeps its fixes. */
function noted(result: CheckResult, how: string): CheckResult {
  return { ...result, message: `${result.message} (${how})` };
}

/** When the password would cross the network in clear: a warning of its own. */
export function checkBrokerTransport(config: BridgeConfig): CheckResult | undefined {
  const risk = plaintextPasswordRisk(config.mqtt);
  return risk ? warn('broker transport', risk, ['ask the province for its TLS port and CA, and provision with --broker-url mqtts://… --ca-file …']) : undefined;
}

/** Connects to the broker with the config's credentials (doctor's own, if mqtt.probe is set) and hangs up at once. */
export async function checkBroker(config: BridgeConfig, deps: BrokerDeps): Promise<CheckResult> {
  const name = 'broker';
  const { url } = config.mqtt;
  let broker: BrokerConnection;
  try {
    broker = brokerConnection(config, 'probe', deps.timeoutMs);
  } catch (err) {
    return fail(name, errorText(err), ['check the files in mqtt.tls and mqtt.passwordFile, and that the service user may read them']);
  }
  try {
    const client = await withTimeout(deps.connect(broker.url, broker.options), deps.timeoutMs + 500, 'timeout');
    client.end(true);
    const username = broker.options.username;
    return ok(name, `${url} accepts ${username ? `user ${username}` : 'the terminal (no username)'}`);
  } catch (err) {
    return brokerFailure(url, err, deps.timeoutMs);
  }
}

export function brokerFailure(url: string, err: unknown, timeoutMs: number): CheckResult {
  const name = 'broker';
  const code = (err as { code?: unknown } | null)?.code;
  const text = errorText(err);
  const host = hostOf(url);
  if (code === 4 || code === 5 || code === 0x86 || code === 0x87 || /not authori[sz]ed|bad user ?name or password/i.test(text)) {
    return fail(name, `${url} refused the connection: not authorised (${text})`, [
      'check mqtt.username and mqtt.password against what the province issued for this terminal',
      'ask the province whether this terminal id is registered and allowed to publish',
    ]);
  }
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return fail(name, `${url}: the broker's certificate is not trusted (${text})`, [
      "set mqtt.tls.ca to the CA file the province issued (PEM) for its broker's certificate",
      'a certificate for another host name: use the host name the certificate was made for in mqtt.url',
    ]);
  }
  if (code === 'ECONNREFUSED') {
    return fail(name, `${url} is unreachable: connection refused`, [
      `check the host and port in mqtt.url; nothing listens there (\`nc -vz ${host.hostname} ${host.port}\`)`,
      'a firewall may reject the port: ask the hall\'s network administrator',
    ]);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return fail(name, `${url} is unreachable: the name ${host.hostname} does not resolve`, [
      'check the network and DNS (`getent hosts ' + host.hostname + '`), and the spelling in mqtt.url',
    ]);
  }
  if (text === 'timeout' || code === 'ETIMEDOUT' || /timed? ?out|couldn't connect/i.test(text)) {
    return fail(name, `${url} is unreachable: no MQTT answer within ${timeoutMs} ms`, [
      'check the network cable / Wi-Fi and the default route (`ip route`)',
      `a firewall may drop the port: try \`nc -vz ${host.hostname} ${host.port}\``,
    ]);
  }
  if (/certificate|self[- ]signed|TLS|SSL/i.test(text)) {
    return fail(name, `${url}: TLS failed (${text})`, [
      'check the clock (certificates are not valid in the past) and that the province\'s CA is trusted',
    ]);
  }
  return fail(name, `${url}: cannot connect (${text})`, ['check mqtt.url, the network and the credentials']);
}

function hostOf(url: string): { hostname: string; port: string } {
  try {
    const u = new URL(url);
    const defaults: Record<string, string> = { 'mqtt:': '1883', 'mqtts:': '8883', 'ws:': '80', 'wss:': '443' };
    return { hostname: u.hostname, port: u.port || (defaults[u.protocol] ?? '') };
  } catch {
    return { hostname: url, port: '' };
  }
}
