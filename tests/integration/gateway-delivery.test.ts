import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { openTestPglite } from '../support/pglite-template.js';
import { claimDue } from '../../gateway/delivery/claims.js';
import { profilePayloads } from '../../gateway/delivery/payloads.js';
import { httpProvinceClient } from '../../gateway/province/client.js';
import { emulatorOptionsFor } from '../../simulator/province-http/from-profile.js';
import { ProvinceHttpEmulator } from '../../simulator/province-http/server.js';
import { CATALOG, sampleProfile, TEST_SECRETS } from '../unit/province-fixture.js';
import { deliveryStatus } from '../../gateway/delivery/status.js';
import type { DeliveryWorker } from '../../gateway/delivery/worker.js';
import type { PushAnswer } from '../../gateway/province/client.js';
import type { InvitationRecord } from '../../protocol/records.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { FAST, invitationRecord, putApprovedTerminal, rows, ScriptedProvince, storeLater, storeRecords, worker, type Push } from '../unit/delivery-fixture.js';

/**
 * The delivery queue on both engines: the embedded PGlite and a real PostgreSQL (Debian's, started
 * here; skipped off CI when it is not installed), where two instances on their own connections
 * claim at once and must never send a row twice.
 */

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 4 });

const AT = new Date('2026-03-02T02:00:00.000Z');

/** What a province keeps: each (phase, case, assessNumber) it accepted, with who sent it. */
function accepted(pushes: readonly (Push & { answer: PushAnswer['kind'] })[]): Map<string, string[]> {
  const kept = new Map<string, string[]>();
  for (const p of pushes) {
    if (p.answer !== 'delivered') continue;
    const key = `${p.phase} ${p.body.projectNo}${'assessNumber' in p.body ? ` #${p.body.assessNumber}` : ''}`;
    kept.set(key, [...(kept.get(key) ?? []), p.by]);
  }
  return kept;
}

