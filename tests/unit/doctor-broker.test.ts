import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig, type BridgeConfigInput } from '../../bridge/config.js';
import { signerOf } from '../../bridge/identity/terminal-key.js';
import { askRunningService, serviceApiUrl, type ServiceAnswer, type StatusFetch } from '../../bridge/diagnose/running-service.js';
import { brokerConnection, plaintextPasswordRisk } from '../../bridge/uplink/mqtt-options.js';
import { checkBrokerTransport, checkUplink, type BrokerDeps } from '../../bridge/uplink/probe.js';

/*
 * doctor and the running service: while it runs, doctor reads its uplink from its status and
 * never connects with its account (which would take over its session where the broker binds the
 * client id to the username); it connects itself only with the service stopped, or with its own
 * account (mqtt.probe). The real broker case: tests/integration/broker-acl.test.ts.
 */

const base: BridgeConfigInput = {
  terminal: { id: 'T-DOC-02', areaCode: '330106', hallCode: 'H', windowNo: '2' },
  serial: { path: '/dev/ttyACM0' },
  mqtt: { url: 'mqtts://broker.example:8883', username: 'T-DOC-02', password: 'terminal-secret' },
  database: { path: '/var/lib/hcp/hcp.db' },
};
const config = (overrides: Partial<BridgeConfigInput> = {}) => parseConfig({ ...base, ...overrides });

/** A connect that records who connected. */
function recordingConnect(): { deps: BrokerDeps; connected: (string | undefined)[] } {
  const connected: (string | undefined)[] = [];
  return {
    connected,
    deps: {
      timeoutMs: 1000,
      connect: async (_url, options) => {
        connected.push(options.username);
        return { end: () => undefined };
      },
    },
  };
}

const running = (connected: boolean): ServiceAnswer => ({
  running: true,
  apiUrl: 'http://127.0.0.1:8080',
  status: { terminal: { id: 'T-DOC-02' }, broker: { connected, url: 'mqtts://broker.example:8883', reconnectAttempts: connected ? 0 : 4 } },
});

describe('doctor: the broker while the service runs', () => {
  it('service running and connected: ok from its status, and doctor does not connect', async () => {
    const { deps, connected } = recordingConnect();
    const result = await checkUplink(config(), running(true), deps);
    expect(result).toMatchObject({ level: 'ok', message: expect.stringContaining('asked the running service (http://127.0.0.1:8080), which is connected to mqtts://broker.example:8883; doctor did not connect itself') });
    expect(connected).toEqual([]);
  });

  it('service running but not connected: a problem from its status, with where to look, and no connection', async () => {
    const { deps, connected } = recordingConnect();
    const result = await checkUplink(config(), running(false), deps);
    expect(result.level).toBe('fail');
    expect(result.message).toContain('NOT connected to mqtts://broker.example:8883 (4 reconnect attempts)');
    expect(result.fix?.join('\n')).toContain('journalctl -u hcp-bridge');
    expect(connected).toEqual([]);
  });

  it('cannot tell whether it runs: a warning, no connection with the service account', async () => {
    const { deps, connected } = recordingConnect();
    const result = await checkUplink(config(), { running: 'unknown', apiUrl: 'http://127.0.0.1:8080', why: 'it timed out' }, deps);
    expect(result.level).toBe('warn');
    expect(result.message).toContain('not checked: cannot tell whether the service runs (it timed out)');
    expect(connected).toEqual([]);
  });

  it('service stopped: doctor connects with the terminal account and says so', async () => {
    const { deps, connected } = recordingConnect();
    const result = await checkUplink(config(), { running: false, apiUrl: 'http://127.0.0.1:8080' }, deps);
    expect(result).toMatchObject({ level: 'ok', message: "mqtts://broker.example:8883 accepts user T-DOC-02 (the service is not running (nothing at http://127.0.0.1:8080): doctor connected itself with the terminal's account)" });
    expect(connected).toEqual(['T-DOC-02']);
  });

  it('a probe account (mqtt.probe): doctor connects with it, also while the service runs, never with the terminal account', async () => {
    const withProbe = config({ mqtt: { ...base.mqtt, probe: { username: 'hcp-doctor', password: 'doctor-secret' } } });
    const { deps, connected } = recordingConnect();
    const whileRunning = await checkUplink(withProbe, running(true), deps);
    expect(whileRunning.message).toContain("doctor also connected as doctor's own account hcp-doctor (mqtt.probe)");
    const unknown = await checkUplink(withProbe, { running: 'unknown', apiUrl: 'http://x', why: 'HTTP 500' }, deps);
    expect(unknown.level).toBe('ok');
    expect(connected).toEqual(['hcp-doctor', 'hcp-doctor']);
    expect(brokerConnection(withProbe, 'probe').options).toMatchObject({ username: 'hcp-doctor', password: 'doctor-secret' });

    // The service is down: doctor's own account tells an unreachable broker from a refused terminal.
    const refusedTerminal = await checkUplink(withProbe, running(false), deps);
    expect(refusedTerminal.level).toBe('fail');
    expect(refusedTerminal.message).toContain("while doctor's own account (hcp-doctor) gets in: the broker is reachable, so the terminal's account is the likely cause");
    const unreachable = await checkUplink(withProbe, running(false), { timeoutMs: 1000, connect: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) });
    expect(unreachable).toMatchObject({ level: 'fail', message: expect.stringMatching(/^mqtts:\/\/broker\.example:8883 is unreachable: connection refused \(asked the running service .*NOT connected/) });
    expect(connected).toEqual(['hcp-doctor', 'hcp-doctor', 'hcp-doctor']);
    expect(brokerConnection(withProbe, 'service').options).toMatchObject({ username: 'T-DOC-02', password: 'terminal-secret' });
  });
});

