import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { askRunningService, defaultStatusFetch } from '../../bridge/diagnose/running-service.js';
import { checkScreen } from '../../bridge/screen/probe.js';
import { openDatabase } from '../../bridge/store/database.js';
import { formatStatus } from '../../cli/status.js';
import { Settings } from '../../bridge/store/settings.js';
import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import type { UpstreamRecord } from '../../protocol/records.js';
import { freePort } from '../../simulator/free-port.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import { samplePhoto } from '../../simulator/sample-photo.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { shows, useChromium } from '../support/browser.js';
import { send } from '../support/fuzz-http.js';
import { hcp } from '../support/run-hcp.js';
import { useHall, type HallFixture } from '../support/hall-fixture.js';

/**
 * The customer screen (bridge/screen/) in Debian's Chromium at a 7-inch touchscreen's size
 * (800 × 480), against a real simulated window: the virtual terminal, the bridge, the broker and
 * the province emulator. Set HCP_SCREENSHOTS=1 to write docs/customer-screen.png.
 */
const halls = useHall(BROKERS[0]!);

/** Chromium for the file: what it refuses on the screen's page (its CSP costing a script, a style or an image) fails the test. */
const chromium = useChromium();

/** The province emulator's sample reason catalogue (version 2026.11: 服务态度差, 办事效率低, 多次跑动), published alone. */
const CATALOG = { reasonCatalog: SAMPLE_PROVINCE_CONFIG.reasonCatalog };
const SERVICE = { itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: 'C-2026-000123' };

/** This machine's LAN address: a connection from it is not loopback, as a tablet's is not. */
function lanAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!address) throw new Error('this machine has no non-loopback IPv4 address: the tablet tests need one');
  return address;
}

/** A window serving its customer screen on all addresses, with a receipt printer and a business token. */
async function screenWindow(hall: HallFixture, { catalog = false, timeoutSeconds = 30 } = {}): Promise<{ w: SimWindow; port: number; businessToken: string }> {
  const port = await freePort('0.0.0.0');
  const businessToken = randomBytes(16).toString('hex');
  const businessTokenFile = join(hall.dir, `business-${port}`);
  writeFileSync(businessTokenFile, businessToken, { mode: 0o600 });
  const w = await hall.window({ config: { screen: { host: '0.0.0.0', port }, http: { businessTokenFile, token: randomBytes(16).toString('hex') }, invitation: { timeoutSeconds } }, printer: { print: 'always' } });
  if (catalog) {
    await hall.province.publishConfig(w.terminalId, CATALOG);
    await waitUntil(() => w.bridge.status().reasonCatalog?.version === '2026.11', 'the catalogue to arrive');
  }
  return { w, port, businessToken };
}

const openScreen = (url: string): Promise<Page> => chromium.open(url, { viewport: { width: 800, height: 480 }, locale: 'zh-CN', hasTouch: true });

async function rated(hall: HallFixture, w: SimWindow, id: string): Promise<UpstreamRecord> {
  const [record] = await hall.expectExactlyOnce(w, [id]);
  return record!;
}

/** Whether the window's bridge has the gateway's stars (read as `hcp screen` reads its database: beside the service). */
function hasStars(w: SimWindow): boolean {
  const db = openDatabase(w.bridge.config.database.path);
  try {
    return new Settings(db).get('province.staffStars') !== undefined;
  } finally {
    db.close();
  }
}

/** Follows the screen's stream as a second page would; stop() gives all it said. */
function follow(url: string): { stop(): string } {
  const controller = new AbortController();
  let text = '';
  void fetch(url, { signal: controller.signal })
    .then(async (res) => {
      for await (const chunk of res.body!) text += Buffer.from(chunk).toString('utf8');
    })
    .catch(() => undefined);
  return {
    stop: () => {
      controller.abort();
      return text;
    },
  };
}

/** The grade words, to be sure the page says none after the press. */
const GRADE_WORDS = GRADES.map((grade) => GRADE_INFO[grade].zh);

