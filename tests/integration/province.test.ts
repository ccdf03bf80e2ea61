import { createConnection } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ackSchema, type Ack } from '../../protocol/acks.js';
import { eventRecordSchema, invitationRecordSchema, type EventRecord, type InvitationRecord } from '../../protocol/records.js';
import { terminalTopics } from '../../protocol/topics.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator, type ProvinceLogger } from '../../simulator/province.js';

const FIXED_NOW = new Date('2025-06-03T02:00:00.000Z');

interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

function capturingLogger(lines: LogLine[]): ProvinceLogger {
  return {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

let seq = 0;
function invitation(terminalId: string, overrides: Partial<InvitationRecord> = {}): InvitationRecord {
  seq += 1;
  const record: InvitationRecord = {
    id: uuidv7(),
    kind: 'invitation',
    schema: 1,
    terminalId,
    areaCode: '330106',
    hallCode: 'HALL-01',
    windowNo: '12',
    staffId: 'S-0042',
    services: [{ itemCode: '330106-000-XK-0001', itemName: '营业执照变更登记', caseNo: `CASE-${seq}` }],
    mode: 'single',
    proxy: false,
    invitedAt: '2025-06-03T01:59:40.000+08:00',
    closedAt: '2025-06-03T01:59:46.500+08:00',
    outcome: 'rated',
    rating: {
      grade: 'very_satisfied',
      gradeCode: 5,
      reasons: [],
      reasonCatalogVersion: '2025.1',
      pressedAt: '2025-06-03T01:59:46.500+08:00',
      latencyMs: 6500,
    },
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 123456 },
    seq,
    ...overrides,
  };
  // The fixture itself must satisfy the contract, or the tests below prove nothing.
  return invitationRecordSchema.parse(record);
}

function strayPress(terminalId: string): EventRecord {
  seq += 1;
  return eventRecordSchema.parse({
    id: uuidv7(),
    kind: 'event',
    schema: 1,
    terminalId,
    areaCode: '330106',
    hallCode: 'HALL-01',
    windowNo: '12',
    staffId: null,
    type: 'stray_press',
    at: '2025-06-03T02:00:01.000+08:00',
    detail: { button: 3 },
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 130000 },
    seq,
  } satisfies EventRecord);
}

/** Waits, without sleeping, until `predicate` returns a value, re-checking on every `event` of `emitter`. */
function until<T>(
  emitter: { on(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown },
  event: string,
  predicate: () => T | undefined | false,
  timeoutMs = 5000,
): Promise<T> {
  const timeoutError = new Error(`condition not met within ${timeoutMs} ms`);
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const value = predicate();
      if (value === undefined || value === false) return;
      done();
      resolve(value);
    };
    const timer = setTimeout(() => {
      done();
      reject(timeoutError);
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      emitter.off(event, check);
    };
    emitter.on(event, check);
    check();
  });
}

/** A real mqtt.js client on a terminal's topics: publishes records, collects acks. */
class FakeTerminal {
  readonly acks: Ack[] = [];
  readonly topics: ReturnType<typeof terminalTopics>;

  private constructor(
    readonly terminalId: string,
    readonly client: MqttClient,
  ) {
    this.topics = terminalTopics(terminalId);
    client.on('message', (topic, payload) => {
      if (topic === this.topics.acks) this.acks.push(ackSchema.parse(JSON.parse(payload.toString('utf8'))));
    });
  }

  static async connect(url: string, terminalId: string): Promise<FakeTerminal> {
    const client = await connectAsync(url, { clientId: `terminal-${terminalId}`, reconnectPeriod: 0 });
    const terminal = new FakeTerminal(terminalId, client);
    await client.subscribeAsync(terminal.topics.acks, { qos: 1 });
    return terminal;
  }

  async send(record: object | string): Promise<void> {
    await this.client.publishAsync(this.topics.records, typeof record === 'string' ? record : JSON.stringify(record), { qos: 1 });
  }

