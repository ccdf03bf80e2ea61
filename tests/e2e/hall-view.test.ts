import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SimulatedHall } from '../../simulator/hall.js';
import { startHallView, type HallView, type HallViewData } from '../../simulator/hall-view.js';
import { waitUntil } from '../../simulator/wait.js';
import { launchChromium } from '../support/browser.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';

/** The live page of `hcp start`, in headless Chromium, over a quiet hall driven by hand. */
const dir = mkdtempSync(join(tmpdir(), 'hcp-hall-view-'));
let hall: SimulatedHall | undefined;
let view: HallView | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await view?.stop();
  await hall?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const shows = (locator: Locator, text: string | RegExp, timeout?: number): Promise<void> =>
  locator.filter({ hasText: typeof text === 'string' ? new RegExp(`^\\s*${escape(text)}\\s*$`) : text }).waitFor(timeout === undefined ? {} : { timeout });

describe('hall view', () => {
  it('shows every window live, and follows one rating from invitation to the gateway', async () => {
    hall = await SimulatedHall.start({ windows: 2, dataDir: dir, traffic: false });
    [view, browser] = await Promise.all([startHallView(hall), launchChromium()]);
    expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const data = (await (await fetch(`${view.url}hall.json`)).json()) as HallViewData;
    expect(data.windows.map((w) => w.windowNo)).toEqual(['W01', 'W02']);
    expect(data.windows[0]).toMatchObject({ staffId: null, invitation: null, terminal: { alive: true }, today: { invitations: 0 } });
    expect(data.province).toMatchObject({ url: hall.province.emulator.url, listening: true, received: { services: 0, evaluations: 0, refused: [] }, faults: [], delivery: { delivered: 0, waiting: 0, rejected: 0 } });

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(8000);
    await page.goto(view.url);
    await shows(page.getByTestId('hall-name'), '模拟政务服务大厅');
    for (const no of ['W01', 'W02']) {
      const card = page.getByTestId(`window-${no}`);
      await shows(card.getByTestId('link'), '评价器已连接');
      await shows(card.getByTestId('staff'), '工作人员 未签到');
      await shows(card.getByTestId('state'), '空闲');
      await shows(card.getByTestId('today-invitations'), '0');
    }

    const [w1] = hall.windows;
    const card = page.getByTestId('window-W01');
    await w1!.signIn('S1001', SAMPLE_STAFF_PIN); // the hall's windows check PINs by the sample roster
    await shows(card.getByTestId('staff'), '工作人员 S1001');
    const invited = await w1!.api('POST', '/api/v1/invitations', {
      services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: 'HV-330106-0001' }],
    });
    expect(invited.status).toBe(201);
    await shows(card.getByTestId('state'), /等待评价HV-330106-0001（食品经营许可）/);
    await shows(card.getByTestId('countdown'), /^\d+ 秒$/);
    await waitUntil(() => w1!.terminal.core.state === 'invited', 'the terminal to show the invitation');
    await w1!.terminal.press(1);

    await shows(card.getByTestId('state'), /已评价：满意/);
    await shows(card.getByTestId('today-rated'), '1');
    await shows(card.getByTestId('today-rate'), '100%');
    await shows(page.getByTestId('hall-rated'), '1');
    await shows(page.getByTestId('gateway-accepted'), /^[1-9]\d*$/); // the rating, and the staff actions' audit entries
    await shows(page.getByTestId('gateway-rejected'), '0');
    await shows(page.getByTestId('window-W02').getByTestId('state'), '空闲');
    const { rows } = await hall.gateway.db.query<{ outcome: string; grade: string }>("SELECT outcome, grade FROM records WHERE kind = 'invitation'");
    expect(rows).toEqual([{ outcome: 'rated', grade: 'satisfied' }]);

    // On to the province: the gateway delivers the case, the emulator files its service and evaluation.
    const chain = page.getByTestId('province');
    await shows(chain.getByTestId('province-services'), '1');
    await shows(chain.getByTestId('province-evaluations'), '1');
    await shows(chain.getByTestId('delivery-delivered'), '1');
    await shows(chain.getByTestId('delivery-waiting'), '0');
    await shows(chain.getByTestId('province-refused'), '0');
    await shows(chain.getByTestId('no-faults'), /无故障/);
    expect(hall.province.emulator.evaluations.map((e) => e.body.projectNo)).toEqual(['HV-330106-0001']);
    expect(await chain.getByTestId('province-url').textContent()).toBe(hall.province.emulator.url);
    expect(await chain.getByTestId('rate-later-url').textContent()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rate$/);
  }, 120_000);

  it('sets a fault on the province from the page: deliveries wait, then catch up once it is cleared', async () => {
    const { emulator } = hall!.province;
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
    await page.goto(view!.url);
    const chain = page.getByTestId('province');
    await shows(chain.getByTestId('province-services'), '1');

    await chain.getByTestId('fault-server-error').click();
    await vi.waitFor(() => expect(emulator.faults.list().map((f) => f.fault)).toEqual([{ kind: 'server_error', status: 503, applied: false }]), { timeout: 10_000 });
    await shows(chain.getByTestId('fault-server_error'), /返回 HTTP 503，直到恢复/);

    const [w1] = hall!.windows;
    const invited = await w1!.api('POST', '/api/v1/invitations', {
      services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: 'HV-330106-0002' }],
    });
    expect(invited.status).toBe(201);
    await waitUntil(() => w1!.terminal.core.state === 'invited', 'the terminal to show the second invitation');
    await w1!.terminal.press(0);
    // The province answers 503: the case waits at the gateway, counted as a transient failure, the error shown.
    await shows(chain.getByTestId('delivery-waiting'), '1');
    await shows(chain.getByTestId('delivery-transient'), /^[1-9]\d*$/);
    await shows(chain.getByTestId('delivery-last-error'), /503/);
    expect(emulator.stats.faulted.server_error).toBeGreaterThan(0);
    await shows(chain.getByTestId('faulted-server_error'), /^故障应答（服务器错误 5xx）× [1-9]\d*$/);
    await shows(chain.getByTestId('province-services'), '1');

    await chain.getByTestId('fault-clear').click();
    await vi.waitFor(() => expect(emulator.faults.list()).toEqual([]), { timeout: 10_000 });
    await shows(chain.getByTestId('no-faults'), /无故障/);
    await shows(chain.getByTestId('delivery-delivered'), '2', 45_000);
    await shows(chain.getByTestId('delivery-waiting'), '0');
    await shows(chain.getByTestId('province-services'), '2');
    await shows(chain.getByTestId('province-evaluations'), '2');
    expect(emulator.evaluations.map((e) => e.body.projectNo)).toEqual(['HV-330106-0001', 'HV-330106-0002']);

    // A fault the emulator would refuse is refused with its field named, and nothing is set.
    await page.evaluate(`document.querySelector('[data-testid="fault-slow"]').dataset.fault = '{"kind":"slow"}'`);
    await chain.getByTestId('fault-slow').click();
    await shows(chain.getByTestId('fault-message'), /未生效：not a fault（delayMs/);
    expect(emulator.faults.list()).toEqual([]);
    await page.close();
  }, 120_000);

  it('takes fault calls only from its own page', async () => {
    const url = `${view!.url}province/faults`;
    const spec = JSON.stringify({ kind: 'down', mode: 'closed' });
    const elsewhere = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: spec });
    expect(elsewhere.status).toBe(403);
    const form = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: spec });
    expect(form.status).toBe(415);
    expect(hall!.province.emulator.faults.list()).toEqual([]);
    const own = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: spec });
    expect(own.status).toBe(200);
    expect(hall!.province.emulator.faults.list().map((f) => f.fault.kind)).toEqual(['down']);
    const cleared = await fetch(`${url}/down`, { method: 'DELETE', headers: { 'x-hcp-request': '1' } });
    expect(await cleared.json()).toEqual({ faults: [] });
  });
});
