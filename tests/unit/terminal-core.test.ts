import { beforeEach, describe, expect, it } from 'vitest';
import { JOURNAL_LIMIT, PAUSE_BLINK_MS, TerminalCore } from '../../firmware/core/terminal-core.js';
import type { ReportJournal, TerminalHardware } from '../../firmware/core/hardware.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { terminalMessageSchema, type TerminalMessage } from '../../protocol/serial-messages.js';
import { ManualTimers } from '../support/manual-timers.js';

/** The core on fake hardware, with the test playing the bridge at the other end of the line. */
function rig(journal?: ReportJournal, bootId = 'abcdef01', { introduce = true, sound = false } = {}) {
  const timers = new ManualTimers();
  const sent: TerminalMessage[] = [];
  const leds: boolean[][] = [];
  const beeps: number[] = [];
  const plays: number[] = [];
  const hw: TerminalHardware = {
    timers,
    ...(journal && { journal }),
    ...(sound && { play: (clip: number) => void plays.push(clip) }),
    setLeds: (pattern) => leds.push([...pattern]),
    beep: (ms) => beeps.push(ms),
    write: (frame) => {
      const decoded = decodeFrame(frame.slice(0, -1));
      if (!decoded.ok) throw new Error(`core wrote a bad frame: ${frame}`);
      const message = terminalMessageSchema.parse(decoded.value);
      sent.push(message);
      // The bridge takes each hello at once (after the core has finished sending it).
      if (introduce && message.type === 'hello') queueMicrotask(() => core.receiveData(encodeFrame({ type: 'ack', ack: message.seq, fp: null, seq: 0 })));
    },
  };
  const core = new TerminalCore(hw, { serial: 'T-1', bootId, debounceMs: 30, thanksMs: 1000, link: { resendMs: 200, maxResendMs: 800, heartbeatMs: 10_000 } });
  let bridgeSeq = 100;
  /** Resolves once the core has handled the frame (the link hands messages on in a microtask). */
  const fromBridge = async (message: Record<string, unknown>): Promise<void> => {
    core.receiveData(encodeFrame({ ...message, seq: bridgeSeq++ }));
    await Promise.resolve();
  };
  const ackAll = (): void => {
    for (const m of sent.filter((m) => m.type !== 'ack' && m.type !== 'hb')) fromBridge({ type: 'ack', ack: m.seq });
  };
  const press = (i: number): void => {
    core.buttonEdge(i, true);
    timers.advance(100);
    core.buttonEdge(i, false);
    timers.advance(100);
  };
  /** Every transmission of a type, resends included. */
  const transmissions = (type: string) => sent.filter((m) => m.type === type);
  /** Distinct reports of a type (a resend has the same sequence number). */
  const reports = (type: string) => transmissions(type).filter((m, i, all) => all.findIndex((o) => o.seq === m.seq) === i);
  return { core, timers, sent, leds, beeps, plays, fromBridge, ackAll, press, reports, transmissions };
}

