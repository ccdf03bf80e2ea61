import { Writable } from 'node:stream';
import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { CONTENT_SECURITY_POLICY } from '../../gateway/rate-later/pages.js';
import { startRateLaterHttp, type RateLaterDeps, type RateLaterHttp } from '../../gateway/rate-later/rate-later-http.js';
import { TokenBucketLimiter } from '../../gateway/rate-later/rate-limit.js';
import { testIdentity } from '../support/terminal-key.js';
import { approvedTerminal, CATALOG, emptyRateLaterTables, FOOD, openRateLaterDb, putTerminal, receiptUrl, storeInvitation, type TestTerminal } from './rate-later-fixture.js';

/**
 * The rate-later page over real HTTP on a real database (PGlite): each page a receipt can lead
 * to, the rules of one rating per case, the follow-up, the period, and what the server refuses.
 */

const CLOSED = new Date('2026-11-22T02:30:00Z'); // 10:30 in the hall
const DAY = 86_400_000;
let now = new Date(CLOSED.getTime() + 3600_000);
const clock = { now: () => now };
const logLines: string[] = [];
const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (logLines.push(String(chunk)), done()) }));

let db: PgliteDatabase;
const servers: RateLaterHttp[] = [];
let page: RateLaterHttp;
let terminal: TestTerminal;

async function start(deps: Partial<RateLaterDeps> = {}): Promise<RateLaterHttp> {
  const server = await startRateLaterHttp({
    db,
    host: '127.0.0.1',
    port: 0,
    reasonCatalog: () => CATALOG,
    followUpAllowed: false,
    instance: 'gw-test',
    clock,
    logger,
    rateLimiter: { take: () => ({ ok: true }) },
    ...deps,
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  db = await openRateLaterDb();
  page = await start();
}, 30_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await db.close();
});
beforeEach(async () => {
  await emptyRateLaterTables(db);
  now = new Date(CLOSED.getTime() + 3600_000);
  logLines.length = 0;
  terminal = await approvedTerminal(db);
});

/** An invitation stored and its receipt's URL on `server`. */
async function receipt(fields: Partial<Parameters<typeof storeInvitation>[2]> & { stored?: boolean; on?: RateLaterHttp; issuedAt?: Date } = {}): Promise<{ url: string; id: string }> {
  const id = fields.id ?? uuidv7();
  const services = fields.services ?? [FOOD];
  if (fields.stored !== false) await storeInvitation(db, terminal, { closedAt: CLOSED, ...fields, id, services });
  return { id, url: receiptUrl(`${(fields.on ?? page).url}/rate?src=receipt`, terminal, { invitationId: id, caseNos: services.map((s) => s.caseNo), issuedAt: fields.issuedAt ?? CLOSED }) };
}

async function get(url: string): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

function post(url: string, fields: Array<[string, string]>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
}

const laterRatings = async () =>
  (await db.query<{ case_no: string; assess_number: number; grade: string; reasons: string[]; reason_catalog: string | null; instance: string; receipt_issued_at: Date; rated_at: Date; terminal_id: string }>('SELECT * FROM later_ratings ORDER BY case_no')).rows;

const titleOf = (html: string): string | undefined => /data-testid="title">([^<]*)</.exec(html)?.[1];

