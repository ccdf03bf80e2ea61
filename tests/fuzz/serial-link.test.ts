import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TerminalHardware } from '../../firmware/core/hardware.js';
import { TerminalCore } from '../../firmware/core/terminal-core.js';
import { decodeFrame, encodeFrame, MAX_FRAME_LENGTH } from '../../protocol/frame.js';
import { LinkEndpoint } from '../../protocol/link.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { bridgeMessageSchema, terminalMessageSchema, type BridgeMessage, type TerminalMessage } from '../../protocol/serial-messages.js';
import { ManualTimers } from '../support/manual-timers.js';

/** The bridge's end of the link, fed frames by hand; what it handled and what it wrote are kept. */
function bridgeEnd() {
  const timers = new ManualTimers();
  const handled: TerminalMessage[] = [];
  const written: BridgeMessage[] = [];
  const refusals: string[] = [];
  const link = new LinkEndpoint<TerminalMessage, BridgeMessage>({
    schema: terminalMessageSchema,
    timers,
    write: (frame) => written.push(bridgeMessageSchema.parse(JSON.parse(frame.slice(0, frame.lastIndexOf('*'))))),
    onMessage: (message) => void handled.push(message),
    onReject: (_reason, detail) => void refusals.push(detail),
  });
  link.start();
  const feed = async (message: Record<string, unknown>): Promise<void> => {
    link.receiveData(encodeFrame(message));
    await Promise.resolve();
    await Promise.resolve();
  };
  return { link, timers, handled, written, refusals, feed };
}

const hello = (boot: string, seq = 1) => ({ type: 'hello', seq, proto: 1, fw: '0.1.0', serial: 'T-1', boot });
const rating = (inv: string, seq: number) => ({ type: 'rating', seq, inv, grade: 'satisfied', latencyMs: 900, reason: null });

describe('link dedupe (regressions from the fuzz campaign)', () => {
  it('handles a replayed report after a reset whose hello was garbled: same seq, another frame', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed({ type: 'stray', seq: 2, grade: 'satisfied', ref: 'aaaa0001-1' });
    // The terminal resets; its hello is lost to noise; its journal replays a rating as seq 2.
    await b.feed(rating('inv-1', 2));
    expect(b.handled.map((m) => m.type)).toEqual(['hello', 'stray', 'rating']);
  });

  it('does not let a frame claiming the next seq swallow the real one', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed({ type: 'stray', seq: 2, grade: 'dissatisfied', ref: 'forged' });
    await b.feed(rating('inv-1', 2));
    expect(b.handled.filter((m) => m.type === 'rating')).toHaveLength(1);
  });

  it("an ack for someone else's frame under our pending seq settles nothing of ours", () => {
    const timers = new ManualTimers();
    const written: string[] = [];
    const terminal = new LinkEndpoint<BridgeMessage, TerminalMessage>({ schema: bridgeMessageSchema, timers, write: (f) => void written.push(f), onMessage: () => undefined });
    terminal.start();
    const seq = terminal.send({ type: 'stray', grade: 'satisfied', ref: 'real-1' });
    // The bridge acknowledges a forged frame that claimed this seq: its fingerprint is not ours.
    const forged = decodeFrame(encodeFrame({ type: 'stray', grade: 'dissatisfied', ref: 'forged', seq }).slice(0, -1));
    terminal.receiveData(encodeFrame({ type: 'ack', ack: seq, fp: forged.ok ? forged.fingerprint : null, seq: 1 }));
    expect(terminal.pendingCount).toBe(1);
    expect(terminal.counters.foreignAnswers).toBe(1);
    const ours = decodeFrame(written[0]!.slice(0, -1));
    terminal.receiveData(encodeFrame({ type: 'ack', ack: seq, fp: ours.ok ? ours.fingerprint : null, seq: 2 }));
    expect(terminal.pendingCount).toBe(0);
  });

  it('still drops a resend of the very same frame, acknowledging it again', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed(rating('inv-1', 2));
    await b.feed(rating('inv-1', 2));
    expect(b.handled.filter((m) => m.type === 'rating')).toHaveLength(1);
    expect(b.link.counters.duplicates).toBe(1);
    expect(b.written.filter((m) => m.type === 'ack' && m.ack === 2)).toHaveLength(2);
  });
});