describe.each(engines)('delivery queue on $name', (engine) => {
  let db: Database;
  const extra: Database[] = [];
  const running: DeliveryWorker[] = [];

  const database = databasePerTest(engine);
  beforeEach(async () => {
    db = database();
    await putApprovedTerminal(db);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
    await Promise.all(extra.splice(0).filter((d) => d !== db).map((d) => d.close()));
  });

  async function another(): Promise<Database> {
    const other = await engine.another(db);
    extra.push(other);
    return other;
  }

  it('concurrent claims from two connections take disjoint rows', async () => {
    const records = Array.from({ length: 120 }, (_, i) => invitationRecord({ services: [{ itemCode: 'I', caseNo: `K-${i}` }] }));
    await storeRecords(db, records, AT);
    const other = await another();
    const now = new Date(AT.getTime() + 1000);
    const leaseEnd = new Date(now.getTime() + 60_000);
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => claimDue(i % 2 === 0 ? db : other, { instance: `gw-${i % 2}`, now, leaseEnd, limit: 20 })));
    const cases = claims.flat().map((c) => c.caseNo);
    expect(new Set(cases).size).toBe(cases.length);
    expect(cases.length).toBe(120);
    // Claimed rows are not due to anyone until their lease ends.
    expect(await claimDue(db, { instance: 'gw-9', now, leaseEnd, limit: 200 })).toEqual([]);
    expect((await claimDue(other, { instance: 'gw-9', now: leaseEnd, leaseEnd: new Date(leaseEnd.getTime() + 1), limit: 200 })).length).toBe(120);
  });

  it('two instances delivering at once never send a row twice, and keep each case in order', async () => {
    const records: InvitationRecord[] = [];
    for (let i = 0; i < 60; i++) {
      const services = i % 5 === 0 ? [{ itemCode: 'I', caseNo: `B-${i}-a` }, { itemCode: 'I', caseNo: `B-${i}-b` }] : [{ itemCode: 'I', caseNo: `N-${i}` }];
      records.push(invitationRecord(i % 3 === 0 ? { services } : { services, grade: i % 2 === 0 ? 'satisfied' : 'dissatisfied', reasons: ['R01'] }));
    }
    await storeRecords(db, records.slice(0, 30), AT);
    await storeRecords(db, records.slice(30), new Date(AT.getTime() + 1));
    // Follow-ups of some counter ratings, and later ratings of cases not rated at the counter.
    for (const r of records.filter((_, i) => i % 7 === 0)) {
      await storeLater(db, { invitationId: r.id, caseNo: r.services[0]?.caseNo as string, assessNumber: r.outcome === 'rated' ? 2 : 1, ratedAt: new Date(AT.getTime() + 2) });
    }
    const expectedRows = (await rows(db)).length;
    const province = new ScriptedProvince();
    const log: (Push & { answer: PushAnswer['kind'] })[] = [];
    let calls = 0;
    const answer = async (push: Push): Promise<PushAnswer> => {
      calls += 1;
      // Answers in varying time, some transient: the instances interleave and retry.
      await new Promise((resolve) => setTimeout(resolve, calls % 4));
      const kind = calls % 11 === 0 ? 'transient' : 'delivered';
      log.push({ ...push, answer: kind });
      return kind === 'transient' ? { kind, message: 'HTTP 503' } : { kind, answer: { code: '0', success: 'true', message: '' } as never };
    };
    province.script.push(...Array.from({ length: 2000 }, () => answer));
    const clockA = { now: () => new Date(AT.getTime() + 10_000 + performance.now()) };
    const settings = { perSecond: 1000, timeoutMs: 1000, maxAttemptsBeforeAlert: 50, backoff: { baseMs: 10, maxMs: 20 } };
    for (const [name, conn] of [
      ['gw-A', db],
      ['gw-B', await another()],
    ] as const) {
      const w = worker({ db: conn, client: province.client(name), instance: name, clock: clockA, settings, batchSize: 3 });
      running.push(w);
      await w.start();
    }
    await vi.waitFor(async () => expect((await rows(db)).filter((r) => r.state !== 'delivered')).toEqual([]), { timeout: 15_000, interval: 50 });
    const kept = accepted(log);
    const twice = [...kept].filter(([, by]) => by.length > 1);
    expect(twice).toEqual([]);
    // Every row: its service once (a later rating's only where no record sent it) and its evaluation once.
    const rated = records.filter((r) => r.outcome === 'rated').flatMap((r) => r.services.map((s) => s.caseNo));
    const cases = records.flatMap((r) => r.services.map((s) => s.caseNo));
    for (const c of cases) expect(kept.get(`service ${c}`)?.length, `service ${c}`).toBe(1);
    for (const c of rated) expect(kept.get(`evaluation ${c} #1`)?.length, `evaluation ${c}`).toBe(1);
    expect(new Set([...kept.values()].flat())).toEqual(new Set(['gw-A', 'gw-B']));
    expect((await rows(db)).length).toBe(expectedRows);
    // Order per case, as the province received them: service, then #1, then #2.
    const order = new Map<string, string[]>();
    for (const p of log.filter((l) => l.answer === 'delivered')) {
      const step = p.phase === 'service' ? 'service' : `#${(p.body as { assessNumber: number }).assessNumber}`;
      order.set(p.body.projectNo, [...(order.get(p.body.projectNo) ?? []), step]);
    }
    const rank = (step: string): number => ['service', '#1', '#2'].indexOf(step);
    for (const [c, steps] of order) expect(steps, c).toEqual([...steps].sort((a, b) => rank(a) - rank(b)));
    const status = await deliveryStatus(db, { now: new Date(), alertAfterAttempts: 50 });
    expect(status).toMatchObject({ counts: { delivered: expectedRows, service: 0, evaluation: 0, rejected: 0 }, inFlight: 0, oldestDueAt: null });
  });

  it('a worker restarted under the same name resumes its claims; the province may answer duplicate', async () => {
    await storeRecords(db, [invitationRecord({ grade: 'satisfied' })], AT);
    // An instance claimed the row and died before it could write the answer.
    const lease = new Date(Date.now() + 3_600_000);
    expect(await claimDue(db, { instance: 'gw-A', now: AT, leaseEnd: lease, limit: 10 })).toHaveLength(1);
    const province = new ScriptedProvince();
    province.script.push({ kind: 'duplicate', message: '本次服务已存在', answer: {} as never });
    const w = worker({ db: await another(), client: province.client('gw-A'), instance: 'gw-A' });
    running.push(w);
    await w.start();
    await vi.waitFor(async () => expect((await rows(db)).map((r) => r.state)).toEqual(['delivered']), { timeout: 10_000, interval: 20 });
    expect(province.calls()).toEqual(['service C-1', 'evaluation C-1 1 pf4']);
  });

  it('the triggers: a case per row, a superseded record skipped, a later rating queued', async () => {
    const silent = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-1' }], flags: ['device_silent'] });
    await storeRecords(db, [silent, invitationRecord({ test: true })], AT);
    const late = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-1' }], grade: 'satisfied', device: 'D', supersedes: silent.id, invitedAt: silent.invitedAt });
    await storeRecords(db, [late], AT);
    const laterId = await storeLater(db, { invitationId: late.id, caseNo: 'S-1', assessNumber: 2, ratedAt: AT });
    expect((await rows(db)).map((r) => [r.source, r.id, r.state])).toEqual([
      ['record', silent.id, 'skipped'],
      ['record', late.id, 'service'],
      ['later', laterId, 'service'],
    ]);
  });
});

