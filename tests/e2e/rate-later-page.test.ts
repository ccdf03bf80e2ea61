import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { startRateLaterHttp, type RateLaterHttp } from '../../gateway/rate-later/rate-later-http.js';
import { windowSignUrl } from '../../gateway/rate-later/window-sign.js';
import { launchChromium } from '../support/browser.js';
import { approvedTerminal, CATALOG, FOOD, openRateLaterDb, receiptUrl, storeInvitation, type TestTerminal } from '../unit/rate-later-fixture.js';

/**
 * The rate-later page as a citizen meets it: a phone (390×844) with JavaScript off opens a
 * receipt's signed URL, rates 不满意 with a reason and sees the thanks; a reload sends nothing
 * again; expired and forged receipts get their own pages; from a window's sign, the citizen
 * taps their case on the window's list and rates it. Set HCP_SCREENSHOTS=1 to write
 * docs/rate-later.png.
 */
const PHONE = { width: 390, height: 844 };
const CLOSED = new Date('2026-11-22T02:30:00Z');
const DAY = 86_400_000;
let now = new Date(CLOSED.getTime() + 2 * 3600_000);

const dir = mkdtempSync(join(tmpdir(), 'hcp-rate-later-'));
let db: PgliteDatabase;
let server: RateLaterHttp;
let browser: Browser;
let terminal: TestTerminal;
const contexts: BrowserContext[] = [];
/** What Chromium refused on the page: its CSP must not cost it its style sheet. */
const refusals: string[] = [];

