import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/config.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { maskCaseNo } from '../../gateway/rate-later/pages.js';
import { startRateLaterHttp, type RateLaterDeps, type RateLaterHttp } from '../../gateway/rate-later/rate-later-http.js';
import { MAX_OFFERED } from '../../gateway/rate-later/window-cases.js';
import { hallCodeSchema, readWindowSign, windowNoSchema, windowSignUrl } from '../../gateway/rate-later/window-sign.js';
import type { InvitationRecord, Service } from '../../protocol/records.js';
import { approvedTerminal, CATALOG, emptyRateLaterTables, FOOD, openRateLaterDb, receiptUrl, storeInvitation, type TestTerminal } from './rate-later-fixture.js';

/**
 * The rate-later page behind a window's static QR sign (`?hall=…&window=…`), over real HTTP on
 * PGlite: which cases it lists (the window's, closed not rated at the counter within the last
 * windowRecentMinutes, not rated since; masked, newest first, at most 10), the rating of one
 * (stored via window_sign, once per case), and the POSTs it refuses because the case is not on
 * the list (another window, too old, rated, never offered).
 */

const NOW = new Date('2026-11-22T02:30:00Z'); // 10:30 in the hall
const MIN = 60_000;
const HALL = 'XH-ZWFW';
const clock = { now: () => NOW };

let db: PgliteDatabase;
let page: RateLaterHttp;
const servers: RateLaterHttp[] = [];
let terminal: TestTerminal;
let caseSeq = 0;

async function start(deps: Partial<RateLaterDeps> = {}): Promise<RateLaterHttp> {
  const server = await startRateLaterHttp({ db, host: '127.0.0.1', port: 0, reasonCatalog: () => CATALOG, followUpAllowed: false, instance: 'gw-test', clock, rateLimiter: { take: () => ({ ok: true }) }, ...deps });
  servers.push(server);
  return server;
}

/** A terminal registered at a hall's window (the place the sign's list reads the hall's area from). */
async function placedTerminal(id: string, hallCode = HALL, windowNo = 'A03'): Promise<TestTerminal> {
  const t = await approvedTerminal(db, id);
  await db.query('UPDATE terminals SET area_code = $2, hall_code = $3, window_no = $4 WHERE terminal_id = $1', [id, '330106', hallCode, windowNo]);
  return t;
}

/** An invitation closed `minutesAgo` before NOW; its case numbers are unique. */
async function closed(minutesAgo: number, fields: { outcome?: InvitationRecord['outcome']; test?: boolean; windowNo?: string; hallCode?: string; by?: TestTerminal; services?: Service[]; itemName?: string } = {}): Promise<InvitationRecord> {
  caseSeq += 1;
  const services = fields.services ?? [{ ...FOOD, ...(fields.itemName && { itemName: fields.itemName }), caseNo: `3301062026112200${String(caseSeq).padStart(2, '0')}` }];
  return storeInvitation(db, fields.by ?? terminal, {
    id: uuidv7(),
    closedAt: new Date(NOW.getTime() - minutesAgo * MIN),
    services,
    ...(fields.outcome && { outcome: fields.outcome }),
    ...(fields.test && { test: true }),
    ...(fields.windowNo && { windowNo: fields.windowNo }),
    ...(fields.hallCode && { hallCode: fields.hallCode }),
  });
}

const signUrl = (on: RateLaterHttp = page, windowNo = 'A03', hallCode = HALL): string => windowSignUrl(`${on.url}/rate`, { hallCode, windowNo });
const caseUrl = (invitationId: string, on: RateLaterHttp = page, windowNo = 'A03'): string => `${signUrl(on, windowNo)}&case=${invitationId}`;

async function get(url: string): Promise<{ status: number; html: string }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, html: await res.text() };
}

function post(url: string, fields: Array<[string, string]>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
}

const titleOf = (html: string): string | undefined => /data-testid="title">([^<]*)</.exec(html)?.[1];
const listed = (html: string): Array<{ href: string; item: string; time: string; caseNo: string }> =>
  [...html.matchAll(/<a href="([^"]*)" data-testid="case-link"><b data-testid="case-item">([^<]*)<\/b><span>办结 <time data-testid="case-time">([^<]*)<\/time> · 办件编号 <span data-testid="case-no">([^<]*)<\/span>/g)].map((m) => ({
    href: m[1]!.replace(/&amp;/g, '&'),
    item: m[2]!,
    time: m[3]!,
    caseNo: m[4]!,
  }));