describe('the real chain on PGlite: records → queue → the profile’s bodies → the signed client → the province emulator', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestPglite();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  });

  it.each(['national', 'other'] as const)('%s: every case once, in order, through faults; a rejection kept with the province’s code', async (which) => {
    const emulator = await ProvinceHttpEmulator.start({ port: 0, ...emulatorOptionsFor(sampleProfile(which), TEST_SECRETS.appWord) });
    const running: DeliveryWorker[] = [];
    try {
      await migrate(db);
      await putApprovedTerminal(db);
      const profile = sampleProfile(which, (raw) => {
        raw.allowInsecureHttp = true;
        raw.endpoints = emulator.endpoints;
        raw.followUp = { allowed: true };
      });
      const item = '11370102MB2F30661Y231200356400001';
      const at = { areaCode: '370102', hallCode: which === 'other' ? 'hall-wuhua' : 'hall-lixia' };
      const rated = invitationRecord({ ...at, services: [{ itemCode: item, caseNo: 'E-1' }], grade: 'dissatisfied', reasons: ['R02'], rating: undefined });
      const notRated = invitationRecord({ ...at, services: [{ itemCode: item, caseNo: 'E-2' }] });
      const batch = invitationRecord({ ...at, mode: 'batch', services: [{ itemCode: item, caseNo: 'E-3' }, { itemCode: item, caseNo: 'E-4' }], grade: 'very_satisfied' });
      await storeRecords(db, [rated, notRated, batch], new Date(Date.now() - 1000));
      await storeLater(db, { invitationId: rated.id, caseNo: 'E-1', assessNumber: 2, grade: 'satisfied', ratedAt: new Date(Date.now() - 500) });
      await storeLater(db, { invitationId: notRated.id, caseNo: 'E-2', assessNumber: 1, grade: 'very_dissatisfied', ratedAt: new Date(Date.now() - 400) });
      // The province is down for the first calls, then answers 503 once, then is back.
      await emulator.setFault({ kind: 'down', mode: 'closed', calls: 2 });
      await emulator.setFault({ kind: 'server_error', calls: 1 });
      const w = worker({ db, client: httpProvinceClient({ profile, secrets: TEST_SECRETS }), payloads: profilePayloads(profile, () => CATALOG), settings: { ...FAST, timeoutMs: 2000 } });
      running.push(w);
      await w.start();
      await vi.waitFor(async () => expect((await rows(db)).map((r) => r.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered']), { timeout: 15_000, interval: 20 });
      expect(emulator.services.map((sv) => [sv.body.projectNo, sv.pushes])).toEqual([
        ['E-1', 1],
        ['E-2', 1],
        ['E-3', 1],
        ['E-4', 1],
      ]);
      const pf = which === 'national' ? 4 : 5;
      const evaluations = emulator.evaluations.map((e) => [e.body.projectNo, e.body.assessNumber, e.body.pf]);
      expect(evaluations).toHaveLength(5);
      expect(evaluations).toEqual(expect.arrayContaining([['E-1', 1, pf], ['E-1', 2, 3], ['E-2', 1, 3], ['E-3', 1, pf], ['E-4', 1, pf]]));
      expect(evaluations.findIndex((e) => e[0] === 'E-1' && e[1] === 1)).toBeLessThan(evaluations.findIndex((e) => e[0] === 'E-1' && e[1] === 2));
      expect(w.status().transient).toBeGreaterThanOrEqual(3);

      // A refusal: a service whose area code the province does not take.
      const refused = invitationRecord({ ...at, areaCode: '000000', services: [{ itemCode: item, caseNo: 'E-5' }] });
      const wrongArea = sampleProfile(which, (raw) => {
        raw.allowInsecureHttp = true;
        raw.endpoints = emulator.endpoints;
        raw.areaCodeDigits = 6;
      });
      await w.stop();
      await storeRecords(db, [refused], new Date());
      const w2 = worker({ db, client: httpProvinceClient({ profile: wrongArea, secrets: TEST_SECRETS }), payloads: profilePayloads(wrongArea) });
      running.push(w2);
      await w2.start();
      await vi.waitFor(async () => expect((await rows(db)).at(-1)?.state).toBe('rejected'), { timeout: 10_000, interval: 20 });
      const kept = (await rows(db)).at(-1);
      expect(kept).toMatchObject({ case_no: 'E-5', rejected_phase: 'service', code: expect.stringMatching(/\S/), last_error: expect.stringMatching(/\S/) });
    } finally {
      await Promise.all(running.map((w) => w.stop()));
      await emulator.stop();
    }
  });
});
