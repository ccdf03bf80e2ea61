import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { launchChromium } from '../support/browser.js';
import { useHall } from '../support/hall-fixture.js';

/**
 * The staff console (bridge/console) in headless Chromium against a real simulated window:
 * what window staff click, through the HTTP API, to the terminal and back to the page.
 * Set HCP_SCREENSHOTS=1 to write docs/console.png.
 */
const halls = useHall(BROKERS[0]!);

let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
/** What Chromium refused on the console's own pages: its CSP must not cost it a script or a style. */
const refusals: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterEach(async () => {
  await Promise.allSettled(contexts.splice(0).map((c) => c.close()));
  expect(refusals.splice(0)).toEqual([]);
});
afterAll(async () => {
  await browser?.close();
});

async function openConsole(w: SimWindow): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refusals.push(message.text());
  });
  await page.goto(`${w.bridge.httpUrl}/`);
  return page;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Waits until the element's whole text is `text` (or matches it). */
const shows = (locator: Locator, text: string | RegExp): Promise<void> =>
  locator.filter({ hasText: typeof text === 'string' ? new RegExp(`^\\s*${escape(text)}\\s*$`) : text }).waitFor();

async function signIn(page: Page, staffId: string): Promise<void> {
  await page.getByTestId('staff-input').fill(staffId);
  await page.getByTestId('sign-in').click();
  await shows(page.getByTestId('staff-current'), staffId);
}

async function invite(page: Page, w: SimWindow, caseNo: string): Promise<void> {
  await page.getByTestId('item-code').fill('330106-XK-0012');
  await page.getByTestId('item-name').fill('食品经营许可');
  await page.getByTestId('case-no').fill(caseNo);
  await page.getByTestId('invite-button').click();
  await shows(page.getByTestId('outcome'), '等待评价…');
  await waitUntil(() => w.terminal.core.state === 'invited', 'the terminal to show the invitation');
}

