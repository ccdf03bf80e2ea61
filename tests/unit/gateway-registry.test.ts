import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import type { ProvinceConfig } from '../../protocol/province-config.js';
import type { Registration } from '../../protocol/registration.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import type { Publisher } from '../../gateway/ports.js';
import { keyFingerprint, shortFingerprint } from '../../gateway/registry/key-fingerprint.js';
import { parseRosterText } from '../../gateway/registry/roster-file.js';
import { TerminalRegistry, type TerminalRegistryDeps } from '../../gateway/registry/terminal-registry.js';
import { HEARTBEAT_INTERVAL_MS, InstanceHeartbeat, listInstances } from '../../gateway/status/instances.js';

/**
 * The terminal registry on a real (in-memory) PostgreSQL: keys are approved only by the operator
 * (or first-key), a new key never replaces the approved one by itself, every operator action is
 * logged, approval publishes the retained config, and states read by several instances in their
 * own order leave the row as the newest state says.
 */

const PREFIX = 'hcp/v1';
const CONFIG: ProvinceConfig = { reasonCatalog: { version: '2026.11', reasons: [{ code: 'R01', label: '服务态度差' }] } };

function newKey(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

class RecordingPublisher implements Publisher {
  readonly sent: { topic: string; payload: string; qos: 0 | 1; retain: boolean }[] = [];
  fail = false;
  async publish(topic: string, payload: string, options: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    if (this.fail) throw new Error('broker away');
    this.sent.push({ topic, payload, qos: options.qos, retain: options.retain ?? false });
  }
}

class ManualClock {
  constructor(public time = new Date('2026-11-30T08:00:00.000Z')) {}
  now = (): Date => new Date(this.time);
  advance(ms: number): void {
    this.time = new Date(this.time.getTime() + ms);
  }
}

function recordingLogger(): { logger: TerminalRegistryDeps['logger']; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

const registration = (publicKey: string, at: string, place: Partial<Registration> = {}): Buffer =>
  Buffer.from(JSON.stringify({ online: false, provisioning: true, at, publicKey, areaCode: '330106', hallCode: 'H01', windowNo: '3', bridge: '0.1.0', ...place }));
const birth = (publicKey: string | undefined, at: string | undefined, online = true): Buffer => Buffer.from(JSON.stringify({ online, ...(at && { at }), ...(publicKey && { publicKey }), bridge: '0.1.0' }));
const WILL = Buffer.from(JSON.stringify({ online: false }));
const stateTopic = (id: string): string => `${PREFIX}/${id}/state`;

let db: PgliteDatabase;

beforeAll(async () => {
  db = await openTestPglite();
  await migrate(db);
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  await db.exec('TRUNCATE terminals, records, chain_links, operator_actions, instances, refusals CASCADE');
});

function makeRegistry(overrides: Partial<TerminalRegistryDeps> = {}) {
  const publisher = new RecordingPublisher();
  const clock = new ManualClock();
  const { logger, lines } = recordingLogger();
  const deps: TerminalRegistryDeps = { db, publisher, prefix: PREFIX, clock, logger, approval: 'manual', terminalConfig: () => CONFIG, ...overrides };
  return { registry: new TerminalRegistry(deps), publisher: deps.publisher as RecordingPublisher, clock: deps.clock as ManualClock, lines };
}

async function actions(): Promise<{ actor: string; action: string; terminal_id: string | null; detail: Record<string, unknown> }[]> {
  return (await db.query<{ actor: string; action: string; terminal_id: string | null; detail: Record<string, unknown> }>('SELECT actor, action, terminal_id, detail FROM operator_actions ORDER BY at, ctid')).rows;
}

describe('TerminalRegistry: registration and approval', () => {
  it('manual: a new terminal waits as pending with its key; nothing is published until the operator approves it', async () => {
    const { registry, publisher } = makeRegistry();
    const key = newKey();
    registry.receiveState(stateTopic('T-1'), registration(key, '2026-11-30T07:59:00Z'));
    await registry.idle();
    const terminal = await registry.get('T-1');
    expect(terminal).toMatchObject({ status: 'pending', publicKey: null, pendingKey: key, areaCode: '330106', hallCode: 'H01', windowNo: '3' });
    expect(terminal?.pendingKeyFingerprint).toBe(shortFingerprint(key));
    expect(publisher.sent).toEqual([]);
    expect(registry.stats()).toMatchObject({ states: 1, keysPending: 1 });

    const result = await registry.approve('T-1', { actor: 'admin-api:li', key: shortFingerprint(key) });
    expect(result).toMatchObject({ approvedKey: shortFingerprint(key), replacedKey: null, configPublished: true });
    expect(result.terminal).toMatchObject({ status: 'approved', publicKey: key, pendingKey: null, decidedBy: 'admin-api:li' });
    expect(publisher.sent).toEqual([{ topic: `${PREFIX}/T-1/config`, payload: JSON.stringify(CONFIG), qos: 1, retain: true }]);
    expect(await actions()).toEqual([{ actor: 'admin-api:li', action: 'approve', terminal_id: 'T-1', detail: { key: shortFingerprint(key), previousStatus: 'pending' } }]);
  });

  it('first-key: the first key is approved at once (decided_by first-key), logged as an action, and its config published', async () => {
    const { registry, publisher } = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:59:00Z'));
    await registry.idle();
    expect(await registry.get('T-1')).toMatchObject({ status: 'approved', publicKey: key, pendingKey: null, decidedBy: 'first-key', online: true });
    expect(publisher.sent.map((m) => m.topic)).toEqual([`${PREFIX}/T-1/config`]);
    expect(await actions()).toMatchObject([{ actor: 'first-key', action: 'approve', terminal_id: 'T-1' }]);
    expect(registry.stats().firstKeyApprovals).toBe(1);
  });

  it('a different key never replaces the approved one by itself (first-key too): it waits, logged at warn, until approved', async () => {
    const { registry, lines } = makeRegistry({ approval: 'first-key' });
    const [first, second] = [newKey(), newKey()];
    registry.receiveState(stateTopic('T-1'), birth(first, '2026-11-30T07:00:00Z'));
    registry.receiveState(stateTopic('T-1'), registration(second, '2026-11-30T07:30:00Z', { windowNo: '9' }));
    registry.receiveState(stateTopic('T-1'), birth(second, '2026-11-30T07:31:00Z'));
    await registry.idle();
    const terminal = await registry.get('T-1');
    expect(terminal).toMatchObject({ status: 'approved', publicKey: first, pendingKey: second, windowNo: null });
    expect(terminal?.pendingRegistration).toMatchObject({ windowNo: '9', publicKey: second });
    expect(lines.filter((l) => l.level === 40 && /other than the approved one/.test(l.msg))).toHaveLength(1);

    const result = await registry.approve('T-1', { actor: 'admin-api' });
    expect(result).toMatchObject({ approvedKey: shortFingerprint(second), replacedKey: shortFingerprint(first) });
    expect(result.terminal).toMatchObject({ publicKey: second, pendingKey: null, windowNo: '9' });
  });

  it('approve with a key that is not the pending one is refused and changes nothing', async () => {
    const { registry, publisher } = makeRegistry();
    const [key, other] = [newKey(), newKey()];
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:00:00Z'));
    await registry.idle();
    await expect(registry.approve('T-1', { actor: 'a', key: keyFingerprint(other).slice(0, 12) })).rejects.toMatchObject({ code: 'key_mismatch' });
    await expect(registry.approve('T-1', { actor: 'a', key: keyFingerprint(key).slice(0, 7) })).rejects.toMatchObject({ code: 'key_mismatch' });
    expect(await registry.get('T-1')).toMatchObject({ status: 'pending', publicKey: null, pendingKey: key });
    expect(await actions()).toEqual([]);
    expect(publisher.sent).toEqual([]);
    // The full key, or 8+ digits in the list's spelling, name it.
    await expect(registry.approve('T-1', { actor: 'a', key: shortFingerprint(key).slice(0, 9).toUpperCase() })).resolves.toMatchObject({ approvedKey: shortFingerprint(key) });
  });

  it('approve: unknown terminal is not_found; one with nothing waiting is a conflict', async () => {
    const { registry } = makeRegistry({ approval: 'first-key' });
    await expect(registry.approve('nobody', { actor: 'a' })).rejects.toMatchObject({ code: 'not_found' });
    registry.receiveState(stateTopic('T-1'), birth(newKey(), '2026-11-30T07:00:00Z'));
    await registry.idle();
    await expect(registry.approve('T-1', { actor: 'a' })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('revoke: the terminal is revoked (logged with the reason), a second revoke is a conflict, and approve brings it back', async () => {
    const { registry, publisher } = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:00:00Z'));
    await registry.idle();
    const revoked = await registry.revoke('T-1', { actor: 'admin-api', reason: 'stolen' });
    expect(revoked).toMatchObject({ status: 'revoked', publicKey: key, decidedBy: 'admin-api' });
    await expect(registry.revoke('T-1', { actor: 'admin-api', reason: 'again' })).rejects.toMatchObject({ code: 'conflict' });
    // Its own birth again changes nothing: revoked stays revoked.
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:10:00Z'));
    await registry.idle();
    expect((await registry.get('T-1'))?.status).toBe('revoked');
    await registry.approve('T-1', { actor: 'admin-api', key });
    expect((await registry.get('T-1'))?.status).toBe('approved');
    expect((await actions()).map((a) => [a.actor, a.action, a.detail.reason])).toEqual([
      ['first-key', 'approve', undefined],
      ['admin-api', 'revoke', 'stolen'],
      ['admin-api', 'approve', undefined],
    ]);
    expect(publisher.sent).toHaveLength(2);
  });

  it('a config that cannot be published leaves the approval done, counted, said in the result', async () => {
    const { registry, publisher } = makeRegistry();
    registry.receiveState(stateTopic('T-1'), birth(newKey(), '2026-11-30T07:00:00Z'));
    await registry.idle();
    publisher.fail = true;
    const result = await registry.approve('T-1', { actor: 'a' });
    expect(result).toMatchObject({ configPublished: false, terminal: { status: 'approved' } });
    expect(registry.stats().configFailures).toBe(1);
    publisher.fail = false;
    expect(await registry.publishConfigs()).toBe(1);
  });

  it('publishConfigs publishes for every approved terminal, none for pending or revoked, nothing without a config', async () => {
    const { registry, publisher } = makeRegistry();
    for (const id of ['A', 'B', 'C']) registry.receiveState(stateTopic(id), birth(newKey(), '2026-11-30T07:00:00Z'));
    await registry.idle();
    await registry.approve('A', { actor: 'x' });
    await registry.approve('B', { actor: 'x' });
    await registry.revoke('B', { actor: 'x', reason: 'r' });
    publisher.sent.length = 0;
    expect(await registry.publishConfigs()).toBe(1);
    expect(publisher.sent.map((m) => [m.topic, m.retain])).toEqual([[`${PREFIX}/A/config`, true]]);
    const bare = new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: new ManualClock(), logger: pino({ level: 'silent' }), approval: 'manual', terminalConfig: () => undefined });
    expect(await bare.publishConfigs()).toBe(0);
  });
});

describe('TerminalRegistry: state, last will, telemetry', () => {
  it('a last will marks the terminal offline; its next birth online again', async () => {
    const { registry } = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:00:00Z'));
    registry.receiveState(stateTopic('T-1'), WILL);
    await registry.idle();
    expect(await registry.get('T-1')).toMatchObject({ online: false, stateAt: '2026-11-30T07:00:00.000Z', state: { online: false } });
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:05:00Z'));
    await registry.idle();
    expect(await registry.get('T-1')).toMatchObject({ online: true, stateAt: '2026-11-30T07:05:00.000Z', bridgeVersion: '0.1.0' });
  });

  it('two instances reading the same states in their own time leave the newest: a late old birth or will changes nothing', async () => {
    const a = makeRegistry({ approval: 'first-key' });
    const b = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    const sequence = [birth(key, '2026-11-30T07:00:00Z'), WILL, birth(key, '2026-11-30T07:05:00Z')];
    for (const message of sequence) a.registry.receiveState(stateTopic('T-1'), message);
    await a.registry.idle();
    // Instance b lags: it reads the same three messages after a has written all of them.
    for (const message of sequence) b.registry.receiveState(stateTopic('T-1'), message);
    await b.registry.idle();
    expect(await a.registry.get('T-1')).toMatchObject({ online: true, stateAt: '2026-11-30T07:05:00.000Z', status: 'approved', publicKey: key });
    // Only one first-key approval and one config, whichever instance made the row.
    expect((await actions()).filter((x) => x.action === 'approve')).toHaveLength(1);
    expect(a.publisher.sent.length + b.publisher.sent.length).toBe(1);
  });

  it('an instance that subscribed after the birth reads the retained will late: the birth it reads next brings the row online again', async () => {
    const a = makeRegistry({ approval: 'first-key' });
    const b = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    a.registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:00:00Z'));
    a.registry.receiveState(stateTopic('T-1'), WILL);
    a.registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:05:00Z'));
    await a.registry.idle();
    // b's first message was the retained will (it knows no session); it writes it after a wrote the new birth.
    b.registry.receiveState(stateTopic('T-1'), WILL);
    await b.registry.idle();
    expect((await a.registry.get('T-1'))?.online).toBe(false);
    b.registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:05:00Z'));
    await b.registry.idle();
    expect(await a.registry.get('T-1')).toMatchObject({ online: true, stateAt: '2026-11-30T07:05:00.000Z' });
    // The same birth again, online already: nothing changes.
    a.registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:05:00Z'));
    await a.registry.idle();
    expect((await a.registry.get('T-1'))?.online).toBe(true);
  });

  it('two instances interleaved on a new terminal with two keys: one pending key, the first kept, whatever the order', async () => {
    const a = makeRegistry();
    const b = makeRegistry();
    const [k1, k2] = [newKey(), newKey()];
    a.registry.receiveState(stateTopic('T-1'), registration(k1, '2026-11-30T07:00:00Z'));
    b.registry.receiveState(stateTopic('T-1'), registration(k1, '2026-11-30T07:00:00Z'));
    await Promise.all([a.registry.idle(), b.registry.idle()]);
    await a.registry.approve('T-1', { actor: 'op' });
    b.registry.receiveState(stateTopic('T-1'), birth(k2, '2026-11-30T07:10:00Z'));
    a.registry.receiveState(stateTopic('T-1'), birth(k2, '2026-11-30T07:10:00Z'));
    await Promise.all([a.registry.idle(), b.registry.idle()]);
    expect(await a.registry.get('T-1')).toMatchObject({ status: 'approved', publicKey: k1, pendingKey: k2 });
  });

  it('a birth dated far ahead of the gateway clock is not used to order states', async () => {
    const { registry } = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    registry.receiveState(stateTopic('T-1'), birth(key, '2099-01-01T00:00:00Z'));
    registry.receiveState(stateTopic('T-1'), WILL);
    registry.receiveState(stateTopic('T-1'), birth(key, '2026-11-30T07:59:00Z'));
    await registry.idle();
    expect(await registry.get('T-1')).toMatchObject({ online: true, stateAt: '2026-11-30T07:59:00.000Z' });
  });

  it('a birth without a key registers nothing; for a known terminal it updates the state', async () => {
    const { registry } = makeRegistry({ approval: 'first-key' });
    registry.receiveState(stateTopic('T-9'), birth(undefined, '2026-11-30T07:00:00Z'));
    await registry.idle();
    expect(await registry.get('T-9')).toBeUndefined();
    expect(registry.stats().unknownStates).toBe(1);
  });

  it('telemetry is kept for a known terminal (the newest by its `at`), ignored and counted for an unknown one', async () => {
    const { registry, clock } = makeRegistry({ approval: 'first-key' });
    registry.receiveState(stateTopic('T-1'), birth(newKey(), '2026-11-30T07:00:00Z'));
    registry.receiveTelemetry(`${PREFIX}/T-1/telemetry`, Buffer.from(JSON.stringify({ at: '2026-11-30T07:02:00Z', backlog: 2 })));
    registry.receiveTelemetry(`${PREFIX}/T-1/telemetry`, Buffer.from(JSON.stringify({ at: '2026-11-30T07:01:00Z', backlog: 9 })));
    clock.advance(60_000);
    registry.receiveTelemetry(`${PREFIX}/nobody/telemetry`, Buffer.from('{"backlog":1}'));
    await registry.idle();
    expect(await registry.get('T-1')).toMatchObject({ telemetry: { backlog: 2 }, telemetryAt: '2026-11-30T07:02:00.000Z' });
    expect(await registry.get('nobody')).toBeUndefined();
    expect(registry.stats()).toMatchObject({ telemetry: 3, unknownTelemetry: 1 });
  });

  it('hostile states and telemetry are counted and logged, never thrown, never written', async () => {
    const { registry, lines } = makeRegistry({ approval: 'first-key' });
    const key = newKey();
    const hostile: [string, Buffer][] = [
      [stateTopic('T-1'), Buffer.from('not json')],
      [stateTopic('T-1'), Buffer.from('[1,2]')],
      [stateTopic('T-1'), Buffer.from(JSON.stringify({ online: 'yes', publicKey: key }))],
      [stateTopic('T-1'), Buffer.from(JSON.stringify({ online: true, provisioning: true, publicKey: key, at: 'x' }))],
      [stateTopic('T-1'), Buffer.from(JSON.stringify({ online: true, publicKey: key, note: 'a\u0000b' }))],
      [stateTopic('T-1'), Buffer.from(`{"online":true,"publicKey":"${key}","x":"\\ud800"}`)],
      [stateTopic('T-1'), Buffer.alloc(100_000, 0x20)],
      [stateTopic('T-1'), Buffer.from([0xff, 0xfe])],
      [`${PREFIX}/bad id!/state`, birth(key, '2026-11-30T07:00:00Z')],
      [`${PREFIX}/T-1/state/extra`, birth(key, '2026-11-30T07:00:00Z')],
      [`elsewhere/T-1/state`, birth(key, '2026-11-30T07:00:00Z')],
    ];
    for (const [topic, payload] of hostile) expect(() => registry.receiveState(topic, payload)).not.toThrow();
    expect(() => registry.receiveTelemetry(`${PREFIX}/T-1/telemetry`, Buffer.from('"text"'))).not.toThrow();
    await registry.idle();
    expect(registry.stats()).toMatchObject({ unreadable: hostile.length + 1, states: 0, dbFailures: 0 });
    expect((await db.query('SELECT 1 FROM terminals')).rows).toHaveLength(0);
    expect(lines.filter((l) => /unreadable message refused/.test(l.msg))).toHaveLength(hostile.length + 1);
    registry.receiveState(stateTopic('T-1'), Buffer.alloc(0));
    expect(registry.stats().cleared).toBe(1);
  });
});

describe('TerminalRegistry: a database that fails', () => {
  it('a write that fails is tried again (idempotent) and applied once the database answers; one that keeps failing is given up, counted', async () => {
    let failures = 2;
    const flaky = {
      kind: db.kind,
      query: db.query.bind(db),
      exec: db.exec.bind(db),
      close: async () => undefined,
      transaction: <T>(fn: Parameters<PgliteDatabase['transaction']>[0]) => (failures-- > 0 ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) as Promise<T>,
    } as unknown as PgliteDatabase;
    const slept: number[] = [];
    const { registry: first } = makeRegistry({ db: flaky, approval: 'first-key', sleep: async (ms) => void slept.push(ms) });
    first.receiveState(stateTopic('T-1'), birth(newKey(), '2026-11-30T07:00:00Z'));
    await first.idle();
    expect(slept).toEqual([500, 2000]);
    expect(await first.get('T-1')).toMatchObject({ status: 'approved' });
    failures = 10;
    const { registry: second, lines } = makeRegistry({ db: flaky, sleep: async () => undefined });
    second.receiveState(stateTopic('T-2'), birth(newKey(), '2026-11-30T07:00:00Z'));
    await second.idle();
    expect(second.stats().dbFailures).toBe(3);
    expect(lines.filter((l) => l.level === 50 && /not applied on this instance/.test(l.msg))).toHaveLength(1);
    expect(await second.get('T-2')).toBeUndefined();
  });
});

describe('TerminalRegistry: roster file', () => {
  const folder = mkdtempSync(join(tmpdir(), 'hcp-roster-'));
  const rosterFile = (name: string, entries: object[]): string => {
    const path = join(folder, name);
    writeFileSync(path, JSON.stringify({ terminals: entries }));
    return path;
  };

  it('approves listed terminals as operator roster; a different approved key is replaced only by it (warn + operator action); revoked stay revoked', async () => {
    const { registry, publisher, lines } = makeRegistry({ approval: 'first-key' });
    const [k1, k2, k3, k4, pending] = [newKey(), newKey(), newKey(), newKey(), newKey()];
    registry.receiveState(stateTopic('REPLACED'), birth(k1, '2026-11-30T07:00:00Z'));
    registry.receiveState(stateTopic('SAME'), birth(k3, '2026-11-30T07:00:00Z'));
    registry.receiveState(stateTopic('GONE'), birth(k4, '2026-11-30T07:00:00Z'));
    await registry.idle();
    await registry.revoke('GONE', { actor: 'op', reason: 'stolen' });
    const { registry: manual } = makeRegistry();
    manual.receiveState(stateTopic('WAITING'), registration(pending, '2026-11-30T07:00:00Z', { windowNo: '7' }));
    await manual.idle();
    publisher.sent.length = 0;
    await db.exec('SELECT 1');

    const summary = await registry.applyRoster(
      rosterFile('r1.json', [
        { terminalId: 'NEW', publicKey: k2, areaCode: '330106', hallCode: 'H02', windowNo: '1' },
        { terminalId: 'REPLACED', publicKey: k2 },
        { terminalId: 'SAME', publicKey: k3 },
        { terminalId: 'GONE', publicKey: k4 },
        { terminalId: 'WAITING', publicKey: pending },
      ]),
    );
    expect(summary).toMatchObject({ terminals: 5, added: ['NEW'], approved: ['WAITING'], replaced: ['REPLACED'], updated: [], unchanged: 1, revokedSkipped: ['GONE'], configsPublished: 3 });
    expect(await registry.get('NEW')).toMatchObject({ status: 'approved', publicKey: k2, hallCode: 'H02', decidedBy: 'roster' });
    expect(await registry.get('REPLACED')).toMatchObject({ status: 'approved', publicKey: k2, decidedBy: 'roster' });
    expect(await registry.get('WAITING')).toMatchObject({ status: 'approved', publicKey: pending, pendingKey: null, windowNo: '7' });
    expect((await registry.get('GONE'))?.status).toBe('revoked');
    expect(publisher.sent.map((m) => m.topic).sort()).toEqual([`${PREFIX}/NEW/config`, `${PREFIX}/REPLACED/config`, `${PREFIX}/WAITING/config`]);
    const rosterActions = (await actions()).filter((a) => a.actor === 'roster');
    expect(rosterActions.map((a) => [a.terminal_id, a.action]).sort()).toEqual([
      ['NEW', 'approve'],
      ['REPLACED', 'replace-key'],
      ['WAITING', 'approve'],
    ]);
    expect(rosterActions.find((a) => a.action === 'replace-key')?.detail).toMatchObject({ replaced: shortFingerprint(k1), key: shortFingerprint(k2) });
    expect(lines.some((l) => l.level === 40 && /roster file replaced a terminal key/.test(l.msg))).toBe(true);

    // Applied again: nothing changes, nothing is logged as an action.
    const again = await registry.applyRoster(rosterFile('r1.json', [{ terminalId: 'NEW', publicKey: k2, areaCode: '330106', hallCode: 'H02', windowNo: '1' }]));
    expect(again).toMatchObject({ unchanged: 1, added: [], configsPublished: 0 });
    const moved = await registry.applyRoster(rosterFile('r2.json', [{ terminalId: 'NEW', publicKey: k2, windowNo: '2' }]));
    expect(moved.updated).toEqual(['NEW']);
    expect((await registry.get('NEW'))?.windowNo).toBe('2');
  });

  it('a fleet roster (more rows than one statement writes) is applied whole, and again as unchanged', async () => {
    const { registry } = makeRegistry({ terminalConfig: () => undefined });
    const key = newKey();
    const entries = Array.from({ length: 2345 }, (_, i) => ({ terminalId: `F-${String(i).padStart(4, '0')}`, publicKey: key, windowNo: String(i % 16) }));
    const path = rosterFile('fleet.json', entries);
    expect(await registry.applyRoster(path)).toMatchObject({ terminals: 2345, unchanged: 0, configsPublished: 0 });
    expect((await registry.applyRoster(path)).unchanged).toBe(2345);
    const { rows } = await db.query<{ n: number; actions: number }>("SELECT (SELECT count(*)::int FROM terminals WHERE status = 'approved' AND decided_by = 'roster') AS n, (SELECT count(*)::int FROM operator_actions WHERE actor = 'roster') AS actions");
    expect(rows[0]).toEqual({ n: 2345, actions: 2345 });
    expect((await registry.get('F-2344'))?.windowNo).toBe(String(2344 % 16));
  });

  it('a bad roster is refused with the field and its line, and nothing is applied', async () => {
    const { registry } = makeRegistry();
    const key = newKey();
    const path = join(folder, 'bad.yaml');
    writeFileSync(path, `terminals:\n  - terminalId: A\n    publicKey: ${key}\n  - terminalId: B\n    publicKey: not-a-key\n  - terminalId: A\n    publicKey: ${key}\n`);
    const error = await registry.applyRoster(path).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toContainEqual(expect.stringMatching(/^terminals\.1\.publicKey \(line 5\): /));
    expect(problems).toContainEqual(expect.stringMatching(/^terminals\.2\.terminalId \(line 6\): terminal A is listed twice/));
    expect((await db.query('SELECT 1 FROM terminals')).rows).toHaveLength(0);
    expect(() => parseRosterText('terminals:\n  - terminalId: A\n', 'r')).toThrow(/terminals\.0\.publicKey \(line 2\): required/);
    expect(() => parseRosterText('terminals: [', 'r')).toThrow(/not valid YAML/);
    expect(() => parseRosterText('', 'r')).toThrow(/terminals: required/);
    await expect(registry.applyRoster(join(folder, 'missing.yaml'))).rejects.toThrow(/cannot read/);
  });
});

describe('InstanceHeartbeat', () => {
  it('writes its row at start and at each tick with the stats; listInstances marks rows three beats old stale', async () => {
    const clock = new ManualClock();
    let tick: (() => void) | undefined;
    const timers = { setInterval: (fn: () => void) => (tick = fn), clearInterval: () => (tick = undefined) };
    let n = 0;
    const heartbeat = new InstanceHeartbeat({ db, instance: 'gw-1', clock, logger: pino({ level: 'silent' }), stats: () => ({ n: ++n }), timers });
    heartbeat.start();
    await heartbeat.beat();
    clock.advance(HEARTBEAT_INTERVAL_MS);
    tick?.();
    await heartbeat.beat();
    const [row] = await listInstances(db, { now: clock.now() });
    expect(row).toMatchObject({ instance: 'gw-1', startedAt: '2026-11-30T08:00:00.000Z', stale: false });
    expect((row?.stats as { n: number }).n).toBeGreaterThanOrEqual(2);
    expect(row?.beatAt).toBe(clock.now().toISOString());
    await heartbeat.stop();
    expect(tick).toBeUndefined();
    expect((await listInstances(db, { now: new Date(clock.now().getTime() + 3 * HEARTBEAT_INTERVAL_MS) }))[0]?.stale).toBe(false);
    expect((await listInstances(db, { now: new Date(clock.now().getTime() + 3 * HEARTBEAT_INTERVAL_MS + 1) }))[0]?.stale).toBe(true);
  });

  it('stats that cannot be had yet still make a beat (the instance shows alive)', async () => {
    const heartbeat = new InstanceHeartbeat({ db, instance: 'gw-3', clock: new ManualClock(), logger: pino({ level: 'silent' }), stats: () => { throw new Error('gateway not started'); }, timers: { setInterval: () => 1, clearInterval: () => {} } });
    await heartbeat.beat();
    expect((await listInstances(db, { now: new Date('2026-11-30T08:00:00Z') }))[0]).toMatchObject({ instance: 'gw-3', stats: { unavailable: 'gateway not started' } });
  });

  it('a beat against a database that fails is logged, not thrown', async () => {
    const failing = { ...db, query: () => Promise.reject(new Error('gone')) } as unknown as PgliteDatabase;
    const { logger, lines } = recordingLogger();
    const heartbeat = new InstanceHeartbeat({ db: failing, instance: 'gw-2', clock: new ManualClock(), logger, stats: () => ({}), timers: { setInterval: () => 1, clearInterval: () => {} } });
    await expect(heartbeat.beat()).resolves.toBeUndefined();
    await heartbeat.beat();
    expect(lines.filter((l) => /cannot write/.test(l.msg))).toHaveLength(1);
  });
});
