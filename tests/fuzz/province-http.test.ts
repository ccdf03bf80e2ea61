import { METHODS } from 'node:http';
import fc from 'fast-check';
import { sm2 } from 'sm-crypto-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseCall, type CallSettings } from '../../simulator/province-http/request.js';
import { ProvinceHttpEmulator } from '../../simulator/province-http/server.js';
import { ManualTimers } from '../support/manual-timers.js';
import { pathChars, printedShort, send, short, type Junk } from '../support/fuzz-http.js';

/**
 * The province emulator's request parser and server fuzzed with hostile input: random text,
 * JSON of any shape, envelopes valid but for one field, bodies of wrong types, oversized bodies,
 * random methods and paths, random faults posted to its control API. Invariants: the parser never
 * throws and accepts only a call signed by the registered key at the right time; the server
 * answers every request (never a 500), the interface as {code, success, msg}, its control API as
 * {error, problems} when it refuses, and counts every call once.
 */
const SEED = 20261130;
const NOW = new Date('2026-11-30T02:00:00.000Z');
const TIME = '20261130100000';
const KEY = { privateKey: '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8', publicKey: '' };
KEY.publicKey = sm2.getPublicKeyFromPrivateKey(KEY.privateKey);
const APP = 'HCP-FUZZ';
const WORD = 'fuzz-word';
const SIGN = sm2.doSignature(`${TIME}${APP}${WORD}`, KEY.privateKey, { hash: true, publicKey: KEY.publicKey });
const settings: CallSettings = { callers: new Map([[APP, { appWord: WORD, publicKey: KEY.publicKey }]]), timeFormat: 'yyyyMMddHHmmss', signatureFormat: 'raw_hex', userId: '1234567812345678', timeWindowMs: 300_000 };

const SERVICE = { projectNo: 'CASE-1', taskCode: 'T-1', serviceTime: '2026-11-30 09:41:07', areaCode: '330106000000', deptCode: 'D-1', serviceNumber: 1 };
const EVALUATION = { projectNo: 'CASE-1', satisfaction: 5, evalDetail: '', writingEvaluation: '', assessTime: '2026-11-30 09:45:00', assessNumber: 1, pf: 4, dataSource: '330' };

/** Any value a field might be given by mistake or malice. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('', ' ', '0', '-1', '６', '1e3', '5.0', '\u0000', '__proto__', 'x'.repeat(5000), '330106', '3301060000000', '20261130100000'),
  fc.integer(),
  fc.double(),
);
/** A body like one the interface takes, some fields changed, removed or added. */
const body = (base: Record<string, unknown>) =>
  fc
    .tuple(
      fc.subarray(Object.keys(base)),
      fc.dictionary(fc.constantFrom(...Object.keys(base)), hostileValue, { maxKeys: 3 }),
      fc.dictionary(fc.string({ maxLength: 8 }), hostileValue, { maxKeys: 2 }),
    )
    .map(([kept, changed, extra]) => ({ ...extra, ...Object.fromEntries(kept.map((k) => [k, base[k]])), ...changed }));
/** An envelope: the signed one with some fields changed, or one of any shape. */
const envelope = fc.oneof(
  fc.record({
    appMark: fc.oneof(fc.constant(APP), fc.constantFrom('', 'hcp-fuzz', `${APP} `, '__proto__', 'constructor'), fc.string({ maxLength: 20 })),
    time: fc.oneof(fc.constant(TIME), fc.constantFrom('20261130100500', '20261130095459', '2026113010000', '20261330100000', '', String(NOW.getTime())), fc.integer()),
    sign: fc.oneof(fc.constant(SIGN), fc.constant(SIGN.toUpperCase()), fc.constant(SIGN.slice(2)), fc.constant(`${SIGN.slice(0, -1)}0`), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 128, maxLength: 128 }), fc.string({ maxLength: 200 })),
    data: fc.oneof(body(SERVICE), body(EVALUATION), body(SERVICE).map((b) => JSON.stringify(b)), hostileValue),
  }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);
