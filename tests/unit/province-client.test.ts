import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpProvinceClient, retryAfter, type PushAnswer } from '../../gateway/province/client.js';
import { signedText } from '../../gateway/province/envelope.js';
import { evaluationPayload, servicePayload } from '../../gateway/province/payloads.js';
import { parseProvinceProfile } from '../../gateway/province/profile.js';
import { sm2Verify } from '../../gateway/province/sm2.js';
import { ManualTimers } from '../support/manual-timers.js';
import { CATALOG, GMT_PUBLIC_KEY, ratedRecord, sampleProfile, TEST_SECRETS } from './province-fixture.js';

const NOW = new Date('2026-11-30T04:05:01.000Z');
const clock = { now: () => NOW };
const profile = sampleProfile('national');
const CASE = '370102-2026-000123';
const service = servicePayload(profile, ratedRecord(), CASE);
const evaluation = evaluationPayload(profile, { record: ratedRecord(), caseNo: CASE }, { catalog: CATALOG });
if (!evaluation) throw new Error('the fixture is rated');

type Call = { url: string; init: RequestInit };

/** A fetch that answers each call with the next of `answers` (a Response, or an error to throw). */
function fakeFetch(...answers: (Response | Error | (() => Response))[]) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = answers.shift();
    if (next === undefined) throw new Error('no answer scripted');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

async function pushWith(...answers: (Response | Error)[]): Promise<{ answer: PushAnswer; calls: Call[] }> {
  const { fetch, calls } = fakeFetch(...answers);
  const client = httpProvinceClient({ profile, secrets: TEST_SECRETS, fetch, clock });
  return { answer: await client.push('evaluation', evaluation as NonNullable<typeof evaluation>), calls };
}

