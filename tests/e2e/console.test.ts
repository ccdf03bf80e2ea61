import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SAMPLE_STAFF_PIN, SAMPLE_STAFF_ROSTER } from '../../simulator/sample-staff.js';
import type { SimWindow, SimWindowOptions } from '../../simulator/sim-window.js';
import { API_META } from '../../protocol/http-api.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { HallFixture } from '../support/hall-fixture.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { shows, useChromium } from '../support/browser.js';
import { useHall } from '../support/hall-fixture.js';

/**
 * The staff console (bridge/console) in headless Chromium against a real simulated window:
 * what window staff click, through the HTTP API, to the terminal and back to the page.
 * Set HCP_SCREENSHOTS=1 to write docs/console.png.
 */
const halls = useHall(BROKERS[0]!);

/** Chromium for the file: what it refuses on the console's own pages (its CSP costing a script or a style) fails the test. */
const chromium = useChromium();

const openConsole = (w: SimWindow): Promise<Page> => chromium.open(`${w.bridge.httpUrl}/`, { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });

async function signIn(page: Page, staffId: string, pin?: string): Promise<void> {
  await page.getByTestId('staff-input').fill(staffId);
  if (pin !== undefined) await page.getByTestId('pin-input').fill(pin);
  await page.getByTestId('sign-in').click();
  await shows(page.getByTestId('staff-current'), staffId);
}

/** A window that checks sign-ins by the province's roster (sent to it, retained, as a province does). */
async function rosterWindow(hall: HallFixture, options: { printer?: SimWindowOptions['printer'] } = {}): Promise<SimWindow> {
  const w = await hall.window({ config: { http: { allowUnverifiedStaff: false } }, ...options });
  await hall.province.publishConfig(w.terminalId, { staffRoster: SAMPLE_STAFF_ROSTER });
  await waitUntil(() => w.bridge.status().staffSignIn.roster, 'the roster to reach the window');
  return w;
}

