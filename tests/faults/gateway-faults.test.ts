import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDatabase } from '../../gateway/db/postgres.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { IngestStats } from '../../gateway/ingest/record-ingest.js';
import { chainGaps } from '../../gateway/store/chain-store.js';
import { recordHash, sealBody } from '../../protocol/seal/seal.js';
import { MosquittoBroker } from '../../simulator/mosquitto.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { onCI } from '../support/brokers.js';
import { BrokerClient, eventually, gatewayConfig, GatewayWindows, startGateway } from '../support/gateway-fixture.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { postgresTestsRun, startPostgres, type TestPostgres } from '../support/postgres-server.js';
import { testIdentity } from '../support/terminal-key.js';
import { loadOrCreateSigningKey, signerOf, terminalKeyFile } from '../../bridge/identity/terminal-key.js';

/**
 * The gateway's faults, each ending in the same two checks: every record of every bridge's
 * outbox stored once in `records`, and every outbox drained. Real bridges, Debian's Mosquitto,
 * Debian's PostgreSQL; the gateway as a child process where it is killed, in this process where
 * its status is read.
 */

let broker: MosquittoBroker | undefined;
let postgres: TestPostgres | undefined;
let windows: GatewayWindows | undefined;
/** The test's own connection to the database the gateways share, for its checks. */
let checks: PostgresDatabase | undefined;
const gateways: Gateway[] = [];
const processes: GatewayProcess[] = [];
const clients: BrokerClient[] = [];
const lockers: pg.Client[] = [];
let databases = 0;

beforeAll(async () => {
  if (!runs) return;
  [broker, postgres] = await Promise.all([MosquittoBroker.start(), startPostgres()]);
});
afterEach(async () => {
  await Promise.all(lockers.splice(0).map((c) => c.end().catch(() => undefined)));
  await windows?.close();
  windows = undefined;
  await Promise.all([...gateways.splice(0).map((g) => g.stop()), ...processes.splice(0).map((p) => p.stop()), ...clients.splice(0).map((c) => c.close())]);
  await checks?.close();
  checks = undefined;
});
afterAll(async () => {
  await Promise.all([broker?.stop(), postgres?.stop()]);
});

const runs = (MosquittoBroker.available() || onCI()) && postgresTestsRun();

/** A fresh database on the test server, the test's connection to it, and bridges on the broker. */
async function freshScene(): Promise<{ url: string; db: PostgresDatabase; windows: GatewayWindows }> {
  const url = await postgres!.createDatabase(`faults_${++databases}`);
  checks = await PostgresDatabase.open(url, { poolSize: 2 });
  windows = new GatewayWindows(broker!.url);
  return { url, db: checks, windows };
}

function config(instance: string, url: string, extra: Partial<Parameters<typeof gatewayConfig>[0]> = {}): ReturnType<typeof gatewayConfig> {
  // A share group of the test's own: Mosquitto hands a group's messages to its members' sessions
  // even while they are away, so the instances of earlier tests would take their share.
  const mqtt = { sharedGroup: `faults-${databases}` };
  return gatewayConfig({ instance: `${instance}-${databases}`, brokerUrl: broker!.url, database: { url }, terminals: { approval: 'first-key' }, mqtt, ...extra });
}

async function inProcess(instance: string, url: string): Promise<Gateway> {
  const gateway = await startGateway(config(instance, url));
  gateways.push(gateway);
  return gateway;
}

async function asProcess(instance: string, url: string): Promise<GatewayProcess> {
  const gateway = await GatewayProcess.start({ config: config(instance, url) });
  processes.push(gateway);
  return gateway;
}

async function brokerClient(): Promise<BrokerClient> {
  const client = await BrokerClient.connect(broker!.url);
  clients.push(client);
  return client;
}

/** Figures summed over the instances. */
function total(instances: readonly Gateway[], figure: keyof Omit<IngestStats, 'dbUp' | 'lastDbError'>): number {
  return instances.reduce((sum, g) => sum + g.ingest.stats()[figure], 0);
}

