import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import vm from 'node:vm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildEspruino } from '../../firmware/espruino/build.js';
import { BUTTON_PINS, BUZZER_PIN, LED_PINS, SERIAL1_PINS } from '../../firmware/espruino/config.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { deviceMessageSchema, type DeviceMessage } from '../../protocol/serial-messages.js';
import { ManualTimers } from '../support/manual-timers.js';

type WatchCallback = (event: { state: boolean; time: number }) => void;

/**
 * A sandbox with the Espruino globals the bundle uses, strict where Espruino is strict
 * (clearTimeout of an unknown id throws), with a clock that moves only when the test says so.
 */
class EspruinoSandbox {
  readonly levels: Record<string, boolean> = {};
  readonly pinModes: Record<string, string> = {};
  readonly watches: { pin: string; callback: WatchCallback; options: unknown }[] = [];
  readonly written: string[] = [];
  readonly setups: unknown[][] = [];
  readonly consoles: string[] = [];
  readonly flash: Record<string, unknown> = {};
  private readonly timers = new ManualTimers();
  private readonly initHandlers: (() => void)[] = [];
  private readonly dataHandlers: Record<string, ((data: string) => void)[]> = { USB: [], Serial1: [] };

  constructor(private readonly code: string) {}

  load(): void {
    const serial = (name: string) => ({
      setup: (...args: unknown[]) => this.setups.push([name, ...args]),
      on: (event: string, handler: (data: string) => void) => {
        if (event === 'data') this.dataHandlers[name]?.push(handler);
      },
      write: (data: string) => {
        if (name === 'Serial1') this.written.push(data);
      },
      setConsole: () => this.consoles.push(name),
    });
    const context = vm.createContext({
      E: { hwRand: () => 0x9e3779b9 | 0, on: (event: string, fn: () => void) => event === 'init' && this.initHandlers.push(fn) },
      USB: serial('USB'),
      Serial1: serial('Serial1'),
      LoopbackA: serial('LoopbackA'),
      setWatch: (callback: WatchCallback, pin: string, options: unknown) => this.watches.push({ pin, callback, options }),
      pinMode: (pin: string, mode: string) => (this.pinModes[pin] = mode),
      digitalWrite: (pin: string, value: boolean) => (this.levels[pin] = value),
      getTime: () => this.timers.now() / 1000,
      getSerial: () => '33FFD605-41573033-15720843',
      setTimeout: (fn: () => void, ms: number) => this.timers.setTimeout(fn, ms),
      clearTimeout: (id?: number) => {
        if (id === undefined) throw new Error('clearTimeout() with no id would clear every timer');
        if (!this.timers.cancel(id)) throw new Error('Unknown Timeout');
      },
      require: (name: string) => {
        if (name !== 'Storage') throw new Error(`Module ${name} not found`);
        return {
          readJSON: (file: string) => this.flash[file],
          writeJSON: (file: string, data: unknown) => ((this.flash[file] = JSON.parse(JSON.stringify(data))), true),
          erase: (file: string) => delete this.flash[file],
        };
      },
      console,
    });
    vm.runInContext(this.code, context, { filename: 'terminal.js' });
  }

  /** Espruino runs the init handlers at power-up and after save(). */
  init(): void {
    for (const fn of this.initHandlers) fn();
  }

  /** Moves the clock, firing due timers in order, then lets promise jobs run. */
  async advance(ms: number): Promise<void> {
    this.timers.advance(ms);
    await nextTurn();
  }

  /** Bytes arriving on Serial1, in whatever chunks the UART delivers them. */
  async receive(data: string, chunk = 7): Promise<void> {
    for (let i = 0; i < data.length; i += chunk) for (const handler of this.dataHandlers.Serial1 ?? []) handler(data.slice(i, i + chunk));
    await nextTurn();
  }

  /** An edge on a button pin; pressed pulls it low. */
  edge(button: number, pressed: boolean): void {
    const watch = this.watches.find((w) => w.pin === BUTTON_PINS[button]);
    if (!watch) throw new Error(`no watch on button ${button}`);
    watch.callback({ state: !pressed, time: this.timers.now() / 1000 });
  }

  async press(button: number): Promise<void> {
    this.edge(button, true);
    await this.advance(100);
    this.edge(button, false);
    await this.advance(100);
  }

  leds(): boolean[] {
    return LED_PINS.map((pin) => this.levels[pin] === true);
  }

  /** Every frame written, decoded and validated (resends included). */
  frames(): DeviceMessage[] {
    return this.written.map((frame) => {
      expect(frame.endsWith('\n')).toBe(true);
      const decoded = decodeFrame(frame.slice(0, -1));
      if (!decoded.ok) throw new Error(`bad frame ${frame}: ${decoded.detail}`);
      return deviceMessageSchema.parse(decoded.value);
    });
  }

  reports(type: DeviceMessage['type']): DeviceMessage[] {
    return this.frames().filter((m) => m.type === type);
  }
}