  ackFor(id: string): Ack | undefined {
    return this.acks.find((a) => a.ids.includes(id));
  }

  waitForAck(id: string): Promise<Ack> {
    return until(this.client, 'message', () => this.ackFor(id));
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

describe('ProvinceEmulator against an EmbeddedBroker', () => {
  let broker: EmbeddedBroker;
  let province: ProvinceEmulator;
  const logs: LogLine[] = [];
  const open: { close(): Promise<void> }[] = [];
  let terminalNo = 0;

  async function terminal(): Promise<FakeTerminal> {
    terminalNo += 1;
    const t = await FakeTerminal.connect(broker.url, `T${String(terminalNo).padStart(3, '0')}`);
    open.push(t);
    return t;
  }

  beforeAll(async () => {
    broker = await EmbeddedBroker.start();
    province = await ProvinceEmulator.start({ url: broker.url, now: () => FIXED_NOW, logger: capturingLogger(logs) });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await province?.stop();
    await broker?.stop();
  });

  it('listens on a free port and reports its url', () => {
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.clientCount()).toBeGreaterThanOrEqual(1); // the province
  });

  it('stores a valid invitation record and acks it accepted on the terminal’s acks topic', async () => {
    const t = await terminal();
    const record = invitation(t.terminalId);
    await t.send(record);
    const ack = await t.waitForAck(record.id);

    expect(ack).toEqual({ ids: [record.id], status: 'accepted', serverTime: FIXED_NOW.toISOString() });
    expect(province.recordsOf(t.terminalId)).toEqual([record]);
    expect(province.records()).toContainEqual(record);
    expect(province.countsByTerminal()[t.terminalId]).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('accepts event records too', async () => {
    const t = await terminal();
    const event = strayPress(t.terminalId);
    await t.send(event);
    expect((await t.waitForAck(event.id)).status).toBe('accepted');
    expect(province.recordsOf(t.terminalId)).toEqual([event]);
  });

  it('acks a resent record as duplicate and stores it once', async () => {
    const t = await terminal();
    const record = invitation(t.terminalId);
    const before = province.stats;
    await t.send(record);
    await t.waitForAck(record.id);
    await t.send(record);
    await until(t.client, 'message', () => t.acks.length === 2);

    expect(t.acks.map((a) => a.status)).toEqual(['accepted', 'duplicate']);
    expect(t.acks[1]?.ids).toEqual([record.id]);
    expect(province.recordsOf(t.terminalId)).toHaveLength(1);
    expect(province.records().filter((r) => r.id === record.id)).toHaveLength(1);
    const after = province.stats;
    expect(after.accepted - before.accepted).toBe(1);
    expect(after.duplicates - before.duplicates).toBe(1);
    expect(province.countsByTerminal()[t.terminalId]).toEqual({ accepted: 1, duplicates: 1, rejected: 0 });
  });

  it('rejects a record without services[0].caseNo, naming the field, and does not store it', async () => {
    const t = await terminal();
    const { caseNo: _dropped, ...serviceWithoutCaseNo } = invitation(t.terminalId).services[0]!;
    const record = { ...invitation(t.terminalId), services: [serviceWithoutCaseNo] };
    const rejected = new Promise((resolve) => province.once('rejected', resolve));
    await t.send(record);
    const ack = await t.waitForAck(record.id);

    expect(ack.status).toBe('rejected');
    expect(ack.reason).toMatch(/^services\.0\.caseNo: /);
    expect(ack.reason).toBe('services.0.caseNo: required (expected string)');
    expect(await rejected).toEqual({ id: record.id, terminalId: t.terminalId, reason: ack.reason });
    expect(province.recordsOf(t.terminalId)).toEqual([]);
    expect(province.rejections()).toContainEqual({ id: record.id, terminalId: t.terminalId, reason: ack.reason });
  });

  it('uses the contract’s own message for an empty caseNo', async () => {
    const t = await terminal();
    const base = invitation(t.terminalId);
    const record = { ...base, services: [{ ...base.services[0]!, caseNo: '   ' }] };
    await t.send(record);
    const ack = await t.waitForAck(record.id);
    expect(ack).toMatchObject({ status: 'rejected', reason: 'services.0.caseNo: caseNo (办件编号) is required' });
  });

  it('names the discriminator when the record kind is unknown', async () => {
    const t = await terminal();
    const record = { ...invitation(t.terminalId), kind: 'survey' };
    await t.send(record);
    const ack = await t.waitForAck(record.id);
    expect(ack).toMatchObject({ status: 'rejected', reason: 'kind: expected one of "invitation"|"event"' });
  });

  it('rejects a record whose terminalId differs from its topic', async () => {
    const t = await terminal();
    const record = invitation('SOMEONE-ELSE');
    await t.send(record);
    const ack = await t.waitForAck(record.id);
    expect(ack.status).toBe('rejected');
    expect(ack.reason).toMatch(/^terminalId: .*SOMEONE-ELSE.*T\d+/);
    expect(province.records().some((r) => r.id === record.id)).toBe(false);
  });

  it('counts non-JSON and id-less bodies as unreadable, logs them, and acks nothing for them', async () => {
    const t = await terminal();
    const before = province.stats;
    await t.send('this is {not json');
    await t.send(JSON.stringify({ kind: 'invitation', note: 'no id' }));
    await province.waitFor(() => province.stats.unreadable - before.unreadable === 2);

    expect(logs.filter((l) => l.level === 'warn' && (l.obj as { topic?: string }).topic === t.topics.records)).toHaveLength(2);
    // A valid record afterwards is a barrier: its ack arrives after any ack the bad ones could have caused.
    const barrier = invitation(t.terminalId);
    await t.send(barrier);
    await t.waitForAck(barrier.id);
    expect(t.acks).toEqual([{ ids: [barrier.id], status: 'accepted', serverTime: FIXED_NOW.toISOString() }]);
    const after = province.stats;
    expect(after.received - before.received).toBe(3);
    expect(after.unreadable - before.unreadable).toBe(2);
  });

  it('acks records that arrive together in batches, every id exactly once', async () => {
    const t = await terminal();
    const records = Array.from({ length: 50 }, () => invitation(t.terminalId));
    await Promise.all(records.map((r) => t.send(r)));
    await until(t.client, 'message', () => t.acks.reduce((n, a) => n + a.ids.length, 0) >= records.length);

    const ackedIds = t.acks.flatMap((a) => a.ids);
    expect(ackedIds.toSorted()).toEqual(records.map((r) => r.id).toSorted());
    expect(new Set(ackedIds).size).toBe(records.length);
    expect(t.acks.every((a) => a.status === 'accepted')).toBe(true);
    expect(t.acks.length).toBeLessThan(records.length);
    // Stored in arrival order (QoS 1 from one client over one connection keeps order).
    expect(province.recordsOf(t.terminalId).map((r) => r.id)).toEqual(records.map((r) => r.id));
  });

  it('waitFor resolves with the predicate’s value and rejects clearly on timeout', async () => {
    await expect(province.waitFor(() => province.stats.received >= 0 && 'ready')).resolves.toBe('ready');
    await expect(province.waitFor(() => false, { timeoutMs: 30 })).rejects.toThrow(/condition not met within 30 ms/);
  });
});

describe('ProvinceEmulator options', () => {
  let broker: EmbeddedBroker;

  beforeAll(async () => {
    broker = await EmbeddedBroker.start();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it('caps an ack at maxAckBatch ids and honours a custom prefix', async () => {
    const prefix = 'test/hcp';
    const province = await ProvinceEmulator.start({ url: broker.url, prefix, maxAckBatch: 5, logger: capturingLogger([]) });
    const client = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const topics = terminalTopics('T900', prefix);
      const acks: Ack[] = [];
      client.on('message', (_topic, payload) => acks.push(ackSchema.parse(JSON.parse(payload.toString('utf8')))));
      await client.subscribeAsync(topics.acks, { qos: 1 });
      const records = Array.from({ length: 12 }, () => invitation('T900'));
      await Promise.all(records.map((r) => client.publishAsync(topics.records, JSON.stringify(r), { qos: 1 })));
      await until(client, 'message', () => acks.reduce((n, a) => n + a.ids.length, 0) >= records.length);

      expect(acks.every((a) => a.ids.length <= 5)).toBe(true);
      expect(acks.flatMap((a) => a.ids).toSorted()).toEqual(records.map((r) => r.id).toSorted());
      expect(province.recordsOf('T900')).toHaveLength(12);
    } finally {
      await client.endAsync();
      await province.stop();
    }
  });

  it('holds acks for ackDelayMs', async () => {
    const province = await ProvinceEmulator.start({ url: broker.url, prefix: 'slow/hcp', ackDelayMs: 150, logger: capturingLogger([]) });
    const client = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const topics = terminalTopics('T901', 'slow/hcp');
      const acks: Ack[] = [];
      client.on('message', (_topic, payload) => acks.push(ackSchema.parse(JSON.parse(payload.toString('utf8')))));
      await client.subscribeAsync(topics.acks, { qos: 1 });
      const record = invitation('T901');
      await client.publishAsync(topics.records, JSON.stringify(record), { qos: 1 });
      await province.waitFor(() => province.stats.accepted === 1);
      const storedAt = Date.now();
      await until(client, 'message', () => acks.length === 1);
      expect(Date.now() - storedAt).toBeGreaterThanOrEqual(100);
      expect(acks[0]?.ids).toEqual([record.id]);
    } finally {
      await client.endAsync();
      await province.stop();
    }
  });

  it('stop() fails pending waitFor calls', async () => {
    const province = await ProvinceEmulator.start({ url: broker.url, prefix: 'stop/hcp', logger: capturingLogger([]) });
    const pending = expect(province.waitFor(() => false, { timeoutMs: 10_000 })).rejects.toThrow(/stopped/);
    await province.stop();
    await pending;
    await expect(province.waitFor(() => true)).rejects.toThrow(/stopped/);
  });
});

describe('EmbeddedBroker', () => {
  it('delivers a retained QoS 1 message to a later subscriber', async () => {
    const broker = await EmbeddedBroker.start();
    try {
      const { state } = terminalTopics('T777');
      const publisher = await connectAsync(broker.url, { reconnectPeriod: 0 });
      await publisher.publishAsync(state, JSON.stringify({ online: true, firmware: '1.0.0' }), { qos: 1, retain: true });
      await publisher.endAsync();

      const subscriber = await connectAsync(broker.url, { reconnectPeriod: 0 });
      try {
        const received: { topic: string; body: unknown; retain: boolean }[] = [];
        subscriber.on('message', (topic, payload, packet) =>
          received.push({ topic, body: JSON.parse(payload.toString('utf8')), retain: packet.retain }),
        );
        await subscriber.subscribeAsync(state, { qos: 1 });
        await until(subscriber, 'message', () => received.length === 1);
        expect(received).toEqual([{ topic: state, body: { online: true, firmware: '1.0.0' }, retain: true }]);
      } finally {
        await subscriber.endAsync();
      }
    } finally {
      await broker.stop();
    }
  });

  it('counts clients and stops cleanly with clients still connected (even one that never sent CONNECT)', async () => {
    const broker = await EmbeddedBroker.start();
    const client = await connectAsync(broker.url, { reconnectPeriod: 0 });
    const raw = createConnection({ host: '127.0.0.1', port: broker.port });
    raw.on('error', () => {});
    await until(raw, 'connect', () => raw.readyState === 'open');
    expect(broker.clientCount()).toBe(1);

    const closed = until(client, 'close', () => !client.connected);
    const rawClosed = until(raw, 'close', () => raw.destroyed);
    await broker.stop();
    await closed;
    await rawClosed;
    await broker.stop(); // idempotent
    await client.endAsync(true);
  });
});