/**
 * Holds a lock on `records` that every insert waits for, from a connection of the test's own:
 * the batches the gateways take from now on stop inside their transactions, mid-batch, until
 * release(). Resolves once `waiting` of them are stuck on it.
 */
async function holdBatches(url: string): Promise<{ waitForStuck(waiting: number): Promise<void>; release(): Promise<void> }> {
  const locker = new pg.Client({ connectionString: url });
  lockers.push(locker);
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE records IN SHARE MODE');
  return {
    waitForStuck: async (waiting) => {
      await eventually(
        async () => (await checks!.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n >= waiting,
        `${waiting} gateway batches stuck mid-transaction`,
      );
    },
    release: async () => {
      await locker.query('COMMIT');
    },
  };
}

/** The record a bridge published last, as it went on the wire (sealed), parsed. */
function lastSealed(w: SimWindow, ids: readonly string[]): Record<string, unknown> & { id: string; seq: number; terminalId: string } {
  const entry = w.bridge.outbox.get(ids.at(-1)!);
  if (!entry?.sealed) throw new Error(`record ${ids.at(-1)} is not sealed`);
  return JSON.parse(entry.sealed) as Record<string, unknown> & { id: string; seq: number; terminalId: string };
}

describe.skipIf(!runs)('gateway faults (Mosquitto 2, PostgreSQL)', () => {
  it('an instance killed with SIGKILL mid-batch while another runs: the other takes its share, every record once', async () => {
    const { url, db, windows: hall } = await freshScene();
    // The bridges start while the gateways do: what they publish before anyone listens comes again.
    const [a, , ws] = await Promise.all([asProcess('a', url), asProcess('b', url), Promise.all([hall.window(), hall.window()])]);
    for (const w of ws) hall.strayPresses(w, 5);
    await hall.expectEveryRecordOnce(db);

    const batches = await holdBatches(url);
    for (const w of ws) hall.strayPresses(w, 15);
    await batches.waitForStuck(2); // one batch of each instance, inside its transaction
    expect(await a!.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await batches.release();
    await hall.expectEveryRecordOnce(db, 30_000);
  }, 60_000);

  it('the only instance killed with SIGKILL mid-batch and started again: every record once', async () => {
    const { url, db, windows: hall } = await freshScene();
    const [only, ws] = await Promise.all([asProcess('only', url), Promise.all([hall.window(), hall.window()])]);
    for (const w of ws) hall.strayPresses(w, 5);
    const before = await hall.expectEveryRecordOnce(db);

    const batches = await holdBatches(url);
    for (const w of ws) hall.strayPresses(w, 10);
    await batches.waitForStuck(1);
    await only.kill('SIGKILL');
    await batches.release();
    // What it had taken died with its transaction: nothing of that batch is stored.
    expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM records`)).rows[0]!.n).toBe(before.records);
    await only.restart();
    await hall.expectEveryRecordOnce(db, 30_000);
    const status = await fetch(`${only.adminUrl}/api/v1/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ instance: { instance: `only-${databases}`, database: { up: true } } });
    expect(await only.stop()).toEqual({ code: 0, signal: null }); // SIGTERM: the batch in flight settled, then a clean exit
  }, 60_000);

  it('the database gone and back: the gateway says so, acknowledges nothing meanwhile, and catches up', async () => {
    const { db, windows: hall, url } = await freshScene();
    const gateway = await inProcess('a', url);
    const w = await hall.window();
    hall.strayPresses(w, 5);
    await hall.expectEveryRecordOnce(db);
    await checks!.close(); // its pool would see the server go too
    checks = undefined;

    await postgres!.kill();
    const acksBefore = gateway.ingest.stats().acksSent;
    const during = hall.strayPresses(w, 10);
    await waitUntil(() => gateway.status().database.up === false, 'the gateway to report the database down', { timeoutMs: 10_000 });
    await waitUntil(() => gateway.ingest.stats().received >= 5 + 10, 'the records offered while it is down');
    expect(gateway.status().database.lastError).toEqual(expect.any(String));
    expect(gateway.ingest.stats().acksSent).toBe(acksBefore);
    expect(during.map((id) => w.bridge.outbox.get(id)?.state)).toEqual(Array(10).fill('pending'));

    await postgres!.restart();
    checks = await PostgresDatabase.open(url, { poolSize: 2 });
    await hall.expectEveryRecordOnce(checks, 30_000);
    expect(gateway.status().database.up).toBe(true);
  });

  it('the broker restarted: records made before, during and after it are stored once', async () => {
    const { db, windows: hall, url } = await freshScene();
    await Promise.all([inProcess('a', url), inProcess('b', url)]);
    const ws = [await hall.window(), await hall.window()];
    for (const w of ws) hall.strayPresses(w, 5);
    await hall.expectEveryRecordOnce(db);
    const restarted = broker!.restart();
    for (const w of ws) hall.strayPresses(w, 5);
    await restarted;
    for (const w of ws) hall.strayPresses(w, 5);
    await hall.expectEveryRecordOnce(db, 30_000);
  });

  it('a flood of duplicates straight to the broker: each acknowledged duplicate, stored once', async () => {
    const { db, windows: hall, url } = await freshScene();
    const instances = await Promise.all([inProcess('a', url), inProcess('b', url)]);
    const w = await hall.window();
    const ids = hall.strayPresses(w, 10);
    await hall.expectEveryRecordOnce(db);
    const accepted = total(instances, 'accepted');

    const flooder = await brokerClient();
    const copies = 20;
    await Promise.all(ids.flatMap((id) => Array.from({ length: copies }, () => flooder.publishRecord(w.terminalId, w.bridge.outbox.get(id)!.sealed!))));
    await waitUntil(() => total(instances, 'duplicates') >= ids.length * copies, 'every copy answered', { timeoutMs: 15_000 });
    // Copies settled in one batch are answered in one ack: each id at least once, only ever duplicate.
    for (const id of ids) expect(flooder.acksOf(id).map((ack) => ack.status)).toContain('duplicate');
    expect(flooder.acks.filter((ack) => ack.status !== 'duplicate')).toEqual([]);
    expect(total(instances, 'accepted')).toBe(accepted);
    await hall.expectEveryRecordOnce(db);
  });

  it('a terminal replaying its whole outbox: answered duplicate, nothing stored twice', async () => {
    const { db, windows: hall, url } = await freshScene();
    const instances = await Promise.all([inProcess('a', url), inProcess('b', url)]);
    const w = await hall.window();
    await hall.serve(w, 'C-REPLAY', 2);
    hall.strayPresses(w, 10);
    const { records } = await hall.expectEveryRecordOnce(db);
    const duplicates = total(instances, 'duplicates');

    const replayed = w.bridge.outbox.requeueRange(1, w.bridge.outbox.maxSeq());
    expect(replayed).toBe(records);
    await hall.expectEveryRecordOnce(db);
    expect(total(instances, 'duplicates') - duplicates).toBeGreaterThanOrEqual(replayed);
    expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM records`)).rows[0]!.n).toBe(records);
  });

  it('malformed and hostile payloads on a records topic: counted, refused with reasons, nothing stored', async () => {
    const { db, windows: hall, url } = await freshScene();
    const gateway = await inProcess('a', url);
    const [w, other] = [await hall.window(), await hall.window()];
    const ids = hall.strayPresses(w, 3);
    const otherIds = hall.strayPresses(other, 1);
    await hall.expectEveryRecordOnce(db);
    const before = gateway.ingest.stats();
    const attacker = await brokerClient();
    const genuine = lastSealed(w, ids);
    const forger = testIdentity();

    const notJson = 'this is not { JSON';
    const noId = JSON.stringify({ kind: 'event', terminalId: w.terminalId });
    const badSchema = { id: uuidv7(), kind: 'invitation', terminalId: w.terminalId, outcome: 'splendid' };
    // Signed, chained after the terminal's last record, with another key than the one it registered.
    const forged = sealBody({ ...genuine, id: uuidv7(), seq: genuine.seq + 1 }, recordHash(genuine), forger.sign) as unknown as typeof genuine;
    // One terminal speaking for another: other's bridge (its key file is on this machine) signs, in
    // its own chain and on its own topic, a record that names w.
    const otherLast = lastSealed(other, otherIds);
    const signedByOther = signerOf(loadOrCreateSigningKey(terminalKeyFile(other.bridge.config)).privateKey);
    const otherTerminals = sealBody({ ...otherLast, id: uuidv7(), seq: otherLast.seq + 1, terminalId: w.terminalId }, recordHash(otherLast), signedByOther) as unknown as typeof genuine;
    const huge = { ...genuine, id: uuidv7(), detail: { note: 'x'.repeat(1_000_000) } };
    await attacker.publishRecord(w.terminalId, notJson);
    await attacker.publishRecord(w.terminalId, noId);
    await attacker.publishRecord(w.terminalId, JSON.stringify(badSchema));
    await attacker.publishRecord(w.terminalId, JSON.stringify(forged));
    await attacker.publishRecord(other.terminalId, JSON.stringify(otherTerminals));
    await attacker.publishRecord(w.terminalId, JSON.stringify(huge));
    await waitUntil(() => gateway.ingest.stats().received - before.received >= 6 && gateway.ingest.stats().queued === 0, 'the six messages settled');

    const after = gateway.ingest.stats();
    expect(after.unreadable - before.unreadable).toBe(2);
    expect(after.invalid - before.invalid + after.rejected - before.rejected).toBe(4);
    expect(after.accepted).toBe(before.accepted);
    const refusedWith: Array<[id: string, reason: RegExp]> = [
      [badSchema.id, /^schema: /],
      [forged.id, new RegExp(`^bad_signature: record ${forged.id} \\(seq ${forged.seq}\\): sig: does not verify with the terminal's registered key`)],
      [otherTerminals.id, new RegExp(`^terminalId: record names terminal "${w.terminalId}" but was published on the topic of terminal "${other.terminalId}"`)],
      [huge.id, /\w+: /],
    ];
    for (const [id, reason] of refusedWith) {
      await waitUntil(() => attacker.acksOf(id).length > 0, `the answer to ${id}`);
      expect(attacker.acksOf(id)).toEqual([expect.objectContaining({ status: 'rejected', reason: expect.stringMatching(reason) })]);
    }
    const stored = await db.query(`SELECT id FROM records WHERE id = ANY($1::uuid[])`, [[badSchema.id, forged.id, otherTerminals.id, huge.id]]);
    expect(stored.rows).toEqual([]);
    const { rows: refusals } = await db.query<{ id: string; terminal_id: string; disposition: string; verdict: string }>(
      `SELECT id, terminal_id, disposition, verdict FROM refusals ORDER BY first_at`,
    );
    expect(refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: forged.id, terminal_id: w.terminalId, disposition: 'rejected', verdict: 'bad_signature' }),
        expect.objectContaining({ id: otherTerminals.id, terminal_id: other.terminalId, disposition: 'rejected', verdict: 'terminal_mismatch' }),
      ]),
    );
    // The genuine terminal goes on: its next records are stored, its chain unbroken by the forgery.
    hall.strayPresses(w, 2);
    await hall.expectEveryRecordOnce(db);
    expect(await chainGaps(db, w.terminalId)).toEqual([]);
    expect((await db.query(`SELECT seq FROM records WHERE terminal_id = $1 AND seq > $2 AND seal <> 'ok'`, [w.terminalId, genuine.seq])).rows).toEqual([]);
  });
});