describe('staff console', () => {
  it('signs in, invites, shows the rating and today\'s counts; 补打回执 prints a receipt', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'never' } });
    await waitUntil(() => w.bridge.status().alarms.length === 0, 'the printer to answer its first status request');
    const page = await openConsole(w);
    await shows(page.getByTestId('window-no'), `窗口 ${w.windowNo}`);
    await shows(page.getByTestId('hall-name'), '模拟政务服务大厅');
    await shows(page.getByTestId('state-terminal'), /评价器\s*已连接/);
    await shows(page.getByTestId('alarms'), '运行正常');

    await signIn(page, 'S2024');
    expect(w.bridge.desk.staffId).toBe('S2024');
    await invite(page, w, '330106202611220001');
    await shows(page.getByTestId('countdown'), /剩余 \d+ 秒/);
    await expect(page.getByTestId('invitation-cases').textContent()).resolves.toContain('330106202611220001');
    await expect(page.getByTestId('invite-button').isDisabled()).resolves.toBe(true);
    await w.terminal.press(1);
    await shows(page.getByTestId('outcome'), '已评价');
    // Confidential: the counter sees that the citizen rated, never the grade.
    expect(await page.getByTestId('outcome').textContent()).not.toContain('满意');
    await shows(page.getByTestId('stat-rated'), '1');
    await shows(page.getByTestId('stat-rate'), '100%');
    await shows(page.getByTestId('stat-invitations'), '1');
    await shows(page.getByTestId('stat-not-rated'), '0');
    if (process.env.HCP_SCREENSHOTS) await page.screenshot({ path: 'docs/console.png' });
    await page.getByTestId('reprint').click();
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    const text = receipt.lines().join('\n');
    expect(text).toContain('补打');
    expect(text).toContain('330106202611220001');
    await shows(page.getByTestId('invitation-message'), '回执已送打印（补打）');
  });

  it('a bad request shows the field error next to the field and creates nothing', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), 'S1'); // the fixture signed S1 in
    await page.getByTestId('item-code').fill('330106-XK-0012');
    await page.getByTestId('invite-button').click();
    const error = page.locator('[data-testid="case-no"] + [data-testid="field-error"]');
    await error.waitFor();
    await expect(error.getAttribute('data-error-for')).resolves.toBe('services.0.caseNo');
    await expect(error.textContent()).resolves.toContain('办件编号');
    await expect(page.locator('[data-testid="case-no"].invalid').count()).resolves.toBe(1);
    expect(w.bridge.desk.current()).toBeUndefined();
    expect(w.bridge.status().http.rejected).toEqual({ invalid_request: 1 });
    expect((await w.api('GET', '/api/v1/stats/today')).body).toMatchObject({ invitations: 0 });
    await expect(page.getByTestId('invitation').textContent()).resolves.toContain('暂无邀请');

    // Fixed, it goes through and the error is gone.
    await page.getByTestId('case-no').fill('330106202611220002');
    await page.getByTestId('invite-button').click();
    await shows(page.getByTestId('outcome'), '等待评价…');
    await expect(page.getByTestId('field-error').count()).resolves.toBe(0);
  });

  it('取消 on an open invitation shows 已取消', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), 'S1');
    await invite(page, w, '330106202611220003');
    await page.getByTestId('cancel').click();
    await shows(page.getByTestId('outcome'), '已取消');
    await shows(page.getByTestId('stat-cancelled'), '1');
    await shows(page.getByTestId('stat-rate'), '—'); // nothing was put to a citizen
    expect(w.bridge.desk.current()).toBeUndefined();
    await expect(page.getByTestId('cancel').isHidden()).resolves.toBe(true);
    // A refusal reads in the staff's words from the bridge's list (GET /api/v1/meta), then its message.
    await page.getByTestId('reprint').click();
    await shows(page.getByTestId('invitation-message'), /^\s*本窗口未配置回执打印机（this terminal has no receipt printer configured）\s*$/);
  });

  it('with an API token, asks for it once, keeps it for the tab, and then works', async () => {
    const hall = await halls.start();
    const token = 'console-test-token-123';
    const w = await hall.window({ config: { http: { token } } });
    const page = await openConsole(w);
    await page.getByTestId('token-form').waitFor();
    expect(await page.getByTestId('token-form').count()).toBe(1);

    await page.getByTestId('token-input').fill('not-the-right-token');
    await page.getByTestId('token-submit').click();
    await shows(page.getByTestId('token-error'), '令牌不正确，请重新输入');

    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('token-submit').click();
    await page.getByTestId('token-form').waitFor({ state: 'hidden' });
    await shows(page.getByTestId('window-no'), `窗口 ${w.windowNo}`);
    await expect(page.evaluate('sessionStorage.getItem("hcp.console.token")')).resolves.toBe(token);

    await signIn(page, 'S3001');
    await invite(page, w, '330106202611220004');
    await w.terminal.press(0);
    await shows(page.getByTestId('outcome'), '已评价');
    await shows(page.getByTestId('stat-rate'), '100%');
    // A reload keeps the token: no second question.
    await page.reload();
    await shows(page.getByTestId('stat-rated'), '1');
    await expect(page.getByTestId('token-form').isHidden()).resolves.toBe(true);
  });

  it('a page from elsewhere in the same browser can neither sign staff out nor frame the console', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const bridge = w.bridge.httpUrl;
    // What any site the window PC visits could serve: calls it cannot read, a form, a frame.
    const attack = `<!doctype html><iframe name="sink"></iframe><iframe id="framed" src="${bridge}/"></iframe>
      <form id="f" method="post" action="${bridge}/api/v1/staff/sign-out" target="sink"></form>
      <script>
        Promise.allSettled([
          fetch('${bridge}/api/v1/staff/sign-out', { method: 'POST', mode: 'no-cors' }),
          fetch('${bridge}/api/v1/invitations', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"services":[{"itemCode":"x","caseNo":"y"}]}' }),
        ]).then(() => { document.getElementById('f').submit(); document.title = 'sent'; });
      </script>`;
    const elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attack)).listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    try {
      const context = await browser!.newContext();
      contexts.push(context);
      const page = await context.newPage();
      const framingRefused = new Promise<string>((resolve) =>
        page.on('console', (message) => {
          if (/frame-ancestors/.test(message.text())) resolve(message.text());
        }),
      );
      await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
      await waitUntil(() => (w.bridge.status().http.rejected.origin_not_allowed ?? 0) >= 3, 'the two calls and the form to be refused');
      await expect(framingRefused).resolves.toMatch(/frame-ancestors 'none'.*blocked/);
      expect(await page.title()).toBe('sent');
      expect(w.bridge.status().http.rejected).toEqual({ origin_not_allowed: 3 });
      expect(w.bridge.desk.staffId).toBe('S1');
      expect(w.bridge.desk.current()).toBeUndefined();
    } finally {
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });
});
