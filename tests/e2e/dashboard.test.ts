import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import { Sessions } from '../../gateway/accounts/sessions.js';
import { addUser } from '../../gateway/accounts/users.js';
import { WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import { startDashboardHttp } from '../../gateway/dashboard/dashboard-http.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { ListeningServer } from '../../gateway/http/listen.js';
import { ChangeWatch } from '../../gateway/live/changes.js';
import { systemClock } from '../../gateway/ports.js';
import { hostTimers } from '../../protocol/timers.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { storeRating } from '../integration/alerts-fixture.js';
import { launchChromium } from '../support/browser.js';
import { eventually, GATEWAY_TEST_UPLINK, gatewayConfig, startGateway } from '../support/gateway-fixture.js';

/**
 * The managers' dashboard in Debian's Chromium, over a real gateway on PGlite fed by two halls in
 * different counties (a virtual terminal and a real bridge each): sign-in, what each level sees,
 * a rating showing up without a reload, a bad review's alert acknowledged and followed up, a
 * month's export downloaded, and the switch that counts flagged ratings.
 */
const PASSWORD = 'dashboard test password';
const COUNTY_A: Scope = { role: 'county', areaPrefix: '330106', hallCode: null };
const HALL_B: Scope = { role: 'hall', areaPrefix: '330108', hallCode: 'HALL-B' };

const dir = mkdtempSync(join(tmpdir(), 'hcp-dashboard-'));
let broker: EmbeddedBroker | undefined;
let gateway: Gateway | undefined;
let changes: ChangeWatch | undefined;
let dashboard: ListeningServer | undefined;
let browser: Browser | undefined;
let windowA: SimWindow;
let windowB: SimWindow;
let cases = 0;
/** Windows started by a test of their own (stopped at the end with the rest). */
const moreWindows: SimWindow[] = [];

async function hallWindow(windowNo: string, areaCode: string, hallCode: string, flags: { minPressMs: number }): Promise<SimWindow> {
  const windowDir = join(dir, windowNo);
  mkdirSync(windowDir);
  const window = await SimWindow.start({
    brokerUrl: broker!.url,
    windowNo,
    terminalId: `DASH-${windowNo}`,
    areaCode,
    hallCode,
    dbPath: join(windowDir, 'hcp.db'),
    config: { mqtt: { url: broker!.url, ...GATEWAY_TEST_UPLINK, telemetrySeconds: 2 }, invitation: { flags } },
  });
  await window.signIn(`S-${windowNo}`);
  return window;
}

/** A citizen served at `window` presses `button` (0 = 非常满意 … 4 = 非常不满意); resolves once the gateway has stored the record. */
async function rate(window: SimWindow, button: number): Promise<string> {
  const caseNo = `DB-${window.windowNo}-${++cases}`;
  const id = await window.invite({ services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo }] });
  await waitUntil(() => window.terminal.core.state === 'invited', `the terminal to show ${caseNo}`);
  await window.terminal.press(button);
  await eventually(async () => (await gateway!.db.query('SELECT 1 AS one FROM records WHERE id = $1', [id])).rows.length > 0, `record ${id} at the gateway`);
  return id;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const shows = (locator: Locator, text: string | RegExp, timeout?: number): Promise<void> =>
  locator.filter({ hasText: typeof text === 'string' ? new RegExp(`^\\s*${escape(text)}\\s*$`) : text }).waitFor(timeout === undefined ? {} : { timeout });

async function signedIn(username: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1360, height: 900 }, acceptDownloads: true, locale: 'zh-CN' });
  page.setDefaultTimeout(15_000);
  await page.goto(`${dashboard!.url}/`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('user-scope').waitFor();
  return page;
}