describe('customer screen at 800 × 480', () => {
  it('shows the staff card and the item; a touch on 非常满意 rates once on the screen channel; thanks and the receipt QR, never the grade', async () => {
    const hall = await halls.start();
    const { w, port, businessToken } = await screenWindow(hall);
    const photo = samplePhoto();
    const signIn = await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1024', name: '王晓明', photo }, { authorization: `Bearer ${businessToken}` });
    expect(signIn.status).toBe(200);
    // Staff's own call may not say who they are: the roster or the business system does.
    const ownCard = await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1024', name: '冒名' });
    expect(ownCard).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field: 'name' } } });
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    const stream = follow(`http://127.0.0.1:${port}/api/events`);
    await shows(page.getByTestId('hall'), '模拟政务服务大厅');
    await shows(page.getByTestId('staff-name'), '王晓明');
    await shows(page.getByTestId('staff-id'), 'S1024');
    await expect(page.getByTestId('staff-photo').getAttribute('src')).resolves.toBe(photo);
    // No stars from the gateway yet: none shown.
    await expect(page.getByTestId('staff-stars').isHidden()).resolves.toBe(true);
    // The gateway's stars arrive in the terminal's retained config; the next invitation's card has them.
    await hall.province.publishConfig(w.terminalId, { staffStars: { asOf: '2026-11-30T08:00:00Z', days: 90, minRatings: 10, staff: [{ staffId: 'S1024', stars: 4.5, ratings: 212 }] } });
    await waitUntil(() => hasStars(w), 'the stars to arrive');

    const id = await w.invite({ services: [SERVICE] });
    await expect(page.getByTestId('staff-stars').getAttribute('data-stars')).resolves.toBe('4.5');
    await shows(page.getByTestId('items'), '食品经营许可');
    await shows(page.getByTestId('invite-prompt'), '您好，请您对本次服务进行评价');
    if (process.env.HCP_SCREENSHOTS) await page.screenshot({ path: 'docs/customer-screen.png' });
    await page.getByTestId('grade-very_satisfied').tap();
    await shows(page.getByTestId('closed-text'), '谢谢您的评价');
    const record = await rated(hall, w, id);
    expect(record).toMatchObject({ id, outcome: 'rated', channel: 'screen', rating: { grade: 'very_satisfied' } });
    // The terminal was told: its buttons are dark, and its own press now rates nothing.
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to leave the invitation');
    await page.getByTestId('qr-image').waitFor();
    expect(await page.getByTestId('qr-image').getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    const text = (await page.locator('body').innerText()).replace('谢谢您的评价', '');
    for (const word of GRADE_WORDS) expect(text).not.toContain(word);
    // Nor does the stream the page follows: the outcome, never the grade.
    const streamed = stream.stop();
    expect(streamed).toContain('"outcome":"rated"');
    for (const grade of GRADES) expect(streamed).not.toContain(grade);
    for (const word of GRADE_WORDS) expect(streamed).not.toContain(word);
  });

  it('a bad grade touched on the screen offers the reasons as text; the reason touched is the record\'s', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall, { catalog: true });
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    const id = await w.invite({ services: [SERVICE] });
    await page.getByTestId('grade-dissatisfied').tap();
    await shows(page.getByTestId('reasons-prompt'), '请选择不满意的原因');
    await shows(page.getByTestId('reason-1'), '2办事效率低');
    await page.getByTestId('reason-1').tap();
    await shows(page.getByTestId('closed-text'), '谢谢您的评价');
    expect(await rated(hall, w, id)).toMatchObject({ channel: 'screen', rating: { grade: 'dissatisfied', reasons: ['R02'] } });
  });

  it('a bad grade pressed on the terminal: the screen mirrors it and labels the reason buttons by number', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall, { catalog: true });
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    const id = await w.invite({ services: [SERVICE] });
    await page.getByTestId('grade-very_satisfied').waitFor();
    await w.terminal.press(4);
    await shows(page.getByTestId('reasons-hint'), '请按评价器上对应编号的按键');
    await shows(page.getByTestId('reason-0'), '1服务态度差');
    await shows(page.getByTestId('reason-2'), '3多次跑动');
    // Labels, not buttons: the terminal takes the reason; the screen has no skip of its own.
    await expect(page.locator('[data-testid="reason-list"] button').count()).resolves.toBe(0);
    await expect(page.getByTestId('reason-skip').isHidden()).resolves.toBe(true);
    await w.terminal.press(2);
    await shows(page.getByTestId('closed-text'), '谢谢您的评价');
    expect(await rated(hall, w, id)).toMatchObject({ channel: 'counter', rating: { grade: 'very_dissatisfied', reasons: ['R03'] } });
  });

  it('a press on the terminal first: the screen\'s later touch changes nothing (one service, one rating)', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall);
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    const id = await w.invite({ services: [SERVICE] });
    await page.getByTestId('grade-satisfied').waitFor();
    await w.terminal.press(1);
    const answer = await fetch(`http://127.0.0.1:${port}/api/press`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ invitationId: id, grade: 'very_dissatisfied' }) });
    expect(answer.status).toBe(409);
    expect(await rated(hall, w, id)).toMatchObject({ channel: 'counter', rating: { grade: 'satisfied' } });
  });

  it('an invitation nobody rates: the timeout, with the QR code of the receipt printed for it', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall, { timeoutSeconds: 1 });
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    const id = await w.invite({ services: [SERVICE] });
    await shows(page.getByTestId('closed-text'), '本次评价已超时，谢谢');
    await page.getByTestId('qr-image').waitFor();
    expect(await rated(hall, w, id)).toMatchObject({ outcome: 'not_rated' });
  });

  it('paused (暂停服务) and the staff\'s announcements are shown', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall);
    const page = await openScreen(`http://127.0.0.1:${port}/`);
    await shows(page.getByTestId('staff-id'), 'S1');
    w.bridge.emit('announce', 'one_metre_line');
    await shows(page.getByTestId('banner'), '请在一米线外等候');
    w.bridge.desk.setPaused(true, 'S1');
    await shows(page.getByTestId('paused-text'), '本窗口暂停服务，请稍候');
    w.bridge.desk.setPaused(false, 'S1');
    await page.getByTestId('paused').waitFor({ state: 'hidden' });
  });
});

