import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfigDocument } from '../../bridge/config.js';
import { listDeliveries } from '../../gateway/delivery/status.js';
import type { ProvinceProfileInput } from '../../gateway/province/profile.js';
import { SimulatedHall } from '../../simulator/hall.js';
import type { ProvinceHttpEmulator } from '../../simulator/province-http/server.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { eventually } from '../support/gateway-fixture.js';
import { hcp } from '../support/run-hcp.js';

/**
 * Issue 14's chain end to end, as `hcp start` runs it: a press at a virtual terminal, its bridge,
 * the embedded broker, the gateway on PGlite, and the province's HTTP interface (the emulator),
 * which verifies the SM2-signed envelope and the province's rules. Each docs sample profile.
 */

const SAMPLES = {
  national: fileURLToPath(new URL('../../docs/province-profiles/national.yaml', import.meta.url)),
  other: fileURLToPath(new URL('../../docs/province-profiles/other.yaml', import.meta.url)),
};
/** A 33-character item code: the other profile splits it into taskCode (31) and taskHandleItem. */
const ITEM = '11330106MB2F30661Y231200356400001';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startHall(which: keyof typeof SAMPLES, terminalPrefix: string): Promise<SimulatedHall> {
  const dir = mkdtempSync(join(tmpdir(), `hcp-province-${which}-`));
  dirs.push(dir);
  const profile = readConfigDocument(SAMPLES[which]) as ProvinceProfileInput;
  // The simulated hall (SIM-HALL) is in neither sample's list of halls: the default deptCode serves it.
  const hall = await SimulatedHall.start({ windows: 1, dataDir: dir, traffic: false, timeoutSeconds: 3, terminalPrefix, provinceProfile: { ...profile, deptCode: '11330106MB0000000X' } });
  return hall;
}

async function invite(window: SimWindow, caseNo: string): Promise<string> {
  if (window.bridge.desk.staffId === null) await window.signIn('S1001', SAMPLE_STAFF_PIN);
  const id = await window.invite({ services: [{ itemCode: ITEM, itemName: '食品经营许可', caseNo }] });
  await waitUntil(() => window.terminal.core.state === 'invited', `invitation ${id} on the terminal`);
  return id;
}

const evaluationsOf = (emulator: ProvinceHttpEmulator, caseNo: string) => emulator.evaluations.filter((e) => e.body.projectNo === caseNo);
const servicesOf = (emulator: ProvinceHttpEmulator, caseNo: string) => emulator.services.filter((s) => s.body.projectNo === caseNo);

describe.each([
  ['national', { pf: 4, veryGood: 5, bad: 2, evalDetail: 'R02', area: '330106000000', taskCode: ITEM }],
  ['other', { pf: 5, veryGood: 1, bad: 4, evalDetail: '502', area: '330106000000', taskCode: ITEM.slice(0, 31) }],
] as const)('the %s sample profile', (which, expected) => {
  let hall: SimulatedHall;
  // One hall at a time: a process has one set of virtual lines.
  afterAll(() => hall?.stop());

  it('a rating pressed at the counter reaches the province once, with the profile’s codes', { timeout: 90_000 }, async () => {
    hall = await startHall(which, `PD${which === 'national' ? 'N' : 'O'}`);
    const [w] = hall.windows;
    const emulator = hall.province.emulator;
    const good = `PD-${which}-0001`;
    await invite(w!, good);
    await w!.terminal.press(0); // 非常满意
    const bad = `PD-${which}-0002`;
    await invite(w!, bad);
    await w!.terminal.press(3); // 不满意, then its reason
    await waitUntil(() => w!.terminal.core.state === 'reason', 'the reason step');
    await w!.terminal.press(1); // R02
    await eventually(async () => evaluationsOf(emulator, bad).length === 1 && evaluationsOf(emulator, good).length === 1, 'both evaluations at the province', { timeoutMs: 20_000 });

    for (const caseNo of [good, bad]) {
      expect(servicesOf(emulator, caseNo)).toHaveLength(1);
      expect(servicesOf(emulator, caseNo)[0]!.pushes).toBe(1);
      expect(servicesOf(emulator, caseNo)[0]!.body).toMatchObject({ projectNo: caseNo, taskCode: expected.taskCode, areaCode: expected.area });
    }
    expect(evaluationsOf(emulator, good)[0]!.body).toMatchObject({ projectNo: good, satisfaction: expected.veryGood, pf: expected.pf, assessNumber: 1 });
    expect(evaluationsOf(emulator, bad)[0]!.body).toMatchObject({ projectNo: bad, satisfaction: expected.bad, pf: expected.pf, assessNumber: 1, evalDetail: expected.evalDetail });
    expect(evaluationsOf(emulator, bad)[0]!.body.writingEvaluation).not.toBe('');
    // Marked delivered once the province's answer is in (a moment after the province has it).
    await eventually(async () => (await listDeliveries(hall.gateway.db, { limit: 10 })).every((r) => r.state === 'delivered'), 'both rows delivered');
    expect((await listDeliveries(hall.gateway.db, { limit: 10 })).map((r) => r.caseNo).sort()).toEqual([good, bad]);
  });

  it('a case not rated at the counter arrives as its service only (the province applies its default)', { timeout: 60_000 }, async () => {
    const [w] = hall.windows;
    const emulator = hall.province.emulator;
    const caseNo = `PD-${which}-0003`;
    const id = await invite(w!, caseNo);
    await waitUntil(() => w!.bridge.outbox.get(id)?.state === 'acked', 'the not-rated record stored at the gateway', { timeoutMs: 15_000 });
    await eventually(async () => (await listDeliveries(hall.gateway.db, { caseNo })).some((r) => r.state === 'delivered'), 'the case delivered', { timeoutMs: 15_000 });
    expect(servicesOf(emulator, caseNo)).toHaveLength(1);
    expect(evaluationsOf(emulator, caseNo)).toEqual([]);
  });
});