beforeAll(async () => {
  broker = await EmbeddedBroker.start({ port: 0 });
  gateway = await startGateway(
    gatewayConfig({ instance: 'dashboard-e2e', brokerUrl: broker.url, database: { dataDir: join(dir, 'gateway-db') }, terminals: { approval: 'first-key' }, mqtt: { protocolVersion: 4, sharedGroup: null } }),
  );
  const { db } = gateway;
  // Hall B's terminal flags every press as too fast: its ratings are the flagged ones.
  [windowA, windowB] = await Promise.all([hallWindow('A1', '330106', 'HALL-A', { minPressMs: 0 }), hallWindow('B1', '330108', 'HALL-B', { minPressMs: 600_000 })]);
  const change = { clock: systemClock, actor: 'dashboard-e2e' };
  await addUser(db, { username: 'county-a', displayName: '西湖区管理员', scope: COUNTY_A, password: PASSWORD }, change);
  await addUser(db, { username: 'hall-b', displayName: '拱墅大厅值班长', scope: HALL_B, password: PASSWORD }, change);
  changes = new ChangeWatch({ db, clock: systemClock, timers: hostTimers, intervalMs: 300 });
  changes.start();
  [dashboard, browser] = await Promise.all([
    startDashboardHttp({
      db,
      host: '127.0.0.1',
      port: 0,
      sessions: new Sessions({ db, clock: systemClock, sessionHours: 12 }),
      timeZone: 'Asia/Shanghai',
      trustForwardedFor: false,
      cancelsPerDay: 5,
      followUp: { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 },
      calendar: WEEKDAYS_CALENDAR,
      reasonCatalog: SAMPLE_PROVINCE_CONFIG.reasonCatalog,
      changes,
    }),
    launchChromium(),
  ]);
  await rate(windowA, 0);
  await rate(windowA, 1);
  await rate(windowB, 0);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.stop();
  await changes?.stop();
  await Promise.allSettled([windowA, windowB, ...moreWindows].map((w) => w?.stop()));
  await gateway?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the managers’ dashboard in Chromium', () => {
  it('refuses a wrong password, and signs in with the right one', async () => {
    const page = await browser!.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${dashboard!.url}/`);
    await page.getByTestId('login-username').fill('county-a');
    await page.getByTestId('login-password').fill('not the password');
    await page.getByTestId('login-submit').click();
    await shows(page.getByTestId('login-error'), '用户名或密码错误');
    expect(await page.getByTestId('user-scope').isVisible()).toBe(false);
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await shows(page.getByTestId('user-scope'), '县级 330106');
    // The session is a cookie no script can read.
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'hcp-dashboard', httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).toBe('');
    await page.getByTestId('logout').click();
    await page.getByTestId('login-submit').waitFor();
    expect((await fetch(`${dashboard!.url}/api/me`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } })).status).toBe(401);
    await page.close();
  });

  it('shows a county user their county only, and a hall user their hall only', async () => {
    const county = await signedIn('county-a');
    await county.getByTestId('tab-live').click();
    await shows(county.getByTestId('window-HALL-A-A1').getByTestId('staff'), '工作人员：S-A1');
    await shows(county.getByTestId('live-summary'), /共 1 个窗口/);
    expect(await county.getByTestId('window-HALL-B-B1').count()).toBe(0);
    await county.getByTestId('tab-overview').click();
    await county.getByTestId('group-by').selectOption('hall');
    await county.getByTestId('group-330106/HALL-A').waitFor();
    expect(await county.locator('[data-testid="groups-table"] tbody').textContent()).not.toContain('HALL-B');
    await county.close();

    const hall = await signedIn('hall-b');
    await shows(hall.getByTestId('user-scope'), '大厅 330108/HALL-B');
    await hall.getByTestId('tab-live').click();
    await hall.getByTestId('window-HALL-B-B1').waitFor();
    expect(await hall.getByTestId('window-HALL-A-A1').count()).toBe(0);
    // Nor by the API, whatever a script asks.
    const res = await hall.evaluate(async () => (await fetch('api/stats?by=hall&flagged=true')).json());
    expect(JSON.stringify(res)).not.toContain('HALL-A');
    await hall.close();
    // The counter's side serves none of it: the window PC's bridge has no dashboard, no figures.
    for (const path of ['/dashboard.js', '/vendor/echarts.min.js', '/api/stats', '/api/me', '/api/alerts']) {
      const res = await fetch(`${windowA.bridge.httpUrl}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(await res.text()).not.toContain('管理看板');
    }
  });

  it('shows a window whose staff paused it as 暂停服务 on the live view, and no longer once they resume', async () => {
    const page = await signedIn('county-a');
    await page.getByTestId('tab-live').click();
    const card = page.getByTestId('window-HALL-A-A1');
    await card.getByTestId('staff').waitFor();
    expect(await card.getByTestId('paused').count()).toBe(0);
    expect((await windowA.api('POST', '/api/v1/staff/pause')).status).toBe(200);
    await shows(card.getByTestId('paused'), '暂停服务');
    expect((await windowA.api('POST', '/api/v1/staff/resume')).status).toBe(200);
    await card.getByTestId('paused').waitFor({ state: 'detached' });
    await page.close();
  });

  it('counts a rating as it arrives, without a reload', async () => {
    const page = await signedIn('county-a');
    await shows(page.getByTestId('kpi-rated'), '2');
    await page.evaluate('window.notReloaded = true');
    await rate(windowA, 1);
    await shows(page.getByTestId('kpi-rated'), '3');
    await shows(page.getByTestId('kpi-invitations'), '3');
    await shows(page.getByTestId('kpi-good-rate'), '100.0%');
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await shows(page.getByTestId('live-state'), '实时');
    await page.close();
  });

  it('raises a bad review’s alert live; the duty manager acknowledges it and records the call-back', async () => {
    const page = await signedIn('county-a');
    await page.getByTestId('tab-alerts').click();
    await page.getByText('没有未确认的告警').waitFor();
    await page.evaluate('window.notReloaded = true');
    await rate(windowA, 4);
    const card = page.locator('[data-testid^="alert-"]').filter({ hasText: '非常不满意' });
    await shows(card.getByTestId('alert-title'), '差评：非常不满意');
    await shows(page.getByTestId('alert-badge'), '1');
    await card.getByTestId('clock-callback').waitFor();
    expect(await card.getByTestId('clock-rectify').textContent()).toMatch(/整改截止 \d{4}-\d{2}-\d{2}（剩 1[45] 个工作日）/);
    expect(await page.evaluate('window.notReloaded')).toBe(true);

    await card.getByTestId('ack').click();
    await page.getByText('没有未确认的告警').waitFor();
    // The badge is the counts' own request, answered after the list's or with the live update: it goes, or the test fails.
    await page.getByTestId('alert-badge').waitFor({ state: 'hidden' });
    const { rows } = await gateway!.db.query<{ acknowledged_by: string; notify_due_at: Date | null }>(`SELECT acknowledged_by, notify_due_at FROM alerts WHERE kind = 'bad_review' AND hall_code = 'HALL-A'`);
    expect(rows).toEqual([{ acknowledged_by: 'county-a', notify_due_at: null }]);

    await page.getByTestId('alerts-open').click();
    const open = page.locator('[data-testid^="alert-"]').filter({ hasText: '非常不满意' });
    await shows(open.getByTestId('alert-status'), /^已确认（county-a /);
    await open.getByTestId('follow-up-status').selectOption('called_back');
    await open.getByTestId('follow-up-note').fill('已电话回访，群众反映等候时间长');
    await open.getByTestId('follow-up-save').click();
    const followed = page.locator('[data-testid^="alert-"]').filter({ hasText: '非常不满意' });
    await shows(followed.getByTestId('clocks'), /跟进：已回访/);
    await shows(followed.getByTestId('clock-callback'), '回访已完成');
    await page.locator('[data-testid^="alert-"]').filter({ hasText: '非常不满意' }).getByTestId('follow-up-history').click();
    await page.locator('.history').filter({ hasText: '已回访（county-a）：已电话回访，群众反映等候时间长' }).waitFor();

    // The alert message's link (gateway/alerts/message.ts) opens the alert, found under 全部 now it is acknowledged.
    const [{ id }] = (await gateway!.db.query<{ id: string }>(`SELECT id::text AS id FROM alerts WHERE kind = 'bad_review' AND hall_code = 'HALL-A'`)).rows as [{ id: string }];
    await page.goto(`${dashboard!.url}/?alert=${id}#alerts`);
    await page.locator(`[data-testid="alert-${id}"].focus`).waitFor();
    expect(await page.getByTestId('alerts-all').getAttribute('class')).toBe('on');
    await page.close();
  });

  it('downloads this month’s records as an XLSX file named for the month', async () => {
    const page = await signedIn('county-a');
    await page.getByTestId('tab-exports').click();
    await page.getByTestId('export-format').selectOption('xlsx');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).format(new Date());
    expect(download.suggestedFilename()).toMatch(new RegExp(`${month}.*\\.xlsx$`));
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK'); // a zip: what an XLSX is
    await page.close();
  });

  it('hides flagged ratings from the figures until the switch shows them again', async () => {
    const page = await signedIn('hall-b');
    await shows(page.getByTestId('kpi-flagged'), '1');
    await shows(page.getByTestId('kpi-invitations'), '0');
    await shows(page.getByTestId('period-text'), /不含疑似异常评价/);
    await page.getByTestId('include-flagged').check();
    await shows(page.getByTestId('kpi-invitations'), '1');
    await shows(page.getByTestId('kpi-rated'), '1');
    await shows(page.getByTestId('period-text'), /含疑似异常评价/);
    await page.getByTestId('tab-misuse').click();
    await page.locator('[data-testid^="flagged-"]').filter({ hasText: '邀请后过快按键' }).waitFor();
    await page.close();
  });
});