describe('customer screen on a tablet (from the LAN)', () => {
  it('asks for pairing; refuses a touch and a staff token without it; a wrong code, then the code from hcp screen pair', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall);
    const base = `http://${lanAddress()}:${port}`;
    const id = await w.invite({ services: [SERVICE] });
    const page = await openScreen(`${base}/`);
    await page.getByTestId('pair-code').waitFor();
    await expect(page.getByTestId('grades').isHidden()).resolves.toBe(true);

    // Not paired: no touch rates, whatever token it brings (the staff API's is not the screen's).
    const press = JSON.stringify({ invitationId: id, grade: 'very_satisfied' });
    for (const authorization of [undefined, `Bearer ${w.bridge.config.http.token}`]) {
      const answer = await fetch(`${base}/api/press`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization && { authorization }) }, body: press });
      expect(answer.status).toBe(401);
    }
    const events = await fetch(`${base}/api/events`);
    expect(events.status).toBe(401);
    // And the staff API has no way to rate at all.
    expect((await w.api('POST', '/api/v1/screen/press', JSON.parse(press))).status).toBe(404);

    await page.getByTestId('pair-code').fill('000000');
    await page.getByTestId('pair-submit').tap();
    await shows(page.getByTestId('pair-error'), '配对码不正确或已过期');

    // The technician's command, beside the running service, on the window's own config file.
    const configFile = join(hall.dir, `bridge-${port}.json`);
    writeFileSync(configFile, JSON.stringify(w.bridge.config));
    const paired = await hcp(['screen', 'pair', '--config', configFile]);
    expect(paired.code, paired.stderr).toBe(0);
    const code = /Pairing code: (\d{6})/.exec(paired.stdout)?.[1] ?? '';
    await page.getByTestId('pair-code').fill(code);
    await page.getByTestId('pair-submit').tap();
    await shows(page.getByTestId('items'), '食品经营许可');
    await page.getByTestId('grade-satisfied').tap();
    await shows(page.getByTestId('closed-text'), '谢谢您的评价');
    expect(await rated(hall, w, id)).toMatchObject({ channel: 'screen', rating: { grade: 'satisfied' } });
    // The cookie is HttpOnly: the page's script cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');

    // Unpaired: the tablet's stream ends, and its page asks for a code again.
    const revoked = await hcp(['screen', 'revoke', 'all', '--config', configFile]);
    expect(revoked.stdout).toContain('1 tablet unpaired');
    w.bridge.emit('announce', 'greeting');
    await page.getByTestId('pair-code').waitFor();
  }, 90_000);

  it('refuses a page opened under a name not allowed (DNS rebinding) and a touch sent from another site\'s page', async () => {
    const hall = await halls.start();
    const { w, port } = await screenWindow(hall);
    const id = await w.invite({ services: [SERVICE] });
    const rebound = await send(`http://127.0.0.1:${port}`, { method: 'GET', path: '/api/session', headers: { host: `evil.example:${port}` }, body: undefined });
    expect(rebound.status).toBe(421);
    const crossSite = await fetch(`http://127.0.0.1:${port}/api/press`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ invitationId: id, grade: 'very_satisfied' }),
    });
    expect(crossSite.status).toBe(403);
    expect(w.bridge.desk.current()?.id).toBe(id);
  });
});