describe('terminal core', () => {
  let r: ReturnType<typeof rig>;
  beforeEach(() => {
    r = rig();
    r.core.start();
  });

  it('says hello with firmware version, serial, protocol and boot id', () => {
    expect(r.sent[0]).toMatchObject({ type: 'hello', proto: 1, serial: 'T-1', boot: 'abcdef01', fw: expect.any(String) });
  });

  it('reports a press with no invitation as a stray press, not a rating', async () => {
    r.press(0);
    await Promise.resolve();
    expect(r.reports('stray')).toEqual([expect.objectContaining({ grade: 'very_satisfied' })]);
    expect(r.reports('rating')).toHaveLength(0);
  });

  it('accepts exactly one press per invitation and lights the chosen grade', async () => {
    r.fromBridge({ type: 'invite', inv: 'inv-1', timeoutMs: 5000 });
    await Promise.resolve();
    expect(r.core.state).toBe('invited');
    expect(r.leds.at(-1)).toEqual([true, true, true, true, true]);
    r.timers.advance(1500);
    r.press(3);
    r.press(0);
    expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-1', grade: 'dissatisfied', latencyMs: 1500 })]);
    expect(r.leds.at(-1)).toEqual([false, false, false, true, false]);
    expect(r.core.counters.ignoredPresses).toBe(1);
    r.timers.advance(1000);
    expect(r.core.state).toBe('idle');
  });

  it('filters contact bounce: a burst of edges is one press', () => {
    for (let i = 0; i < 5; i++) {
      r.core.buttonEdge(2, true);
      r.timers.advance(2);
      r.core.buttonEdge(2, false);
      r.timers.advance(2);
    }
    expect(r.reports('stray')).toHaveLength(1);
    expect(r.core.counters.bounces).toBe(4);
  });

  it('times out an invitation on the device and reports it expired', async () => {
    r.fromBridge({ type: 'invite', inv: 'inv-2', timeoutMs: 3000 });
    await Promise.resolve();
    r.timers.advance(2999);
    expect(r.reports('expired')).toHaveLength(0);
    r.timers.advance(1);
    expect(r.reports('expired')).toEqual([expect.objectContaining({ inv: 'inv-2' })]);
    expect(r.core.state).toBe('idle');
  });

  it('confirms a cancel only while the invitation is open', async () => {
    r.fromBridge({ type: 'invite', inv: 'inv-3', timeoutMs: 3000 });
    await Promise.resolve();
    r.fromBridge({ type: 'cancel', inv: 'inv-3' });
    await Promise.resolve();
    expect(r.reports('cancelled')).toEqual([expect.objectContaining({ inv: 'inv-3' })]);
    r.fromBridge({ type: 'cancel', inv: 'inv-3' });
    await Promise.resolve();
    expect(r.reports('cancelled')).toHaveLength(1);
  });

  describe('once a button is pressed, a cancel changes nothing: the terminal decides', () => {
    const invite = async (inv: string): Promise<void> => {
      await r.fromBridge({ type: 'invite', inv, timeoutMs: 10_000, reasons: 2, reasonTimeoutMs: 5000 });
    };

    it('a cancel during reason selection is ignored: the reason chosen after it is reported', async () => {
      await invite('inv-r1');
      r.press(3); // 不满意: the reasons are offered
      expect(r.core.state).toBe('reason');
      await r.fromBridge({ type: 'cancel', inv: 'inv-r1' });
      expect(r.core.state).toBe('reason');
      expect(r.leds.at(-1)).toEqual([true, true, false, false, false]);
      r.press(1);
      expect(r.reports('cancelled')).toEqual([]);
      expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-r1', grade: 'dissatisfied', reason: 1 })]);
    });

    it('a cancel during reason selection, no reason chosen: the bad grade is reported without one when the reason time ends', async () => {
      await invite('inv-r2');
      r.press(4);
      await r.fromBridge({ type: 'cancel', inv: 'inv-r2' });
      r.timers.advance(5000);
      expect(r.reports('cancelled')).toEqual([]);
      expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-r2', grade: 'very_dissatisfied', reason: null })]);
    });

    it('a cancel during the thanks is ignored: the rating already sent stands', async () => {
      await invite('inv-r3');
      r.press(0);
      expect(r.core.state).toBe('thanks');
      await r.fromBridge({ type: 'cancel', inv: 'inv-r3' });
      expect(r.core.state).toBe('thanks');
      expect(r.reports('cancelled')).toEqual([]);
      expect(r.reports('rating')).toHaveLength(1);
    });

    it.each([
      ['press, then cancel', true],
      ['cancel, then press', false],
    ])('cancel and press in the same tick (%s): whichever the terminal takes first decides, and nothing is lost', async (_order, pressFirst) => {
      await invite('inv-r4');
      if (pressFirst) r.core.buttonEdge(1, true);
      r.core.receiveData(encodeFrame({ type: 'cancel', inv: 'inv-r4', seq: 999 }));
      await Promise.resolve();
      if (!pressFirst) r.core.buttonEdge(1, true);
      const [taken, other] = pressFirst ? (['rating', 'cancelled'] as const) : (['cancelled', 'rating'] as const);
      expect(r.reports(taken)).toEqual([expect.objectContaining({ inv: 'inv-r4' })]);
      expect(r.reports(other)).toEqual([]);
      // A press after the terminal took the cancel is no rating, but it is recorded.
      expect(r.reports('stray')).toHaveLength(pressFirst ? 0 : 1);
    });

    it('a new invitation while a reason is being chosen: the press is reported (without a reason) before the new one shows', async () => {
      await invite('inv-r5');
      r.press(3);
      await invite('inv-r6');
      expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-r5', grade: 'dissatisfied', reason: null })]);
      expect(r.core.state).toBe('invited');
      r.press(0);
      expect(r.reports('rating').map((m) => (m.type === 'rating' ? m.inv : ''))).toEqual(['inv-r5', 'inv-r6']);
    });

    it('a new invitation while one is still unpressed: the old one is reported cancelled, never left without an outcome', async () => {
      await invite('inv-r7');
      await invite('inv-r8');
      expect(r.reports('cancelled')).toEqual([expect.objectContaining({ inv: 'inv-r7' })]);
      expect(r.core.state).toBe('invited');
    });
  });

  it('resends a report until it is acknowledged, then stops', async () => {
    r.press(4);
    const stray = r.reports('stray')[0]!;
    r.timers.advance(200);
    r.timers.advance(400);
    expect(r.transmissions('stray').filter((m) => m.seq === stray.seq)).toHaveLength(3);
    r.ackAll();
    r.timers.advance(5000);
    expect(r.transmissions('stray')).toHaveLength(3);
    expect(r.core.unacknowledged).toBe(0);
  });

  it('acknowledges each bridge frame and handles a resent one once', async () => {
    const invite = encodeFrame({ type: 'invite', inv: 'inv-4', timeoutMs: 3000, seq: 7 });
    r.core.receiveData(invite);
    await Promise.resolve();
    await Promise.resolve();
    r.core.receiveData(invite);
    await Promise.resolve();
    expect(r.transmissions('ack').filter((m) => m.type === 'ack' && m.ack === 7)).toHaveLength(2);
    expect(r.beeps.filter((ms) => ms === 120)).toHaveLength(1);
  });

  it('answers a bridge hello with its own hello and replays unacknowledged reports', async () => {
    r.press(1);
    const before = r.transmissions('stray').length;
    r.fromBridge({ type: 'hello', proto: 1, boot: '12345678' });
    await Promise.resolve();
    await Promise.resolve();
    expect(r.reports('hello')).toHaveLength(2);
    expect(r.transmissions('stray').length).toBe(before + 1);
  });

  it('writes its hello for a new bridge boot once, before the replay, and counts it as no resend', async () => {
    r.press(1);
    const hellos = r.transmissions('hello').length;
    const resent = r.core.counters.link.resent;
    const start = r.sent.length;
    await r.fromBridge({ type: 'hello', proto: 1, boot: '12345678' });
    await Promise.resolve();
    expect(r.transmissions('hello')).toHaveLength(hellos + 1);
    expect(r.sent.slice(start).find((m) => m.type !== 'ack')?.type).toBe('hello');
    expect(r.core.counters.link.resent).toBe(resent + 1); // the stray only
  });

  it('counts and drops a frame with a bad checksum without acting on it', () => {
    const line = encodeFrame({ type: 'invite', inv: 'inv-5', timeoutMs: 3000, seq: 9 });
    r.core.receiveData(line.replace('inv-5', 'inv-6'));
    expect(r.core.state).toBe('idle');
    expect(r.core.counters.link.rejected.checksum).toBe(1);
  });
});