/** Where the README's screenshots go, when asked for: DASHBOARD_SCREENSHOTS=1 npx vitest run tests/e2e/dashboard.test.ts */
const SHOTS = process.env.DASHBOARD_SCREENSHOTS ? fileURLToPath(new URL('../../docs/', import.meta.url)) : undefined;

describe.runIf(SHOTS !== undefined)('the README’s screenshots', () => {
  it('shows a month of a county’s figures, its live windows and its alerts', async () => {
    const [a2, a3, a4] = await Promise.all(['A2', 'A3', 'A4'].map((no) => hallWindow(no, '330106', 'HALL-A', { minPressMs: 0 })));
    moreWindows.push(a2!, a3!);
    await a2!.invite({ services: [{ itemCode: '330106-XK-0031', itemName: '居民身份证换领', caseNo: 'DB-SHOT-1' }] });
    await seedMonth([windowA, a2!, a3!, a4!]);
    await a4!.stop(); // its last will: offline

    const page = await signedIn('county-a');
    await page.getByTestId('range-month').click();
    await page.getByTestId('group-by').selectOption('window');
    await page.getByTestId('group-330106/HALL-A/A4').waitFor();
    await page.waitForTimeout(800); // the charts' entry animation (a picture, not a check)
    await page.screenshot({ path: join(SHOTS!, 'dashboard-overview.png'), fullPage: true });
    await page.getByTestId('tab-live').click();
    await shows(page.getByTestId('window-HALL-A-A4').getByTestId('online'), '离线');
    await page.getByTestId('window-HALL-A-A2').getByTestId('invitation').filter({ hasText: '居民身份证换领' }).waitFor();
    await page.screenshot({ path: join(SHOTS!, 'dashboard-live.png') });
    await page.getByTestId('tab-alerts').click();
    await page.getByTestId('alerts-open').click();
    await page.locator('[data-testid^="alert-"]').first().waitFor();
    await page.screenshot({ path: join(SHOTS!, 'dashboard-alerts.png') });
    await page.close();
  }, 180_000);
});

