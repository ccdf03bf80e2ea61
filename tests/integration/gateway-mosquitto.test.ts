import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, publicKeyText, terminalKeyFile } from '../../bridge/identity/terminal-key.js';
import { silentLogger } from '../../bridge/log.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import { chainGaps } from '../../gateway/store/chain-store.js';
import { GatewaySession, type LeafHandlers } from '../../gateway/mqtt/session.js';
import type { ProvinceLeaf } from '../../protocol/topics.js';
import { MosquittoBroker } from '../../simulator/mosquitto.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { onCI } from '../support/brokers.js';
import { eventually, gatewayConfig, GatewayWindows, startGateway } from '../support/gateway-fixture.js';
import { postgresTestsRun, startPostgres, warnPostgresSkipped, type TestPostgres } from '../support/postgres-server.js';

/**
 * Conformance of the gateway's MQTT session on Debian's Mosquitto 2: a shared subscription
 * splits the records between the instances of one group (each message to exactly one), every
 * instance sees every retained state, and a persistent session keeps what was published while
 * its instance was away, on MQTT 5 and on MQTT 3.1.1. Then the whole receiving end: real bridges
 * publishing to Mosquitto, two gateway instances on one PostgreSQL storing each record once.
 */

const MQTT_VERSIONS = [5, 4] as const;

let broker: MosquittoBroker | undefined;
const sessions: GatewaySession[] = [];
const clients: MqttClient[] = [];
/** Each test its own topic prefix and share group: nothing one test leaves on the broker reaches another. */
let testNo = 0;

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.stop()));
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

/** What one stub instance was handed, per leaf, in arrival order. */
class Received {
  readonly byLeaf: Record<ProvinceLeaf, Array<{ topic: string; payload: string }>> = { records: [], state: [], time: [], telemetry: [] };
  readonly handlers: LeafHandlers = {
    records: (topic, payload) => this.byLeaf.records.push({ topic, payload: payload.toString() }),
    state: (topic, payload) => this.byLeaf.state.push({ topic, payload: payload.toString() }),
    time: (topic, payload) => this.byLeaf.time.push({ topic, payload: payload.toString() }),
    telemetry: (topic, payload) => this.byLeaf.telemetry.push({ topic, payload: payload.toString() }),
  };

  get records(): string[] {
    return this.byLeaf.records.map((m) => m.payload);
  }
}

interface Scene {
  prefix: string;
  config(instance: string, mqtt?: Partial<GatewayConfigInput['mqtt']>): ReturnType<typeof parseGatewayConfig>;
}

function scene(protocolVersion: 4 | 5): Scene {
  testNo += 1;
  const prefix = `conf${testNo}/hcp/v1`;
  const group = `group-${testNo}`;
  return {
    prefix,
    config: (instance, mqtt = {}) =>
      parseGatewayConfig({
        instance: `${instance}-${testNo}`,
        mqtt: { url: broker!.url, protocolVersion, sharedGroup: group, topicPrefix: prefix, ...mqtt },
        // The session never opens it: only the config's shape needs one.
        database: { dataDir: '/nonexistent' },
      }),
  };
}

async function startSession(config: ReturnType<typeof parseGatewayConfig>, received: Received): Promise<GatewaySession> {
  const session = await GatewaySession.start(config, received.handlers, silentLogger);
  sessions.push(session);
  return session;
}