const laterRatings = async () =>
  (await db.query<{ case_no: string; invitation_id: string; terminal_id: string; assess_number: number; grade: string; reasons: string[]; via: string; receipt_issued_at: Date; rated_at: Date }>('SELECT * FROM later_ratings ORDER BY case_no')).rows;

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
  terminal = await placedTerminal('T-330106-A03');
});

describe("the window sign's page", () => {
  it("lists only this window's cases closed not rated in the last 15 minutes and not rated since: item, HH:mm, the case masked but its last 4, newest first", async () => {
    const older = await closed(10, { itemName: '营业执照变更' });
    const newer = await closed(2);
    // Not listed: too old, rated at the counter, cancelled, a test, another window, another hall, a revoked terminal's.
    await closed(16);
    await closed(1, { outcome: 'rated' });
    await closed(1, { outcome: 'cancelled' });
    await closed(1, { test: true });
    await closed(1, { by: await placedTerminal('T-330106-A04', HALL, 'A04'), windowNo: 'A04' });
    await closed(1, { by: await placedTerminal('T-330106-B01', 'BJ-ZWFW', 'A03'), hallCode: 'BJ-ZWFW' });
    await closed(1, { by: await placedTerminal('T-330106-A03-old') });
    await db.query("UPDATE terminals SET status = 'revoked' WHERE terminal_id = 'T-330106-A03-old'");
    // Superseded: the replaced record is not listed; its replacement by what it says (rated: not listed).
    const replaced = await closed(3);
    await storeInvitation(db, terminal, { id: uuidv7(), closedAt: new Date(NOW.getTime() - 3 * MIN), outcome: 'rated', supersedes: replaced.id, services: replaced.services });
    // Rated here already (from its receipt).
    const viaReceipt = await closed(4);
    const receipt = receiptUrl(`${page.url}/rate`, terminal, { invitationId: viaReceipt.id, caseNos: [viaReceipt.services[0]!.caseNo], issuedAt: NOW });
    expect((await post(receipt, [['grade', 'satisfied']])).status).toBe(303);

    const { status, html } = await get(signUrl());
    expect([status, titleOf(html)]).toEqual([200, '窗口服务评价']);
    expect(html).toContain(`<dd data-testid="hall">${HALL}</dd>`);
    expect(html).toContain('<dd data-testid="window">A03</dd>');
    expect(listed(html)).toEqual([
      { href: `?hall=${HALL}&window=A03&case=${newer.id}`, item: FOOD.itemName, time: '10:28', caseNo: `****${newer.services[0]!.caseNo.slice(-4)}` },
      { href: `?hall=${HALL}&window=A03&case=${older.id}`, item: '营业执照变更', time: '10:20', caseNo: `****${older.services[0]!.caseNo.slice(-4)}` },
    ]);
    // No case number in full, no staff.
    for (const r of [newer, older]) expect(html).not.toContain(r.services[0]!.caseNo);
    expect(html).not.toContain('S1001');
    expect(html).not.toMatch(/<script|<img|src=|https?:\/\//);
  });

  it(`shows at most ${MAX_OFFERED}, the newest; none: says so`, async () => {
    expect(listed((await get(signUrl())).html)).toEqual([]);
    expect((await get(signUrl())).html).toContain('本窗口最近 15 分钟内没有待评价的服务。');
    const records = [];
    for (let i = 0; i < 12; i++) records.push(await closed(12 - i)); // 12 minutes ago … 1 minute ago
    const shown = listed((await get(signUrl())).html);
    expect(shown.map((s) => s.href.split('case=')[1])).toEqual(records.slice(2).reverse().map((r) => r.id));
  });

  it('the window is rateLater.windowRecentMinutes (default 15; 1 to 1440)', async () => {
    await closed(20);
    expect(listed((await get(signUrl())).html)).toHaveLength(0);
    const longer = await start({ windowRecentMinutes: 30 });
    expect(listed((await get(signUrl(longer))).html)).toHaveLength(1);
    await expect(start({ windowRecentMinutes: 0 })).rejects.toThrow(/windowRecentMinutes/);
    const base = { mqtt: { url: 'mqtt://127.0.0.1:1883' }, database: { dataDir: '/tmp/x' }, rateLater: { publicUrl: 'https://hall.example.gov.cn/rate' } };
    expect(parseGatewayConfig(base).rateLater?.windowRecentMinutes).toBe(15);
    expect(() => parseGatewayConfig({ ...base, rateLater: { ...base.rateLater, windowRecentMinutes: 0 } })).toThrow();
  });

  it('a tapped case: the rating form with the case masked; rated: stored via window_sign (assessNumber 1, its terminal and invitation), the thanks page, then gone from the list and "already rated"', async () => {
    const record = await closed(5);
    const caseNo = record.services[0]!.caseNo;
    const form = await get(caseUrl(record.id));
    expect([form.status, titleOf(form.html)]).toEqual([200, '请您对本次服务进行评价']);
    expect(form.html).toContain(`<dd data-testid="case">${maskCaseNo(caseNo)}</dd>`);
    expect(form.html).not.toContain(caseNo);
    for (const r of CATALOG.reasons) expect(form.html).toContain(`value="${r.code}"><span>${r.label}</span>`);
    expect(form.html).toContain(`href="?hall=${HALL}&amp;window=A03" data-testid="back"`);

    const res = await post(caseUrl(record.id), [['grade', 'very_dissatisfied'], ['reason', 'R01']]);
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^\\?hall=${HALL}&window=A03&case=${record.id}&done=[0-9a-f-]{36}$`));
    expect(await laterRatings()).toEqual([
      expect.objectContaining({ case_no: caseNo, invitation_id: record.id, terminal_id: terminal.id, assess_number: 1, grade: 'very_dissatisfied', reasons: ['R01'], via: 'window_sign', receipt_issued_at: new Date(record.closedAt), rated_at: NOW }),
    ]);
    const thanks = await get(new URL(location, caseUrl(record.id)).toString());
    expect([thanks.status, titleOf(thanks.html)]).toEqual([200, '感谢您的评价']);
    expect(listed((await get(signUrl())).html)).toEqual([]);
    const again = await post(caseUrl(record.id), [['grade', 'very_satisfied']]);
    expect([again.status, titleOf(await again.text())]).toEqual([409, '本次服务已评价']);
    // Its receipt too says it is rated.
    const receipt = receiptUrl(`${page.url}/rate`, terminal, { invitationId: record.id, caseNos: [caseNo], issuedAt: NOW });
    expect((await get(receipt)).status).toBe(409);
    expect(await laterRatings()).toHaveLength(1);
  });

  it('a batch: one entry naming each item and masked case, one rating for every case', async () => {
    const record = await closed(3, { services: [FOOD, { itemCode: '330106-XK-0031', itemName: '营业执照变更', caseNo: '330106202611229999' }] });
    const [entry] = listed((await get(signUrl())).html);
    expect(entry).toMatchObject({ item: `${FOOD.itemName}、营业执照变更`, caseNo: `****${FOOD.caseNo.slice(-4)}、****9999` });
    expect((await post(caseUrl(record.id), [['grade', 'satisfied']])).status).toBe(303);
    expect((await laterRatings()).map((r) => [r.case_no, r.via])).toEqual([
      [FOOD.caseNo, 'window_sign'],
      ['330106202611229999', 'window_sign'],
    ]);
  });

  it('refuses a case not on the list with the page that says why, storing nothing: another window, too old, rated at the counter, rated already, a test, unknown', async () => {
    const refused = async (url: string): Promise<[number, string | undefined, boolean]> => {
      const shown = await get(url);
      const res = await post(url, [['grade', 'very_satisfied']], { 'sec-fetch-site': 'same-origin' });
      const html = await res.text();
      expect([res.status, titleOf(html)]).toEqual([shown.status, titleOf(shown.html)]);
      return [res.status, titleOf(html), html.includes('data-testid="back"')];
    };
    const notOffered: [number, string, boolean] = [404, '无法评价此服务', true];
    const otherWindow = await closed(1, { by: await placedTerminal('T-330106-A04', HALL, 'A04'), windowNo: 'A04' });
    expect(await refused(caseUrl(otherWindow.id))).toEqual(notOffered);
    expect(await refused(`${signUrl(page, 'A03', 'BJ-ZWFW')}&case=${(await closed(1)).id}`)).toEqual(notOffered);
    expect(await refused(caseUrl((await closed(16)).id))).toEqual([410, '已超过窗口评价时间', true]);
    expect(await refused(caseUrl((await closed(1, { outcome: 'rated' })).id))).toEqual([409, '本次服务已评价', false]);
    expect(await refused(caseUrl((await closed(1, { outcome: 'cancelled' })).id))).toEqual(notOffered);
    expect(await refused(caseUrl((await closed(1, { test: true })).id))).toEqual(notOffered);
    expect(await refused(caseUrl(uuidv7()))).toEqual(notOffered);
    expect(await refused(caseUrl('not-a-uuid'))).toEqual(notOffered);
    const twice = await closed(1);
    expect(await refused(`${caseUrl(twice.id)}&case=${twice.id}`)).toEqual(notOffered);
    expect(await laterRatings()).toEqual([]);
    // Rated from its receipt meanwhile: already rated.
    const rated = await closed(2);
    const receipt = receiptUrl(`${page.url}/rate`, terminal, { invitationId: rated.id, caseNos: [rated.services[0]!.caseNo], issuedAt: NOW });
    expect((await post(receipt, [['grade', 'satisfied']])).status).toBe(303);
    expect(await refused(caseUrl(rated.id))).toEqual([409, '本次服务已评价', false]);
    expect((await laterRatings()).map((r) => r.via)).toEqual(['receipt']);
    // A POST to the list itself, or from another site.
    expect((await post(signUrl(), [['grade', 'satisfied']])).status).toBe(400);
    expect((await post(caseUrl(twice.id), [['grade', 'satisfied']], { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await laterRatings()).map((r) => r.via)).toEqual(['receipt']);
  });

  it('a form without a grade is sent back; a done id not of this case shows no thanks', async () => {
    const record = await closed(1);
    const none = await post(caseUrl(record.id), [['reason', 'R01']]);
    expect(none.status).toBe(400);
    expect(await none.text()).toContain('请选择一个评价等级后再提交。');
    expect(titleOf((await get(`${caseUrl(record.id)}&done=${uuidv7()}`)).html)).toBe('请您对本次服务进行评价');
    expect(await laterRatings()).toEqual([]);
  });

  it('the window alone (no hall), or a malformed hall or window: the landing page, as before', async () => {
    await closed(1);
    for (const query of ['window=A03', `hall=${HALL}`, `hall=${HALL}&window=%20A03`, `hall=${HALL}&hall=X&window=A03`, `hall=&window=A03`]) {
      const { status, html } = await get(`${page.url}/rate?${query}`);
      expect([status, titleOf(html)], query).toEqual([200, '服务评价']);
      expect(listed(html)).toEqual([]);
    }
  });
});

describe('the sign URL', () => {
  it('sets hall and window on the public URL (replacing any given), and reads them back', () => {
    const url = windowSignUrl('https://hall.example.gov.cn/rate?window=B9&src=sign', { hallCode: 'XH ZWFW&1', windowNo: '3号窗口' });
    expect(url).toBe('https://hall.example.gov.cn/rate?window=3%E5%8F%B7%E7%AA%97%E5%8F%A3&src=sign&hall=XH+ZWFW%261');
    expect(readWindowSign(new URL(url).searchParams)).toEqual({ hallCode: 'XH ZWFW&1', windowNo: '3号窗口' });
    expect(readWindowSign(new URLSearchParams('hall=H&window=W'))).toEqual({ hallCode: 'H', windowNo: 'W' });
    expect(readWindowSign(new URLSearchParams(`hall=H&window=${'W'.repeat(17)}`))).toBeUndefined();
    expect(readWindowSign(new URLSearchParams('hall=H%0A&window=W'))).toBeUndefined();
  });

  it('reads back any hall and window a sign can carry, whatever the base URL already has in its query', () => {
    const text = (max: number) => fc.string({ unit: fc.oneof(fc.constantFrom('&', '=', '?', '#', '+', '%', ' ', '号', '窗', '\n'), fc.string({ minLength: 1, maxLength: 1 })), minLength: 1, maxLength: max });
    fc.assert(
      fc.property(text(64), text(16), fc.string({ maxLength: 30 }), (hallCode, windowNo, extra) => {
        fc.pre(hallCodeSchema.safeParse(hallCode).success && windowNoSchema.safeParse(windowNo).success);
        const base = `https://hall.example.gov.cn/rate?${new URLSearchParams({ window: extra, x: extra }).toString()}`;
        expect(readWindowSign(new URL(windowSignUrl(base, { hallCode, windowNo })).searchParams)).toEqual({ hallCode, windowNo });
      }),
      { seed: 20261130, numRuns: 300 },
    );
  });

  it('masks a case number but its last 4 characters; a short one entirely', () => {
    expect(maskCaseNo('330106202611220001')).toBe('****0001');
    expect(maskCaseNo('AB12')).toBe('****');
    expect(maskCaseNo('办件编号一二三四五')).toBe('****二三四五');
  });
});