describe('terminal core test mode (self-test)', () => {
  let r: ReturnType<typeof rig>;
  beforeEach(() => {
    r = rig(new MemoryJournal());
    r.core.start();
  });

  it('shows the LEDs and beeps as told, reports presses as press (not stray), and leaves on request', async () => {
    await r.fromBridge({ type: 'test', active: true, leds: [false, false, true, false, false], beepMs: 300 });
    expect(r.core.state).toBe('test');
    expect(r.leds.at(-1)).toEqual([false, false, true, false, false]);
    expect(r.beeps.at(-1)).toBe(300);
    r.press(3);
    expect(r.reports('press')).toEqual([expect.objectContaining({ button: 3 })]);
    expect(r.reports('stray')).toHaveLength(0);
    expect(r.leds.at(-1)).toEqual([false, false, false, true, false]);
    await r.fromBridge({ type: 'test', active: false });
    expect(r.core.state).toBe('idle');
    r.press(3);
    expect(r.reports('stray')).toHaveLength(1);
  });

  it('leaves test mode by itself a minute after the last test frame', async () => {
    await r.fromBridge({ type: 'test', active: true });
    r.timers.advance(59_000);
    expect(r.core.state).toBe('test');
    r.timers.advance(2000);
    expect(r.core.state).toBe('idle');
  });

  it('never enters test mode during an invitation, and an invitation ends test mode', async () => {
    await r.fromBridge({ type: 'invite', inv: 'inv-1', timeoutMs: 10_000 });
    await r.fromBridge({ type: 'test', active: true });
    expect(r.core.state).toBe('invited');
    r.press(1);
    expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-1', grade: 'satisfied' })]);
    r.timers.advance(2000);
    await r.fromBridge({ type: 'test', active: true });
    await r.fromBridge({ type: 'invite', inv: 'inv-2', timeoutMs: 10_000 });
    expect(r.core.state).toBe('invited');
  });

  it('keeps test presses out of the journal', async () => {
    const journal = new MemoryJournal();
    const j = rig(journal);
    j.core.start();
    await j.fromBridge({ type: 'test', active: true });
    j.press(0);
    expect(journal.load()).toEqual([]);
  });
});