describe('the bridge link on frames whose checksum holds but whose content is anything (seeded)', () => {
  const TYPES = ['hello', 'rating', 'expired', 'cancelled', 'stray', 'stuck', 'press', 'ack', 'nak', 'hb', 'invite', 'nope'];
  const content = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.record(
      {
        type: fc.constantFrom(...TYPES),
        seq: fc.oneof(fc.constantFrom(-1, 0, 1.5, 2 ** 31, 2 ** 31 + 1, 1e300), fc.nat(), fc.string({ maxLength: 3 })),
        inv: fc.string({ unit: 'grapheme', maxLength: 70 }),
        grade: fc.oneof(fc.constantFrom('satisfied', 'SATISFIED', '满意'), fc.string({ maxLength: 8 })),
        boot: fc.stringMatching(/^[0-9a-zA-Z]{0,40}$/),
        ref: fc.string({ unit: 'grapheme', maxLength: 60 }),
      },
      { requiredKeys: ['type'] },
    ),
  );

  it('never throws; refuses with the field and what was expected; answers a refused reliable frame with a nak that names its seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(content, { minLength: 1, maxLength: 20 }), async (values) => {
        const b = bridgeEnd();
        let encodable = 0;
        for (const value of values) {
          let frame: string;
          try {
            frame = encodeFrame(value);
          } catch {
            continue; // too long to be a frame: the sender's problem, not the link's
          }
          encodable += 1;
          b.link.receiveData(frame);
        }
        await Promise.resolve();
        const refused = b.link.counters.rejected.schema ?? 0;
        expect(refused + b.link.counters.framesIn).toBe(encodable);
        for (const detail of b.refusals) expect(detail).toMatch(/^[^:]+: .+/);
        const seqs = values.map((v) => (typeof v === 'object' && v !== null && 'seq' in v ? v.seq : undefined));
        for (const nak of b.written.filter((m) => m.type === 'nak')) {
          expect(seqs).toContain(nak.nak);
          expect(nak.problem).toMatch(/^[\x20-\x7e]+$/);
        }
      }),
      { seed: 20261129, numRuns: 500 },
    );
  });
});

// ---- The link end to end under junk, resets and forgeries --------------------------------------

type Op =
  | { k: 'invite' }
  | { k: 'press'; button: number }
  | { k: 'advance'; ms: number }
  | { k: 'junk'; to: 'bridge' | 'terminal'; text: string }
  | { k: 'longLine'; to: 'bridge' | 'terminal'; length: number }
  | { k: 'fault'; to: 'bridge' | 'terminal'; how: 'drop' | 'garble' }
  | { k: 'reset'; garbleHello: boolean }
  /** A forged frame: at `seq`, or at the terminal's latest seq plus `near` (claiming its next one). */
  | { k: 'forge'; seq: number; near: number | null; what: 'stray' | 'rating' | 'hello' };

const side = fc.constantFrom<'bridge' | 'terminal'>('bridge', 'terminal');
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ k: 'invite' }), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 4 }).map<Op>((button) => ({ k: 'press', button })), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 3000 }).map<Op>((ms) => ({ k: 'advance', ms })), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('junk' as const), to: side, text: fc.string({ unit: 'binary', maxLength: 80 }) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('longLine' as const), to: side, length: fc.integer({ min: MAX_FRAME_LENGTH + 1, max: 5000 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('fault' as const), to: side, how: fc.constantFrom('drop' as const, 'garble' as const) }), weight: 2 },
  { arbitrary: fc.boolean().map<Op>((garbleHello) => ({ k: 'reset', garbleHello })), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant('forge' as const),
      seq: fc.oneof(fc.constantFrom(0, 1, 2, 3, 2 ** 31 - 1, 2 ** 31), fc.nat({ max: 2 ** 31 })),
      near: fc.option(fc.integer({ min: -1, max: 3 })),
      what: fc.constantFrom('stray' as const, 'rating' as const, 'hello' as const),
    }),
    weight: 2,
  },
);

