import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import { classify, httpProvinceClient } from '../../gateway/province/client.js';
import { evaluationPayload, PayloadError, servicePayload } from '../../gateway/province/payloads.js';
import { loadProvinceProfile, parseProvinceProfile } from '../../gateway/province/profile.js';
import { sm2Verify } from '../../gateway/province/sm2.js';
import { formatProvinceTime, parseProvinceTime, TIME_FORMATS } from '../../gateway/province/time-format.js';
import { fillUrlTemplate, UrlTemplateError } from '../../protocol/url-template.js';
import { GMT_PUBLIC_KEY, ratedRecord, sampleProfile, TEST_SECRETS } from '../unit/province-fixture.js';

/**
 * The province adapter's boundaries: the profile an operator writes, and what a province answers.
 * A hostile profile is refused with a ConfigError naming fields (never another exception, never
 * the appWord); a hostile answer is one of the four outcomes (never an exception); a hostile
 * signature is false; a record the schema allows gives bodies the province's rules accept.
 */
const SEED = 20261130;
const hostileKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'name', 'endpoints', 'service', 'evaluation', 'appMark', 'appWordFile', 'appWordEnv', 'sm2', 'publicKey', 'channels', 'counter', 'satisfaction', 'halls', 'reasons', 'codes', 'rateLater', 'urlTemplate', 'http', 'backoff', 'code', 'success', 'msg');
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 30 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Lowercase hex text. */
const hex = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength, maxLength });

const valid = () => ({
  name: 'lab',
  endpoints: { service: 'https://p.example/s', evaluation: 'https://p.example/e' },
  appMark: 'M1',
  appWordEnv: 'HCP_APPWORD',
  sm2: { privateKeyFile: 'key.hex', publicKey: GMT_PUBLIC_KEY },
  dataSource: '370',
  channels: { counter: 4 },
  satisfaction: 'five_is_best',
  deptCode: 'D1',
});

/** A valid profile with some of its fields replaced by anything, or hostile strings in the right places. */
const nearProfile = fc
  .record(
    {
      base: fc.constant(valid()),
      name: anyValue,
      endpoints: fc.oneof(anyValue, fc.record({ service: fc.oneof(fc.webUrl(), fc.string(), fc.constantFrom('http://x/s', 'javascript:alert(1)', 'https://')), evaluation: fc.webUrl() })),
      appWordFile: anyValue,
      appWordEnv: fc.oneof(anyValue, fc.constantFrom('HCP APPWORD', '1X', 'hunter2-appword')),
      sm2: fc.oneof(anyValue, fc.record({ privateKeyFile: anyValue, publicKey: fc.oneof(fc.string(), hex(128, 128).map((h) => `04${h}`)), signatureFormat: anyValue, userId: anyValue })),
      channels: fc.oneof(anyValue, fc.record({ counter: fc.integer({ min: -1, max: 8 }), receiptQr: fc.integer({ min: 0, max: 8 }) })),
      halls: fc.oneof(anyValue, fc.dictionary(fc.oneof(hostileKey, fc.string()), fc.record({ deptCode: anyValue }))),
      reasons: fc.oneof(anyValue, fc.record({ codes: fc.dictionary(fc.oneof(hostileKey, fc.string()), anyValue), labelsInText: anyValue, noReasonText: anyValue })),
      rateLater: fc.oneof(anyValue, fc.record({ mode: fc.constantFrom('gateway', 'province', 'both'), urlTemplate: fc.oneof(fc.string(), fc.constantFrom('https://x/{caseNo}', 'https://x/{', 'https://x/{__proto__}', '{caseNo}', 'https://x/{}')), periodDays: anyValue })),
      http: fc.oneof(anyValue, fc.record({ timeoutMs: anyValue, perSecond: anyValue, backoff: fc.record({ baseMs: fc.integer(), maxMs: fc.integer() }) })),
      itemCode: fc.oneof(anyValue, fc.record({ split: fc.boolean(), length: fc.integer({ min: -5, max: 80 }), taskCodeLength: fc.integer({ min: -5, max: 80 }) })),
    },
    { requiredKeys: ['base'] },
  )
  .map(({ base, ...changes }) => ({ ...base, ...changes }));

function expectConfigError(err: unknown): void {
  expect(err).toBeInstanceOf(ConfigError);
  const { problems } = err as ConfigError;
  expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems) expect(problem).toMatch(/^(.+|\(top level\)): |^and \d+ more$/s);
  expect((err as Error).message).not.toContain('hunter2-appword');
}