async function terminalSide(protocolVersion: 4 | 5): Promise<MqttClient> {
  const client = await connectAsync(broker!.url, { protocolVersion, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

/** Publishes `count` records (QoS 1, each acknowledged by the broker) from seven terminals; returns their payloads. */
async function publishRecords(client: MqttClient, prefix: string, count: number, tag: string): Promise<string[]> {
  const payloads = Array.from({ length: count }, (_, i) => JSON.stringify({ id: `${tag}-${i}` }));
  await Promise.all(payloads.map((payload, i) => client.publishAsync(`${prefix}/T-${i % 7}/records`, payload, { qos: 1 })));
  return payloads;
}

describe.skipIf(!MosquittoBroker.available() && !onCI())('the gateway session on Mosquitto 2', () => {
  beforeAll(async () => {
    broker = await MosquittoBroker.start();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  describe.each(MQTT_VERSIONS)('MQTT protocol level %i', (protocolVersion) => {
    it('two instances of one group split 200 records: each to exactly one of them, both get some', async () => {
      const { prefix, config } = scene(protocolVersion);
      const [a, b] = [new Received(), new Received()];
      await startSession(config('a'), a);
      await startSession(config('b'), b);
      const client = await terminalSide(protocolVersion);
      const sent = await publishRecords(client, prefix, 200, 'split');
      await waitUntil(() => a.records.length + b.records.length >= sent.length, 'all 200 records to reach the group', { timeoutMs: 10_000 });
      // One more, awaited: anything sent twice before it would have arrived by now (the broker keeps per-client order).
      const [barrier] = await publishRecords(client, prefix, 1, 'barrier');
      await waitUntil(() => [...a.records, ...b.records].includes(barrier!), 'the barrier record');
      const [atA, atB] = [a, b].map((instance) => instance.records.filter((p) => p !== barrier));
      expect([...atA!, ...atB!].sort()).toEqual([...sent].sort());
      expect(atA!.length).toBeGreaterThan(0);
      expect(atB!.length).toBeGreaterThan(0);
    });

    it('every instance sees every terminal state: the retained one from before it started and a new one', async () => {
      const { prefix, config } = scene(protocolVersion);
      const client = await terminalSide(protocolVersion);
      await client.publishAsync(`${prefix}/T-1/state`, JSON.stringify({ online: true }), { qos: 1, retain: true });
      const [a, b] = [new Received(), new Received()];
      await startSession(config('a'), a);
      await startSession(config('b'), b);
      await client.publishAsync(`${prefix}/T-2/state`, JSON.stringify({ online: false }), { qos: 1, retain: true });
      for (const instance of [a, b]) {
        await waitUntil(() => instance.byLeaf.state.length >= 2, 'both states at each instance');
        expect(instance.byLeaf.state.map((m) => m.topic).sort()).toEqual([`${prefix}/T-1/state`, `${prefix}/T-2/state`]);
      }
      // Not split: records stay shared while states are not.
      expect(a.byLeaf.records).toEqual([]);
    });

    // The session's 'message' listener exists before the CONNACK: what the broker kept is handed over at once.
    it('a persistent session is handed the records published while its instance was away', async () => {
      const { prefix, config } = scene(protocolVersion);
      const before = new Received();
      const first = await startSession(config('p', { sessionExpirySeconds: 3600 }), before);
      await first.stop();
      const client = await terminalSide(protocolVersion);
      const whileAway = await publishRecords(client, prefix, 20, 'away');
      const after = new Received();
      await startSession(config('p', { sessionExpirySeconds: 3600 }), after);
      await waitUntil(() => after.records.length >= whileAway.length, 'the 20 records kept for the instance', { timeoutMs: 3000 });
      expect(after.records.sort()).toEqual([...whileAway].sort());
      expect(before.records).toEqual([]);
    });
  });

  it('MQTT 5 session expiry 0: nothing is kept for an instance that is away (the setting is what keeps them)', async () => {
    const { prefix, config } = scene(5);
    const first = await startSession(config('e', { sessionExpirySeconds: 0 }), new Received());
    await first.stop();
    const client = await terminalSide(5);
    await publishRecords(client, prefix, 5, 'lost');
    const after = new Received();
    await startSession(config('e', { sessionExpirySeconds: 0 }), after);
    const [barrier] = await publishRecords(client, prefix, 1, 'barrier');
    await waitUntil(() => after.records.includes(barrier!), 'the record published after it came back');
    expect(after.records).toEqual([barrier]);
  });
});

const catalog = SAMPLE_PROVINCE_CONFIG.reasonCatalog!;
if (!postgresTestsRun()) warnPostgresSkipped();

/** The key a window's bridge seals with (its key file, beside its database). */
function keyOf(window: SimWindow): string {
  return publicKeyText(loadOrCreateSigningKey(terminalKeyFile(window.bridge.config)).publicKey);
}

describe.skipIf((!MosquittoBroker.available() && !onCI()) || !postgresTestsRun())('gateway instances on Mosquitto 2 and one PostgreSQL', () => {
  let postgres: TestPostgres | undefined;
  let windows: GatewayWindows | undefined;
  const gateways: Gateway[] = [];
  let databases = 0;

  beforeAll(async () => {
    [broker, postgres] = await Promise.all([MosquittoBroker.start(), startPostgres()]);
  });
  afterEach(async () => {
    await windows?.close();
    windows = undefined;
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
  });
  afterAll(async () => {
    await Promise.all([broker?.stop(), postgres?.stop()]);
  });

  /** Two instances of one group on a fresh database, started together (both migrate it at once). */
  async function twoGateways(terminals: GatewayConfigInput['terminals']): Promise<[Gateway, Gateway]> {
    const url = await postgres!.createDatabase(`conformance_${++databases}`);
    // A share group of the test's own: the sessions of earlier tests' instances stay members of theirs
    // after they stop (Mosquitto queues a share for them until their sessions expire).
    const mqtt = { sharedGroup: `conformance-${databases}` };
    const config = (instance: string): GatewayConfigInput => gatewayConfig({ instance: `${instance}-${databases}`, brokerUrl: broker!.url, database: { url }, mqtt, terminals });
    const started = await Promise.all([startGateway(config('a')), startGateway(config('b'))]);
    gateways.push(...started);
    return started;
  }

  it('two instances split the records of three bridges: each stored once, every outbox drained, the first key approved and the catalogue sent', async () => {
    const [a, b] = await twoGateways({ approval: 'first-key', config: { reasonCatalog: catalog } });
    windows = new GatewayWindows(broker!.url);
    const ws = [await windows.window(), await windows.window(), await windows.window()];
    for (const [n, w] of ws.entries()) {
      await windows.serve(w, `C-CONF-${n}`, n);
      windows.strayPresses(w, 20);
    }
    const { records } = await windows.expectEveryRecordOnce(a.db);
    expect(records).toBeGreaterThanOrEqual(3 * 21);
    const { rows } = await a.db.query<{ instance: string; n: number }>(`SELECT instance, count(*)::int AS n FROM records GROUP BY instance ORDER BY instance`);
    expect(rows.map((r) => r.instance)).toEqual([a.config.instance, b.config.instance]);
    for (const w of ws) {
      expect(await a.registry.get(w.terminalId)).toMatchObject({ status: 'approved', publicKey: keyOf(w), pendingKey: null });
      await waitUntil(() => w.bridge.status().reasonCatalog?.version === catalog.version, `the catalogue at ${w.windowNo}`);
    }
    // Each chain whole: every seq from the first, each record linked to the one before.
    for (const w of ws) expect(await chainGaps(b.db, w.terminalId)).toEqual([]);
  });

  // A record stored while its predecessor is still in the other instance's batch is flagged 'gap'
  // at first; that batch's commit clears the flag (gateway/store/chain-store.ts clearGapFlags).
  it('a chain split between two instances is stored sealed ok throughout: no record flagged gap once its predecessor is in', async () => {
    const [a] = await twoGateways({ approval: 'first-key' });
    windows = new GatewayWindows(broker!.url);
    const w = await windows.window();
    await windows.expectEveryRecordOnce(a.db); // registered, its sign-in stored
    windows.strayPresses(w, 20);
    await windows.expectEveryRecordOnce(a.db);
    expect(await chainGaps(a.db, w.terminalId)).toEqual([]);
    const { rows } = await a.db.query<{ seq: number; seal: string }>(`SELECT seq, seal FROM records WHERE terminal_id = $1 AND seal <> 'ok' ORDER BY seq`, [w.terminalId]);
    expect(rows).toEqual([]);
  });

  it('manual approval: a new terminal’s records are held, unacknowledged, until the operator approves; then stored once and its config sent', async () => {
    const [a, b] = await twoGateways({ approval: 'manual', config: { reasonCatalog: catalog } });
    windows = new GatewayWindows(broker!.url);
    const w = await windows.window();
    const rated = await windows.serve(w, 'C-MANUAL', 4);
    const strays = windows.strayPresses(w, 5);
    await eventually(async () => (await a.registry.get(w.terminalId))?.pendingKey === keyOf(w), 'the terminal’s key to wait for the operator');
    // Offered to the gateways, and held: not stored, not acknowledged.
    await waitUntil(() => a.ingest.stats().held + b.ingest.stats().held >= 6, 'the records held');
    expect(w.bridge.outbox.get(rated)?.state).toBe('pending');
    expect(strays.map((id) => w.bridge.outbox.get(id)?.state)).toEqual(Array(5).fill('pending'));
    expect((await a.db.query(`SELECT 1 FROM records`)).rows).toEqual([]);
    expect(w.bridge.status().reasonCatalog).toBeNull();

    const approved = await b.registry.approve(w.terminalId, { actor: 'conformance' });
    expect(approved).toMatchObject({ terminal: { status: 'approved', publicKey: keyOf(w) }, configPublished: true });
    await windows.expectEveryRecordOnce(a.db);
    await waitUntil(() => w.bridge.status().reasonCatalog?.version === catalog.version, 'the catalogue at the bridge');
    // Held, said why (before or after its state was read), and kept visible.
    const { rows } = await a.db.query<{ verdict: string; disposition: string }>(`SELECT DISTINCT verdict, disposition FROM refusals WHERE terminal_id = $1`, [w.terminalId]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatchObject({ disposition: 'held', verdict: expect.stringMatching(/^(unknown_terminal|pending_key)$/) });
  });
});
