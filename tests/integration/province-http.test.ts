import { createServer } from 'node:net';
import { sm2 } from 'sm-crypto-v2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { SignatureFormat } from '../../simulator/province-http/signature.js';
import { httpProvinceClient } from '../../gateway/province/client.js';
import { evaluationPayload, servicePayload } from '../../gateway/province/payloads.js';
import { emulatorOptionsFor } from '../../simulator/province-http/from-profile.js';
import { ProvinceLedger } from '../../simulator/province-http/state.js';
import { CATALOG, ratedRecord, sampleProfile, TEST_SECRETS } from '../unit/province-fixture.js';
import { ProvinceHttpEmulator, type ProvinceHttpOptions } from '../../simulator/province-http/server.js';
import { formatProvinceTime, type TimeFormat } from '../../gateway/province/time-format.js';
import { ManualTimers } from '../support/manual-timers.js';

/**
 * The province's HTTP interface as a caller meets it: plain fetch, envelopes signed with
 * sm-crypto-v2 here (not with the gateway's signer), every rule and fault observed from outside.
 */

const NOW = new Date('2026-11-30T02:00:00.000Z'); // 10:00:00 in Shanghai
const clock = { now: () => NOW };
// Fixed keys: the same callers every run (SM2 signatures still differ: k is random).
const OURS = keyFrom('3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8');
const OTHER = keyFrom('128b2fa8bd433c6c068c8d803dff79792a519a55171b1b650c23661d15897263');
const APP = 'HCP-LAB-0001';
const WORD = 'lab-app-word';

function keyFrom(privateKey: string) {
  return { privateKey, publicKey: sm2.getPublicKeyFromPrivateKey(privateKey) };
}

const answerSchema = z.strictObject({ code: z.string(), success: z.enum(['true', 'false']), msg: z.string() });

interface Sign {
  time?: string;
  appMark?: string;
  appWord?: string;
  key?: { privateKey: string; publicKey: string };
  format?: SignatureFormat;
  timeFormat?: TimeFormat;
}

/** The envelope a caller sends: sign = SM2(time + appMark + appWord), SM3 with the default user id. */
function envelope(data: unknown, s: Sign = {}) {
  const time = s.time ?? formatProvinceTime(NOW, s.timeFormat ?? 'yyyyMMddHHmmss');
  const appMark = s.appMark ?? APP;
  const key = s.key ?? OURS;
  const der = (s.format ?? 'raw_hex') !== 'raw_hex';
  const hex = sm2.doSignature(`${time}${appMark}${s.appWord ?? WORD}`, key.privateKey, { hash: true, publicKey: key.publicKey, der });
  const sign = s.format === 'der_base64' ? Buffer.from(hex, 'hex').toString('base64') : hex;
  return { appMark, time, sign, data };
}

const service = (projectNo: string, extra: object = {}) => ({
  projectNo,
  taskCode: '11330106MB0000000XK0001000000001',
  serviceNumber: '1',
  serviceTime: '2026-11-30 09:41:07',
  areaCode: '330106000000',
  deptCode: 'D-330106-01',
  ...extra,
});
const evaluation = (projectNo: string, extra: object = {}) => ({
  projectNo,
  satisfaction: 5,
  evalDetail: '',
  writingEvaluation: '',
  assessTime: '2026-11-30 09:45:00',
  assessNumber: 1,
  pf: 4,
  dataSource: '330',
  ...extra,
});

let emulator: ProvinceHttpEmulator | undefined;
afterEach(async () => {
  await emulator?.stop();
  emulator = undefined;
});

async function start(options: Partial<ProvinceHttpOptions> = {}) {
  emulator = await ProvinceHttpEmulator.start({ port: 0, callers: { [APP]: { appWord: WORD, publicKey: OURS.publicKey } }, clock, ...options });
  return emulator;
}

