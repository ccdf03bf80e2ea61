import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedHall } from '../../simulator/hall.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';
import { waitUntil } from '../../simulator/wait.js';
import { readBack } from '../support/exports-read-back.js';

/*
 * Issue 15's "done when", on the hall `npm start` runs (SimulatedHall, no part replaced): a bad
 * review at a window reaches the duty group's robots and the dashboard within seconds; a county
 * account sees its county, the neighbouring county's sees none of it; a month's export opens in
 * a spreadsheet reader that is not ours. The page itself is tested in Chromium in dashboard.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'hcp-hall-dashboard-'));
let hall: SimulatedHall | undefined;

afterAll(async () => {
  await hall?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Signs a demo account in as a script would (a bearer token), and returns a GET through it. */
async function signIn(username: string): Promise<(path: string) => Promise<Response>> {
  const account = hall!.dashboardAccounts.accounts.find((a) => a.username === username)!;
  const base = hall!.gateway.dashboardUrl!;
  const answer = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: account.password, bearer: true }) });
  expect(answer.status).toBe(200);
  const { token } = (await answer.json()) as { token: string };
  return (path) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

describe('the hall’s managers (npm start)', () => {
  it('a bad review at a window: at the robots and on the dashboard within seconds, for its county only; the month exports to a spreadsheet', async () => {
    hall = await SimulatedHall.start({ windows: 2, dataDir: dir, traffic: false });
    const file = hall.dashboardAccounts.file;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const listed = readFileSync(file, 'utf8');
    for (const account of hall.dashboardAccounts.accounts) expect(listed).toContain(`${account.username.padEnd(13)} ${account.password}`);

    const [, w2] = hall.windows;
    await w2!.signIn('S1002', SAMPLE_STAFF_PIN);
    const invited = await w2!.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0099', itemName: '户外广告设置许可', caseNo: 'HD-330106-0001' }] });
    expect(invited.status).toBe(201);
    await waitUntil(() => w2!.terminal.core.state === 'invited', 'the terminal to show the invitation');
    await w2!.terminal.press(4); // 非常不满意
    await waitUntil(() => w2!.terminal.core.state === 'reason', 'the reason step');
    await w2!.terminal.press(0);

    // The robots: one message each, nothing personal in it.
    const arrivals = await Promise.all(
      (['wecom', 'dingtalk', 'webhook'] as const).map((channel) => hall!.alerts.waitFor((m) => m.channel === channel && m.accepted, 10_000)),
    );
    for (const message of arrivals) {
      expect(message.markdown).toContain('非常不满意');
      expect(message.markdown).toContain('W02');
      expect(message.markdown).not.toContain('HD-330106-0001');
      expect(message.markdown).not.toContain('S1002');
      expect(message.markdown).toContain(`${hall.gateway.dashboardUrl}/?alert=`); // the link to it on the dashboard
    }

    // The dashboard: the county's account sees the alert and the invitation; the neighbouring county's sees neither.
    const county = await signIn('county');
    const alerts = (await (await county('/api/alerts?state=unacknowledged')).json()) as { alerts: { kind: string; windowNo: string }[]; total: number };
    expect(alerts.alerts).toEqual([expect.objectContaining({ kind: 'bad_review', windowNo: 'W02' })]);
    const stats = (await (await county('/api/stats?by=window&flagged=true')).json()) as { rows: { key: string; invitations: number; bad: number }[] };
    expect(stats.rows.find((r) => r.key.endsWith('W02'))).toMatchObject({ invitations: 1, bad: 1 });
    const windows = (await (await county('/api/windows')).json()) as { windows: { windowNo: string }[] };
    expect(windows.windows.map((w) => w.windowNo)).toEqual(['W01', 'W02']);

    const neighbour = await signIn('other-county');
    expect(((await (await neighbour('/api/alerts?state=all')).json()) as { total: number }).total).toBe(0);
    expect(((await (await neighbour('/api/windows')).json()) as { windows: unknown[] }).windows).toEqual([]);
    const none = (await (await neighbour('/api/stats?flagged=true')).json()) as { rows: { invitations: number }[] };
    expect(none.rows.reduce((n, r) => n + r.invitations, 0)).toBe(0);

    // The month's records, as a spreadsheet reader that is not ours opens them.
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).format(new Date());
    // The test pressed at once: the rating is flagged fast_press, and counted only with flagged=true.
    const exported = await county(`/api/exports?month=${month}&what=records&format=xlsx&flagged=true`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toMatch(/attachment; filename="hcp-records-/);
    const sheet = await readBack(Buffer.from(await exported.arrayBuffer()), 'xlsx');
    const cells = sheet.rows.map((row) => row.map((c) => String(c.v)));
    expect(cells).toHaveLength(2); // the header and the one invitation
    expect(cells[1]).toEqual(expect.arrayContaining(['W02', '非常不满意']));
    const unflagged = await readBack(Buffer.from(await (await county(`/api/exports?month=${month}&what=records&format=xlsx`)).arrayBuffer()), 'xlsx');
    expect(unflagged.rows).toHaveLength(1);
  }, 60_000);
});
