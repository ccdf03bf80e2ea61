import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatStatus } from '../../cli/status.js';
import type { ProvinceProfileInput } from '../../gateway/province/profile.js';
import { freePort } from '../../simulator/free-port.js';
import { SimulatedHall } from '../../simulator/hall.js';
import { ratingPageTemplate } from '../../simulator/province-http/rating-page.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';
import { waitUntil } from '../../simulator/wait.js';
import { SIMULATED_PROVINCE } from '../../simulator/hall-province.js';

/**
 * The receipt QR in the province's mode, through the real chain: the gateway reads a profile with
 * rateLater.mode province, fills the template for each terminal and sends it in the terminal's
 * config; the bridge prints a not-rated case's receipt whose QR opens the province's own rating
 * page (the emulator's) for that case; a rating made there reaches the province as pf 3.
 */
const dir = mkdtempSync(join(tmpdir(), 'hcp-receipt-page-'));
let hall: SimulatedHall | undefined;

afterAll(async () => {
  await hall?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the receipt QR leads to the province’s page when the profile says so', () => {
  it('a not-rated case’s receipt opens the province’s page for its case, and a rating there reaches the province', async () => {
    const provincePort = await freePort();
    const provinceUrl = `http://127.0.0.1:${provincePort}`;
    const profile: ProvinceProfileInput = { ...SIMULATED_PROVINCE, name: 'province page e2e', rateLater: { mode: 'province', urlTemplate: ratingPageTemplate(provinceUrl) } };
    hall = await SimulatedHall.start({ windows: 1, dataDir: dir, traffic: false, provincePort, provinceProfile: profile, timeoutSeconds: 1, terminalPrefix: 'RP' });
    const [w] = hall.windows;
    const printer = () => {
      const status = w!.bridge.status().printer;
      if (!status.configured) throw new Error('the hall’s windows have printers');
      return status;
    };
    await waitUntil(() => printer().qrPage.from === 'province', 'the province’s page in the terminal’s config', { timeoutMs: 10_000 });

    await w!.signIn('S1001', SAMPLE_STAFF_PIN);
    const caseNo = 'RP-330106-0001';
    await w!.invite({ services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo }] });
    const receipt = await w!.printer!.waitForReceipt(undefined, { timeoutMs: 15_000 });
    const [qr] = receipt.qrCodes();
    const areaCode = w!.bridge.config.terminal.areaCode.padEnd(12, '0');
    expect(qr?.payload).toBe(`${provinceUrl}/pj/index.html?projectNo=${caseNo}&areaCode=${areaCode}&taskCode=330106-XK-0012`);
    expect(printer().qrPage).toEqual({ from: 'province', fallbacks: 0, lastFallback: null });
    expect(formatStatus(w!.bridge.status(), w!.bridge.httpUrl)).toMatch(/\n {2}receipt QR +the province’s rating page\n/);

    // The citizen scans it: the province's page for the case; rating there once the gateway has delivered the service.
    const opened = await fetch(qr!.payload);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain(caseNo);
    await waitUntil(() => hall!.province.emulator.services.some((s) => s.body.projectNo === caseNo), 'the service delivered to the province', { timeoutMs: 15_000 });
    const rated = await fetch(`${provinceUrl}/pj/index.html`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ projectNo: caseNo, grade: 'satisfied' }).toString() });
    expect(rated.status).toBe(200);
    expect(hall.province.emulator.evaluations.filter((e) => e.body.projectNo === caseNo).map((e) => [e.body.pf, e.body.assessNumber])).toEqual([[3, 1]]);
  }, 60_000);
});
