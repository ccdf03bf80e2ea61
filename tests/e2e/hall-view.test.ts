import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
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
const shows = (locator: Locator, text: string | RegExp): Promise<void> =>
  locator.filter({ hasText: typeof text === 'string' ? new RegExp(`^\\s*${escape(text)}\\s*$`) : text }).waitFor();

describe('hall view', () => {
  it('shows every window live, and follows one rating from invitation to the gateway', async () => {
    hall = await SimulatedHall.start({ windows: 2, dataDir: dir, traffic: false });
    [view, browser] = await Promise.all([startHallView(hall), launchChromium()]);
    expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const data = (await (await fetch(`${view.url}hall.json`)).json()) as HallViewData;
    expect(data.windows.map((w) => w.windowNo)).toEqual(['W01', 'W02']);
    expect(data.windows[0]).toMatchObject({ staffId: null, invitation: null, terminal: { alive: true }, today: { invitations: 0 } });

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
  });
});