describe('the province client', () => {
  it('posts the signed envelope to the phase’s endpoint', async () => {
    const { fetch, calls } = fakeFetch(json({ code: '0', success: 'true', msg: '成功' }), json({ code: 0, success: true, message: 'ok' }));
    const client = httpProvinceClient({ profile, secrets: TEST_SECRETS, fetch, clock });
    expect(await client.push('service', service)).toEqual({ kind: 'delivered', answer: { code: '0', success: true, message: '成功' } });
    expect((await client.push('evaluation', evaluation)).kind).toBe('delivered');
    expect(calls.map((c) => c.url)).toEqual([profile.endpoints.service, profile.endpoints.evaluation]);
    const first = calls[0] as Call;
    expect(first.init.method).toBe('POST');
    expect(first.init.redirect).toBe('manual');
    expect((first.init.headers as Record<string, string>)['content-type']).toBe('application/json; charset=utf-8');
    const envelope = JSON.parse(String(first.init.body)) as { appMark: string; time: string; sign: string; data: unknown };
    expect(Object.keys(envelope)).toEqual(['appMark', 'time', 'sign', 'data']);
    expect(envelope).toMatchObject({ appMark: 'HCP-HALL-0001', time: '20261130120501', data: service });
    expect(sm2Verify(signedText(envelope.time, envelope.appMark, TEST_SECRETS.appWord), envelope.sign, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(true);
    expect(String(first.init.body)).not.toContain(TEST_SECRETS.appWord);
  });

  it('a refusal matching a duplicate pattern counts as delivered, in a 200 or a 4xx', async () => {
    expect((await pushWith(json({ code: '500', success: 'false', msg: '本次服务已存在评价，请勿重复提交' }))).answer).toMatchObject({ kind: 'duplicate', message: '本次服务已存在评价，请勿重复提交' });
    expect((await pushWith(json({ code: 'E409', success: false, msg: '已存在评价' }, 409))).answer.kind).toBe('duplicate');
  });

  it('a refusal is rejected with the province’s code and message', async () => {
    expect((await pushWith(json({ code: '1002', success: 'false', msg: '差评必须填写原因' }))).answer).toEqual({
      kind: 'rejected',
      code: '1002',
      message: '差评必须填写原因',
      answer: { code: '1002', success: false, message: '差评必须填写原因' },
    });
    // code 0 without success is not success.
    expect((await pushWith(json({ code: '0', success: 'false', msg: '' }))).answer).toMatchObject({ kind: 'rejected', code: '0', message: 'code 0' });
    expect((await pushWith(json({ code: '4001', success: 'false', msg: '签名验证失败' }, 400))).answer).toMatchObject({ kind: 'rejected', code: '4001', message: '签名验证失败' });
    expect((await pushWith(new Response('<html>Forbidden</html>', { status: 403 }))).answer).toEqual({
      kind: 'rejected',
      code: 'HTTP 403',
      message: '<html>Forbidden</html>',
      answer: { code: 'HTTP 403', success: false, message: '<html>Forbidden</html>', status: 403 },
    });
  });

  it('keeps the answer’s other fields for the operator', async () => {
    const { answer } = await pushWith(json({ code: '1003', success: 'false', msg: 'x', data: { field: 'evalDetail' } }));
    expect(answer).toMatchObject({ kind: 'rejected', answer: { data: { field: 'evalDetail' } } });
  });

  it.each([
    ['HTTP 500', () => new Response('oops', { status: 500 }), /^HTTP 500: oops$/],
    ['HTTP 503', () => json({ code: '-1', success: 'false' }, 503), /^HTTP 503/],
    ['HTTP 408', () => new Response('', { status: 408 }), /^HTTP 408$/],
    ['a redirect', () => new Response(null, { status: 302, headers: { location: 'https://sso.example/login' } }), /HTTP 302: .*redirect to https:\/\/sso\.example\/login/],
    ['not JSON', () => new Response('<html>gateway</html>', { status: 200 }), /malformed answer: not JSON: <html>gateway<\/html>/],
    ['JSON without code', () => json({ ok: true }), /malformed answer: not \{code, success, msg\}: code: required/],
    ['an answer of 100 KB', () => new Response('x'.repeat(100_000)), /over 65536 bytes/],
    ['a network error', () => new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), /evaluation endpoint unreachable: fetch failed \(ECONNREFUSED\)/],
  ])('%s is transient', async (_what, make, message) => {
    const made = make();
    const { answer } = await pushWith(made);
    expect(answer.kind).toBe('transient');
    expect(answer.kind === 'transient' && answer.message).toMatch(message);
  });

  it('429 and 503 carry the province’s Retry-After, in seconds or as a date', async () => {
    expect((await pushWith(new Response('slow down', { status: 429, headers: { 'retry-after': '30' } }))).answer).toEqual({ kind: 'transient', message: 'HTTP 429: slow down', retryAfterMs: 30_000 });
    const date = new Date(NOW.getTime() + 90_000).toUTCString();
    expect((await pushWith(new Response('', { status: 503, headers: { 'retry-after': date } }))).answer).toMatchObject({ retryAfterMs: 90_000 });
    expect((await pushWith(new Response('', { status: 429, headers: { 'retry-after': 'soon' } }))).answer).not.toHaveProperty('retryAfterMs');
  });

  it('reads Retry-After within bounds', () => {
    expect(retryAfter(null, NOW)).toBeUndefined();
    expect(retryAfter('0', NOW)).toBe(0);
    expect(retryAfter('9999999999', NOW)).toBe(86_400_000);
    expect(retryAfter(new Date(NOW.getTime() - 5000).toUTCString(), NOW)).toBe(0);
    expect(retryAfter('12', NOW)).toBe(12_000);
    expect(retryAfter('-3', NOW)).toBeUndefined();
  });

  it('gives up on a call past http.timeoutMs (transient), and clears its timer otherwise', async () => {
    const timers = new ManualTimers();
    const hanging = vi.fn(
      (_url: string | URL | Request, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const client = httpProvinceClient({ profile, secrets: TEST_SECRETS, fetch: hanging as unknown as typeof fetch, clock, timers });
    const pending = client.push('service', service);
    await vi.waitFor(() => expect(hanging).toHaveBeenCalled());
    timers.advance(profile.http.timeoutMs - 1);
    timers.advance(1);
    expect(await pending).toEqual({ kind: 'transient', message: `no answer from the service endpoint within ${profile.http.timeoutMs} ms` });

    const { fetch } = fakeFetch(json({ code: '0', success: 'true' }));
    const set = vi.spyOn(timers, 'setTimeout');
    const cleared = vi.spyOn(timers, 'clearTimeout');
    const quick = httpProvinceClient({ profile, secrets: TEST_SECRETS, fetch, clock, timers });
    expect((await quick.push('service', service)).kind).toBe('delivered');
    expect(cleared).toHaveBeenCalledWith(set.mock.results[0]?.value);
    expect(timers.cancel(set.mock.results[0]?.value)).toBe(false);
  });
});

describe('the province client over real HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const labProfile = (base: string, timeoutMs = 15_000) =>
    parseProvinceProfile({ ...structuredClone(profile), allowInsecureHttp: true, endpoints: { service: `${base}/service`, evaluation: `${base}/evaluation` }, http: { ...profile.http, timeoutMs } });

  it('posts JSON a node:http server reads, and reads its answer', async () => {
    const bodies: unknown[] = [];
    const base = await serve((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        bodies.push({ url: req.url, type: req.headers['content-type'], envelope: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
        res.end(JSON.stringify({ code: '0', success: 'true', msg: '推送成功' }));
      });
    });
    const client = httpProvinceClient({ profile: labProfile(base), secrets: TEST_SECRETS, clock });
    expect(await client.push('evaluation', evaluation)).toMatchObject({ kind: 'delivered', answer: { message: '推送成功' } });
    expect(bodies).toEqual([{ url: '/evaluation', type: 'application/json; charset=utf-8', envelope: expect.objectContaining({ data: evaluation }) }]);
  });

  it('times out on a server that never answers, and on one that stops mid-answer', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/evaluation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"code":');
      }
      // /service: never answers at all.
    });
    const client = httpProvinceClient({ profile: labProfile(base, 200), secrets: TEST_SECRETS, clock });
    expect(await client.push('service', service)).toMatchObject({ kind: 'transient', message: /no answer from the service endpoint within 200 ms/ });
    expect(await client.push('evaluation', evaluation)).toMatchObject({ kind: 'transient', message: /within 200 ms/ });
    server?.closeAllConnections();
  });

  it('a closed port is transient', async () => {
    const base = await serve(() => undefined);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const client = httpProvinceClient({ profile: labProfile(base), secrets: TEST_SECRETS, clock });
    expect(await client.push('service', service)).toMatchObject({ kind: 'transient', message: /service endpoint unreachable: fetch failed \(ECONNREFUSED\)/ });
  });
});
