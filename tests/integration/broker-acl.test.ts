import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../bridge/config.js';
import { runDoctor } from '../../bridge/diagnose/doctor.js';
import { checkBroker, defaultConnect } from '../../bridge/uplink/probe.js';
import { terminalTopics } from '../../protocol/topics.js';
import { findMosquitto, MosquittoBroker } from '../../simulator/mosquitto.js';
import { waitUntil } from '../../simulator/wait.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { onCI } from '../support/brokers.js';

/**
 * Issue 12, item 4: one terminal cannot speak for another at the broker. Debian's Mosquitto runs
 * the shipped deploy/mosquitto/hcp.conf security lines and hcp.acl unchanged; every attack is
 * made by a real mqtt.js client with terminal A's account against terminal B, and shown refused.
 *
 * "Never receives" is shown without sleeping: after the attack, the attacker sends a message it
 * IS allowed to send on the same connection; the broker handles one connection's packets in
 * order, so once that control message has been delivered the attack would have been too.
 */
const here = dirname(fileURLToPath(import.meta.url));
const deployDir = resolve(here, '../../deploy/mosquitto');
const ACL_FILE = join(deployDir, 'hcp.acl');
const CONF_FILE = join(deployDir, 'hcp.conf');

const A = 'T-330106-A01';
const B = 'T-330106-B02';
const PROVINCE = 'province';
/** A's doctor account (docs/broker.md "Doctor's own account"): no ACL line grants it anything. */
const A_DOCTOR = `${A}.doctor`;
const PASSWORDS: Record<string, string> = { [A]: 'a-secret', [B]: 'b-secret', [PROVINCE]: 'p-secret', [A_DOCTOR]: 'd-secret' };
const topicsA = terminalTopics(A);
const topicsB = terminalTopics(B);