describe('customer screen whose port another program holds', () => {
  it('the bridge starts without it, says why (log and status) and rates meanwhile; once the port is free the screen comes up by itself', async () => {
    const hall = await halls.start();
    const port = await freePort('127.0.0.1');
    const holder = createServer((_req, res) => res.end('another program'));
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) }));
    try {
      // A short retry, on the bridge's own timers: the default is SCREEN_RETRY_MS.
      const w = await hall.window({ config: { screen: { host: '127.0.0.1', port } }, bridgeDeps: { logger, screenRetryMs: 200 } });
      const taken = `screen.port: 127.0.0.1:${port} is in use by another program (another hcp run?): stop it, or choose another port`;
      expect(w.bridge.status().screen).toEqual({ configured: true, url: null, listenError: taken, following: 0, pairedTablets: 0 });
      expect(formatStatus(w.bridge.status(), w.bridge.httpUrl)).toContain(`NOT SERVED: ${taken}; the bridge rates without it and keeps trying; 0 page(s) following, 0 tablet(s) paired\n`);
      // Doctor, beside the running bridge, names the port and says the bridge is waiting for it.
      // (The window's API listens on a port picked at start: doctor is given it.)
      const asConfigured = { ...w.bridge.config, http: { ...w.bridge.config.http, port: Number(new URL(w.bridge.httpUrl).port) } };
      const doctor = async () => checkScreen(asConfigured, await askRunningService(asConfigured, { fetch: defaultStatusFetch, timeoutMs: 3000 }));
      expect(await doctor()).toEqual([
        { level: 'fail', name: 'customer screen', message: taken, fix: [`see which program holds it: sudo ss -ltnp 'sport = :${port}'`, 'meanwhile the running bridge rates without its screen and tries again every 10 s', 'docs/customer-screen.md, "When its port is taken"'] },
      ]);
      // The counter rates all the same.
      const id = await hall.serve(w, 'C-PORT-1', 0);
      expect(await rated(hall, w, id)).toMatchObject({ outcome: 'rated', channel: 'counter' });
      // Retries while the port is held are not logged again: one error, naming the setting and what to do.
      await waitUntil(() => lines.filter((line) => line.includes('customer screen not served')).length === 1, 'the error logged');
      const errors = lines.filter((line) => line.includes('customer screen not served'));
      expect(errors).toHaveLength(1);
      expect(JSON.parse(errors[0]!)).toMatchObject({ level: 50, msg: `customer screen not served: ${taken}. The bridge rates without it, and tries again every 0.2 s` });

      await new Promise<void>((resolve) => holder.close(() => resolve()));
      await waitUntil(() => w.bridge.status().screen.configured && (w.bridge.status().screen as { url: string | null }).url !== null, 'the screen to come up');
      expect(w.bridge.status().screen).toMatchObject({ url: `http://127.0.0.1:${port}/`, listenError: null });
      expect(lines.some((line) => line.includes('customer screen served at last'))).toBe(true);
      expect(await doctor()).toEqual([{ level: 'ok', name: 'customer screen', message: `served by the running bridge at http://127.0.0.1:${port}/` }]);
      const page = await openScreen(`http://127.0.0.1:${port}/`);
      await shows(page.getByTestId('hall'), '模拟政务服务大厅');
      await waitUntil(() => (w.bridge.status().screen as { following: number }).following === 1, 'the page to follow the screen');
      expect(formatStatus(w.bridge.status(), w.bridge.httpUrl)).toMatch(new RegExp(`\\n {2}screen +served at http://127\\.0\\.0\\.1:${port}/; 1 page\\(s\\) following, 0 tablet\\(s\\) paired\\n`));
      const id2 = await w.invite({ services: [SERVICE] });
      await page.getByTestId('grade-satisfied').tap();
      expect(await rated(hall, w, id2)).toMatchObject({ channel: 'screen', rating: { grade: 'satisfied' } });
    } finally {
      holder.close();
    }
  });
});
