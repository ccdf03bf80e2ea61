import { once } from 'node:events';
import { ReadlineParser } from '@serialport/parser-readline';
import type { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import {
  terminalHelloSchema,
  terminalMessageSchema,
  isReliable,
  SERIAL_PROTOCOL_VERSION,
  type BridgeMessage,
  type TerminalMessage,
  type Unsequenced,
} from '../../protocol/serial-messages.js';
import { closeVirtualPort, createVirtualLine, openVirtualPort } from '../../simulator/virtual-serial-line.js';
import { VirtualTerminal, type VirtualTerminalOptions } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';

type Frame<T extends TerminalMessage['type']> = Extract<TerminalMessage, { type: T }>;

/** The test plays the bridge at the other end of the cable, frame by frame. */
class TestBridge {
  /** Every valid frame received, resends included. */
  readonly log: TerminalMessage[] = [];
  /** Lines that were not a valid device frame. */
  readonly invalid: string[] = [];
  private readonly inbox: TerminalMessage[] = [];
  private seq = 1;
  private barriers = 0;

  private constructor(
    private readonly port: SerialPortStream,
    /** Acknowledge every report, as the real bridge does once it is stored. */
    private readonly autoAck: boolean,
  ) {
    port.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', (line: string) => this.receive(line));
  }

  static async open(path: string, autoAck: boolean): Promise<TestBridge> {
    const port = openVirtualPort(path);
    await once(port, 'open');
    return new TestBridge(port, autoAck);
  }

  send(message: Unsequenced<BridgeMessage>): number {
    const seq = this.seq++;
    this.port.write(encodeFrame({ ...message, seq }));
    return seq;
  }

  /** The next frame of a type not taken yet, waiting for it if need be. */
  async take<T extends TerminalMessage['type']>(type: T): Promise<Frame<T>> {
    const index = await waitUntil(() => this.inbox.findIndex((m) => m.type === type) + 1, `a ${type} frame`);
    return this.inbox.splice(index - 1, 1)[0] as Frame<T>;
  }

  async acked(seq: number): Promise<void> {
    await waitUntil(() => this.log.some((m) => m.type === 'ack' && m.ack === seq), `the ack of frame ${seq}`);
  }

  /**
   * Waits until everything the terminal sent so far has arrived: a cancel for an invitation that
   * does not exist changes nothing, and the line keeps order, so its ack comes after all of it.
   */
  async sync(): Promise<void> {
    await this.acked(this.send({ type: 'cancel', inv: `barrier-${++this.barriers}` }));
  }

  /** Distinct reports of a type (a resend repeats the sequence number). */
  reports<T extends TerminalMessage['type']>(type: T): Frame<T>[] {
    const all = this.log.filter((m): m is Frame<T> => m.type === type);
    return all.filter((m, i) => all.findIndex((o) => o.seq === m.seq) === i);
  }

  close(): Promise<void> {
    return closeVirtualPort(this.port);
  }

  private receive(line: string): void {
    const decoded = decodeFrame(line);
    const parsed = decoded.ok ? terminalMessageSchema.safeParse(decoded.value) : undefined;
    if (!parsed?.success) {
      this.invalid.push(line);
      return;
    }
    this.log.push(parsed.data);
    this.inbox.push(parsed.data);
    if (this.autoAck && isReliable(parsed.data)) this.send({ type: 'ack', ack: parsed.data.seq, fp: null });
  }
}

const cleanups: Array<() => Promise<void>> = [];
let lineNo = 0;

async function setup(options: { autoAck?: boolean; terminal?: Partial<VirtualTerminalOptions> } = {}) {
  const line = createVirtualLine(`vt-${++lineNo}`);
  // The bridge listens first, or the terminal's hello would go down an unplugged cable.
  const bridge = await TestBridge.open(line.bridgePath, options.autoAck ?? true);
  cleanups.push(() => bridge.close());
  const terminal = await VirtualTerminal.start({
    devicePath: line.devicePath,
    serial: 'HCP-T-0001',
    bootId: '0123456789abcdef',
    ...options.terminal,
  });
  cleanups.push(() => terminal.stop());
  // The terminal takes invitations once the bridge has its hello (acknowledged here by autoAck).
  if (options.autoAck ?? true) await waitUntil(() => terminal.core.unacknowledged === 0, 'the hello acknowledged');
  return { line, bridge, terminal };
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const INVITE = { type: 'invite', inv: 'inv-0001', timeoutMs: 60_000, reasons: 0, reasonTimeoutMs: 15_000 } as const;

describe('virtual terminal over a virtual line', () => {
  it('says hello on start', async () => {
    const { bridge } = await setup();
    const hello = terminalHelloSchema.parse(await bridge.take('hello'));
    expect(hello).toMatchObject({ proto: SERIAL_PROTOCOL_VERSION, serial: 'HCP-T-0001', boot: '0123456789abcdef' });
    expect(bridge.invalid).toEqual([]);
  });

  it('lights every LED on an invitation, and only the chosen one after a press', async () => {
    const { bridge, terminal } = await setup();
    expect(terminal.leds()).toEqual([false, false, false, false, false]);
    await bridge.acked(bridge.send(INVITE));
    expect(terminal.leds()).toEqual([true, true, true, true, true]);

    await terminal.press(3);
    const rating = await bridge.take('rating');
    expect(rating).toMatchObject({ inv: 'inv-0001', grade: 'dissatisfied' });
    expect(terminal.leds()).toEqual([false, false, false, true, false]);

    // 一次一评: a second press in the same invitation is not a second rating.
    await terminal.press(0);
    await bridge.sync();
    expect(bridge.reports('rating')).toHaveLength(1);
    expect(terminal.core.counters.ignoredPresses).toBe(1);
    expect(bridge.invalid).toEqual([]);
  });

  it('does not swallow two presses in a row on the same button', async () => {
    const { bridge, terminal } = await setup();
    await terminal.press(4);
    await terminal.press(4);
    await bridge.sync();
    expect(bridge.reports('stray').map((m) => m.grade)).toEqual(['very_dissatisfied', 'very_dissatisfied']);
    expect(terminal.core.counters.bounces).toBe(0);
  });

  it('sounds the buzzer for a moment on a rating', async () => {
    const { bridge, terminal } = await setup();
    await bridge.acked(bridge.send(INVITE));
    await waitUntil(() => !terminal.buzzing(), 'the invitation beep to end');
    await terminal.hold(1);
    expect(terminal.buzzing()).toBe(true);
    await terminal.release(1);
    await waitUntil(() => !terminal.buzzing(), 'the rating beep to end');
  });

  it('counts a bouncing contact as one press: one stray report with no invitation', async () => {
    const { bridge, terminal } = await setup();
    await terminal.bounce(2);
    await bridge.sync();
    expect(bridge.reports('stray')).toEqual([expect.objectContaining({ grade: 'basically_satisfied' })]);
    expect(terminal.core.counters.presses).toBe(1);
    expect(terminal.core.counters.bounces).toBeGreaterThan(0);
  });

  it('resends a report until it is acknowledged', async () => {
    const { bridge, terminal } = await setup({
      autoAck: false,
      terminal: { link: { resendMs: 20, maxResendMs: 40, heartbeatMs: 10_000 } },
    });
    const hello = await bridge.take('hello');
    const resent = await bridge.take('hello');
    expect(resent).toEqual(hello);

    bridge.send({ type: 'ack', ack: hello.seq, fp: null });
    await waitUntil(() => terminal.core.unacknowledged === 0, 'the terminal to drop the acknowledged hello');
    const transmissions = bridge.log.filter((m) => m.type === 'hello').length;
    // Absence takes time to show: several resend periods, then not one more hello.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await bridge.sync();
    expect(bridge.log.filter((m) => m.type === 'hello')).toHaveLength(transmissions);
  });

  it('keeps a report made while unplugged and delivers it once plugged back', async () => {
    const { bridge, terminal } = await setup({ terminal: { link: { resendMs: 20, maxResendMs: 40 } } });
    await bridge.take('hello');
    await terminal.unplug();
    await terminal.press(0);
    expect(bridge.reports('stray')).toEqual([]);
    await terminal.plug();
    const stray = await bridge.take('stray');
    expect(stray.grade).toBe('very_satisfied');
    await waitUntil(() => terminal.core.unacknowledged === 0, 'the stray report to be acknowledged');
  });
});