/** The signed envelope with a body that fits one endpoint or the other (the phase drawn apart). */
const signed = fc.constantFrom(SERVICE, EVALUATION, JSON.stringify(SERVICE)).map((data) => JSON.stringify({ appMark: APP, time: TIME, sign: SIGN, data }));
const text = fc.oneof(
  { weight: 1, arbitrary: signed },
  { weight: 4, arbitrary: envelope.map((e) => JSON.stringify(e)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', 'null', '\uFEFF{}', '{"appMark":1e999}', '{"__proto__":{"appMark":"HCP-FUZZ"}}') },
);

const answerSchema = z.strictObject({ code: z.string().min(1), success: z.enum(['true', 'false']), msg: z.string().min(1) });
const refusalSchema = z.strictObject({ error: z.string().min(5), problems: z.array(z.string()) });

describe('province emulator request parser, fuzzed', () => {
  it('never throws; accepts only the registered caller’s valid signature at the right time, with a body that fits', () => {
    let accepted = 0;
    fc.assert(
      fc.property(text, fc.constantFrom('service', 'evaluation' as const), (t, phase) => {
        const call = parseCall(t, phase, settings, NOW);
        if (!call.ok) {
          expect(call.detail.length).toBeLessThan(2000);
          return;
        }
        accepted += 1;
        const e = JSON.parse(t) as { appMark: string; time: unknown; sign: string };
        expect(e.appMark).toBe(APP);
        expect(String(e.time)).toBe(TIME);
        expect(e.sign.toLowerCase()).toBe(SIGN);
        if (call.phase === 'service') expect(call.body.areaCode).toMatch(/^\d{12}$/);
        else expect([1, 2]).toContain(call.body.assessNumber);
      }),
      { seed: SEED, numRuns: 1000 },
    );
    // Not vacuous: some random envelopes were the signed one with a body that fits.
    expect(accepted).toBeGreaterThan(0);
  });
});

const PATHS = ['/pj/index.html', '/api/hcp/service', '/api/hcp/evaluation', '/_emulator/faults', '/_emulator/stats', '/_emulator/services', '/_emulator/faults/slow', '/_emulator/x', '/'];
const faultBody = fc.oneof(
  fc.record({
    kind: fc.constantFrom('down', 'slow', 'server_error', 'rate_limited', 'malformed', 'flood'),
    mode: fc.constantFrom('closed', 'refused', 'x'),
    calls: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant('2')),
    forMs: fc.integer({ min: 0, max: 10 }),
    delayMs: fc.integer({ min: -5, max: 100 }),
    status: fc.integer({ min: 400, max: 600 }),
    retryAfterSeconds: fc.integer({ min: -1, max: 5 }),
    variant: fc.constantFrom('not_json', 'html', 'wrong_shape', 'truncated', 'empty', 'x'),
    applied: fc.boolean(),
    phase: fc.constantFrom('service', 'evaluation', 'both'),
  }, { requiredKeys: ['kind'] }),
  fc.jsonValue({ maxDepth: 2 }),
)
  .map((v) => JSON.stringify(v))
  .chain((json) => fc.constantFrom(json, '{', '', 'kind=slow', `${json}x`));
const junk: fc.Arbitrary<Junk> = fc
  .record({
    method: fc.oneof(fc.constantFrom('POST', 'GET', 'DELETE', 'PUT', 'HEAD', 'OPTIONS'), fc.stringMatching(/^[A-Z]{1,8}$/)),
    path: fc.oneof(
      fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom('', '?a=b', '#x', '/', '%2F', '?%ZZ')).map(([p, q]) => p + q),
      fc.string({ unit: pathChars, maxLength: 40 }).map((p) => `/${p}`),
    ),
    headers: fc.record({ 'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', '') }, { requiredKeys: [] }),
    body: fc.oneof(
      { weight: 5, arbitrary: text },
      { weight: 2, arbitrary: faultBody },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 50, max: 200 * 1024 }).map((n) => `{"appMark":"${'x'.repeat(n)}"}`) },
    ),
  })
  .map(printedShort);
/** A call the interface takes (the first service per case accepted, the rest duplicates or unknown services). */
const legitimate: fc.Arbitrary<Junk> = fc
  .tuple(fc.constantFrom('/api/hcp/service', '/api/hcp/evaluation'), fc.oneof({ weight: 4, arbitrary: signed }, { weight: 1, arbitrary: fc.integer({ min: 64 * 1024, max: 300 * 1024 }).map((n) => `{"data":"${'x'.repeat(n)}"}`) }))
  .map(([path, body]) => printedShort({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body }));