describe('the province away and back, and a refusal', () => {
  let hall: SimulatedHall;
  afterAll(() => hall?.stop());

  it('the province down while ratings are made: nothing delivered meanwhile; once back, every case once, its service before its evaluation', { timeout: 120_000 }, async () => {
    hall = await startHall('national', 'PDD');
    const [w] = hall.windows;
    const emulator = hall.province.emulator;
    await emulator.setFault({ kind: 'down', mode: 'closed' });
    const cases = ['PD-DOWN-1', 'PD-DOWN-2', 'PD-DOWN-3', 'PD-DOWN-4'];
    for (const [i, caseNo] of cases.entries()) {
      const id = await invite(w!, caseNo);
      await w!.terminal.press(i % 3); // good grades: no reason step
      await waitUntil(() => w!.bridge.outbox.get(id)?.state === 'acked', `${caseNo} stored at the gateway`, { timeoutMs: 15_000 });
    }
    await eventually(async () => (hall.gateway.status().province?.transient ?? 0) >= 2, 'delivery failing while the province is down', { timeoutMs: 20_000 });
    expect(emulator.services).toEqual([]);
    const waiting = await listDeliveries(hall.gateway.db, { limit: 10 });
    expect(waiting.map((r) => r.state)).toEqual(['service', 'service', 'service', 'service']);
    expect(waiting.some((r) => r.attempts > 0 && r.message !== null)).toBe(true);

    await emulator.clearFaults();
    await eventually(async () => (await listDeliveries(hall.gateway.db, { limit: 10 })).every((r) => r.state === 'delivered'), 'every case delivered once the province is back', { timeoutMs: 40_000 });
    for (const caseNo of cases) {
      expect(servicesOf(emulator, caseNo)).toHaveLength(1);
      expect(servicesOf(emulator, caseNo)[0]!.pushes).toBe(1);
      expect(evaluationsOf(emulator, caseNo)).toHaveLength(1);
      expect(Date.parse(servicesOf(emulator, caseNo)[0]!.at)).toBeLessThanOrEqual(Date.parse(evaluationsOf(emulator, caseNo)[0]!.at));
    }
  });

  it('the province refusing our calls (its appWord changed): kept as rejected with its reason, visible in hcp gateway deliveries; sent once after the operator retries', { timeout: 90_000 }, async () => {
    const [w] = hall.windows;
    // The province now expects another appWord: every call is refused (not a failure to retry blindly).
    await hall.province.restart({ appWord: 'a-new-appword-we-were-not-told' });
    try {
      const caseNo = 'PD-REFUSED-1';
      const id = await invite(w!, caseNo);
      await w!.terminal.press(1);
      await waitUntil(() => w!.bridge.outbox.get(id)?.state === 'acked', 'stored at the gateway', { timeoutMs: 15_000 });
      await eventually(async () => (await listDeliveries(hall.gateway.db, { caseNo }))[0]?.state === 'rejected', 'the delivery rejected', { timeoutMs: 15_000 });
      const [row] = await listDeliveries(hall.gateway.db, { caseNo });
      expect(row).toMatchObject({ rejectedPhase: 'service', code: expect.stringMatching(/\S/), message: expect.stringMatching(/\S/) });

      const shown = await hcp(['gateway', 'deliveries', '--state', 'rejected', '--url', hall.gateway.adminUrl]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(`record/${id}/${caseNo}`);
      expect(shown.stdout).toContain(row!.message!.slice(0, 40));

      // The operator mends the appWord (here: the province takes the old one again) and retries.
      const mended = await hall.province.restart();
      const retried = await hcp(['gateway', 'deliveries', 'retry', '--rejected', '--url', hall.gateway.adminUrl, '--operator', 'e2e']);
      expect(retried.stdout).toContain('sent again from the refused phase: 1');
      await eventually(async () => (await listDeliveries(hall.gateway.db, { caseNo }))[0]?.state === 'delivered', 'delivered after the retry', { timeoutMs: 20_000 });
      expect(servicesOf(mended, caseNo)).toHaveLength(1);
      expect(evaluationsOf(mended, caseNo)).toHaveLength(1);
    } finally {
      await hall.province.restart();
    }
  });
});