beforeAll(async () => {
  db = await openRateLaterDb();
  terminal = await approvedTerminal(db);
  [server, browser] = await Promise.all([
    startRateLaterHttp({ db, host: '127.0.0.1', port: 0, reasonCatalog: CATALOG, followUpAllowed: false, instance: 'gw-e2e', clock: { now: () => now } }),
    launchChromium(),
  ]);
}, 30_000);
afterEach(async () => {
  await Promise.allSettled(contexts.splice(0).map((c) => c.close()));
  expect(refusals.splice(0)).toEqual([]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function phone(): Promise<Page> {
  // JavaScript off: the page must work as a plain form.
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', javaScriptEnabled: false });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refusals.push(message.text());
  });
  return page;
}

async function storedReceipt(caseNo: string): Promise<string> {
  const id = uuidv7();
  await storeInvitation(db, terminal, { id, closedAt: CLOSED, services: [{ ...FOOD, caseNo }] });
  return receiptUrl(`${server.url}/rate?src=receipt`, terminal, { invitationId: id, caseNos: [caseNo], issuedAt: CLOSED });
}

describe('rate-later page on a phone', () => {
  it('rates 不满意 with a reason, without JavaScript: the thanks page, once', async () => {
    const url = await storedReceipt('330106202611220001');
    const page = await phone();
    await page.goto(url);
    await expect(page.getByTestId('title').textContent()).resolves.toBe('请您对本次服务进行评价');
    await expect(page.getByTestId('item').textContent()).resolves.toBe('食品经营许可（330106-XK-0012）');
    await expect(page.getByTestId('window').textContent()).resolves.toBe('A03');
    await expect(page.getByTestId('date').textContent()).resolves.toBe('2026年11月22日');

    // Phone-sized: five buttons across the screen, each big enough for a thumb; the style sheet applied (the CSP allowed it).
    for (const grade of ['very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied']) {
      const box = await page.getByTestId(`grade-${grade}`).boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.height).toBeGreaterThanOrEqual(48);
    }
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    // The reasons show only once a bad grade is chosen (CSS alone).
    await expect(page.getByTestId('reasons').isVisible()).resolves.toBe(false);
    await page.getByTestId('grade-satisfied').click();
    await expect(page.getByTestId('reasons').isVisible()).resolves.toBe(false);
    await page.getByTestId('grade-dissatisfied').click();
    await page.getByTestId('reasons').waitFor({ state: 'visible' });
    await page.getByText('服务态度不好').click();
    await expect(page.getByRole('checkbox', { name: '服务态度不好' }).isChecked()).resolves.toBe(true);
    if (process.env.HCP_SCREENSHOTS) await page.screenshot({ path: 'docs/rate-later.png', fullPage: true });
    await page.screenshot({ path: join(dir, 'rate-later.png'), fullPage: true });

    await page.getByTestId('submit').click();
    await page.getByTestId('message-thanks').waitFor();
    expect(page.url()).toMatch(/[?&]done=[0-9a-f-]{36}$/);
    await page.reload();
    await page.getByTestId('message-thanks').waitFor();
    const { rows } = await db.query<{ grade: string; reasons: string[]; assess_number: number }>('SELECT grade, reasons, assess_number FROM later_ratings');
    expect(rows).toEqual([{ grade: 'dissatisfied', reasons: ['R02'], assess_number: 1 }]);

    // The receipt scanned again: already rated.
    await page.goto(url);
    await expect(page.getByTestId('title').textContent()).resolves.toBe('本次服务已评价');
  });

  it('a submit without a grade is held by the browser (required), and nothing is stored', async () => {
    const url = await storedReceipt('330106202611220002');
    const page = await phone();
    await page.goto(url);
    await page.getByTestId('submit').click();
    await expect(page.getByTestId('form').isVisible()).resolves.toBe(true);
    const { rows } = await db.query("SELECT 1 FROM later_ratings WHERE case_no = '330106202611220002'");
    expect(rows).toEqual([]);
  });

  it("from the window's sign: the window's recent unrated cases, masked; the citizen taps theirs, rates, sees the thanks; then it is off the list", async () => {
    await db.query("UPDATE terminals SET area_code = '330106', hall_code = 'XH-ZWFW', window_no = 'A03' WHERE terminal_id = $1", [terminal.id]);
    const id = uuidv7();
    await storeInvitation(db, terminal, { id, closedAt: new Date(now.getTime() - 5 * 60_000), services: [{ ...FOOD, caseNo: '330106202611220005' }] });
    const page = await phone();
    await page.goto(windowSignUrl(`${server.url}/rate`, { hallCode: 'XH-ZWFW', windowNo: 'A03' }));
    await expect(page.getByTestId('title').textContent()).resolves.toBe('窗口服务评价');
    const link = page.getByTestId('case-link');
    await expect(link.count()).resolves.toBe(1);
    await expect(page.getByTestId('case-no').textContent()).resolves.toBe('****0005');
    await expect(page.getByTestId('case-time').textContent()).resolves.toBe('12:25');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    expect((await link.boundingBox())!.height).toBeGreaterThanOrEqual(48);
    await link.click();
    await expect(page.getByTestId('case').textContent()).resolves.toBe('****0005');
    await page.getByTestId('grade-very_satisfied').click();
    await page.getByTestId('submit').click();
    await page.getByTestId('message-thanks').waitFor();
    const { rows } = await db.query<{ grade: string; via: string; invitation_id: string }>("SELECT grade, via, invitation_id FROM later_ratings WHERE case_no = '330106202611220005'");
    expect(rows).toEqual([{ grade: 'very_satisfied', via: 'window_sign', invitation_id: id }]);
    await page.goto(windowSignUrl(`${server.url}/rate`, { hallCode: 'XH-ZWFW', windowNo: 'A03' }));
    await page.getByTestId('no-cases').waitFor();
  });

  it('an expired receipt and a forged one get pages that say so', async () => {
    const url = await storedReceipt('330106202611220003');
    const page = await phone();
    await page.goto(url.replace('c=330106202611220003', 'c=330106202611220004'));
    await expect(page.getByTestId('title').textContent()).resolves.toBe('无法验证此回执');
    now = new Date(CLOSED.getTime() + 8 * DAY);
    try {
      await page.goto(url);
      await expect(page.getByTestId('title').textContent()).resolves.toBe('评价已过期');
    } finally {
      now = new Date(CLOSED.getTime() + 2 * 3600_000);
    }
  });
});