describe('asking the running service', () => {
  const answer = (status: number, body: unknown): StatusFetch => async () => ({ status, json: async () => body });
  const ask = (fetch: StatusFetch, cfg = config()) => askRunningService(cfg, { fetch, timeoutMs: 1000 });
  const good = { terminal: { id: 'T-DOC-02' }, broker: { connected: true, url: 'mqtts://b', reconnectAttempts: 0 }, extra: 'ignored' };

  it('nothing listening is "not running"; any other failure is "cannot tell"', async () => {
    const refused: StatusFetch = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    };
    const timedOut: StatusFetch = async () => {
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    };
    expect(await ask(refused)).toEqual({ running: false, apiUrl: 'http://127.0.0.1:8080' });
    expect(await ask(timedOut)).toMatchObject({ running: 'unknown', why: expect.stringContaining('did not answer') });
  });

  it('the bridge of this terminal is "running"; a 401, other JSON, another terminal are "cannot tell"', async () => {
    expect(await ask(answer(200, good))).toMatchObject({ running: true, status: { broker: { connected: true } } });
    expect(await ask(answer(401, {}))).toMatchObject({ running: 'unknown', why: expect.stringContaining('HTTP 401') });
    expect(await ask(answer(200, { hello: 'world' }))).toMatchObject({ running: 'unknown', why: expect.stringContaining("not with the bridge's status") });
    expect(await ask(answer(200, { ...good, terminal: { id: 'T-OTHER' } }))).toMatchObject({ running: 'unknown', why: expect.stringContaining('serves terminal T-OTHER, not T-DOC-02') });
  });

  it('sends the API token, and reaches a wildcard listen address on loopback', async () => {
    let seen: { url: string; auth?: string } | undefined;
    const capture: StatusFetch = async (url, init) => {
      seen = { url, auth: init.headers.authorization };
      return { status: 200, json: async () => good };
    };
    await ask(capture, config({ http: { host: '0.0.0.0', port: 9000, token: 'a-long-api-token-1234' } }));
    expect(seen).toEqual({ url: 'http://127.0.0.1:9000/api/v1/status', auth: 'Bearer a-long-api-token-1234' });
    expect(serviceApiUrl(config({ http: { host: '::1', port: 1 } }))).toBe('http://[::1]:1');
  });
});

describe('the client id', () => {
  it('is not guessable unless the operator fixed one, and each role has its own', () => {
    const ids = ['service', 'service', 'probe', 'provision'].map((role) => brokerConnection(config(), role as 'service').options.clientId!);
    expect(ids[0]).toMatch(/^hcp-T-DOC-02-[0-9a-f]{12}$/);
    expect(ids[2]).toMatch(/^hcp-T-DOC-02-doctor-[0-9a-f]{12}$/);
    expect(ids[3]).toMatch(/^hcp-T-DOC-02-provision-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(4);
    // The service's, from a signature by the terminal's key: the same at every start (a restart
    // takes over its own stale session), different for another key, unknown to whoever lacks it.
    const sign = signerOf(generateKeyPairSync('ed25519').privateKey);
    const stable = brokerConnection(config(), 'service', undefined, sign).options.clientId;
    expect(stable).toMatch(/^hcp-T-DOC-02-[0-9a-f]{12}$/);
    expect(brokerConnection(config(), 'service', undefined, sign).options.clientId).toBe(stable);
    expect(brokerConnection(config(), 'service', undefined, signerOf(generateKeyPairSync('ed25519').privateKey)).options.clientId).not.toBe(stable);
    expect(brokerConnection(config(), 'probe', undefined, sign).options.clientId).not.toBe(brokerConnection(config(), 'probe', undefined, sign).options.clientId);
    const fixed = config({ mqtt: { ...base.mqtt, clientId: 'window-2' } });
    expect(brokerConnection(fixed, 'service').options.clientId).toBe('window-2');
    expect(brokerConnection(fixed, 'probe').options.clientId).toMatch(/^window-2-doctor-[0-9a-f]{12}$/);
  });
});

describe('a password in clear', () => {
  it('is flagged for plain mqtt:// or ws:// with a password to another host only', () => {
    expect(plaintextPasswordRisk({ url: 'mqtt://10.0.0.5:1883', password: 'p' })).toContain('mqtt:// to 10.0.0.5 sends the broker password unencrypted');
    expect(plaintextPasswordRisk({ url: 'ws://broker.example/mqtt', password: 'p' })).toContain('ws:// to broker.example');
    for (const url of ['mqtts://10.0.0.5:8883', 'wss://b.example', 'mqtt://127.0.0.1:1883', 'mqtt://localhost', 'mqtt://[::1]:1883']) {
      expect(plaintextPasswordRisk({ url, password: 'p' }), url).toBeUndefined();
    }
    expect(plaintextPasswordRisk({ url: 'mqtt://10.0.0.5:1883', password: undefined })).toBeUndefined();
    expect(plaintextPasswordRisk({ url: 'mqtt://10.0.0.5:1883', probe: { password: 'doctor' } })).toContain('unencrypted');
    expect(plaintextPasswordRisk({ url: 'mqtt://LocalHost:1883', password: 'p' })).toBeUndefined();
  });

  it('doctor warns about it as a check of its own', () => {
    expect(checkBrokerTransport(config({ mqtt: { url: 'mqtt://10.0.0.5:1883', password: 'p' } }))).toMatchObject({ level: 'warn', name: 'broker transport' });
    expect(checkBrokerTransport(config())).toBeUndefined();
  });
});