async function post(url: string, body: unknown): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function push(phase: 'service' | 'evaluation', body: unknown) {
  const r = await post(emulator!.endpoints[phase], body);
  return { status: r.status, answer: answerSchema.parse(JSON.parse(r.text)) };
}

async function view<T>(name: string): Promise<T> {
  const res = await fetch(`${emulator!.url}/_emulator/${name}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('province HTTP emulator: signed calls', () => {
  it('accepts a service and then its evaluation, and lists them in arrival order', async () => {
    await start();
    expect(await push('service', envelope(service('CASE-1')))).toEqual({ status: 200, answer: { code: '0', success: 'true', msg: '成功' } });
    expect((await push('service', envelope(service('CASE-2')))).answer.code).toBe('0');
    expect((await push('evaluation', envelope(evaluation('CASE-2', { satisfaction: '4', pf: '5', assessNumber: '1' })))).answer.code).toBe('0');
    expect((await push('evaluation', envelope(evaluation('CASE-1')))).answer.code).toBe('0');

    const { services } = await view<{ services: { at: string; appMark: string; body: { projectNo: string } }[] }>('services');
    expect(services.map((s) => s.body.projectNo)).toEqual(['CASE-1', 'CASE-2']);
    expect(services[0]).toMatchObject({ at: NOW.toISOString(), appMark: APP });
    const { evaluations } = await view<{ evaluations: { body: { projectNo: string; satisfaction: number; pf: number } }[] }>('evaluations');
    // Digits sent as strings are read as the numbers they are.
    expect(evaluations.map((e) => [e.body.projectNo, e.body.satisfaction, e.body.pf])).toEqual([['CASE-2', 4, 5], ['CASE-1', 5, 4]]);
    const stats = await view<{ calls: number; accepted: object }>('stats');
    expect(stats).toMatchObject({ calls: 4, accepted: { service: 2, evaluation: 2 } });
    expect(emulator!.received.map((c) => c.outcome)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  });

  it('reads data sent as a JSON text as well as an object', async () => {
    await start();
    expect((await push('service', envelope(JSON.stringify(service('CASE-T'))))).answer.code).toBe('0');
    expect(emulator!.services[0]?.body.projectNo).toBe('CASE-T');
  });

  it.each(['der_hex', 'der_base64'] as const)('verifies %s signatures and other time formats when set so', async (format) => {
    await start({ signatureFormat: format, timeFormat: 'yyyy-MM-dd HH:mm:ss' });
    const ok = await push('service', envelope(service('CASE-D'), { format, timeFormat: 'yyyy-MM-dd HH:mm:ss' }));
    expect(ok.answer.code).toBe('0');
    expect(envelope(null, { timeFormat: 'yyyy-MM-dd HH:mm:ss' }).time).toBe('2026-11-30 10:00:00');
    // A raw r‖s signature is not DER.
    expect((await push('service', envelope(service('CASE-R'), { timeFormat: 'yyyy-MM-dd HH:mm:ss' }))).answer.code).toBe('1003');
  });

  it('takes the area code at the profile’s length', async () => {
    await start({ areaCodeDigits: 9 });
    expect((await push('service', envelope(service('CASE-9', { areaCode: '330106000' })))).answer.code).toBe('0');
    const twelve = await push('service', envelope(service('CASE-12')));
    expect(twelve.answer).toMatchObject({ code: '1004', msg: expect.stringContaining('data.areaCode: expected 9 digits') });
  });

  it('takes callers added at run time', async () => {
    await start();
    emulator!.addCaller('HALL-B', { appWord: 'b-word', publicKey: OTHER.publicKey });
    expect((await push('service', envelope(service('CASE-B'), { appMark: 'HALL-B', appWord: 'b-word', key: OTHER }))).answer.code).toBe('0');
    expect(() => emulator!.addCaller('BAD', { appWord: 'x', publicKey: '04abcd' })).toThrow(/callers\.BAD\.publicKey/);
  });
});

describe('province HTTP emulator: refusals, each with its message', () => {
  const cases: [string, () => unknown, number, string, RegExp, string][] = [
    ['not JSON', () => 'appMark=1', 400, '400', /不是合法的JSON/, 'not_json'],
    ['an envelope without sign', () => ({ appMark: APP, time: '20261130100000', data: {} }), 400, '400', /报文格式错误.*sign: required/, 'bad_envelope'],
    ['data of the wrong type', () => ({ ...envelope({}), data: 42 }), 400, '400', /data/, 'bad_envelope'],
    ['an unknown appMark', () => envelope(service('C'), { appMark: 'NOBODY' }), 200, '1001', /未知的appMark.*"NOBODY"/, 'unknown_app'],
    ['a time six minutes old', () => envelope(service('C'), { time: '20261130095400' }), 200, '1002', /360 s behind/, 'stale_time'],
    ['a time six minutes ahead', () => envelope(service('C'), { time: '20261130100600' }), 200, '1002', /360 s ahead/, 'stale_time'],
    ['a time that is no time', () => envelope(service('C'), { time: '20261131100000' }), 200, '1002', /is not yyyyMMddHHmmss/, 'stale_time'],
    ['a signature by another key', () => envelope(service('C'), { key: OTHER }), 200, '1003', /签名验证失败/, 'bad_signature'],
    ['a signature over another appWord', () => envelope(service('C'), { appWord: 'guess' }), 200, '1003', /签名验证失败/, 'bad_signature'],
    ['a signature that is not hex', () => ({ ...envelope(service('C')), sign: 'zz'.repeat(64) }), 200, '1003', /签名验证失败/, 'bad_signature'],
    ['a signature re-used with another time', () => ({ ...envelope(service('C')), time: '20261130100001' }), 200, '1003', /签名验证失败/, 'bad_signature'],
    ['an area code not padded to 12', () => envelope(service('C', { areaCode: '330106' })), 200, '1004', /data\.areaCode: expected 12 digits/, 'invalid_fields'],
    ['a service without deptCode', () => envelope({ ...service('C'), deptCode: undefined }), 200, '1004', /data\.deptCode: required/, 'invalid_fields'],
    ['data as text that is not JSON', () => envelope('{projectNo'), 200, '1004', /data is a string that is not JSON/, 'invalid_fields'],
  ];
  it.each(cases)('%s', async (_name, make, status, code, msg, reason) => {
    await start();
    const r = await post(emulator!.endpoints.service, make());
    expect(r.status).toBe(status);
    const answer = answerSchema.parse(JSON.parse(r.text));
    expect(answer).toMatchObject({ code, success: 'false' });
    expect(answer.msg).toMatch(msg);
    expect(emulator!.stats.refused[reason as keyof ProvinceHttpEmulator['stats']['refused']]).toBe(1);
    expect(emulator!.services).toEqual([]);
  });

  it('refuses a bad grade with neither reason code nor text, in both numberings', async () => {
    await start();
    await push('service', envelope(service('CASE-1')));
    const bad = await push('evaluation', envelope(evaluation('CASE-1', { satisfaction: 2 })));
    expect(bad.answer).toMatchObject({ code: '2001', success: 'false' });
    expect(bad.answer.msg).toMatch(/差评须填写.*satisfaction 2 \(five_is_best\)/);
    // Whitespace is no reason either.
    expect((await push('evaluation', envelope(evaluation('CASE-1', { satisfaction: 1, writingEvaluation: '  ', evalDetail: null })))).answer.code).toBe('2001');
    expect((await push('evaluation', envelope(evaluation('CASE-1', { satisfaction: 1, evalDetail: 'R01,R02' })))).answer.code).toBe('0');
    await push('service', envelope(service('CASE-2')));
    expect((await push('evaluation', envelope(evaluation('CASE-2', { satisfaction: 2, writingEvaluation: '未选择原因' })))).answer.code).toBe('0');
    // 3 (基本满意) needs no reason.
    await push('service', envelope(service('CASE-3')));
    expect((await push('evaluation', envelope(evaluation('CASE-3', { satisfaction: 3 })))).answer.code).toBe('0');
    expect(emulator!.stats.refused.bad_grade_without_reason).toBe(2);

    await emulator!.stop();
    await start({ satisfaction: 'one_is_best' });
    await push('service', envelope(service('CASE-4')));
    expect((await push('evaluation', envelope(evaluation('CASE-4', { satisfaction: 5 })))).answer.code).toBe('2001');
    expect((await push('evaluation', envelope(evaluation('CASE-4', { satisfaction: 1 })))).answer.code).toBe('0');
  });

  it('refuses an evaluation for a service never pushed', async () => {
    await start();
    const r = await push('evaluation', envelope(evaluation('CASE-404')));
    expect(r.answer).toMatchObject({ code: '2002', success: 'false' });
    expect(r.answer.msg).toMatch(/办件不存在.*"CASE-404"/);
    expect(emulator!.evaluations).toEqual([]);
  });

  it('answers 本次服务已存在评价 to a second evaluation with the same projectNo and assessNumber; a follow-up (2) is its own', async () => {
    await start();
    await push('service', envelope(service('CASE-1')));
    expect((await push('evaluation', envelope(evaluation('CASE-1')))).answer.code).toBe('0');
    const again = await push('evaluation', envelope(evaluation('CASE-1', { satisfaction: 1, evalDetail: 'R01' })));
    expect(again).toMatchObject({ status: 200, answer: { code: '2003', success: 'false' } });
    expect(again.answer.msg).toContain('本次服务已存在评价');
    expect((await push('evaluation', envelope(evaluation('CASE-1', { assessNumber: 2, pf: 3 })))).answer.code).toBe('0');
    expect((await push('evaluation', envelope(evaluation('CASE-1', { assessNumber: 2, pf: 3 })))).answer.code).toBe('2003');
    // A service pushed again is answered success: pushing is idempotent; the first is kept.
    expect((await push('service', envelope(service('CASE-1', { deptCode: 'OTHER' })))).answer.code).toBe('0');
    expect(emulator!.services).toHaveLength(1);
    expect(emulator!.services[0]).toMatchObject({ pushes: 2, body: { deptCode: 'D-330106-01' } });
    expect(emulator!.stats.duplicates).toEqual({ service: 1, evaluation: 2 });
    expect(emulator!.evaluations.map((e) => [e.body.assessNumber, e.body.satisfaction])).toEqual([[1, 5], [2, 5]]);
  });

  it('keeps what it accepted across a restart given the same ledger', async () => {
    const ledger = new ProvinceLedger();
    await start({ ledger });
    await push('service', envelope(service('CASE-1')));
    await push('evaluation', envelope(evaluation('CASE-1')));
    await emulator!.stop();
    await start({ ledger });
    expect((await push('evaluation', envelope(evaluation('CASE-1')))).answer.code).toBe('2003');
  });

  it('answers a body over the limit 413, unknown paths 404, other methods 405, all as {code, success, msg}', async () => {
    await start({ maxBodyBytes: 1024 });
    const big = await post(emulator!.endpoints.service, envelope(service('C', { note: 'x'.repeat(2000) })));
    expect(big.status).toBe(413);
    expect(answerSchema.parse(JSON.parse(big.text)).msg).toMatch(/请求内容过大.*1024 bytes/);
    const lost = await post(`${emulator!.url}/api/other`, envelope(service('C')));
    expect(lost.status).toBe(404);
    expect(answerSchema.parse(JSON.parse(lost.text)).msg).toContain('/api/hcp/service');
    const get = await fetch(emulator!.endpoints.evaluation);
    expect(get.status).toBe(405);
    answerSchema.parse(await get.json());
    expect(emulator!.stats.refused).toMatchObject({ too_large: 1, not_found: 1, wrong_method: 1 });
    // Still answers after them.
    expect((await push('service', envelope(service('C')))).answer.code).toBe('0');
  });
});

describe('province HTTP emulator: faults seen by a plain fetch client', () => {
  it('down (closed): the connection closes without an answer for N calls, nothing is processed', async () => {
    await start();
    await emulator!.setFault({ kind: 'down', calls: 2 });
    await expect(post(emulator!.endpoints.service, envelope(service('CASE-1')))).rejects.toThrow(/fetch failed/);
    await expect(post(emulator!.endpoints.service, envelope(service('CASE-1')))).rejects.toThrow(/fetch failed/);
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
    expect(emulator!.services).toHaveLength(1);
    expect(emulator!.stats.faulted.down).toBe(2);
    expect(emulator!.received.map((c) => [c.outcome, c.http])).toEqual([['faulted', 0], ['faulted', 0], ['accepted', 200]]);
  });

  it('down (refused): the port stops listening until cleared, then listens at the same address', async () => {
    await start();
    const url = emulator!.endpoints.service;
    await emulator!.setFault({ kind: 'down', mode: 'refused' });
    expect(emulator!.listening).toBe(false);
    const err = await post(url, envelope(service('CASE-1'))).catch((e: Error) => e);
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    await emulator!.clearFaults('down');
    expect(emulator!.endpoints.service).toBe(url);
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
  });

  it('down (refused): a port taken meanwhile keeps it down, said in listenError; the next change tries again', async () => {
    await start();
    const port = Number(new URL(emulator!.url).port);
    await emulator!.setFault({ kind: 'down', mode: 'refused' });
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    await emulator!.clearFaults();
    expect(emulator!.listening).toBe(false);
    expect(emulator!.listenError?.message).toMatch(/EADDRINUSE/);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await emulator!.clearFaults();
    expect(emulator!.listening).toBe(true);
    expect(emulator!.listenError).toBeUndefined();
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
  });

  it('down (refused) over HTTP needs forMs, and comes back by itself after it', async () => {
    const timers = new ManualTimers();
    await start({ timers });
    const noEnd = await post(`${emulator!.url}/_emulator/faults`, { kind: 'down', mode: 'refused' });
    expect(noEnd.status).toBe(400);
    expect(JSON.parse(noEnd.text)).toMatchObject({ error: 'not a fault', problems: [expect.stringMatching(/forMs: required/)] });
    const set = await post(`${emulator!.url}/_emulator/faults`, { kind: 'down', mode: 'refused', forMs: 60_000 });
    expect(set.status).toBe(200);
    await vi.waitFor(() => expect(emulator!.listening).toBe(false));
    timers.advance(60_000);
    await emulator!.settled();
    expect(emulator!.listening).toBe(true);
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
  });

  it('slow: the call is processed at once and answered after the delay', async () => {
    const timers = new ManualTimers();
    await start({ timers });
    await emulator!.setFault({ kind: 'slow', delayMs: 30_000, calls: 1 });
    let answered = false;
    const pending = push('service', envelope(service('CASE-1'))).finally(() => (answered = true));
    await vi.waitFor(() => expect(emulator!.services).toHaveLength(1));
    timers.advance(29_999);
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    timers.advance(1);
    expect((await pending).answer.code).toBe('0');
    expect(emulator!.stats.faulted.slow).toBe(1);
    expect(emulator!.faults.list()).toEqual([]);
  });

  it('5xx: an HTML error page; not processed unless applied', async () => {
    await start();
    await emulator!.setFault({ kind: 'server_error', status: 502, calls: 1 });
    const r = await post(emulator!.endpoints.service, envelope(service('CASE-1')));
    expect(r.status).toBe(502);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(emulator!.services).toEqual([]);
    await emulator!.setFault({ kind: 'server_error', applied: true, calls: 1 });
    expect((await post(emulator!.endpoints.service, envelope(service('CASE-1')))).status).toBe(503);
    expect(emulator!.services).toHaveLength(1);
    expect(emulator!.received.map((c) => c.outcome)).toEqual(['faulted', 'accepted']);
  });

  it('429 with Retry-After, then answers again', async () => {
    await start();
    await emulator!.setFault({ kind: 'rate_limited', retryAfterSeconds: 7, calls: 1 });
    const r = await post(emulator!.endpoints.service, envelope(service('CASE-1')));
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('7');
    expect(answerSchema.parse(JSON.parse(r.text)).success).toBe('false');
    expect(emulator!.services).toEqual([]);
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
  });

  it.each(['not_json', 'html', 'wrong_shape', 'truncated', 'empty'] as const)('a malformed answer (%s) the client cannot read; the call was processed, so the retry is a duplicate', async (variant) => {
    await start();
    await push('service', envelope(service('CASE-1')));
    await emulator!.setFault({ kind: 'malformed', variant, calls: 1 });
    const r = await post(emulator!.endpoints.evaluation, envelope(evaluation('CASE-1')));
    expect(r.status).toBe(200);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.text);
    } catch {
      parsed = undefined;
    }
    expect(answerSchema.safeParse(parsed).success).toBe(false);
    expect((await push('evaluation', envelope(evaluation('CASE-1')))).answer.code).toBe('2003');
  });

  it('a fault for one endpoint leaves the other alone', async () => {
    await start();
    await emulator!.setFault({ kind: 'server_error', phase: 'evaluation' });
    expect((await push('service', envelope(service('CASE-1')))).answer.code).toBe('0');
    expect((await post(emulator!.endpoints.evaluation, envelope(evaluation('CASE-1')))).status).toBe(503);
    expect((await post(emulator!.endpoints.evaluation, envelope(evaluation('CASE-1')))).status).toBe(503);
    await emulator!.clearFaults();
    expect((await push('evaluation', envelope(evaluation('CASE-1')))).answer.code).toBe('0');
  });

  it('faults set, listed and cleared over HTTP; a wrong fault is refused naming the field', async () => {
    await start();
    const api = `${emulator!.url}/_emulator/faults`;
    expect((await post(api, { kind: 'rate_limited', retryAfterSeconds: 3 })).status).toBe(200);
    expect(JSON.parse((await post(api, { kind: 'slow' })).text)).toMatchObject({ error: 'not a fault', problems: [expect.stringMatching(/^delayMs: required/)] });
    expect(JSON.parse((await post(api, { kind: 'flood' })).text).problems[0]).toMatch(/^kind: /);
    expect((await post(api, '{')).status).toBe(400);
    expect(await view('faults')).toMatchObject({ faults: [{ fault: { kind: 'rate_limited', retryAfterSeconds: 3 } }] });
    expect((await post(emulator!.endpoints.service, envelope(service('C')))).status).toBe(429);
    expect((await fetch(`${api}/nothing`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${api}/rate_limited`, { method: 'DELETE' })).status).toBe(200);
    expect(await view('faults')).toEqual({ faults: [] });
    expect((await push('service', envelope(service('C')))).answer.code).toBe('0');
    expect((await fetch(`${emulator!.url}/_emulator/secrets`)).status).toBe(404);
    expect(emulator!.stats.adminRefused).toBe(5);
    // The admin API is not the interface: not counted as calls.
    expect(emulator!.stats.calls).toBe(2);
  });
});