/** Next to mosquitto (Debian: /usr/bin/mosquitto_passwd beside /usr/sbin/mosquitto), else on PATH. */
function findMosquittoPasswd(): string | undefined {
  const mosquitto = findMosquitto();
  const candidates = [
    ...(mosquitto ? [join(dirname(mosquitto), 'mosquitto_passwd')] : []),
    '/usr/bin/mosquitto_passwd',
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'mosquitto_passwd')),
  ];
  return candidates.find((path) => {
    try {
      accessSync(path, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const passwdTool = findMosquittoPasswd();
const available = MosquittoBroker.available() && passwdTool !== undefined;
if (!available && !onCI()) {
  console.warn(
    'Broker ACL conformance skipped: ' +
      (MosquittoBroker.available() ? 'mosquitto_passwd was not found' : 'mosquitto is not installed') +
      '. Install it with `apt-get install mosquitto` (or set MOSQUITTO_BIN).',
  );
}

/**
 * The shipped hcp.conf's directives minus the ones that are about the host (listener, file
 * locations, persistence, logging): those the test runner sets for itself.
 */
function shippedSecurityLines(passwordFile: string): string[] {
  const hostSpecific = /^(listener|password_file|acl_file|persistence|persistence_location|log_dest|log_type)\b/;
  const lines = readFileSync(CONF_FILE, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !hostSpecific.test(line));
  return [...lines, `password_file ${passwordFile}`, `acl_file ${ACL_FILE}`];
}

const clients: MqttClient[] = [];
let broker: MosquittoBroker | undefined;
let dir: string | undefined;

function brokerUrl(): string {
  if (broker === undefined) {
    throw new Error(
      'Broker ACL conformance cannot run: mosquitto or mosquitto_passwd is missing. CI must not skip it: `apt-get install mosquitto`.',
    );
  }
  return broker.url;
}

async function connectAs(username: string | undefined, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(brokerUrl(), {
    reconnectPeriod: 0,
    protocolVersion: 5,
    ...(username === undefined ? {} : { username, password: PASSWORDS[username] }),
    ...options,
  });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** Every message a client receives, in order. */
function collect(c: MqttClient, { live = false } = {}): { topic: string; payload: string; retain: boolean }[] {
  const seen: { topic: string; payload: string; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => {
    if (!(live && packet.retain)) seen.push({ topic, payload: payload.toString(), retain: packet.retain });
  });
  return seen;
}

/** A connection attempt's outcome: the CONNACK reason code of a refusal, or 'connected'. */
async function tryConnect(options: IClientOptions): Promise<number | 'connected'> {
  const url = brokerUrl();
  try {
    const c = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(c);
    return 'connected';
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** The province's view of everything under hcp/v1/#. */
async function provinceObserver(): Promise<{ client: MqttClient; seen: ReturnType<typeof collect> }> {
  const client = await connectAs(PROVINCE);
  // Retained births and configs left by earlier tests are replayed on subscribe: live traffic only.
  const seen = collect(client, { live: true });
  await client.subscribeAsync('hcp/v1/#', { qos: 1 });
  return { client, seen };
}

describe.skipIf(!available && !onCI())('Broker ACL on Mosquitto (deploy/mosquitto/hcp.conf + hcp.acl)', () => {
  beforeAll(async () => {
    // On CI without mosquitto every test fails on its own (in the runner's count), not only this hook.
    if (!available) return;
    dir = mkdtempSync(join(tmpdir(), 'hcp-broker-acl-'));
    const passwordFile = join(dir, 'hcp.passwd');
    // Test passwords on argv (-b) inside the test process only; the README shows the prompt form.
    for (const [i, [user, password]] of Object.entries(PASSWORDS).entries()) {
      execFileSync(passwdTool as string, [...(i === 0 ? ['-c'] : []), '-b', passwordFile, user, password], { stdio: 'pipe' });
    }
    // Run as root, mosquitto drops to its own user before reading the password file: let it in.
    chmodSync(dir, 0o755);
    chmodSync(passwordFile, 0o644);
    broker = await MosquittoBroker.start({ extraConfig: shippedSecurityLines(passwordFile) });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  afterAll(async () => {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('positive: A publishes its own records, time, telemetry, state and cmd/result and the province receives them', async () => {
    const { seen } = await provinceObserver();
    const a = await connectAs(A);
    for (const topic of [topicsA.records, topicsA.time, topicsA.telemetry, topicsA.cmdResult]) {
      await a.publishAsync(topic, `own ${topic}`, { qos: 1 });
    }
    await a.publishAsync(topicsA.state, 'birth A', { qos: 1, retain: true });
    await waitUntil(() => seen.length === 5, 'the province to receive A’s five messages');
    expect(seen.map((m) => m.topic)).toEqual([topicsA.records, topicsA.time, topicsA.telemetry, topicsA.cmdResult, topicsA.state]);
  });

  it('positive: the province publishes A’s acks, config (retained) and cmd, and A receives them', async () => {
    const province = await connectAs(PROVINCE);
    await province.publishAsync(topicsA.config, 'config for A', { qos: 1, retain: true });
    const a = await connectAs(A);
    const seen = collect(a);
    await a.subscribeAsync([topicsA.acks, topicsA.config, topicsA.cmd], { qos: 1 });
    await province.publishAsync(topicsA.acks, 'ack for A', { qos: 1 });
    await province.publishAsync(topicsA.cmd, 'cmd for A', { qos: 1 });
    await waitUntil(() => seen.length === 3, 'A to receive its config, ack and command');
    expect(seen).toEqual([
      { topic: topicsA.config, payload: 'config for A', retain: true },
      { topic: topicsA.acks, payload: 'ack for A', retain: false },
      { topic: topicsA.cmd, payload: 'cmd for A', retain: false },
    ]);
  });

  it('positive: the province (gateway) may take a shared subscription on every terminal’s records', async () => {
    const gateway = await connectAs(PROVINCE);
    const seen = collect(gateway);
    await gateway.subscribeAsync('$share/gateway/hcp/v1/+/records', { qos: 1 });
    const a = await connectAs(A);
    await a.publishAsync(topicsA.records, 'shared', { qos: 1 });
    await waitUntil(() => seen.length === 1, 'the shared subscriber to receive A’s record');
    expect(seen[0]).toMatchObject({ topic: topicsA.records, payload: 'shared' });
  });

  it('A publishing a record on B’s records: refused (MQTT 5 PUBACK 0x87), never reaches the province', async () => {
    const { seen } = await provinceObserver();
    const a = await connectAs(A);
    await expect(a.publishAsync(topicsB.records, 'forged record', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await a.publishAsync(topicsA.records, 'control', { qos: 1 });
    await waitUntil(() => seen.some((m) => m.payload === 'control'), 'the control record');
    expect(seen).toEqual([{ topic: topicsA.records, payload: 'control', retain: false }]);
  });

  it('MQTT 3.1.1: the same forged record is dropped silently (plain PUBACK), still never delivered', async () => {
    const { seen } = await provinceObserver();
    const a = await connectAs(A, { protocolVersion: 4 });
    await a.publishAsync(topicsB.records, 'forged record', { qos: 1 }); // resolves: 3.1.1 has no reason code
    a.publish(topicsB.records, 'forged record qos0', { qos: 0 });
    await a.publishAsync(topicsA.records, 'control', { qos: 1 });
    await waitUntil(() => seen.some((m) => m.payload === 'control'), 'the control record');
    expect(seen).toEqual([{ topic: topicsA.records, payload: 'control', retain: false }]);
  });

  it('A publishing fake acks, commands or config for B: refused, B never receives them', async () => {
    const { client: province, seen: provinceSeen } = await provinceObserver();
    const b = await connectAs(B);
    const bSeen = collect(b);
    await b.subscribeAsync([topicsB.acks, topicsB.cmd, topicsB.config], { qos: 1 });
    const a = await connectAs(A);
    await expect(a.publishAsync(topicsB.acks, '{"ids":["x"],"status":"accepted"}', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await expect(a.publishAsync(topicsB.cmd, '{"cmd":"update-config"}', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await expect(a.publishAsync(topicsB.config, 'forged config', { qos: 1, retain: true })).rejects.toMatchObject({ code: 0x87 });
    // A may not even write its own acks/cmd/config: those are the province's to send.
    await expect(a.publishAsync(topicsA.acks, 'self-ack', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await expect(a.publishAsync(topicsA.cmd, 'self-cmd', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await a.publishAsync(topicsA.records, 'control', { qos: 1 });
    await waitUntil(() => provinceSeen.some((m) => m.payload === 'control'), 'the control record at the province');
    // The broker routed A's packets in order, so anything of A's meant for B is already queued to
    // B ahead of this genuine ack from the province.
    await province.publishAsync(topicsB.acks, 'genuine ack', { qos: 1 });
    await waitUntil(() => bSeen.some((m) => m.payload === 'genuine ack'), 'B to receive the genuine ack');
    expect(bSeen).toEqual([{ topic: topicsB.acks, payload: 'genuine ack', retain: false }]);
    // The province sees A's control and its own genuine ack (it reads hcp/v1/#), nothing forged.
    expect(provinceSeen).toEqual([
      { topic: topicsA.records, payload: 'control', retain: false },
      { topic: topicsB.acks, payload: 'genuine ack', retain: false },
    ]);
  });

  // Mosquitto 2.0's acl_file does not refuse a SUBSCRIBE: the filter is granted (SUBACK QoS 1,
  // under MQTT 5 and 3.1.1 alike) and every message is checked against the subscriber's read
  // rights when it is delivered, retained ones included. What matters is asserted: nothing of B's.
  it.each(['hcp/v1/+/records', 'hcp/v1/#', '#', topicsB.records, topicsB.acks, topicsB.state, '$share/g/hcp/v1/+/records'])(
    'A subscribing to %s: granted by SUBACK, but nothing of B’s (live or retained) is delivered',
    async (filter) => {
      const b = await connectAs(B);
      await b.publishAsync(topicsB.state, 'birth B', { qos: 1, retain: true });
      const a = await connectAs(A);
      const seen = collect(a);
      const granted = await a.subscribeAsync(filter, { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1]);
      await a.subscribeAsync(topicsA.acks, { qos: 1 }); // allowed: the control channel
      await b.publishAsync(topicsB.records, 'B record', { qos: 1 });
      const province = await connectAs(PROVINCE);
      await province.publishAsync(topicsB.acks, 'B ack', { qos: 1 });
      await province.publishAsync(topicsB.cmd, 'B cmd', { qos: 1 });
      // Same province connection, after B's messages: once A has this, B's would have come first.
      await province.publishAsync(topicsA.acks, 'control', { qos: 1 });
      await waitUntil(() => seen.some((m) => m.payload === 'control'), 'A’s own ack (control)');
      expect(seen.filter((m) => m.topic.includes(B))).toEqual([]);
    },
  );

  it('MQTT 3.1.1: the same, A’s hcp/v1/+/records is granted (SUBACK QoS 1) and B’s records never arrive', async () => {
    const a = await connectAs(A, { protocolVersion: 4 });
    const seen = collect(a);
    const granted = await a.subscribeAsync(['hcp/v1/+/records', topicsA.acks], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1]);
    const b = await connectAs(B);
    await b.publishAsync(topicsB.records, 'B record', { qos: 1 });
    // One province connection only: with use_username_as_clientid a second one would take it over.
    const { client: province, seen: provinceSeen } = await provinceObserver();
    await b.publishAsync(topicsB.records, 'B record 2', { qos: 1 });
    await waitUntil(() => provinceSeen.some((m) => m.payload === 'B record 2'), 'the province to receive B’s record');
    await province.publishAsync(topicsA.acks, 'control', { qos: 1 });
    await waitUntil(() => seen.some((m) => m.payload === 'control'), 'A’s own ack (control)');
    expect(seen).toEqual([{ topic: topicsA.acks, payload: 'control', retain: false }]);
  });

  it('A replacing B’s retained registration on B’s state: refused, B’s birth stays', async () => {
    const b = await connectAs(B);
    await b.publishAsync(topicsB.state, 'birth B', { qos: 1, retain: true });
    const a = await connectAs(A);
    await expect(a.publishAsync(topicsB.state, 'forged birth', { qos: 1, retain: true })).rejects.toMatchObject({ code: 0x87 });
    await expect(a.publishAsync(topicsB.state, '', { qos: 1, retain: true })).rejects.toMatchObject({ code: 0x87 }); // nor clear it
    await a.publishAsync(topicsA.state, 'birth A', { qos: 1, retain: true }); // control, same connection
    const province = await connectAs(PROVINCE);
    const seen = collect(province);
    await province.subscribeAsync('hcp/v1/+/state', { qos: 1 });
    await waitUntil(() => seen.length === 2, 'both retained births');
    expect(seen.filter((m) => m.topic === topicsB.state)).toEqual([{ topic: topicsB.state, payload: 'birth B', retain: true }]);
    expect(seen.filter((m) => m.topic === topicsA.state)).toEqual([{ topic: topicsA.state, payload: 'birth A', retain: true }]);
  });

  it('A connecting with B’s client id: its id becomes A (use_username_as_clientid), B stays connected', async () => {
    const b = await connectAs(B, { clientId: B });
    let bClosed = false;
    b.on('close', () => (bClosed = true));
    const bSeen = collect(b);
    await b.subscribeAsync(topicsB.acks, { qos: 1 });
    const a = await connectAs(A, { clientId: B, clean: true });
    // The attacker's session is A's: a second connection of A (any client id) takes it over.
    let aClosed = false;
    a.on('close', () => (aClosed = true));
    await connectAs(A, { clientId: 'anything' });
    await waitUntil(() => aClosed, 'A’s first connection to be taken over by A’s second (same bound id)');
    // B was never touched: still connected, still receiving.
    const province = await connectAs(PROVINCE);
    await province.publishAsync(topicsB.acks, 'still there', { qos: 1 });
    await waitUntil(() => bSeen.some((m) => m.payload === 'still there'), 'B to receive after the takeover attempt');
    expect(bClosed).toBe(false);
    expect(b.connected).toBe(true);
  });

  it('one connection per account: a second province connection takes the first one’s place (one account per gateway instance)', async () => {
    const first = await connectAs(PROVINCE);
    let firstClosed = false;
    first.on('close', () => (firstClosed = true));
    const second = await connectAs(PROVINCE, { clientId: 'gateway-2' });
    await waitUntil(() => firstClosed, 'the first province connection to be taken over');
    expect(second.connected).toBe(true);
  });

  it('hcp doctor beside A’s running bridge asks the service and leaves it connected (also with its own powerless account); a probe with A’s account would take its session over', async () => {
    // The password in its own file, as `hcp provision` leaves it (mode 600).
    const passwordFile = join(dir as string, 'a-mqtt-password');
    writeFileSync(passwordFile, `${PASSWORDS[A]}\n`, { mode: 0o600 });
    const bridge = await BridgeProcess.start({
      config: {
        terminal: { id: A, areaCode: '330106', hallCode: 'H', windowNo: 'A01' },
        // No terminal on the line: the uplink runs all the same, which is all this is about.
        serial: { path: join(dir as string, 'no-terminal') },
        mqtt: { url: brokerUrl(), username: A, passwordFile },
        database: { path: join(dir as string, 'doctor-a.db') },
        clock: { trust: 'system' },
        log: { level: 'warn' },
      },
    });
    try {
      await bridge.waitForStatus((s) => s.broker.connected, 'A’s bridge connected to Mosquitto');
      // A takeover shows at the broker as A's last will ({"online":false}) on its state topic.
      const province = await connectAs(PROVINCE);
      const states = collect(province, { live: true });
      await province.subscribeAsync(topicsA.state, { qos: 1 });
      const control = async (label: string): Promise<void> => {
        await province.publishAsync(topicsA.state, label, { qos: 1 });
        await waitUntil(() => states.some((m) => m.payload === label), `the control message ${label}`);
      };
      const wills = () => states.filter((m) => m.payload === JSON.stringify({ online: false }));

      const results = await runDoctor(bridge.configPath, 3000);
      const broker = results.find((r) => r.name === 'broker');
      expect(broker).toMatchObject({ level: 'ok', message: expect.stringContaining(`asked the running service (${bridge.httpUrl}), which is connected to ${brokerUrl()}; doctor did not connect itself`) });
      await control('after doctor');
      expect(wills()).toEqual([]);
      expect((await bridge.status()).broker.connected).toBe(true);

      // With its own account doctor connects too, beside the service, and takes nothing over.
      const withProbe = join(dir as string, 'doctor-a-probe.json');
      const configText = JSON.parse(readFileSync(bridge.configPath, 'utf8')) as { mqtt: object };
      writeFileSync(withProbe, JSON.stringify({ ...configText, mqtt: { ...configText.mqtt, probe: { username: A_DOCTOR, password: PASSWORDS[A_DOCTOR] } } }));
      const probed = (await runDoctor(withProbe, 3000)).find((r) => r.name === 'broker');
      expect(probed).toMatchObject({ level: 'ok', message: expect.stringContaining(`doctor also connected as doctor's own account ${A_DOCTOR} (mqtt.probe)`) });
      await control('after doctor with its own account');
      expect(wills()).toEqual([]);
      // ...and that account can say nothing in A's name.
      const doctorAccount = await connectAs(A_DOCTOR);
      await expect(doctorAccount.publishAsync(topicsA.records, 'forged by the doctor account', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });

      // What doctor used to do, shown here so that the check above can fail: the same account
      // connecting again takes the service's place (client id bound to the username).
      expect((await checkBroker(loadConfigFile(bridge.configPath), { connect: defaultConnect, timeoutMs: 3000 })).level).toBe('ok');
      await control('after a direct probe');
      expect(wills()).toHaveLength(1);
    } finally {
      await bridge.stop();
    }
  }, 60_000);

  it('anonymous, wrong password, unknown user and B’s name with A’s password: refused at CONNECT', async () => {
    const outcomes = {
      anonymous5: await tryConnect({ protocolVersion: 5 }),
      anonymous4: await tryConnect({ protocolVersion: 4 }),
      wrongPassword5: await tryConnect({ protocolVersion: 5, username: A, password: 'guess' }),
      wrongPassword4: await tryConnect({ protocolVersion: 4, username: A, password: 'guess' }),
      unknownUser: await tryConnect({ protocolVersion: 5, username: 'T-999', password: 'x' }),
      bWithAsPassword: await tryConnect({ protocolVersion: 5, username: B, password: PASSWORDS[A] }),
    };
    // Mosquitto 2.0.11 answers every one with "not authorized" (MQTT 5 CONNACK 0x87, 3.1.1 return
    // code 5), never 0x86/4 "bad user name or password": it does not tell which part was wrong.
    expect(outcomes).toEqual({
      anonymous5: 0x87,
      anonymous4: 5,
      wrongPassword5: 0x87,
      wrongPassword4: 5,
      unknownUser: 0x87,
      bWithAsPassword: 0x87,
    });
  });
});