/** Every key and string in an answer, to look for anything that tells a grade. */
function gradeHints(body: unknown): string[] {
  const grades = API_META.grades.flatMap((g) => [g.grade, g.zh]);
  const found: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string' && grades.some((g) => value.includes(g))) found.push(`${path}: ${value}`);
    if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (/grade|rating|satisf|latency|^reason$/i.test(key)) found.push(`${path}.${key}`);
        visit(inner, `${path}.${key}`);
      }
    }
  };
  visit(body, '');
  return found;
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
    const w = await rosterWindow(hall, { printer: { print: 'never' } });
    await waitUntil(() => w.bridge.status().alarms.length === 0, 'the printer to answer its first status request');
    const page = await openConsole(w);
    await shows(page.getByTestId('window-no'), `窗口 ${w.windowNo}`);
    await shows(page.getByTestId('hall-name'), '模拟政务服务大厅');
    await shows(page.getByTestId('state-terminal'), /评价器\s*已连接/);
    await shows(page.getByTestId('alarms'), '运行正常');

    await signIn(page, 'S1024', SAMPLE_STAFF_PIN);
    expect(w.bridge.desk.staffId).toBe('S1024');
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
    // A window with no roster that lets staff in unchecked (http.allowUnverifiedStaff) says so.
    await shows(page.getByTestId('alarms'), /签到未验证身份/);
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

  it('signs in only with the PIN on the province\'s roster: a wrong one is refused in staff\'s words and counted', async () => {
    const hall = await halls.start();
    const w = await rosterWindow(hall);
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), '未签到'); // the fixture's unchecked sign-in was refused
    await page.getByTestId('staff-input').fill('S1001');
    await page.getByTestId('pin-input').fill('999999');
    await page.getByTestId('sign-in').click();
    await shows(page.getByTestId('staff-error'), /^\s*工号或签到密码不正确（/);
    await expect(page.getByTestId('pin-input').inputValue()).resolves.toBe('');
    expect(w.bridge.desk.staffId).toBeNull();
    expect(w.bridge.status().staffSignIn.failures).toBe(1);
    await signIn(page, 'S1001', SAMPLE_STAFF_PIN);
    expect(w.bridge.desk.staffId).toBe('S1001');
  });

  it('a test invitation needs the technician token: refused without it, made with it', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), 'S1');
    await page.getByTestId('item-code').fill('330106-XK-0012');
    await page.getByTestId('case-no').fill('330106202611220009');
    await page.getByTestId('test').check();
    await page.getByTestId('technician-token').waitFor();
    await page.getByTestId('invite-button').click();
    await shows(page.getByTestId('invite-error'), /^\s*测试邀请须由技术人员凭技术令牌发起（/);
    // The same from a program: the API refuses a test invitation without the token, or with another.
    const test = { services: [{ itemCode: '330106-XK-0012', caseNo: '330106202611220009' }], test: true };
    expect(await w.api('POST', '/api/v1/invitations', test)).toMatchObject({ status: 403, body: { error: { code: 'technician_required' } } });
    expect((await w.api('POST', '/api/v1/invitations', test, { 'x-hcp-technician-token': 'not-the-technician-token' })).status).toBe(403);
    expect(w.bridge.desk.current()).toBeUndefined();
    await page.getByTestId('technician-token').fill(w.asTechnician()['x-hcp-technician-token']!);
    await page.getByTestId('invite-button').click();
    await shows(page.getByTestId('outcome'), '等待评价…');
    expect(w.bridge.desk.current()).toMatchObject({ test: true });
    await expect(page.getByTestId('technician-token').inputValue()).resolves.toBe('');
  });

  it('取消 asks for a reason from the bridge\'s list, then shows 已取消', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), 'S1');
    await invite(page, w, '330106202611220003');
    await page.getByTestId('cancel').click();
    const options = await page.getByTestId('cancel-reason').locator('option').allTextContents();
    expect(options.slice(1)).toEqual(Object.values(API_META.cancelReasons));
    await page.getByTestId('cancel-confirm').click();
    await shows(page.getByTestId('invitation-message'), '请选择取消原因');
    expect(w.bridge.desk.current()?.cancelled).toBeUndefined();
    await page.getByTestId('cancel-reason').selectOption('citizen_left');
    await page.getByTestId('cancel-confirm').click();
    await shows(page.getByTestId('outcome'), '已取消');
    await shows(page.getByTestId('stat-cancelled'), '1');
    await shows(page.getByTestId('stat-cancel-reasons'), `取消原因：${API_META.cancelReasons.citizen_left} 1`);
    await shows(page.getByTestId('stat-rate'), '0%'); // 参评率 = rated ÷ invitations: a cancel counts against it
    expect(w.bridge.desk.current()).toBeUndefined();
    await expect(page.getByTestId('cancel').isHidden()).resolves.toBe(true);
    // A refusal reads in the staff's words from the bridge's list (GET /api/v1/meta), then its message.
    await page.getByTestId('reprint').click();
    await shows(page.getByTestId('invitation-message'), /^\s*本窗口未配置回执打印机（this terminal has no receipt printer configured）\s*$/);
  });

  it('暂停服务: the terminal shows it, 邀请评价 is refused in staff\'s words; 恢复服务 brings it back; 问候 and 一米线 are asked of the bridge', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const announced: string[] = [];
    w.bridge.on('announce', (prompt) => void announced.push(prompt));
    const page = await openConsole(w);
    await shows(page.getByTestId('staff-current'), 'S1');
    await page.getByTestId('pause').click();
    await page.getByTestId('paused-badge').waitFor();
    await page.getByTestId('resume').waitFor();
    await waitUntil(() => w.terminal.paused, 'the terminal to show the pause');
    await shows(page.getByTestId('invite-hint'), API_META.refusals.window_paused.zh);
    await expect(page.getByTestId('invite-button').isDisabled()).resolves.toBe(true);
    // Asked anyway (another tab, a business system): the bridge refuses it, and nothing is made.
    expect((await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012', caseNo: 'C-PAUSED' }] })).status).toBe(409);
    expect(w.bridge.desk.current()).toBeUndefined();

    await page.getByTestId('announce-greeting').click();
    await shows(page.getByTestId('controls-message'), '已请评价器播报“问候”');
    await page.getByTestId('announce-one-metre-line').click();
    await shows(page.getByTestId('controls-message'), '已请评价器播报“一米线”');
    expect(announced).toEqual(['greeting', 'one_metre_line']);

    await page.getByTestId('resume').click();
    await page.getByTestId('pause').waitFor();
    await expect(page.getByTestId('paused-badge').isHidden()).resolves.toBe(true);
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to leave the pause');
    await invite(page, w, '330106202611220009');
    // With an invitation open, pausing waits for its outcome.
    await expect(page.getByTestId('pause').isDisabled()).resolves.toBe(true);
    await w.terminal.press(0);
    await shows(page.getByTestId('outcome'), '已评价');
    await expect(page.getByTestId('pause').isDisabled()).resolves.toBe(false);
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
      const page = await (await chromium.context()).newPage();
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

describe('the business system', () => {
  it('signs staff in with its own token and no PIN on a window that checks PINs; the token file is read at start', async () => {
    const hall = await halls.start();
    const businessToken = `business-${process.pid}-token-0001`;
    const businessTokenFile = join(mkdtempSync(join(tmpdir(), 'hcp-business-')), 'token');
    writeFileSync(businessTokenFile, `${businessToken}\n`, { mode: 0o600 });
    const w = await hall.window({ config: { http: { allowUnverifiedStaff: false, businessTokenFile } } });
    await hall.province.publishConfig(w.terminalId, { staffRoster: SAMPLE_STAFF_ROSTER });
    await waitUntil(() => w.bridge.status().staffSignIn.roster, 'the roster to reach the window');
    expect(await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S7777' })).toMatchObject({ status: 400, body: { error: { field: 'pin' } } });
    expect(await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S7777' }, { authorization: `Bearer ${businessToken}` })).toEqual({ status: 200, body: { staffId: 'S7777' } });
    expect(w.bridge.desk.staffId).toBe('S7777');
  });
});

describe('the grade never reaches the counter', () => {
  it('after a rating, no staff API answer and no reprinted receipt tells the grade; the reprint is audited', async () => {
    const hall = await halls.start();
    const w = await rosterWindow(hall, { printer: { print: 'never' } });
    const actions: StaffActionEntry[] = [];
    w.bridge.on('staffAction', (entry) => actions.push(entry));
    const page = await openConsole(w);
    await signIn(page, 'S1002', SAMPLE_STAFF_PIN);
    await invite(page, w, '330106202611220010');
    const id = w.bridge.desk.current()!.id;
    await w.terminal.press(4); // 非常不满意: a bad grade, with its reasons offered
    await shows(page.getByTestId('outcome'), '已评价');
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the invitation to close');

    const answers = {
      invitation: await w.api('GET', `/api/v1/invitations/${id}`),
      current: await w.api('GET', '/api/v1/invitations/current'),
      stats: await w.api('GET', '/api/v1/stats/today'),
      status: await w.api('GET', '/api/v1/status'),
      reprint: await w.api('POST', `/api/v1/invitations/${id}/receipt`),
    };
    expect(answers.invitation.body).toMatchObject({ state: 'closed', outcome: 'rated' });
    expect(answers.stats.body).toMatchObject({ rated: 1, participationRate: 1 });
    expect(answers.reprint.status).toBe(202);
    for (const [what, answer] of Object.entries(answers)) expect(gradeHints(answer.body), what).toEqual([]);
    expect(await page.getByTestId('invitation').textContent()).not.toMatch(/满意/);
    expect(await page.getByTestId('stats').textContent()).not.toMatch(/满意/);

    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    const text = receipt.lines().join('\n');
    expect(text).toContain('补打');
    expect(text).toContain('已评价');
    expect(text).not.toMatch(/您的评价：|满意/);
    expect(actions.filter((entry) => entry.action === 'reprint')).toEqual([{ action: 'reprint', actor: 'S1002', detail: { invitationId: id, receiptId: (answers.reprint.body as { receiptId: string }).receiptId } }]);
  });
});