/**
 * A terminal (the real firmware core, its journal in memory) and the bridge's end of the link,
 * joined by two wires the test drives step by step on manual timers. The bridge stores reports as
 * the desk does: one outcome per invitation id, one event per stray ref.
 */
class LineWorld {
  readonly timers = new ManualTimers();
  readonly journal = new MemoryJournal();
  /** What each side has written and the other has not yet read. */
  private readonly wire = { bridge: [] as { text: string; junk?: true }[], terminal: [] as { text: string; junk?: true }[] };
  private readonly faults = { bridge: [] as ('drop' | 'garble')[], terminal: [] as ('drop' | 'garble')[] };
  private dropNextTerminalFrame = false;
  /** Ratings the terminal made: inv → grade (the first frame of each, from any boot). */
  readonly rated = new Map<string, string>();
  readonly stored = new Map<string, TerminalMessage>();
  invalidStored = 0;
  lastTerminalSeq = 0;
  longLines = { bridge: 0, terminal: 0 };
  private core!: TerminalCore;
  private boots = 0;
  private invitations = 0;
  readonly bridge: LinkEndpoint<TerminalMessage, BridgeMessage>;

  /** `firstSeq`: where both ends start numbering (near 2^31, each wraps to 1 within the run). */
  constructor(private readonly firstSeq?: number) {
    this.bridge = new LinkEndpoint<TerminalMessage, BridgeMessage>({
      schema: terminalMessageSchema,
      timers: this.timers,
      ...(firstSeq !== undefined && { firstSeq }),
      write: (frame) => void this.wire.terminal.push({ text: frame }),
      onMessage: (m) => this.store(m),
      voidPendingOnPeerReset: true, // as the bridge's TerminalLink
    });
    this.bridge.start();
    this.boot();
  }

  get terminal(): TerminalCore {
    return this.core;
  }

  private store(m: TerminalMessage): void {
    if (!terminalMessageSchema.safeParse(m).success) this.invalidStored += 1;
    const key = 'inv' in m ? `inv/${m.inv}` : m.type === 'stray' || m.type === 'stuck' ? `${m.type}/${m.ref}` : undefined;
    if (key !== undefined && !this.stored.has(key)) this.stored.set(key, m);
  }

  /** A new boot of the terminal on the same journal: what was on its wire in either direction is gone. */
  boot(garbleHello = false): void {
    this.core?.stop();
    this.wire.terminal.length = 0;
    this.longLines.terminal = 0; // the new boot counts afresh
    this.dropNextTerminalFrame = garbleHello;
    const boot = (this.boots += 1);
    const live = (): boolean => this.boots === boot;
    const hw: TerminalHardware = {
      timers: this.timers,
      journal: this.journal,
      setLeds: () => undefined,
      beep: () => undefined,
      write: (frame) => {
        if (!live()) return;
        const decoded = decodeFrame(frame.slice(0, -1));
        if (decoded.ok) {
          const m = decoded.value as { type: string; seq: number; inv?: string; grade?: string };
          this.lastTerminalSeq = m.seq;
          if (m.type === 'rating' && m.inv !== undefined && !this.rated.has(m.inv)) this.rated.set(m.inv, m.grade ?? '');
        }
        if (this.dropNextTerminalFrame) {
          this.dropNextTerminalFrame = false;
          return;
        }
        this.wire.bridge.push({ text: frame });
      },
    };
    this.core = new TerminalCore(hw, {
      serial: 'T-FUZZ',
      bootId: `b00700${String(boot).padStart(2, '0')}`,
      debounceMs: 30,
      ...(this.firstSeq !== undefined && { link: { firstSeq: this.firstSeq } }),
    });
    this.core.start();
  }

  invite(): void {
    this.invitations += 1;
    this.bridge.send({ type: 'invite', inv: `inv-${this.invitations}`, timeoutMs: 4000, reasons: 0, reasonTimeoutMs: 15_000 });
  }

  press(button: number): void {
    this.core.buttonEdge(button, true);
    this.timers.advance(60);
    this.core.buttonEdge(button, false);
    this.timers.advance(60);
  }

  inject(to: 'bridge' | 'terminal', text: string): void {
    this.wire[to].push({ text, junk: true });
  }

  fault(to: 'bridge' | 'terminal', how: 'drop' | 'garble'): void {
    this.faults[to].push(how);
  }