describe('Espruino build in a sandbox', () => {
  let dir: string;
  let code: string;
  let board: EspruinoSandbox;
  let bridgeSeq: number;
  const fromBridge = (message: Record<string, unknown>, chunk?: number): Promise<void> =>
    board.receive(encodeFrame({ ...message, seq: bridgeSeq++ }), chunk);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hcp-espruino-'));
    const build = await buildEspruino(join(dir, 'terminal.js'));
    code = readFileSync(build.outfile, 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(() => {
    board = new EspruinoSandbox(code);
    bridgeSeq = 100;
    board.load();
  });

  it('is one self-contained script that starts only on init', () => {
    expect(code).not.toMatch(/\bimport\b\s*[{*'"]|\bexport\s*[{*]/);
    expect(board.written).toEqual([]);
    board.init();
    expect(board.setups).toEqual([['Serial1', 115200, { tx: SERIAL1_PINS.tx, rx: SERIAL1_PINS.rx }]]);
    expect(board.consoles).toEqual(['USB']);
    expect(board.watches.map((w) => w.pin)).toEqual(BUTTON_PINS);
    expect(board.watches[0]?.options).toEqual({ repeat: true, edge: 'both', debounce: 0 });
    for (const pin of BUTTON_PINS) expect(board.pinModes[pin]).toBe('input_pullup');
    expect(board.leds()).toEqual([false, false, false, false, false]);
    board.init(); // a second init (e.g. save() after a run) does not start a second terminal
    expect(board.watches).toHaveLength(5);
  });

  it('says hello with a valid frame', () => {
    board.init();
    expect(board.frames()).toEqual([
      expect.objectContaining({ type: 'hello', proto: 1, serial: 'espruino-33FFD605-41573033-15720843', boot: expect.stringMatching(/^[0-9a-f]{16}$/) }),
    ]);
  });

  it('lights all LEDs on an invitation, reports one rating and keeps only its LED lit', async () => {
    board.init();
    await fromBridge({ type: 'invite', inv: 'inv-1', timeoutMs: 60_000, reasons: 0, reasonTimeoutMs: 15_000 });
    expect(board.leds()).toEqual([true, true, true, true, true]);
    expect(board.frames()).toContainEqual(expect.objectContaining({ type: 'ack', ack: 100 }));

    await board.advance(1500);
    await board.press(3);
    await board.press(0); // one press per invitation
    const ratings = board.reports('rating');
    expect(new Set(ratings.map((r) => r.seq)).size).toBe(1);
    expect(ratings[0]).toMatchObject({ type: 'rating', inv: 'inv-1', grade: 'dissatisfied', latencyMs: 1500, reason: null });
    expect(board.leds()).toEqual([false, false, false, true, false]);

    await board.advance(2500); // thanks is over
    expect(board.leds()).toEqual([false, false, false, false, false]);
    expect(BUZZER_PIN && board.levels[BUZZER_PIN]).toBe(false);
  });

  it('reports a press with no invitation as stray', async () => {
    board.init();
    await board.press(1);
    expect(board.reports('stray')).toEqual([expect.objectContaining({ grade: 'satisfied' })]);
    expect(board.reports('rating')).toEqual([]);
  });

  it('resends an unacknowledged report, keeping it in flash, until the ack arrives', async () => {
    board.init();
    await fromBridge({ type: 'ack', ack: 1 }); // the hello
    await board.press(4);
    const stray = board.reports('stray')[0];
    expect(stray).toBeDefined();
    expect(board.flash.hcpjrnl).toEqual([expect.stringContaining('"type":"stray"')]);

    await board.advance(3000);
    const sent = board.reports('stray');
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect(sent.every((m) => m.seq === stray?.seq)).toBe(true);

    await fromBridge({ type: 'ack', ack: stray?.seq }, 1000);
    expect(board.flash.hcpjrnl).toBeUndefined();
    const before = board.reports('stray').length;
    await board.advance(20_000);
    expect(board.reports('stray')).toHaveLength(before);
    expect(board.reports('hb').length).toBeGreaterThan(0); // the link stays alive
  });

  it('replays a journalled report after a reset', async () => {
    board.init();
    await board.press(2);
    const flash = { ...board.flash };
    board = new EspruinoSandbox(code);
    Object.assign(board.flash, flash);
    board.load();
    board.init();
    expect(board.frames().map((m) => m.type)).toEqual(['hello', 'stray']);
    expect(board.reports('stray')[0]).toMatchObject({ grade: 'basically_satisfied' });
  });

  it('drops an over-long or corrupt line and keeps reading', async () => {
    board.init();
    await board.receive('x'.repeat(2000) + '\n' + encodeFrame({ type: 'invite', inv: 'inv-2', timeoutMs: 5000, seq: 7 }).replace('inv-2', 'inv-3'), 64);
    expect(board.leds()).toEqual([false, false, false, false, false]);
    await fromBridge({ type: 'invite', inv: 'inv-4', timeoutMs: 5000, reasons: 0, reasonTimeoutMs: 15_000 }, 64);
    expect(board.leds()).toEqual([true, true, true, true, true]);
  });
});
