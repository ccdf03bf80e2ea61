import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frame.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { refusalOf, SimWindow, type SimWindowOptions } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { notAudit } from '../support/audit-events.js';
import { BROKERS, type TestBroker } from '../support/brokers.js';

/**
 * The whole path, with real parts: virtual terminal (the real firmware core on johnny-five over
 * the serialport mock binding) → bridge (SQLite, HTTP) → MQTT broker (embedded, and Debian's Mosquitto) → province emulator.
 */
let counter = 0;

describe.each(BROKERS)('one rating, button to province ($name broker)', (kind) => {
  let broker: TestBroker;
  let province: ProvinceEmulator;
  let dir: string;
  let window: SimWindow | undefined;

  beforeAll(async () => {
    broker = await kind.start();
    province = await ProvinceEmulator.start({ url: broker.url });
    dir = mkdtempSync(join(tmpdir(), 'hcp-e2e-'));
  });

  afterEach(async () => {
    await window?.stop();
    window = undefined;
  });

  afterAll(async () => {
    await province.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openWindow(config: SimWindowOptions['config'] = {}): Promise<SimWindow> {
    counter += 1;
    // A folder per window: its key and pairing live beside its database.
    const windowDir = join(dir, `e2e-${counter}`);
    mkdirSync(windowDir);
    window = await SimWindow.start({
      brokerUrl: broker.url,
      windowNo: `A${String(counter).padStart(2, '0')}`,
      terminalId: `E2E-${counter}`,
      dbPath: join(windowDir, 'hcp.db'),
      config,
    });
    return window;
  }

  const service = { itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: 'C-2026-000123' };

  it('delivers a 不满意 rating once, with attribution, and empties the outbox on the ack', async () => {
    const w = await openWindow();
    expect((await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);
    const id = await w.invite({ services: [service] });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the terminal to show the invitation');
    expect(w.terminal.leds()).toEqual([true, true, true, true, true]);

    await w.terminal.press(3);

    const record = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({
      kind: 'invitation',
      terminalId: w.terminalId,
      areaCode: '330106',
      windowNo: w.windowNo,
      staffId: 'S1001',
      services: [service],
      mode: 'single',
      outcome: 'rated',
      channel: 'counter',
      test: false,
      rating: { grade: 'dissatisfied', gradeCode: 2 },
    });
    await waitUntil(() => w.bridge.outbox.get(id)?.state === 'acked' && w.bridge.outbox.stats().pending === 0, 'the province ack to clear the outbox');
    expect(w.bridge.outbox.stats()).toMatchObject({ pending: 0, quarantined: 0 });
    expect(province.recordsOf(w.terminalId).filter(notAudit)).toHaveLength(1);
    expect((await w.api('GET', `/api/v1/invitations/${id}`)).body).toMatchObject({ state: 'closed', outcome: 'rated' });
  });

  it('maps the grade code by the configured profile, sealed with the record when it is stored', async () => {
    const w = await openWindow({ mqtt: { url: broker.url, gradeProfile: 'gbt-39046' } });
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1002' });
    const id = await w.invite({ services: [service] });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(3);
    const record = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({ rating: { grade: 'dissatisfied', gradeCode: 4 } });
    // Stored as sent (layout v2, sealed at commit): the grade by meaning, its code by the profile.
    expect(w.bridge.outbox.get(id)?.record).toMatchObject({ schema: 2, rating: { grade: 'dissatisfied', gradeCode: 4 } });
  });

  it("takes the grade numbering the province's config names, in place of its own, for the records stored from then on", async () => {
    const w = await openWindow();
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1005' });
    const rate = async (): Promise<number | undefined> => {
      const id = await w.invite({ services: [service] });
      await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
      await w.terminal.press(3);
      const record = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.id === id));
      await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal back to idle');
      return record.kind === 'invitation' ? record.rating?.gradeCode : undefined;
    };
    expect(await rate()).toBe(2); // its own mqtt.gradeProfile: provincial-5-high
    expect(w.bridge.status().codeProfile).toEqual({ name: 'provincial-5-high', from: 'config' });
    await province.publishConfig(w.terminalId, { gradeProfile: 'gbt-39046' });
    await waitUntil(() => w.bridge.status().codeProfile.from === 'province', "the province's grade profile to be adopted");
    expect(w.bridge.status().codeProfile).toEqual({ name: 'gbt-39046', from: 'province' });
    expect(await rate()).toBe(4); // GB/T 39046: 不满意 is 4
  });

  it('records a press with no invitation as a stray-press event, not a rating', async () => {
    const w = await openWindow();
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1003' });
    await w.terminal.press(0);
    const event = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'stray_press'));
    expect(event).toMatchObject({ kind: 'event', type: 'stray_press', staffId: 'S1003', detail: { grade: 'very_satisfied' } });
    await waitUntil(() => w.bridge.outbox.get(event.id)?.state === 'acked', 'the ack');
    expect(province.recordsOf(w.terminalId).filter((r) => r.kind === 'invitation')).toHaveLength(0);
  });

  it('takes only the first press of an invitation', async () => {
    const w = await openWindow();
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1004' });
    const id = await w.invite({ services: [service] });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(0);
    await w.terminal.press(4);
    expect(w.terminal.core.counters.ignoredPresses).toBe(1);
    const record = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'very_satisfied' } });
    await waitUntil(() => w.bridge.outbox.get(id)?.state === 'acked' && w.terminal.core.unacknowledged === 0, 'everything acknowledged');
    expect(province.recordsOf(w.terminalId).filter(notAudit)).toHaveLength(1);
  });

  it('closes an invitation nobody rates as not_rated when it times out', async () => {
    const w = await openWindow({ invitation: { timeoutSeconds: 1, deviceGraceSeconds: 5 } });
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1005' });
    const id = await w.invite({ services: [service] });
    const record = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({ kind: 'invitation', outcome: 'not_rated', flags: [] });
    expect(record).not.toHaveProperty('rating');
  });

  it('drops and counts a frame with a bad checksum, and keeps working', async () => {
    const w = await openWindow();
    const forged = encodeFrame({ type: 'stray', seq: 9999, grade: 'very_satisfied' }).replace('very_satisfied', 'satisfied');
    const stored = w.bridge.outbox.maxSeq(); // the audit may hold an entry already (the terminal's pairing)
    w.line.injectToBridge(forged);
    await waitUntil(() => w.bridge.status().link.counters.rejected.checksum === 1, 'the bad frame to be counted');
    expect(w.bridge.outbox.maxSeq()).toBe(stored);
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1006' });
    await w.terminal.press(1);
    await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'stray_press'));
    expect(province.recordsOf(w.terminalId).filter(notAudit)).toHaveLength(1);
  });

  it('refuses an invitation with a missing case number with 400, naming the field, and changes nothing', async () => {
    const w = await openWindow();
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1007' });
    const res = await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012' }] });
    expect(res.status).toBe(400);
    expect(refusalOf(res)).toMatchObject({ code: 'invalid_request', field: 'services.0.caseNo', message: expect.stringMatching(/services\.0\.caseNo/) });
    expect(w.bridge.desk.current()).toBeUndefined();
    expect(w.terminal.core.state).toBe('idle');
    expect(w.bridge.status().http.rejected.invalid_request).toBe(1);
  });

  it('refuses to invite with nobody signed in, or while an invitation is open', async () => {
    const w = await openWindow();
    const anonymous = await w.api('POST', '/api/v1/invitations', { services: [service] });
    expect(anonymous).toMatchObject({ status: 409, body: { error: { code: 'not_signed_in' } } });
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1008' });
    expect((await w.api('POST', '/api/v1/invitations', { services: [service] })).status).toBe(201);
    const second = await w.api('POST', '/api/v1/invitations', { services: [{ ...service, caseNo: 'C-2' }] });
    expect(second).toMatchObject({ status: 409, body: { error: { code: 'invitation_open' } } });
  });
});