describe('province profile, fuzzed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-profile-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a profile is parsed or refused with a ConfigError naming its fields', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, nearProfile), (input) => {
        try {
          const profile = parseProvinceProfile(input);
          // What is accepted keeps the promises the rest relies on.
          expect([4, 5]).toContain(profile.channels.counter);
          expect(profile.http.backoff.maxMs).toBeGreaterThanOrEqual(profile.http.backoff.baseMs);
          expect((profile.appWordFile === undefined) !== (profile.appWordEnv === undefined)).toBe(true);
          if (!profile.allowInsecureHttp) expect(profile.endpoints.service.startsWith('https:')).toBe(true);
        } catch (err) {
          expectConfigError(err);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('a profile file of any text is read or refused with a ConfigError', () => {
    const path = join(dir, 'p.yaml');
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      anyValue.map((v) => JSON.stringify(v) ?? ''),
      fc.constantFrom('a: &x [*x]', 'name: *nope', '{{{', '- - -', 'name: !!binary ZZZ', `${'a: [\n'.repeat(50)}`),
    );
    fc.assert(
      fc.property(text, (content) => {
        writeFileSync(path, content);
        try {
          loadProvinceProfile(path);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('a page template fills or says which placeholder has no value', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.dictionary(fc.constantFrom('caseNo', 'areaCode', 'itemCode', 'windowNo', '__proto__'), fc.string()), (template, values) => {
        try {
          const url = fillUrlTemplate(template, values);
          expect(url).not.toMatch(/\{(caseNo|areaCode|itemCode|windowNo)\}/);
        } catch (err) {
          expect(err).toBeInstanceOf(UrlTemplateError);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('times read back what they wrote; any other text is no time, never an exception', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true }), fc.constantFrom(...TIME_FORMATS), fc.string({ maxLength: 25 }), (at, format, junk) => {
        const seconds = new Date(Math.floor(at.getTime() / 1000) * 1000);
        const back = parseProvinceTime(formatProvinceTime(seconds, format), format);
        expect(back?.getTime()).toBe(format === 'epochMillis' ? at.getTime() - (at.getTime() % 1000) : seconds.getTime());
        const parsed = parseProvinceTime(junk, format);
        if (parsed !== undefined) expect(Number.isNaN(parsed.getTime())).toBe(false);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('province answers and signatures, fuzzed', () => {
  const profile = sampleProfile('national');
  const now = new Date('2026-11-30T04:05:01Z');
  const answerText = fc.oneof(
    fc.string({ maxLength: 200 }),
    anyValue.map((v) => JSON.stringify(v) ?? ''),
    fc
      .record({
        code: fc.oneof(fc.constantFrom('0', 0, '1', -1, '', '0 ', Number.POSITIVE_INFINITY, Number.MAX_VALUE), anyValue),
        success: fc.oneof(fc.constantFrom('true', true, 'false', false, 'TRUE', 1), anyValue),
        msg: fc.oneof(fc.constantFrom('本次服务已存在评价', '成功', ''), anyValue),
        message: anyValue,
        __proto__: anyValue,
      }, { requiredKeys: [] })
      .map((o) => JSON.stringify(o)),
  );

  it('any HTTP answer is one of the four outcomes, consistent with the rules', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), answerText, fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.integer().map(String), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toUTCString())))), (status, text, retry) => {
        const headers = new Headers();
        if (retry !== null) {
          try {
            headers.set('retry-after', retry);
          } catch {
            // Not a header value at all: fetch would never hand it over.
          }
        }
        const answer = classify(profile, status, headers, text, now);
        expect(['delivered', 'duplicate', 'rejected', 'transient']).toContain(answer.kind);
        if (answer.kind === 'delivered') {
          expect(status >= 200 && status < 300).toBe(true);
          expect(answer.answer.code).toBe('0');
          expect(answer.answer.success).toBe(true);
        }
        if (status >= 500 || status === 429 || status === 408 || status < 200 || (status >= 300 && status < 400)) expect(answer.kind).toBe('transient');
        if (answer.kind === 'rejected') expect(typeof answer.code).toBe('string');
        if (answer.kind === 'duplicate') expect(profile.answers.duplicatePatterns.some((p) => answer.message.includes(p))).toBe(true);
        if (answer.kind === 'transient' && answer.retryAfterMs !== undefined) expect(answer.retryAfterMs).toBeGreaterThanOrEqual(0);
        if (answer.kind === 'transient' && answer.retryAfterMs !== undefined) expect(answer.retryAfterMs).toBeLessThanOrEqual(86_400_000);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('the client never rejects, whatever the province sends or throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 200, max: 599 }), answerText, fc.boolean(), async (status, text, throws) => {
        const fetch = (async () => {
          if (throws) throw new Error(text);
          return new Response(status === 204 || status === 205 || status === 304 ? null : text, { status });
        }) as unknown as typeof globalThis.fetch;
        const client = httpProvinceClient({ profile, secrets: TEST_SECRETS, fetch, clock: { now: () => now } });
        const answer = await client.push('service', { projectNo: 'P', taskCode: 'T', serviceNumber: 1, serviceTime: 't', areaCode: '370102000000', deptCode: 'D', dataSource: '370' });
        expect(['delivered', 'duplicate', 'rejected', 'transient']).toContain(answer.kind);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a hostile signature or key is false, never an exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), hex(128, 128), hex(8, 150).map((h) => `30${h}`), fc.base64String({ maxLength: 120 })),
        fc.oneof(fc.constant(GMT_PUBLIC_KEY), fc.string({ maxLength: 140 }), hex(128, 128).map((h) => `04${h}`)),
        fc.constantFrom('raw_hex', 'der_hex', 'der_base64') as fc.Arbitrary<'raw_hex' | 'der_hex' | 'der_base64'>,
        fc.string({ maxLength: 40 }),
        (signature, publicKey, format, message) => {
          expect(sm2Verify(message, signature, publicKey, { format })).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('bodies from any record the schema allows, fuzzed', () => {
  // Both with a deptCode for every hall: then no record the schema allows is refused.
  const profiles = [sampleProfile('national'), sampleProfile('other', (p) => Object.assign(p, { deptCode: 'D-DEFAULT' }))];
  const text = (max: number) => fc.string({ minLength: 1, maxLength: max });
  const record = fc.record({
    areaCode: fc.stringMatching(/^\d{6}$/),
    hallCode: fc.oneof(fc.constantFrom('hall-lixia', 'hall-wuhua', '__proto__', 'constructor'), text(64)),
    services: fc.array(fc.record({ itemCode: fc.oneof(text(64), fc.stringMatching(/^[0-9A-Z]{33}$/)), caseNo: text(64) }), { minLength: 1, maxLength: 4 }),
    outcome: fc.constantFrom('rated', 'not_rated', 'cancelled') as fc.Arbitrary<'rated' | 'not_rated' | 'cancelled'>,
    channel: fc.constantFrom('counter', 'receipt_qr') as fc.Arbitrary<'counter' | 'receipt_qr'>,
    grade: fc.constantFrom(...GRADES),
    reasons: fc.array(fc.oneof(fc.constantFrom('R01', 'R02', '__proto__', 'toString', 'R0,1'), text(32)), { maxLength: 5 }),
    version: fc.option(text(32)),
    pressedAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
  });

  it('a rated case’s body always satisfies the province: satisfaction 1..5, a bad grade carries a reason or text', () => {
    fc.assert(
      fc.property(record, fc.constantFrom(0, 1), (r, which) => {
        const profile = profiles[which] as (typeof profiles)[number];
        const full = ratedRecord({
          areaCode: r.areaCode,
          hallCode: r.hallCode,
          services: r.services,
          outcome: r.outcome,
          channel: r.channel,
          rating: r.outcome === 'rated' ? { grade: r.grade, gradeCode: 0, reasons: r.reasons, reasonCatalogVersion: r.version, pressedAt: r.pressedAt.toISOString(), latencyMs: 1 } : undefined,
        });
        const caseNo = (r.services[0] as { caseNo: string }).caseNo;
        const service = servicePayload(profile, full, caseNo);
        expect(service.areaCode).toMatch(/^\d{12}$/);
        expect(service.taskCode.length).toBeGreaterThan(0);
        if (r.outcome === 'rated' && r.reasons.some((code) => code.includes(','))) {
          expect(() => evaluationPayload(profile, { record: full, caseNo })).toThrow(PayloadError);
          return;
        }
        const evaluation = evaluationPayload(profile, { record: full, caseNo });
        if (r.outcome !== 'rated') {
          expect(evaluation).toBeNull();
          return;
        }
        expect(evaluation?.satisfaction).toBeGreaterThanOrEqual(1);
        expect(evaluation?.satisfaction).toBeLessThanOrEqual(5);
        if (GRADE_INFO[r.grade].class === 'bad') expect(`${evaluation?.evalDetail}${evaluation?.writingEvaluation}`.length).toBeGreaterThan(0);
        expect(evaluation?.pf).toBe(r.channel === 'counter' ? profile.channels.counter : 3);
        expect(evaluation?.evalDetail.split(',').filter((c) => c !== '')).toHaveLength(r.reasons.length);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