describe('province HTTP emulator with the gateway’s client (gateway/province), both sample profiles', () => {
  const CASE = '370102-2026-000123';

  /** The emulator playing the sample's province, and the gateway's client pointed at it. */
  async function chain(which: 'national' | 'other', clientTimers?: ManualTimers, emulatorTimers?: ManualTimers) {
    const sample = sampleProfile(which);
    await start({ ...emulatorOptionsFor(sample, TEST_SECRETS.appWord), ...(emulatorTimers && { timers: emulatorTimers }) });
    const profile = sampleProfile(which, (raw) => {
      raw.allowInsecureHttp = true;
      raw.endpoints = emulator!.endpoints;
      raw.http = { ...(raw.http as object), timeoutMs: 1000 };
    });
    const client = httpProvinceClient({ profile, secrets: TEST_SECRETS, clock, ...(clientTimers && { timers: clientTimers }) });
    const record = ratedRecord(which === 'other' ? { hallCode: 'hall-wuhua' } : {});
    const serviceBody = servicePayload(profile, record, CASE);
    const evaluationBody = evaluationPayload(profile, { record, caseNo: CASE }, { catalog: CATALOG });
    if (!evaluationBody) throw new Error('the fixture is rated');
    return { client, profile, serviceBody, evaluationBody };
  }

  it.each([
    ['national', { pf: 4, satisfaction: 2, evalDetail: 'R02' }, { taskCode: '11370102MB2F30661Y231200356400001' }],
    ['other', { pf: 5, satisfaction: 4, evalDetail: '502' }, { taskCode: '11370102MB2F30661Y2312003564000', taskHandleItem: '11370102MB2F30661Y231200356400001' }],
  ] as const)('%s: the signed service and evaluation are delivered with the profile’s codes; again, a duplicate', async (which, codes, task) => {
    const { client, serviceBody, evaluationBody } = await chain(which);
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'delivered' });
    expect(await client.push('evaluation', evaluationBody)).toMatchObject({ kind: 'delivered' });
    expect(emulator!.services[0]?.body).toMatchObject({ projectNo: CASE, areaCode: '370102000000', ...task });
    expect(emulator!.evaluations[0]?.body).toMatchObject({ projectNo: CASE, assessNumber: 1, writingEvaluation: '办事效率低', ...codes });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'delivered' });
    expect(await client.push('evaluation', evaluationBody)).toMatchObject({ kind: 'duplicate', message: expect.stringContaining('本次服务已存在评价') });
    expect(emulator!.evaluations).toHaveLength(1);
  });

  it('the province’s refusals are rejections with its code and message', async () => {
    const { client, profile, serviceBody, evaluationBody } = await chain('national');
    expect(await client.push('evaluation', evaluationBody)).toMatchObject({ kind: 'rejected', code: '2002', message: expect.stringContaining('办件不存在') });
    await client.push('service', serviceBody);
    const noReason = { ...evaluationBody, evalDetail: '', writingEvaluation: '' };
    expect(await client.push('evaluation', noReason)).toMatchObject({ kind: 'rejected', code: '2001' });
    expect(await client.push('service', { ...serviceBody, areaCode: '370102' })).toMatchObject({ kind: 'rejected', code: '1004', message: expect.stringContaining('data.areaCode') });
    emulator!.addCaller(profile.appMark, { appWord: 'not-ours', publicKey: OTHER.publicKey });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'rejected', code: '1003' });
  });

  it('each fault is transient to the client; a timeout after the province processed the call is a duplicate on retry', async () => {
    const clientTimers = new ManualTimers();
    const emulatorTimers = new ManualTimers();
    const { client, serviceBody, evaluationBody } = await chain('national', clientTimers, emulatorTimers);
    await emulator!.setFault({ kind: 'server_error', calls: 1 });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'transient', message: expect.stringContaining('HTTP 503') });
    await emulator!.setFault({ kind: 'rate_limited', retryAfterSeconds: 7, calls: 1 });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'transient', retryAfterMs: 7000 });
    await emulator!.setFault({ kind: 'down', calls: 1 });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'transient', message: expect.stringContaining('unreachable') });
    await emulator!.setFault({ kind: 'malformed', variant: 'wrong_shape', calls: 1 });
    expect(await client.push('service', serviceBody)).toMatchObject({ kind: 'transient', message: expect.stringContaining('malformed') });
    expect(emulator!.services).toHaveLength(1); // the malformed answer's call was processed

    await emulator!.setFault({ kind: 'slow', delayMs: 60_000, calls: 1 });
    const slow = client.push('evaluation', evaluationBody);
    await vi.waitFor(() => expect(emulator!.evaluations).toHaveLength(1));
    clientTimers.advance(1000);
    expect(await slow).toMatchObject({ kind: 'transient', message: expect.stringContaining('within 1000 ms') });
    // The late answer goes to a caller that left; the call is on the record all the same.
    emulatorTimers.advance(60_000);
    await vi.waitFor(() => expect(emulator!.stats.faulted.slow).toBe(1));
    expect(await client.push('evaluation', evaluationBody)).toMatchObject({ kind: 'duplicate' });

    await emulator!.setFault({ kind: 'down', mode: 'refused' });
    // ECONNREFUSED, or a socket fetch had opened ahead and found cut ("other side closed"): both unreachable.
    expect(await client.push('evaluation', evaluationBody)).toMatchObject({ kind: 'transient', message: expect.stringContaining('unreachable') });
    await emulator!.clearFaults();
    expect(emulator!.stats.faulted).toMatchObject({ server_error: 1, rate_limited: 1, down: 1, malformed: 1, slow: 1 });
  });
});

