import { describe, expect, it } from 'vitest';
import type { TerminalHardware } from '../../firmware/core/hardware.js';
import { PAIRING_WINDOW_MS, TerminalCore } from '../../firmware/core/terminal-core.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { lineSession, lineTagger, verifyFrameJson } from '../../protocol/line-auth.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { TEST_PAIRING_KEY } from '../support/paired-line.js';
import { ManualTimers } from '../support/manual-timers.js';

const TERMINAL_BOOT = 'abcdef01';
const OTHER_KEY = 'b2'.repeat(32);

/** The core on fake hardware with the test as the bridge; every frame it writes kept as written. */
function rig(memory = new MemoryJournal()) {
  const timers = new ManualTimers();
  const written: { json: string; message: Record<string, unknown> & { type: string; seq: number } }[] = [];
  const hw: TerminalHardware = {
    timers,
    journal: memory,
    setLeds: () => undefined,
    beep: () => undefined,
    write: (frame) => {
      const decoded = decodeFrame(frame.slice(0, -1));
      if (!decoded.ok) throw new Error(`bad frame ${frame}`);
      written.push({ json: decoded.json, message: decoded.value as (typeof written)[number]['message'] });
    },
  };
  const core = new TerminalCore(hw, { serial: 'T-1', bootId: TERMINAL_BOOT, keyStore: memory, link: { resendMs: 200, maxResendMs: 800, heartbeatMs: 60_000 } });
  let bridgeSeq = 100;
  const fromBridge = async (message: Record<string, unknown>): Promise<number> => {
    const seq = bridgeSeq++;
    core.receiveData(encodeFrame({ ...message, seq }));
    await Promise.resolve();
    await Promise.resolve();
    return seq;
  };
  const acked = (seq: number) => written.some((w) => w.message.type === 'ack' && w.message.ack === seq);
  const last = (type: string) => [...written].reverse().find((w) => w.message.type === type);
  /** Whether a frame's tag holds under `key` for this terminal's session with `bridgeBoot`. */
  const tagHolds = (json: string, key: string, bridgeBoot: string) => verifyFrameJson(lineTagger(key), lineSession(TERMINAL_BOOT, bridgeBoot), json);
  return { core, timers, written, memory, fromBridge, acked, last, tagHolds };
}

describe('terminal pairing (firmware core)', () => {
  it('unpaired, sends its frames untagged; takes a pair frame, keeps the key, and from the next bridge hello tags every report for that session', async () => {
    const r = rig();
    r.core.start();
    expect(r.last('hello')?.message).not.toHaveProperty('mac');
    expect(r.last('hello')?.message).toMatchObject({ peer: null });
    r.core.buttonEdge(0, true); // a stray press before pairing
    expect(r.last('stray')?.message).not.toHaveProperty('mac');

    const pairSeq = await r.fromBridge({ type: 'pair', key: TEST_PAIRING_KEY });
    expect(r.acked(pairSeq)).toBe(true);
    expect(r.memory.loadKey()).toBe(TEST_PAIRING_KEY);

    await r.fromBridge({ type: 'hello', proto: 1, boot: 'B0B0B0B0' });
    const hello = r.last('hello');
    expect(hello?.message).toMatchObject({ peer: 'b0b0b0b0', mac: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(r.tagHolds(hello?.json ?? '', TEST_PAIRING_KEY, 'b0b0b0b0')).toBe(true);
    // The stray press, still unacknowledged, is sent again tagged for the new session.
    const stray = r.last('stray');
    expect(r.tagHolds(stray?.json ?? '', TEST_PAIRING_KEY, 'b0b0b0b0')).toBe(true);
    expect(r.tagHolds(stray?.json ?? '', TEST_PAIRING_KEY, 'c0c0c0c0')).toBe(false);
  });

  it('a paired terminal takes a new key only within the pairing window after power-up', async () => {
    const memory = new MemoryJournal();
    memory.saveKey(TEST_PAIRING_KEY);
    const late = rig(memory);
    late.core.start();
    late.timers.advance(PAIRING_WINDOW_MS);
    const refused = await late.fromBridge({ type: 'pair', key: OTHER_KEY });
    expect(late.acked(refused)).toBe(false);
    expect(memory.loadKey()).toBe(TEST_PAIRING_KEY);
    late.core.stop();

    // Power cycled: the technician's window opens again.
    const early = rig(memory);
    early.core.start();
    early.timers.advance(PAIRING_WINDOW_MS - 1000);
    const taken = await early.fromBridge({ type: 'pair', key: OTHER_KEY });
    expect(early.acked(taken)).toBe(true);
    expect(memory.loadKey()).toBe(OTHER_KEY);
    await early.fromBridge({ type: 'hello', proto: 1, boot: 'b0b0b0b0' });
    expect(early.tagHolds(early.last('hello')?.json ?? '', OTHER_KEY, 'b0b0b0b0')).toBe(true);
  });

  it('a paired terminal tags from power-up with the key in its memory, and a newer hello replaces the older one (never resent)', async () => {
    const memory = new MemoryJournal();
    memory.saveKey(TEST_PAIRING_KEY);
    const r = rig(memory);
    r.core.start();
    const first = r.last('hello');
    expect(first?.message).toHaveProperty('mac');
    await r.fromBridge({ type: 'hello', proto: 1, boot: 'b0b0b0b0' });
    const second = r.last('hello');
    expect(second?.message.seq).not.toBe(first?.message.seq);
    r.timers.advance(5000); // resends, with backoff
    const resentHellos = r.written.filter((w) => w.message.type === 'hello' && w.message.seq === first?.message.seq);
    expect(resentHellos).toHaveLength(1);
    expect(r.written.filter((w) => w.message.type === 'hello' && w.message.seq === second?.message.seq).length).toBeGreaterThan(1);
  });

  it('a key in memory that is not a pairing key leaves the terminal unpaired rather than stopping it', () => {
    const memory = new MemoryJournal();
    memory.saveKey('not a key');
    const r = rig(memory);
    r.core.start();
    expect(r.core.paired).toBe(false);
    expect(r.last('hello')?.message).not.toHaveProperty('mac');
  });
});
