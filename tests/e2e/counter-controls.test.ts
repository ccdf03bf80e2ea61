import { describe, expect, it } from 'vitest';
import type { OfferedReason } from '../../bridge/bridge-events.js';
import type { EventRecord, InvitationRecord } from '../../protocol/records.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall, type HallFixture } from '../support/hall-fixture.js';

/*
 * Staff controls at the counter (暂停服务) and the customer screen's touches, through the whole
 * chain: a virtual terminal on its cable, the real bridge and its API, the province emulator.
 * The screen is driven through the desk's contract (screenPress / screenReason), as the customer
 * screen's server calls it.
 */
const halls = useHall(BROKERS[0]!);

const ITEM = '330106-XK-0012';
const LABELLED: OfferedReason[] = SAMPLE_PROVINCE_CONFIG.reasonCatalog!.reasons.map(({ code, label }, button) => ({ button, code, label }));

async function windowWithReasons(hall: HallFixture): Promise<SimWindow> {
  const w = await hall.window();
  await hall.province.publishConfig(w.terminalId, SAMPLE_PROVINCE_CONFIG);
  await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the reason catalogue');
  return w;
}

async function invite(w: SimWindow, caseNo: string): Promise<string> {
  const id = await w.invite({ services: [{ itemCode: ITEM, caseNo }] });
  await waitUntil(() => w.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
  return id;
}

const invitations = (hall: HallFixture, w: SimWindow): InvitationRecord[] => hall.province.recordsOf(w.terminalId).filter((r): r is InvitationRecord => r.kind === 'invitation');
const events = (hall: HallFixture, w: SimWindow): EventRecord[] => hall.province.recordsOf(w.terminalId).filter((r): r is EventRecord => r.kind === 'event');

describe('pause (暂停服务) from the console or the business system', () => {
  it('pauses: the terminal blinks its middle LED, invitations are refused, a press is a stray; resumes: invitations again; both recorded upstream', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    expect(await w.api('POST', '/api/v1/staff/pause')).toMatchObject({ status: 200, body: { paused: true } });
    await waitUntil(() => w.terminal.paused, 'the terminal to show the pause');
    expect(w.terminal.leds()).toEqual([false, false, true, false, false]);
    expect(w.bridge.status().paused).toBe(true);
    expect(await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: ITEM, caseNo: 'C-P-1' }] })).toMatchObject({ status: 409, body: { error: { code: 'window_paused' } } });
    await w.terminal.press(0);
    await hall.province.waitFor(() => events(hall, w).some((e) => e.type === 'stray_press'), { timeoutMs: 20_000 });

    expect(await w.api('POST', '/api/v1/staff/resume')).toMatchObject({ status: 200, body: { paused: false } });
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to leave the pause');
    expect(w.terminal.leds()).toEqual([false, false, false, false, false]);
    const id = await invite(w, 'C-P-2');
    await w.terminal.press(1);
    await hall.expectExactlyOnce(w, [id]);
    const actions = await hall.province.waitFor(() => {
      const found = events(hall, w).filter((e) => e.type === 'staff_action' && (e.detail.action === 'pause' || e.detail.action === 'resume'));
      return found.length === 2 && found;
    }, { timeoutMs: 20_000 });
    expect(actions.map((e) => [e.detail.action, e.detail.actor])).toEqual([
      ['pause', 'S1'],
      ['resume', 'S1'],
    ]);
  });

  it('the pause is shown again after the terminal or the bridge restarts (said after every hello)', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    await w.api('POST', '/api/v1/staff/pause');
    await waitUntil(() => w.terminal.paused, 'the pause');
    await w.rebootTerminal();
    await waitUntil(() => w.terminal.paused, 'the pause after the terminal rebooted');
    await w.restartBridge();
    await waitUntil(() => w.bridge.status().link.alive && w.terminal.paused, 'the pause after the bridge restarted');
    expect(w.bridge.status().paused).toBe(true);
  });
});