describe('the rate-later page', () => {
  it('shows the service from the stored invitation (item, case, hall, window, date; no staff), five grades and the reasons, under a strict CSP', async () => {
    const { url } = await receipt();
    const { status, html, headers } = await get(url);
    expect(status).toBe(200);
    expect(titleOf(html)).toBe('请您对本次服务进行评价');
    expect(html).toContain('食品经营许可（330106-XK-0012）');
    expect(html).toContain('<dd data-testid="case">330106202611220001</dd>');
    expect(html).toContain('<dd data-testid="hall">XH-ZWFW</dd>');
    expect(html).toContain('<dd data-testid="window">A03</dd>');
    expect(html).toContain('2026年11月22日');
    expect(html).not.toContain('S1001');
    for (const zh of ['非常满意', '满意', '基本满意', '不满意', '非常不满意']) expect(html).toContain(`>${zh}</span>`);
    for (const r of CATALOG.reasons) expect(html).toContain(`value="${r.code}"><span>${r.label}</span>`);
    expect(html).not.toMatch(/<script|<img|<link|src=|https?:\/\//);
    expect(headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; form-action 'self'/);
    expect(headers.get('referrer-policy')).toBe('no-referrer');
    expect(headers.get('cache-control')).toBe('no-store');
    expect(headers.get('x-frame-options')).toBe('DENY');
  });

  it('a bad grade with a reason: stored once (assessNumber 1, the catalogue version, this instance), then redirected to the thanks page; again: already rated', async () => {
    const { url, id } = await receipt();
    now = new Date(CLOSED.getTime() + 2 * DAY);
    const res = await post(url, [['grade', 'dissatisfied'], ['reason', 'R02'], ['reason', 'R02']]);
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\?src=receipt&v=1&t=T-330106-A03&.*&done=[0-9a-f-]{36}$/);
    expect(await laterRatings()).toEqual([
      expect.objectContaining({ case_no: FOOD.caseNo, assess_number: 1, grade: 'dissatisfied', reasons: ['R02'], reason_catalog: CATALOG.version, instance: 'gw-test', terminal_id: terminal.id, receipt_issued_at: CLOSED, rated_at: now }),
    ]);
    const { rows } = await db.query<{ invitation_id: string }>('SELECT invitation_id FROM later_ratings');
    expect(rows[0]!.invitation_id).toBe(id);
    const thanks = await get(new URL(location, url).toString());
    expect([thanks.status, titleOf(thanks.html)]).toEqual([200, '感谢您的评价']);
    // A reload of the thanks page stores nothing again.
    expect(titleOf((await get(new URL(location, url).toString())).html)).toBe('感谢您的评价');
    const again = await get(url);
    expect([again.status, titleOf(again.html)]).toEqual([409, '本次服务已评价']);
    const twice = await post(url, [['grade', 'very_satisfied']]);
    expect(twice.status).toBe(409);
    expect(await laterRatings()).toHaveLength(1);
    // Logged, without what was pressed.
    const stored = logLines.filter((l) => l.includes('rating stored'));
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toMatch(/dissatisfied|不满意|R02/);
  });

  it('a good grade drops reasons ticked before; a done id not of this receipt shows no thanks', async () => {
    const { url } = await receipt();
    expect((await post(url, [['grade', 'satisfied'], ['reason', 'R01']])).status).toBe(303);
    expect(await laterRatings()).toEqual([expect.objectContaining({ grade: 'satisfied', reasons: [], reason_catalog: null })]);
    expect(titleOf((await get(`${url}&done=${uuidv7()}`)).html)).toBe('本次服务已评价');
  });

  it('rated at the counter: "already rated" unless the profile allows a follow-up, which is stored as assessNumber 2, once', async () => {
    const { url } = await receipt({ outcome: 'rated' });
    const counter = await get(url);
    expect([counter.status, titleOf(counter.html)]).toEqual([409, '本次服务已评价']);
    expect(counter.html).toContain('您已在窗口评价器上对本次服务作出评价');
    expect((await post(url, [['grade', 'very_satisfied']])).status).toBe(409);
    expect(await laterRatings()).toEqual([]);

    const followUps = await start({ followUpAllowed: true });
    const open = await get(url.replace(page.url, followUps.url));
    expect([open.status, titleOf(open.html)]).toEqual([200, '追加评价']);
    expect(open.html).toContain('data-testid="follow-up"');
    expect((await post(url.replace(page.url, followUps.url), [['grade', 'very_dissatisfied']])).status).toBe(303);
    expect(await laterRatings()).toEqual([expect.objectContaining({ assess_number: 2, grade: 'very_dissatisfied', reasons: [] })]);
    expect((await post(url.replace(page.url, followUps.url), [['grade', 'satisfied']])).status).toBe(409);
  });

  it('expires periodDays after the service (the record\'s close, not a reprint\'s date); the period is configurable', async () => {
    // Reprinted 6 days later: the period still counts from the service.
    const { url } = await receipt({ issuedAt: new Date(CLOSED.getTime() + 6 * DAY) });
    now = new Date(CLOSED.getTime() + 7 * DAY - 1000);
    expect((await get(url)).status).toBe(200);
    now = new Date(CLOSED.getTime() + 7 * DAY + 1000);
    const expired = await get(url);
    expect([expired.status, titleOf(expired.html)]).toEqual([410, '评价已过期']);
    expect((await post(url, [['grade', 'satisfied']])).status).toBe(410);
    const short = await start({ periodDays: 3 });
    now = new Date(CLOSED.getTime() + 3 * DAY + 1000);
    expect((await get(url.replace(page.url, short.url))).status).toBe(410);
    await expect(start({ periodDays: 0 })).rejects.toThrow(/periodDays/);
    expect(await laterRatings()).toEqual([]);
  });

  it('forged or altered receipts: another case, another key, a missing signature, another terminal\'s invitation, a case not in the invitation', async () => {
    const { url, id } = await receipt();
    const forged = async (u: string) => {
      const r = await get(u);
      return [r.status, titleOf(r.html)];
    };
    const refused = [403, '无法验证此回执'];
    expect(await forged(url.replace('c=330106202611220001', 'c=330106202611220009'))).toEqual(refused);
    expect(await forged(url.replace(/&s=[^&]+/, ''))).toEqual(refused);
    expect(await forged(url.replace('v=1', 'v=2'))).toEqual(refused);
    const mallory = { id: terminal.id, identity: testIdentity() };
    expect(await forged(receiptUrl(`${page.url}/`, mallory, { invitationId: id, caseNos: [FOOD.caseNo], issuedAt: CLOSED }))).toEqual(refused);
    // A genuine terminal signing for another terminal's invitation, or for a case the invitation did not have.
    const other = await approvedTerminal(db, 'T-330106-B01');
    expect(await forged(receiptUrl(`${page.url}/`, other, { invitationId: id, caseNos: [FOOD.caseNo], issuedAt: CLOSED }))).toEqual(refused);
    expect(await forged(receiptUrl(`${page.url}/`, terminal, { invitationId: id, caseNos: [FOOD.caseNo, 'X-1'], issuedAt: CLOSED }))).toEqual(refused);
    expect((await post(url.replace(/&s=[^&]+/, ''), [['grade', 'satisfied']])).status).toBe(403);
    expect(await laterRatings()).toEqual([]);
    expect(logLines.some((l) => l.includes('does not verify'))).toBe(true);
  });

  it('unknown codes: a terminal never seen, one still pending, one revoked', async () => {
    const { url } = await receipt();
    const unknown = [404, '未找到此回执'];
    const shown = async () => {
      const r = await get(url);
      return [r.status, titleOf(r.html)];
    };
    await db.query("UPDATE terminals SET status = 'revoked'");
    expect(await shown()).toEqual(unknown);
    await putTerminal(db, terminal.id, terminal.identity, 'pending');
    expect(await shown()).toEqual(unknown);
    const stranger = { id: 'T-NEVER-SEEN', identity: testIdentity() };
    const r = await get(receiptUrl(`${page.url}/`, stranger, { invitationId: uuidv7(), caseNos: ['C-1'], issuedAt: CLOSED }));
    expect([r.status, titleOf(r.html)]).toEqual(unknown);
  });

  it('a test receipt (a test record, or a self-test receipt) is shown as such and never stored', async () => {
    const { url } = await receipt({ test: true });
    expect(titleOf((await get(url)).html)).toBe('测试回执');
    expect((await post(url, [['grade', 'satisfied']])).status).toBe(200);
    const selftest = receiptUrl(`${page.url}/`, terminal, { invitationId: uuidv7(), caseNos: ['SELFTEST-0a1b2c3d'], issuedAt: CLOSED });
    expect(titleOf((await get(selftest)).html)).toBe('测试回执');
    expect(await laterRatings()).toEqual([]);
  });

  it('an invitation the gateway has not received yet: the receipt\'s own cases and date, rated as a first rating; a receipt dated far ahead is not believed', async () => {
    const { url } = await receipt({ stored: false });
    const shown = await get(url);
    expect(shown.status).toBe(200);
    expect(shown.html).toContain('data-testid="not-synced"');
    expect(shown.html).toContain(FOOD.caseNo);
    expect(shown.html).not.toContain('data-testid="hall"');
    expect((await post(url, [['grade', 'basically_satisfied']])).status).toBe(303);
    expect(await laterRatings()).toEqual([expect.objectContaining({ assess_number: 1, grade: 'basically_satisfied' })]);
    const ahead = await receipt({ stored: false, issuedAt: new Date(now.getTime() + 2 * DAY) });
    expect((await get(ahead.url)).status).toBe(403);
  });

  it('follows supersede: the receipt of a record a later report replaced takes the replacement\'s outcome', async () => {
    const { url, id } = await receipt({ outcome: 'not_rated' });
    await storeInvitation(db, terminal, { id: uuidv7(), closedAt: CLOSED, outcome: 'rated', supersedes: id });
    expect(titleOf((await get(url)).html)).toBe('本次服务已评价');
  });

  it('a batch receipt: one rating stored for every case; none if any case was rated already', async () => {
    const second = { ...FOOD, caseNo: '330106202611220002' };
    const { url } = await receipt({ services: [FOOD, second] });
    expect((await post(url, [['grade', 'very_satisfied']])).status).toBe(303);
    expect((await laterRatings()).map((r) => [r.case_no, r.grade])).toEqual([
      [FOOD.caseNo, 'very_satisfied'],
      [second.caseNo, 'very_satisfied'],
    ]);
    // Another invitation sharing one of the cases: already rated, and nothing of it stored.
    const third = { ...FOOD, caseNo: '330106202611220003' };
    const other = await receipt({ services: [second, third] });
    expect((await get(other.url)).status).toBe(409);
    expect((await post(other.url, [['grade', 'dissatisfied']])).status).toBe(409);
    expect(await laterRatings()).toHaveLength(2);
  });

  it('two submits at once, on two instances: the UNIQUE key lets exactly one through; the other gets "already rated"', async () => {
    const { url } = await receipt();
    const twin = await start({ instance: 'gw-twin' });
    const answers = await Promise.all([post(url, [['grade', 'satisfied']]), post(url.replace(page.url, twin.url), [['grade', 'dissatisfied']])]);
    expect(answers.map((a) => a.status).sort()).toEqual([303, 409]);
    expect(await laterRatings()).toHaveLength(1);
  });

  it('a form without a grade or with a reason not in the catalogue is sent back with the choices kept; wrong types and sizes are refused; nothing stored', async () => {
    const { url } = await receipt();
    const none = await post(url, [['reason', 'R01']]);
    expect(none.status).toBe(400);
    expect(await none.text()).toContain('请选择一个评价等级后再提交。');
    const twoGrades = await post(url, [['grade', 'satisfied'], ['grade', 'dissatisfied']]);
    expect(twoGrades.status).toBe(400);
    const stale = await post(url, [['grade', 'dissatisfied'], ['reason', 'R99']]);
    expect(stale.status).toBe(400);
    const html = await stale.text();
    expect(html).toContain('原因选项已更新，请重新选择。');
    expect(html).toContain('value="dissatisfied" required checked');
    const json = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grade":"satisfied"}' });
    expect(json.status).toBe(415);
    expect((await post(url, [['grade', 'satisfied'], ['pad', 'x'.repeat(5000)]])).status).toBe(413);
    expect((await fetch(url, { method: 'PUT' })).status).toBe(405);
    expect(await laterRatings()).toEqual([]);
  });

  it('a POST a browser marks as from another site is refused; its own form (Origin null under no-referrer) goes through', async () => {
    const { url } = await receipt();
    expect((await post(url, [['grade', 'satisfied']], { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(url, [['grade', 'satisfied']], { origin: 'https://evil.example' })).status).toBe(403);
    expect(await laterRatings()).toEqual([]);
    expect((await post(url, [['grade', 'satisfied']], { origin: 'null', 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    const viaProxy = await start({ publicUrl: 'https://hall.example.gov.cn/rate' });
    const other = await receipt({ on: viaProxy, services: [{ ...FOOD, caseNo: '330106202611220007' }] });
    expect((await post(other.url, [['grade', 'satisfied']], { origin: 'https://hall.example.gov.cn' })).status).toBe(303);
  });

  it('rate-limited per client address (X-Forwarded-For only when told it is behind a proxy)', async () => {
    const limited = await start({ rateLimiter: new TokenBucketLimiter({ burst: 2, perMinute: 1, clock }), trustForwardedFor: true });
    const { url } = await receipt({ on: limited });
    const from = (ip: string) => fetch(url, { headers: { 'x-forwarded-for': `203.0.113.9, ${ip}` } });
    expect((await from('198.51.100.1')).status).toBe(200);
    expect((await from('198.51.100.1')).status).toBe(200);
    const third = await from('198.51.100.1');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('60');
    expect(await third.text()).toContain('操作过于频繁');
    expect((await from('198.51.100.2')).status).toBe(200);
  });

  it('without a receipt: a page that says to scan one (naming the window of a window\'s QR sign, listing none of its cases); robots are kept out', async () => {
    const landing = await get(`${page.url}/`);
    expect([landing.status, titleOf(landing.html)]).toEqual([200, '服务评价']);
    const sign = await get(`${page.url}/rate?window=A03`);
    expect([sign.status, titleOf(sign.html)]).toEqual([200, '服务评价']);
    expect(sign.html).toContain('窗口：A03。');
    expect((await get(`${page.url}/rate?window=%3Cb%3E`)).html).not.toContain('窗口：');
    expect((await get(`${page.url}/robots.txt`)).html).toBe('User-agent: *\nDisallow: /\n');
    expect((await get(`${page.url}/favicon.ico`)).status).toBe(404);
  });

  it('escapes what the record says (an item name with markup is text)', async () => {
    const { url } = await receipt({ services: [{ itemCode: 'X<1>', itemName: '<script>alert(1)</script>', caseNo: 'C&1' }] });
    const { html } = await get(url);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;（X&lt;1&gt;）');
    expect(html).toContain('C&amp;1');
    expect(html).not.toContain('<script');
  });
});
