import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../gateway/accounts/scope.js';
import { liveWindows, type WindowLive } from '../../gateway/live/windows.js';
import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import { SimulatedHall } from '../../simulator/hall.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';
import { waitUntil } from '../../simulator/wait.js';
import { eventually } from '../support/gateway-fixture.js';

/**
 * A real bridge's telemetry through the broker into the gateway's registry, read by liveWindows:
 * the staff member who signs in and the invitation opened show within seconds (not at the next
 * minute's beat), and the invitation leaves when it closes; no case number, no grade on the way.
 */
const dir = mkdtempSync(join(tmpdir(), 'hcp-live-windows-'));
let hall: SimulatedHall;

const COUNTY: Scope = { role: 'county', areaPrefix: '330106', hallCode: null };
const CASE_NO = 'LW-330106-0001';

beforeAll(async () => {
  hall = await SimulatedHall.start({ windows: 2, dataDir: dir, traffic: false, timeoutSeconds: 20, terminalPrefix: 'LW' });
}, 120_000);

afterAll(async () => {
  await hall?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function windows(scope: Scope = COUNTY): Promise<WindowLive[]> {
  return liveWindows(hall.gateway.db, { scope, now: new Date() });
}

async function window(no: string): Promise<WindowLive | undefined> {
  return (await windows()).find((w) => w.windowNo === no);
}

describe('live windows from a real bridge', () => {
  it('shows the signed-in staff member and the open invitation soon after, and clears it on close', { timeout: 60_000 }, async () => {
    const all = await eventually(async () => {
      const found = await windows();
      return found.length === 2 && found.every((w) => w.online && !w.stale && w.telemetryAt !== null) && found;
    }, 'both windows online with telemetry');
    expect(all.map((w) => [w.terminalId, w.areaCode, w.hallCode, w.windowNo])).toEqual([
      ['LW-W01', '330106', 'SIM-HALL', 'W01'],
      ['LW-W02', '330106', 'SIM-HALL', 'W02'],
    ]);
    expect(all[0]).toMatchObject({ hallName: '模拟政务服务大厅', staffId: null, invitation: null, backlog: { pending: expect.any(Number) }, clockSynced: expect.any(Boolean) });

    const [w1] = hall.windows;
    await w1!.signIn('S1001', SAMPLE_STAFF_PIN);
    const signedIn = Date.now();
    await eventually(async () => (await window('W01'))?.staffId === 'S1001', 'the staff member in the live view');
    // Sooner than the minute's beat: sent because the desk changed.
    expect(Date.now() - signedIn).toBeLessThan(10_000);
    expect((await window('W02'))?.staffId).toBeNull();

    const id = await w1!.invite({ services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: CASE_NO }] });
    await waitUntil(() => w1!.terminal.core.state === 'invited', `invitation ${id} on the terminal`);
    const open = await eventually(async () => {
      const w = await window('W01');
      return w?.invitation !== null && w;
    }, 'the open invitation in the live view');
    expect(open.invitation).toEqual({ invitedAt: expect.any(String), mode: 'single', items: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可' }], cases: 1 });
    expect(Date.parse(open.invitation!.invitedAt)).toBe(Date.parse(w1!.bridge.desk.current()!.invitedAt));
    expect(JSON.stringify(open)).not.toContain(CASE_NO);

    await w1!.terminal.press(4); // 非常不满意: a bad grade, then its reason step
    await waitUntil(() => w1!.terminal.core.state === 'reason', 'the reason step');
    await w1!.terminal.press(0);
    await eventually(async () => (await window('W01'))?.invitation === null, 'the invitation gone from the live view');
    expect((await window('W01'))?.staffId).toBe('S1001');

    // What the gateway keeps of the telemetry names no case and no grade.
    const { rows } = await hall.gateway.db.query<{ telemetry: unknown }>(`SELECT telemetry FROM terminals WHERE terminal_id = 'LW-W01'`);
    const kept = JSON.stringify(rows[0]?.telemetry);
    expect(kept).toContain('"desk"');
    expect(kept).not.toContain(CASE_NO);
    for (const grade of GRADES) {
      expect(kept).not.toContain(grade);
      expect(kept).not.toContain(GRADE_INFO[grade].zh);
    }

    await w1!.api('POST', '/api/v1/staff/sign-out');
    await eventually(async () => (await window('W01'))?.staffId === null, 'the sign-out in the live view');
  });

  it('shows only the scope: the hall and its county, not another hall or county', async () => {
    expect(await windows({ role: 'hall', areaPrefix: '330106', hallCode: 'SIM-HALL' })).toHaveLength(2);
    expect(await windows({ role: 'city', areaPrefix: '3301', hallCode: null })).toHaveLength(2);
    expect(await windows({ role: 'hall', areaPrefix: '330106', hallCode: 'OTHER-HALL' })).toEqual([]);
    expect(await windows({ role: 'county', areaPrefix: '330107', hallCode: null })).toEqual([]);
    expect(await windows({ role: 'province', areaPrefix: '11', hallCode: null })).toEqual([]);
  });

  it('calls every window stale once no telemetry came for three beats', async () => {
    const live = await liveWindows(hall.gateway.db, { scope: COUNTY, now: new Date(Date.now() + 3 * 60_000 + 60_000) });
    expect(live.map((w) => w.stale)).toEqual([true, true]);
  });
});