describe('the customer screen rates as the buttons do', () => {
  it("a good grade on the screen: one record, channel screen; the terminal's buttons go dark and its cancel is expected, no event", async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await invite(w, 'C-S-1');
    expect(w.bridge.desk.screenPress(id, 'very_satisfied')).toEqual({ reasons: [] });
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to drop the invitation');
    expect(w.terminal.leds()).toEqual([false, false, false, false, false]);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', channel: 'screen', device: null, rating: { grade: 'very_satisfied' } });
    await waitUntil(() => w.bridge.status().presses.terminalCancelsAfterScreen === 1, "the terminal's cancel to be counted, in status");
    // A press on the terminal now is a stray press: no invitation there.
    expect(events(hall, w).filter((e) => e.type === 'late_device_report')).toEqual([]);
  });

  it('a bad grade on the screen offers the reasons with their labels; the one chosen goes in the record', async () => {
    const hall = await halls.start();
    const w = await windowWithReasons(hall);
    const offers: unknown[] = [];
    w.bridge.on('choosing', (offer) => offers.push(offer));
    const id = await invite(w, 'C-S-2');
    expect(w.bridge.desk.screenPress(id, 'dissatisfied')).toEqual({ reasons: LABELLED });
    expect(offers).toEqual([{ invitationId: id, reasons: LABELLED, via: 'screen' }]);
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to drop the invitation');
    w.bridge.desk.screenReason(id, 2);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ channel: 'screen', flags: [], rating: { grade: 'dissatisfied', reasons: [LABELLED[2]!.code], reasonCatalogVersion: SAMPLE_PROVINCE_CONFIG.reasonCatalog!.version } });
  });

  it("the terminal's own reason step is announced with the catalogue's labels (via terminal), and then a screen touch is refused", async () => {
    const hall = await halls.start();
    const w = await windowWithReasons(hall);
    const offers: unknown[] = [];
    w.bridge.on('choosing', (offer) => offers.push(offer));
    const id = await invite(w, 'C-S-3');
    await w.terminal.press(3);
    await waitUntil(() => offers.length === 1, 'the offer');
    expect(offers).toEqual([{ invitationId: id, reasons: LABELLED, via: 'terminal' }]);
    expect(() => w.bridge.desk.screenPress(id, 'very_satisfied')).toThrow(/on the terminal/);
    await w.terminal.press(0);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ channel: 'counter', rating: { grade: 'dissatisfied', reasons: [LABELLED[0]!.code] } });
    expect(w.bridge.desk.counters.screenPressesIgnored).toBe(1);
  });

  it('a button and the screen pressed at the same moment: exactly one rating per invitation, the other counted', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      const id = await invite(w, `C-RACE-${round}`);
      ids.push(id);
      // Even rounds: the screen is touched as the button goes down. Odd rounds: the terminal has
      // taken the press and its rating is on the line as the screen is touched.
      const pressing = w.terminal.press(round % 2 === 0 ? 0 : 4);
      if (round % 2 === 1) await waitUntil(() => w.terminal.core.state === 'thanks', 'the press');
      let screen = 'refused';
      try {
        w.bridge.desk.screenPress(id, 'satisfied');
        screen = 'taken';
      } catch {
        // The button's rating reached the desk first.
      }
      await pressing;
      await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to rest');
      expect(['taken', 'refused']).toContain(screen);
    }
    const records = await hall.expectExactlyOnce(w, ids);
    expect(records.every((r) => r.kind === 'invitation' && r.outcome === 'rated')).toBe(true);
    expect(invitations(hall, w)).toHaveLength(ids.length);
    const { screenPressesIgnored, terminalPressesIgnored } = w.bridge.desk.counters;
    const byScreen = records.filter((r) => r.kind === 'invitation' && r.channel === 'screen').length;
    // Every invitation had both presses: each one the screen won left a terminal press counted, or
    // the terminal's answering cancel; each one the terminal won, a refused screen touch.
    expect(screenPressesIgnored).toBe(ids.length - byScreen);
    expect(terminalPressesIgnored).toBeLessThanOrEqual(byScreen);
    expect(events(hall, w).filter((e) => e.type === 'late_device_report')).toEqual([]);
  });
});