/** This month's earlier days at `windows`, made up with a fixed seed: a few ratings a window a day, now and then a bad one, a flagged one, one not rated. */
async function seedMonth(windows: SimWindow[]): Promise<void> {
  const db = gateway!.db;
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const items = [
    ['330106-XK-0012', '食品经营许可'],
    ['330106-XK-0031', '居民身份证换领'],
    ['330106-GG-0107', '不动产登记'],
    ['330106-GG-0220', '社会保障卡申领'],
  ] as const;
  let seed = 20261130;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let day = 1; `${today.slice(0, 8)}${String(day).padStart(2, '0')}` < today; day++) {
    const date = `${today.slice(0, 8)}${String(day).padStart(2, '0')}`;
    const weekday = new Date(`${date}T12:00:00Z`).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    for (const [w, window] of windows.entries()) {
      for (let n = 0; n < 4 + Math.floor(random() * 6); n++) {
        const invitedAt = new Date(Date.parse(`${date}T01:00:00Z`) + Math.floor(random() * 7 * 3600_000));
        const pressedAt = new Date(invitedAt.getTime() + 5000 + Math.floor(random() * 20_000));
        const roll = random();
        const grade = roll < 0.07 ? null : roll < 0.55 ? 'very_satisfied' : roll < 0.85 ? 'satisfied' : roll < 0.95 ? 'basically_satisfied' : roll < 0.985 ? 'dissatisfied' : 'very_dissatisfied';
        const [itemCode, itemName] = items[Math.floor(random() * items.length)]!;
        await storeRating(
          db,
          grade,
          {
            terminalId: window.terminalId,
            areaCode: '330106',
            hallCode: 'HALL-A',
            windowNo: window.windowNo,
            staffId: `S-${window.windowNo}`,
            services: [{ itemCode, itemName, caseNo: `SEED-${date}-${w}-${n}` }],
            invitedAt: invitedAt.toISOString(),
            closedAt: pressedAt.toISOString(),
            flags: random() < 0.03 ? ['fast_press'] : [],
            rating: { grade: 'satisfied', gradeCode: 4, reasons: ['R02'], reasonCatalogVersion: '2026.11', pressedAt: pressedAt.toISOString(), latencyMs: pressedAt.getTime() - invitedAt.getTime() },
          },
          pressedAt,
        );
      }
    }
  }
  // The older bad reviews were dealt with; the last few wait for the duty manager.
  await db.query(
    `UPDATE alerts SET acknowledged_at = raised_at + interval '10 minutes', acknowledged_by = 'county-a', notify_due_at = NULL, follow_up = 'called_back'
      WHERE kind = 'bad_review' AND acknowledged_at IS NULL AND id NOT IN (SELECT id FROM alerts WHERE kind = 'bad_review' ORDER BY raised_at DESC LIMIT 3)`,
  );
}