describe('terminal core journal', () => {
  it('keeps unacknowledged reports across a reset and replays them, strays with their ref, saving the journal once after', async () => {
    const journal = new MemoryJournal();
    const before = rig(journal, 'aaaa0001');
    before.core.start();
    before.fromBridge({ type: 'invite', inv: 'inv-j', timeoutMs: 5000 });
    await Promise.resolve();
    before.press(2);
    before.press(2); // thanks: ignored
    before.timers.advance(2000);
    before.press(0); // stray
    expect(journal.size).toBe(2); // the rating and the stray; link housekeeping (hello) is not journaled
    const stray = before.reports('stray')[0];
    expect(stray).toMatchObject({ ref: 'aaaa0001-1' });

    const entries = journal.load();
    const saves: (readonly string[])[] = [];
    const watched: ReportJournal = { load: () => journal.load(), save: (kept) => (saves.push(kept), journal.save(kept)) };
    const after = rig(watched, 'bbbb0002'); // power cycle: new boot, same flash
    after.core.start();
    // One save, after the replay, of the very same entries: nothing for a flash journal to write.
    expect(saves).toEqual([entries]);
    expect(after.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-j', grade: 'basically_satisfied' })]);
    expect(after.reports('stray')).toEqual([expect.objectContaining({ ref: 'aaaa0001-1', grade: 'very_satisfied' })]);
    after.ackAll();
    expect(journal.size).toBe(0);
  });

  it("says in its hello, before replaying them, which invitations its journal holds reports for", async () => {
    const journal = new MemoryJournal();
    const before = rig(journal, 'aaaa0001');
    before.core.start();
    expect(before.sent[0]).toMatchObject({ type: 'hello', pending: [] });
    before.fromBridge({ type: 'invite', inv: 'inv-p', timeoutMs: 5000 });
    await Promise.resolve();
    before.press(1);
    before.timers.advance(2000);
    before.press(0); // a stray: journaled, but for no invitation

    const after = rig(journal, 'bbbb0002');
    after.core.start();
    expect(after.sent[0]).toMatchObject({ type: 'hello', boot: 'bbbb0002', pending: ['inv-p'] });
    expect(after.sent.slice(1).map((m) => m.type)).toEqual(['rating', 'stray']);
  });

  it('holds at most JOURNAL_LIMIT reports unacknowledged: past it the oldest stray goes, from memory and journal alike, counted', async () => {
    const journal = new MemoryJournal();
    const r = rig(journal);
    r.core.start();
    r.fromBridge({ type: 'invite', inv: 'inv-kept', timeoutMs: 600_000 });
    await Promise.resolve();
    r.press(0); // a rating, then strays with no bridge to acknowledge anything
    r.timers.advance(2000);
    for (let i = 0; i < JOURNAL_LIMIT + 2; i++) r.press(i % 5);
    expect(r.core.unacknowledged).toBe(JOURNAL_LIMIT); // the hello was acknowledged
    expect(r.core.counters.droppedReports).toBe(3);
    const kept = journal.load().map((entry) => JSON.parse(entry) as { type: string; ref?: string });
    expect(kept).toHaveLength(JOURNAL_LIMIT);
    expect(kept[0]).toMatchObject({ type: 'rating', inv: 'inv-kept' });
    expect(kept.slice(1).map((report) => report.ref)).toEqual(r.reports('stray').slice(3).map((stray) => ('ref' in stray ? stray.ref : undefined)));
    // The dropped strays are resent no more; the rating and the kept strays are.
    const dropped = r.reports('stray').slice(0, 3).map((stray) => stray.seq);
    const before = r.sent.length;
    r.timers.advance(5000);
    const resent = r.sent.slice(before);
    expect(resent.filter((m) => dropped.includes(m.seq))).toEqual([]);
    expect(resent.filter((m) => m.type === 'rating')).not.toEqual([]);
  });

  it('drops a report the bridge refused (nak): counted, out of the journal, never resent', async () => {
    const journal = new MemoryJournal();
    const r = rig(journal);
    r.core.start();
    r.press(3); // a stray, and suppose the bridge cannot take it
    const [stray] = r.reports('stray');
    await r.fromBridge({ type: 'nak', nak: stray!.seq, problem: 'grade: expected one of …' });
    expect(journal.size).toBe(0);
    expect(r.core.counters.link.refusedByPeer).toBe(1);
    const sentBefore = r.transmissions('stray').length;
    r.timers.advance(60_000);
    expect(r.transmissions('stray')).toHaveLength(sentBefore);
  });

  it('answers a bridge frame it cannot take with a nak naming its seq and the problem', async () => {
    const r = rig();
    r.core.start();
    await r.fromBridge({ type: 'invite', inv: 'inv-n', timeoutMs: 5 });
    expect(r.core.state).toBe('idle');
    expect(r.transmissions('nak')).toEqual([expect.objectContaining({ nak: 100, problem: expect.stringMatching(/^timeoutMs: /) })]);
  });

  it('leaves what the bridge sends unacknowledged until the bridge has its hello: it may be meant for a previous boot', async () => {
    const r = rig(undefined, 'abcdef01', { introduce: false });
    r.core.start();
    await r.fromBridge({ type: 'invite', inv: 'inv-old', timeoutMs: 5000 });
    await Promise.resolve();
    expect(r.core.state).toBe('idle');
    expect(r.transmissions('ack')).toHaveLength(0);
    await r.fromBridge({ type: 'ack', ack: r.sent[0]!.seq });
    await r.fromBridge({ type: 'invite', inv: 'inv-new', timeoutMs: 5000 });
    await Promise.resolve();
    expect(r.core.state).toBe('invited');
  });
});

describe('terminal core: counter controls (pause, say) and the reasons it offers', () => {
  const MIDDLE = [false, false, true, false, false];
  const DARK = [false, false, false, false, false];
  async function started(options: { sound?: boolean } = {}) {
    const r = rig(undefined, 'abcdef01', options);
    r.core.start();
    await Promise.resolve();
    return r;
  }

  it('paused from idle: the middle LED blinks slowly; a press is a stray press; resumed: dark and idle', async () => {
    const r = await started();
    await r.fromBridge({ type: 'pause', active: true });
    expect(r.core.state).toBe('paused');
    expect(r.leds.at(-1)).toEqual(MIDDLE);
    r.timers.advance(PAUSE_BLINK_MS);
    expect(r.leds.at(-1)).toEqual(DARK);
    r.timers.advance(PAUSE_BLINK_MS);
    expect(r.leds.at(-1)).toEqual(MIDDLE);
    r.press(1);
    expect(r.reports('stray')).toEqual([expect.objectContaining({ grade: 'satisfied' })]);
    expect(r.core.state).toBe('paused');
    await r.fromBridge({ type: 'pause', active: false });
    expect(r.core.state).toBe('idle');
    expect(r.leds.at(-1)).toEqual(DARK);
    const shown = r.leds.length;
    r.timers.advance(10 * PAUSE_BLINK_MS);
    expect(r.leds).toHaveLength(shown);
  });

  it('a pause during the thanks is shown when the thanks end, never cutting them short', async () => {
    const r = await started();
    await r.fromBridge({ type: 'invite', inv: 'inv-p', timeoutMs: 5000 });
    r.timers.advance(1500);
    r.press(0);
    await r.fromBridge({ type: 'pause', active: true });
    expect(r.core.state).toBe('thanks');
    r.timers.advance(1000);
    expect(r.core.state).toBe('paused');
    expect(r.leds.at(-1)).toEqual(MIDDLE);
  });

  it('the bridge greeting anew ends the pause (it says it again after the hello if it still holds)', async () => {
    const r = await started();
    await r.fromBridge({ type: 'pause', active: true });
    await r.fromBridge({ type: 'hello', proto: 1, boot: 'feedbeef' });
    expect(r.core.state).toBe('idle');
    expect(r.leds.at(-1)).toEqual(DARK);
  });

  it('a pause before the bridge took our hello is left unacknowledged, like an invite', async () => {
    const r = rig(undefined, 'abcdef01', { introduce: false });
    r.core.start();
    await r.fromBridge({ type: 'pause', active: true });
    expect(r.core.state).toBe('idle');
    expect(r.sent.filter((m) => m.type === 'ack')).toEqual([]);
  });

  it('say plays the clip on a terminal with a sound module, and is acknowledged by one without', async () => {
    const withSound = await started({ sound: true });
    await withSound.fromBridge({ type: 'say', clip: 5 });
    expect(withSound.plays).toEqual([5]);
    const silent = await started();
    await silent.fromBridge({ type: 'say', clip: 6 });
    expect(silent.sent.filter((m) => m.type === 'ack')).toHaveLength(1);
    expect(silent.plays).toEqual([]);
  });

  it('a bad grade with reasons sends choosing (inv and how many), resent until acknowledged, never journaled', async () => {
    const journal = new MemoryJournal();
    const r = rig(journal);
    r.core.start();
    await Promise.resolve();
    await r.fromBridge({ type: 'invite', inv: 'inv-c', timeoutMs: 5000, reasons: 3 });
    r.timers.advance(1500);
    r.press(4);
    expect(r.reports('choosing')).toEqual([expect.objectContaining({ inv: 'inv-c', choices: 3 })]);
    expect(journal.load()).toEqual([]);
    r.timers.advance(200);
    expect(r.transmissions('choosing').length).toBeGreaterThan(1);
    r.press(2);
    expect(r.reports('rating')).toEqual([expect.objectContaining({ inv: 'inv-c', grade: 'very_dissatisfied', reason: 2 })]);
    expect(journal.load().map((entry) => JSON.parse(entry).type)).toEqual(['rating']);
  });

  it('no choosing for a good grade, nor for a bad one with no reasons to offer', async () => {
    const r = await started();
    await r.fromBridge({ type: 'invite', inv: 'inv-g', timeoutMs: 5000, reasons: 2 });
    r.timers.advance(1500);
    r.press(0);
    await r.fromBridge({ type: 'invite', inv: 'inv-b', timeoutMs: 5000 });
    r.timers.advance(1500);
    r.press(3);
    expect(r.reports('choosing')).toEqual([]);
    expect(r.reports('rating')).toHaveLength(2);
  });
});
