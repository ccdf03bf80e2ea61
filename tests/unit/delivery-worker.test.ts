import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deliveryStatus, listDeliveries, retryRejected } from '../../gateway/delivery/status.js';
import type { DeliveryWorker } from '../../gateway/delivery/worker.js';
import { emptyTables, useTestDatabase } from './gateway-ingest-fixture.js';
import { invitationRecord, putApprovedTerminal, recordingLogger, rows, ScriptedProvince, storeLater, storeRecords, testPayloads, worker } from './delivery-fixture.js';

const database = useTestDatabase();
const AT = new Date('2026-03-02T02:00:00.000Z');
const running: DeliveryWorker[] = [];

beforeEach(async () => {
  const db = database();
  await emptyTables(db);
  await db.exec('TRUNCATE operator_actions, deliveries, later_ratings');
  await putApprovedTerminal(db);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

function started(w: DeliveryWorker): DeliveryWorker {
  running.push(w);
  void w.start();
  return w;
}

async function settledRows(states: string[]): Promise<void> {
  await vi.waitFor(async () => expect((await rows(database())).map((r) => r.state)).toEqual(states), { timeout: 5000, interval: 5 });
}

describe('the queue is filled in the transaction that stores a record', () => {
  it('one row per case of an invitation; none for a test invitation or an event', async () => {
    const db = database();
    const batch = invitationRecord({ services: [{ itemCode: 'I-1', caseNo: 'A-1' }, { itemCode: 'I-1', caseNo: 'A-2' }], mode: 'batch', grade: 'satisfied' });
    await storeRecords(db, [batch, invitationRecord({ test: true })], AT);
    await db.query(`INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)
                    VALUES (gen_random_uuid(), 'T-DELIVERY', 999, 'event', 2, 'ok', false, '330106', 'H', '1', now(), '{}', '{}', now(), 'gw')`);
    const queued = await rows(db);
    expect(queued.map((r) => [r.source, r.id, r.case_no, r.state, r.attempts])).toEqual([
      ['record', batch.id, 'A-1', 'service', 0],
      ['record', batch.id, 'A-2', 'service', 0],
    ]);
    expect(queued[0]?.due_at).toEqual(AT);
  });

  it('a record stored twice (a duplicate) queues its cases once', async () => {
    const db = database();
    const record = invitationRecord();
    await storeRecords(db, [record], AT);
    await storeRecords(db, [record], AT);
    expect((await rows(db)).length).toBe(1);
  });

  it('a transaction rolled back queues nothing', async () => {
    const db = database();
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)
                        VALUES (gen_random_uuid(), 'T-DELIVERY', 1, 'invitation', 2, 'ok', false, '330106', 'H', '1', now(), '{"services":[{"caseNo":"X"}]}', '{}', now(), 'gw')`);
        throw new Error('the batch failed');
      }),
    ).rejects.toThrow('the batch failed');
    expect(await rows(db)).toEqual([]);
  });
});

describe('DeliveryWorker', () => {
  it('sends the service, then the evaluation; a case not rated is the service alone', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const rated = invitationRecord({ services: [{ itemCode: 'I-9', caseNo: 'R-1' }], grade: 'dissatisfied', reasons: ['R01'] });
    const notRated = invitationRecord({ services: [{ itemCode: 'I-9', caseNo: 'N-1' }] });
    await storeRecords(db, [rated, notRated], AT);
    const w = started(worker({ db, client: province.client() }));
    await settledRows(['delivered', 'delivered']);
    expect(province.calls()).toEqual(['service R-1', 'evaluation R-1 1 pf4', 'service N-1']);
    expect(province.pushes[1]?.body).toMatchObject({ satisfaction: 2, evalDetail: 'R01' });
    expect(w.status()).toMatchObject({ pushes: 3, delivered: 2, rejected: 0, transient: 0 });
    const [row] = await listDeliveries(db, { caseNo: 'R-1' });
    expect(row).toMatchObject({ state: 'delivered', attempts: 0, code: null, claimedBy: 'gw-1', deliveredAt: expect.any(Date), answer: { phase: 'evaluation', kind: 'delivered' } });
  });

  it('a duplicate answer counts as delivered', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push({ kind: 'duplicate', message: '本次服务已存在', answer: { code: '1', success: 'false', message: '本次服务已存在' } as never });
    await storeRecords(db, [invitationRecord({ grade: 'satisfied' })], AT);
    const w = started(worker({ db, client: province.client() }));
    await settledRows(['delivered']);
    expect(province.calls()).toEqual(['service C-1', 'evaluation C-1 1 pf4']);
    expect(w.status()).toMatchObject({ delivered: 1, duplicates: 1 });
  });

  it('a rejection is kept with the province’s code and message, counted, never retried until an operator retries it', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push({ kind: 'delivered', answer: { code: '0', success: 'true', message: '' } as never }, { kind: 'rejected', code: 'E102', message: '差评必须填写原因', answer: { code: 'E102', success: 'false', message: '差评必须填写原因' } as never });
    const record = invitationRecord({ grade: 'very_dissatisfied' });
    await storeRecords(db, [record], AT);
    const { logger, lines } = recordingLogger();
    const clock = { now: () => AT };
    const w = started(worker({ db, client: province.client(), logger, clock }));
    await settledRows(['rejected']);
    expect((await rows(db))[0]).toMatchObject({ code: 'E102', last_error: '差评必须填写原因', rejected_phase: 'evaluation' });
    expect(lines.filter((l) => l.level === 'error')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ code: 'E102', caseNo: 'C-1', phase: 'evaluation' }) })]);
    const status = await deliveryStatus(db, { now: AT, alertAfterAttempts: 3 });
    expect(status).toMatchObject({ rejected: 1, counts: { rejected: 1, delivered: 0 }, lastError: { code: 'E102', message: '差评必须填写原因', key: { source: 'record', id: record.id, caseNo: 'C-1' } } });
    expect(await listDeliveries(db, { state: 'rejected' })).toEqual([expect.objectContaining({ caseNo: 'C-1', code: 'E102', message: '差评必须填写原因', rejectedPhase: 'evaluation' })]);
    // Polled many times over: the rejected row is not sent again.
    const polls = w.status().pushes;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(w.status().pushes).toBe(polls);

    const result = await retryRejected(db, [{ source: 'record', id: record.id, caseNo: 'C-1' }, { source: 'record', id: record.id, caseNo: 'NOT-THERE' }], 'admin-api:ops', clock);
    expect(result).toEqual({ retried: [{ source: 'record', id: record.id, caseNo: 'C-1' }], notRejected: [{ source: 'record', id: record.id, caseNo: 'NOT-THERE' }] });
    await settledRows(['delivered']);
    // The retry resumes at the evaluation: the service is not sent twice.
    expect(province.calls()).toEqual(['service C-1', 'evaluation C-1 1 pf4', 'evaluation C-1 1 pf4']);
    const actions = await db.query<{ actor: string; action: string; terminal_id: string; detail: unknown }>('SELECT actor, action, terminal_id, detail FROM operator_actions');
    expect(actions.rows).toEqual([{ actor: 'admin-api:ops', action: 'delivery_retry', terminal_id: 'T-DELIVERY', detail: { source: 'record', id: record.id, caseNo: 'C-1', phase: 'evaluation', code: 'E102', message: '差评必须填写原因' } }]);
    expect(await retryRejected(db, [{ source: 'record', id: record.id, caseNo: 'C-1' }], 'ops', clock)).toMatchObject({ retried: [] });
  });

  it('a rejected row holds the rows of its case that came after it', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push({ kind: 'rejected', code: 'E1', message: 'unknown item', answer: {} as never });
    const record = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'H-1' }] });
    await storeRecords(db, [record], AT);
    await storeLater(db, { invitationId: record.id, caseNo: 'H-1', ratedAt: new Date(AT.getTime() + 1000) });
    started(worker({ db, client: province.client() }));
    await settledRows(['rejected', 'service']);
    expect(province.calls()).toEqual(['service H-1']);
  });

  it('a transient failure backs off with jitter, pauses the worker, then delivers', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push({ kind: 'transient', message: 'HTTP 503' });
    await storeRecords(db, [invitationRecord({ grade: 'satisfied' })], AT);
    let now = AT.getTime();
    const clock = { now: () => new Date(now) };
    const random = vi.fn(() => 0);
    const w = started(worker({ db, client: province.client(), clock, random, settings: { perSecond: 1000, timeoutMs: 1000, maxAttemptsBeforeAlert: 5, backoff: { baseMs: 10_000, maxMs: 60_000 } } }));
    await vi.waitFor(async () => expect((await rows(db))[0]).toMatchObject({ state: 'service', attempts: 1, last_error: 'HTTP 503', claimed_at: null }), { interval: 5 });
    // random 0: half of the first backoff (equal jitter).
    expect((await rows(db))[0]?.due_at).toEqual(new Date(AT.getTime() + 5_000));
    expect(w.status()).toMatchObject({ transient: 1, lastError: { message: 'case C-1 service: HTTP 503' } });
    expect(w.status().pausedUntil).not.toBeNull();
    await w.stop();
    now += 5_000;
    started(worker({ db, client: province.client(), clock }));
    await settledRows(['delivered']);
    expect(province.calls()).toEqual(['service C-1', 'service C-1', 'evaluation C-1 1 pf4']);
  });

  it('Retry-After is kept when longer than the backoff (capped at backoff.maxMs)', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push({ kind: 'transient', message: 'HTTP 429', retryAfterMs: 30_000 }, { kind: 'transient', message: 'HTTP 429', retryAfterMs: 10_000_000 });
    await storeRecords(db, [invitationRecord()], AT);
    let now = AT.getTime();
    const clock = { now: () => new Date(now) };
    const settings = { perSecond: 1000, timeoutMs: 1000, maxAttemptsBeforeAlert: 5, backoff: { baseMs: 1000, maxMs: 120_000 } };
    const first = started(worker({ db, client: province.client(), clock, settings }));
    await vi.waitFor(async () => expect((await rows(db))[0]?.attempts).toBe(1), { interval: 5 });
    expect((await rows(db))[0]?.due_at).toEqual(new Date(now + 30_000));
    await first.stop();
    now += 30_000;
    started(worker({ db, client: province.client(), clock, settings }));
    await vi.waitFor(async () => expect((await rows(db))[0]?.attempts).toBe(2), { interval: 5 });
    expect((await rows(db))[0]?.due_at).toEqual(new Date(now + 120_000));
  });

  it('alerts once when a row reaches maxAttemptsBeforeAlert, and keeps trying', async () => {
    const db = database();
    const province = new ScriptedProvince();
    for (let i = 0; i < 4; i++) province.script.push({ kind: 'transient', message: 'connection refused' });
    await storeRecords(db, [invitationRecord()], AT);
    const { logger, lines } = recordingLogger();
    let now = AT.getTime();
    // Wall time runs ahead by a minute at each look, so the row is due at once again.
    const clock = { now: () => new Date((now += 60_000)) };
    started(worker({ db, client: province.client(), clock, logger }));
    await settledRows(['delivered']);
    const alerts = lines.filter((l) => l.level === 'error');
    expect(alerts).toEqual([expect.objectContaining({ msg: expect.stringContaining('alert'), fields: expect.objectContaining({ attempts: 3, caseNo: 'C-1' }) })]);
    // A streak of failures is one warning (the first); the rest are debug lines.
    expect(lines.filter((l) => l.msg.includes('transient')).map((l) => l.level)).toEqual(['warn', 'debug', 'debug', 'debug']);
  });

  it('a client that throws or answers nonsense is a transient failure; nothing is lost', async () => {
    const db = database();
    const province = new ScriptedProvince();
    province.script.push(new Error('bug in the client'), (() => ({ kind: 'maybe' })) as never);
    await storeRecords(db, [invitationRecord()], AT);
    let now = AT.getTime();
    const clock = { now: () => new Date((now += 60_000)) };
    const w = started(worker({ db, client: province.client(), clock }));
    await settledRows(['delivered']);
    expect(w.status()).toMatchObject({ transient: 2, delivered: 1 });
  });

  it('bodies that cannot be made are rejected with the reason (code payload); an unreadable stored record with code unreadable', async () => {
    const db = database();
    const province = new ScriptedProvince();
    await storeRecords(db, [invitationRecord({ services: [{ itemCode: 'I', caseNo: 'P-1' }] })], AT);
    await db.query(`INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)
                    VALUES (gen_random_uuid(), 'T-DELIVERY', 77, 'invitation', 2, 'ok', false, '330106', 'H', '1', now(), '{"services":[{"caseNo":"U-1"}]}', '{}', $1, 'gw')`, [AT]);
    const payloads = { ...testPayloads, service: () => { throw new Error('hall HALL-01 has no deptCode'); } };
    started(worker({ db, client: province.client(), payloads }));
    await settledRows(['rejected', 'rejected']);
    const [p, u] = await rows(db);
    expect(p).toMatchObject({ case_no: 'P-1', code: 'payload', last_error: 'hall HALL-01 has no deptCode', rejected_phase: 'service' });
    expect(u).toMatchObject({ case_no: 'U-1', code: 'unreadable', last_error: expect.stringContaining('not an invitation record'), rejected_phase: 'service' });
    expect(province.pushes).toEqual([]);
  });
});

describe('later ratings and supersede', () => {
  it('a follow-up goes after the counter rating of its case, without a second service', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const record = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'F-1' }], grade: 'satisfied' });
    await storeRecords(db, [record], AT);
    // The follow-up is stored first in time order of the worker's eyes: it must still wait for the record's row.
    await storeLater(db, { invitationId: record.id, caseNo: 'F-1', assessNumber: 2, grade: 'very_dissatisfied', reasons: ['R02'], ratedAt: new Date(AT.getTime() - 60_000) });
    started(worker({ db, client: province.client() }));
    await settledRows(['delivered', 'delivered']);
    expect(province.calls()).toEqual(['service F-1', 'evaluation F-1 1 pf4', 'evaluation F-1 2 pf3']);
  });

  it('a first rating on the page made before the counter’s rated record came: the counter’s is sent as the first, the page’s skipped with why', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const record = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'T-1' }], grade: 'satisfied' });
    await putApprovedTerminal(db);
    await storeLater(db, { invitationId: record.id, caseNo: 'T-1', assessNumber: 1, grade: 'very_dissatisfied', reasons: ['R02'], ratedAt: new Date(AT.getTime() - 60_000) });
    await storeRecords(db, [record], AT);
    started(worker({ db, client: province.client() }));
    await settledRows(['skipped', 'delivered']);
    expect(province.calls()).toEqual(['service T-1', 'evaluation T-1 1 pf4']);
    expect((await rows(db))[0]).toMatchObject({ source: 'later', state: 'skipped', last_error: expect.stringContaining('rated at the counter first') });
  });

  it('a later rating of a case not rated at the counter: the record sent the service; the later one sends its evaluation only', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const record = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'L-1' }] });
    await storeRecords(db, [record], AT);
    started(worker({ db, client: province.client() }));
    await settledRows(['delivered']);
    await storeLater(db, { invitationId: record.id, caseNo: 'L-1', ratedAt: new Date(AT.getTime() + 3_600_000) });
    await settledRows(['delivered', 'delivered']);
    expect(province.calls()).toEqual(['service L-1', 'evaluation L-1 1 pf3']);
    expect((await listDeliveries(db, { caseNo: 'L-1' }))[0]?.answer).toMatchObject({ phase: 'evaluation', kind: 'delivered' });
  });

  it('a later rating whose invitation record has not come waits for it (no service made up), then sends the service from the record', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const record = invitationRecord({ services: [{ itemCode: 'I-7', caseNo: 'W-1' }] });
    await storeLater(db, { invitationId: record.id, caseNo: 'W-1', ratedAt: AT });
    let now = AT.getTime();
    const clock = { now: () => new Date(now) };
    const w = started(worker({ db, client: province.client(), clock, recordWaitMs: 60_000 }));
    await vi.waitFor(async () => expect((await rows(db))[0]).toMatchObject({ state: 'service', attempts: 1, last_error: expect.stringContaining('waiting for the terminal') }), { interval: 5 });
    expect(province.pushes).toEqual([]);
    expect(w.status().waitingForRecord).toBe(1);
    await storeRecords(db, [record], AT);
    now += 60_000;
    await settledRows(['delivered', 'delivered']);
    expect(province.calls()).toEqual(['service W-1', 'evaluation W-1 1 pf3', 'service W-1']);
    expect(province.pushes[0]?.body).toMatchObject({ taskCode: 'I-7' });
  });

  it('a later rating of a test invitation is skipped', async () => {
    const db = database();
    const province = new ScriptedProvince();
    const record = invitationRecord({ test: true, services: [{ itemCode: 'I', caseNo: 'T-1' }] });
    await storeRecords(db, [record], AT);
    await storeLater(db, { invitationId: record.id, caseNo: 'T-1', ratedAt: AT });
    started(worker({ db, client: province.client() }));
    await settledRows(['skipped']);
    expect(province.pushes).toEqual([]);
  });

  it("a superseded record's unsent row is skipped; its successor's row is sent", async () => {
    const db = database();
    const province = new ScriptedProvince();
    const silent = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-1' }], flags: ['device_silent'] });
    await storeRecords(db, [silent], AT);
    const late = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-1' }], grade: 'very_satisfied', device: 'DEV-1', supersedes: silent.id, invitedAt: silent.invitedAt });
    await storeRecords(db, [late], AT);
    expect((await rows(db)).map((r) => [r.id, r.state, r.last_error])).toEqual([
      [silent.id, 'skipped', `superseded by record ${late.id}`],
      [late.id, 'service', null],
    ]);
    started(worker({ db, client: province.client() }));
    await settledRows(['skipped', 'delivered']);
    expect(province.calls()).toEqual(['service S-1', 'evaluation S-1 1 pf4']);
  });

  it('a record superseded while its service is in flight: the answer changes nothing, the successor is sent after', async () => {
    const db = database();
    const province = new ScriptedProvince();
    let release!: () => void;
    province.gate = new Promise((resolve) => (release = resolve));
    const silent = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-2' }], flags: ['device_silent'] });
    await storeRecords(db, [silent], AT);
    const w = started(worker({ db, client: province.client() }));
    await vi.waitFor(() => expect(province.pushes.length).toBe(1), { interval: 5 });
    await storeRecords(db, [invitationRecord({ services: [{ itemCode: 'I', caseNo: 'S-2' }], grade: 'satisfied', device: 'DEV-1', supersedes: silent.id, invitedAt: silent.invitedAt })], AT);
    release();
    await settledRows(['skipped', 'delivered']);
    expect(w.status().lostClaims).toBe(1);
    expect(province.calls()).toEqual(['service S-2', 'service S-2', 'evaluation S-2 1 pf4']);
  });
});

describe('claims, restarts, stop', () => {
  it("start() puts back this instance's claims from before a restart; another instance's live claim is left alone", async () => {
    const db = database();
    const mine = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'M-1' }] });
    const theirs = invitationRecord({ services: [{ itemCode: 'I', caseNo: 'O-1' }] });
    await storeRecords(db, [mine, theirs], AT);
    const lease = new Date(Date.now() + 3_600_000);
    await db.query(`UPDATE deliveries SET claimed_by = CASE case_no WHEN 'M-1' THEN 'gw-1' ELSE 'gw-2' END, claimed_at = $1, due_at = $2`, [AT, lease]);
    const province = new ScriptedProvince();
    const { logger, lines } = recordingLogger();
    started(worker({ db, client: province.client(), logger }));
    await settledRows(['delivered', 'service']);
    expect(province.calls()).toEqual(['service M-1']);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: { released: 1 } }));
  });

  it('a claim whose lease ran out is taken by another instance', async () => {
    const db = database();
    await storeRecords(db, [invitationRecord()], AT);
    await db.query(`UPDATE deliveries SET claimed_by = 'gw-dead', claimed_at = $1, due_at = $1`, [AT]);
    const province = new ScriptedProvince();
    started(worker({ db, client: province.client() }));
    await settledRows(['delivered']);
  });

  it('stop() while waiting for the pace puts the row back, due now, attempts unchanged', async () => {
    const db = database();
    await storeRecords(db, [invitationRecord({ grade: 'satisfied' })], AT);
    const province = new ScriptedProvince();
    // One call per 100 s: after the service, the evaluation waits for the pace.
    const w = started(worker({ db, client: province.client(), settings: { perSecond: 0.01, timeoutMs: 1000, maxAttemptsBeforeAlert: 3, backoff: { baseMs: 10, maxMs: 40 } } }));
    await vi.waitFor(async () => expect((await rows(db))[0]?.state).toBe('evaluation'), { interval: 5 });
    await w.stop();
    expect(province.calls()).toEqual(['service C-1']);
    expect((await rows(db))[0]).toMatchObject({ state: 'evaluation', attempts: 0, claimed_at: null });
    expect(w.status().running).toBe(false);
  });

  it('the pace: calls at least 1000/perSecond ms apart', async () => {
    const db = database();
    await storeRecords(db, [invitationRecord({ services: [{ itemCode: 'I', caseNo: 'P-1' }, { itemCode: 'I', caseNo: 'P-2' }], grade: 'satisfied' })], AT);
    const stamps: number[] = [];
    const province = new ScriptedProvince();
    for (let i = 0; i < 4; i++) province.script.push(() => (stamps.push(performance.now()), { kind: 'delivered', answer: {} as never }));
    started(worker({ db, client: province.client(), settings: { perSecond: 50, timeoutMs: 1000, maxAttemptsBeforeAlert: 3, backoff: { baseMs: 10, maxMs: 40 } } }));
    await settledRows(['delivered', 'delivered']);
    const gaps = stamps.slice(1).map((t, i) => t - (stamps[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(19);
  });

  it('a database failure pauses the worker and is in its status; it resumes', async () => {
    const db = database();
    await storeRecords(db, [invitationRecord()], AT);
    let fail = 1;
    const flaky = Object.create(db) as typeof db;
    flaky.query = (async (text: string, params?: readonly unknown[]) => {
      if (fail > 0 && text.includes('WITH due')) {
        fail -= 1;
        throw new Error('connection to postgres://hcp:s3cret@db:5432/hcp lost');
      }
      return db.query(text, params);
    }) as typeof db.query;
    const province = new ScriptedProvince();
    const w = started(worker({ db: flaky, client: province.client() }));
    await settledRows(['delivered']);
    expect(w.status()).toMatchObject({ dbFailures: 1, lastError: { message: expect.stringContaining('postgres://***@db') } });
    expect(w.status().lastError?.message).not.toContain('s3cret');
  });
});