describe('province HTTP emulator: its own rating page (rateLater.mode province)', () => {
  const form = (fields: Record<string, string>) => fetch(`${emulator!.url}/pj/index.html`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

  it('opens from the profile’s URL template, takes a pf 3 rating under the province’s rules, a second as 追评, a third refused', async () => {
    await start();
    await push('service', envelope(service('CASE-QR')));
    const values: Record<string, string> = { caseNo: 'CASE-QR', areaCode: '330106000000', taskCode: 'T' };
    const url = emulator!.ratingPageTemplate.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? ''));
    const opened = await fetch(url);
    expect(opened.status).toBe(200);
    const html = await opened.text();
    expect(html).toContain('CASE-QR');
    expect(html.match(/type="radio" name="grade"/g)).toHaveLength(5);
    expect(opened.headers.get('content-security-policy')).toContain("default-src 'none'");

    const noReason = await form({ projectNo: 'CASE-QR', grade: 'dissatisfied' });
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toContain('请填写原因');
    expect((await form({ projectNo: 'CASE-QR', grade: 'dissatisfied', text: '等了很久' })).status).toBe(200);
    const followUp = await form({ projectNo: 'CASE-QR', grade: 'satisfied' });
    expect(await followUp.text()).toContain('追评');
    expect((await form({ projectNo: 'CASE-QR', grade: 'satisfied' })).status).toBe(409);
    expect(emulator!.evaluations.map((e) => [e.appMark, e.body.pf, e.body.satisfaction, e.body.assessNumber, e.body.writingEvaluation ?? ''])).toEqual([
      ['province-page', 3, 2, 1, '等了很久'],
      ['province-page', 3, 4, 2, ''],
    ]);
    expect(emulator!.stats.pageRatings).toBe(2);
    // A page rating is the case's first: the counter's push after it is the duplicate.
    expect((await push('evaluation', envelope(evaluation('CASE-QR')))).answer.code).toBe('2003');
  });

  it('says so for an unknown case, no grade, a missing case number; escapes what it shows', async () => {
    await start({ satisfaction: 'one_is_best' });
    expect((await form({ projectNo: 'CASE-NONE', grade: 'satisfied' })).status).toBe(404);
    expect((await form({ projectNo: 'CASE-NONE' })).status).toBe(400);
    expect((await fetch(`${emulator!.url}/pj/index.html`)).status).toBe(400);
    const shown = await (await fetch(`${emulator!.url}/pj/index.html?projectNo=${encodeURIComponent('<script>x</script>')}`)).text();
    expect(shown).not.toContain('<script>');
    await push('service', envelope(service('CASE-1')));
    expect((await form({ projectNo: 'CASE-1', grade: 'very_satisfied' })).status).toBe(200);
    expect(emulator!.evaluations[0]?.body.satisfaction).toBe(1);
  });
});