  /** Carries everything on both wires across, applying pending faults, until both are empty and settled. */
  async pump(): Promise<void> {
    for (let round = 0; round < 50 && (this.wire.bridge.length > 0 || this.wire.terminal.length > 0); round++) {
      for (const to of ['bridge', 'terminal'] as const) {
        for (const chunk of this.wire[to].splice(0)) {
          // Faults strike the sides' frames; injected junk arrives as it is.
          const fault = chunk.junk ? undefined : this.faults[to].shift();
          if (fault === 'drop') continue;
          const text = fault === 'garble' ? garble(chunk.text) : chunk.text;
          if (to === 'bridge') this.bridge.receiveData(text);
          else this.core.receiveData(text);
        }
      }
      // Handlers settle (and acks are written) in microtasks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** One character of the frame changed, the newline kept: only the checksum can tell. */
function garble(chunk: string): string {
  const at = Math.floor(chunk.length / 2);
  return chunk.slice(0, at) + String.fromCharCode(chunk.charCodeAt(at) ^ 0x04) + chunk.slice(at + 1);
}

function forged(o: Extract<Op, { k: 'forge' }>): string {
  const body =
    o.what === 'stray'
      ? { type: 'stray', grade: 'satisfied', ref: `forged-${o.seq}` }
      : o.what === 'rating'
        ? { type: 'rating', inv: `forged-${o.seq}`, grade: 'very_dissatisfied', latencyMs: 1, reason: null }
        : { type: 'hello', proto: 1, fw: 'x', serial: 'T-FUZZ', boot: 'f0f0f0f0' };
  // Alone on its line, so that it does not garble what it lands next to.
  return `\n${encodeFrame({ ...body, seq: o.seq })}`;
}

describe('the link end to end under junk, resets and forged frames (seeded)', () => {
  it('stores every rating the terminal made exactly once, stores nothing invalid, and counts the junk', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 60 }), fc.option(fc.integer({ min: 2 ** 31 - 40, max: 2 ** 31 - 1 })), async (ops, firstSeq) => {
        const world = new LineWorld(firstSeq ?? undefined);
        for (const o of ops) {
          switch (o.k) {
            case 'invite':
              world.invite();
              break;
            case 'press':
              world.press(o.button);
              break;
            case 'advance':
              world.timers.advance(o.ms);
              break;
            case 'junk':
              world.inject(o.to, o.text);
              break;
            case 'longLine':
              world.longLines[o.to] += 1;
              world.inject(o.to, `\n${'J'.repeat(o.length)}\n`);
              break;
            case 'fault':
              world.fault(o.to, o.how);
              break;
            case 'reset':
              await world.pump(); // what the old boot had sent is on the wire already
              world.boot(o.garbleHello);
              break;
            case 'forge':
              world.inject('bridge', forged(o.near === null ? o : { ...o, seq: Math.max(0, Math.min(2 ** 31, world.lastTerminalSeq + o.near)) }));
              break;
          }
          await world.pump();
        }
        // The line heals: everything unacknowledged gets through on its resends.
        for (let i = 0; i < 40 && (world.terminal.unacknowledged > 0 || world.bridge.pendingCount > 0); i++) {
          world.timers.advance(4000);
          await world.pump();
        }
        expect(world.terminal.unacknowledged).toBe(0);
        expect(world.journal.size).toBe(0);
        for (const [inv, grade] of world.rated) expect(world.stored.get(`inv/${inv}`)).toMatchObject({ type: 'rating', grade });
        expect(world.invalidStored).toBe(0);
        expect(world.bridge.counters.rejected.too_long ?? 0).toBeGreaterThanOrEqual(world.longLines.bridge);
        expect(world.terminal.counters.link.rejected.too_long ?? 0).toBeGreaterThanOrEqual(world.longLines.terminal);
      }),
      // This seed's 2000 cases fail when any of the link's fixes is undone (dedupe by seq alone;
      // an ack settling by seq alone; frames for a gone boot resent to the next one, which takes
      // them before its hello is acknowledged): checked by undoing each. About 2.5 s.
      { seed: 4, numRuns: 2000 },
    );
  }, 60_000);
});