/** The control API driven as the hall view or a test would, with faults right and wrong. */
const control: fc.Arbitrary<Junk> = fc
  .tuple(fc.constantFrom('POST', 'DELETE'), fc.constantFrom('/_emulator/faults', '/_emulator/faults/slow', '/_emulator/faults/x'), faultBody)
  .map(([method, path, body]) => printedShort({ method, path, headers: { 'content-type': 'application/json' }, body }));
/** A citizen (or not) on the province's rating page: form fields right and wrong. */
const pageForm: fc.Arbitrary<Junk> = fc
  .record(
    {
      projectNo: fc.oneof({ weight: 3, arbitrary: fc.constant('CASE-1') }, { weight: 1, arbitrary: fc.constantFrom('', ' ', 'x'.repeat(70), '<b>') }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }),
      grade: fc.oneof(fc.constantFrom('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied', '__proto__'), fc.string({ maxLength: 10 })),
      text: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('x'.repeat(9000))),
    },
    { requiredKeys: ['projectNo', 'grade'] },
  )
  .map((fields) => printedShort({ method: 'POST', path: '/pj/index.html', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() }));
const request_ = fc.oneof({ weight: 2, arbitrary: legitimate }, { weight: 1, arbitrary: control }, { weight: 1, arbitrary: pageForm }, { weight: 6, arbitrary: junk });

describe('province emulator server, fuzzed from outside', () => {
  let emulator: ProvinceHttpEmulator;
  // Manual timers: a slow or forMs fault posted by the fuzz never fires by itself; each run clears them.
  const timers = new ManualTimers();
  beforeAll(async () => {
    emulator = await ProvinceHttpEmulator.start({ port: 0, callers: { [APP]: { appWord: WORD, publicKey: KEY.publicKey } }, clock: { now: () => NOW }, timers });
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it('answers every request, never 500; the interface as {code, success, msg}; every call counted once', async () => {
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(request_, async (j) => {
        await emulator.clearFaults();
        const { status, text: answer } = await send(emulator.url, j);
        expect(status, short(j)).toBeGreaterThanOrEqual(200);
        expect(status, short(j)).toBeLessThan(500);
        // A method Node's parser does not know is answered before the path is read: a call to the interface.
        const path = METHODS.includes(j.method) ? (j.path.split(/[?#]/, 1)[0] ?? '') : '';
        const admin = path.startsWith('/_emulator/');
        // The province's rating page answers HTML and is not a call to the interface.
        const page = path === '/pj/index.html';
        if (!admin && !page) calls += 1;
        if (j.method === 'HEAD' || page) return;
        const parsed = JSON.parse(answer) as unknown;
        if (!admin) expect(answerSchema.safeParse(parsed).success, `${short(j)} → ${answer.slice(0, 200)}`).toBe(true);
        else if (status >= 400) expect(refusalSchema.safeParse(parsed).success, `${short(j)} → ${answer.slice(0, 200)}`).toBe(true);
        const s = emulator.stats;
        expect(s.calls, `${short(j)} ${JSON.stringify(emulator.received.slice(-1))}`).toBe(calls);
        const refused = Object.values(s.refused).reduce((a, b) => a + b, 0);
        expect(refused + s.accepted.service + s.accepted.evaluation + s.duplicates.service + s.duplicates.evaluation, short(j)).toBe(calls);
        expect(s.refused.internal).toBe(0);
      }),
      // endOnFailure: the server's counters carry over between runs, so a shrunk case would not be the one that failed.
      { seed: SEED, numRuns: 400, endOnFailure: true },
    );
    await emulator.clearFaults();
    // Not vacuous: services were accepted, and faults were set over HTTP.
    expect(emulator.stats.accepted.service).toBeGreaterThan(0);
    expect(emulator.stats.refused.too_large).toBeGreaterThan(0);
    expect(emulator.stats.pageRatings).toBeGreaterThan(0);
    expect(emulator.listening).toBe(true);
    expect((await fetch(`${emulator.url}/_emulator/stats`)).status).toBe(200);
  });
});
