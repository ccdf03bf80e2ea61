import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';
import { parse, tokenizer } from 'acorn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as esbuild from 'esbuild';
import { buildEspruino, ESPRUINO_MISSING_GLOBALS, zodSubset } from '../../firmware/espruino/build.js';
import { BUTTON_PINS, BUZZER_PIN, LED_PINS, SERIAL1_PINS } from '../../firmware/espruino/config.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';
import { lineSession, lineTagger, verifyFrameJson } from '../../protocol/line-auth.js';
import * as protocol from '../../protocol/serial-messages.js';
import { terminalMessageSchema, type TerminalMessage } from '../../protocol/serial-messages.js';
import { JOURNAL_SLACK, storageJournal } from '../../firmware/espruino/storage-journal.js';
import { FakeEspruinoStorage } from '../support/espruino-flash-fake.js';
import { ManualTimers } from '../support/manual-timers.js';
import { TEST_PAIRING_KEY } from '../support/paired-line.js';

type WatchCallback = (event: { state: boolean; time: number }) => void;

/**
 * What stock Espruino lacks beyond ESPRUINO_MISSING_GLOBALS (https://www.espruino.com/Features),
 * as `Global.member`: taken out of the sandbox too, so a bundle that leans on them fails here.
 */
const ESPRUINO_MISSING_MEMBERS = [
  'Object.seal',
  'Object.freeze',
  'Object.preventExtensions',
  'Object.isSealed',
  'Object.isFrozen',
  'Object.isExtensible',
  'Object.prototype.propertyIsEnumerable',
  'Array.prototype.lastIndexOf',
  'Number.isNaN',
  'Number.isFinite',
  'Number.isSafeInteger',
  'Number.EPSILON',
  'Math.trunc',
  'Math.sign',
];

/** Deletes from a fresh context what Espruino does not have; Espruino's own `global` stays. */
const STOCK_ESPRUINO = [
  ...ESPRUINO_MISSING_MEMBERS.map((member) => `delete ${member};`),
  'var global = this;',
  ...ESPRUINO_MISSING_GLOBALS.map((name) => `delete this.${name};`),
].join('\n');

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
  private readonly timers = new ManualTimers();
  private readonly initHandlers: (() => void)[] = [];
  private readonly dataHandlers: Record<string, ((data: string) => void)[]> = { USB: [], Serial1: [] };

  constructor(
    private readonly code: string,
    /** Flash as Espruino's Storage lays it out (a reset keeps it). */
    readonly flash = new FakeEspruinoStorage(),
  ) {}

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
      E: { hwRand: () => 0x9e3779b9 | 0, CRC32: (data: string) => crc32(Buffer.from(data, 'latin1')), on: (event: string, fn: () => void) => event === 'init' && this.initHandlers.push(fn) },
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
        return this.flash;
      },
      console,
    });
    vm.runInContext(STOCK_ESPRUINO, context);
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
  frames(): TerminalMessage[] {
    return this.written.map((frame) => {
      expect(frame.endsWith('\n')).toBe(true);
      const decoded = decodeFrame(frame.slice(0, -1));
      if (!decoded.ok) throw new Error(`bad frame ${frame}: ${decoded.detail}`);
      return terminalMessageSchema.parse(decoded.value);
    });
  }

  reports(type: TerminalMessage['type']): TerminalMessage[] {
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
  /** What the board's flash journal holds (firmware/espruino/storage-journal.ts), read as the board does at power-up. */
  const journalled = (): string[] => storageJournal(board.flash, 'hcpjrnl', (data) => crc32(Buffer.from(data, 'latin1')), JOURNAL_SLACK).load();
  /** A new board on the same flash (a reset: RAM gone, the journal kept), started. */
  const powerCycle = (): void => {
    board = new EspruinoSandbox(code, board.flash);
    board.load();
    board.init();
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hcp-espruino-'));
    const build = await buildEspruino({ outfile: join(dir, 'terminal.js') });
    code = readFileSync(build.outfile, 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(() => {
    board = new EspruinoSandbox(code);
    bridgeSeq = 100;
    board.load();
  });

  // Its budget is in variables, measured on the real interpreter (tests/e2e/espruino-interpreter.test.ts).
  it('is one ES5 script', () => {
    expect(() => parse(code, { ecmaVersion: 5, sourceType: 'script' })).not.toThrow();
  });

  it("uses no regular expression that Espruino's engine cannot run ({n} quantifiers, \\u or \\x escapes, groups with ?)", () => {
    const patterns: string[] = [];
    for (const token of tokenizer(code, { ecmaVersion: 5 })) {
      // acorn's Token type leaves out `value`; for a regexp token it is { pattern, flags, value }.
      if (token.type.label === 'regexp') patterns.push((token as unknown as { value: { pattern: string } }).value.pattern);
    }
    const known = [
      // zod-subset's pattern() tests ^atom{m,n}$ as a length and ^atom*$: Espruino never sees the quantifier.
      '^[0-9a-fA-F]{8,32}$',
      // Babel's _unsupportedIterableToArray, reached only for an iterable that is neither array, Map, Set nor arguments.
      '^(?:Ui|I)nt(?:8|16|32)(?:Clamped)?Array$',
    ];
    expect(patterns.filter((p) => /\{\d|\\u|\\x|\(\?/.test(p) && !known.includes(p))).toEqual([]);
  });

  it('runs where Espruino lacks Map, Set, Symbol and the rest', () => {
    const context = vm.createContext({});
    vm.runInContext(STOCK_ESPRUINO, context);
    for (const name of ESPRUINO_MISSING_GLOBALS) expect(vm.runInContext(`typeof ${name}`, context)).toBe('undefined');
    expect(vm.runInContext('typeof Math.trunc + typeof Object.freeze', context)).toBe('undefinedundefined');
    // The bundle brings its own collections (polyfills.ts) and finds its global as Espruino has it.
    expect(vm.runInContext('typeof global', context)).toBe('object');
  });

  it('is one self-contained script that starts only on init', () => {
    expect(code).not.toMatch(/\bimport\b\s*[{*'"]|\bexport\s*[{*]/);
    expect(board.written).toEqual([]);
    board.init();
    expect(board.setups).toEqual([['Serial1', 115200, { tx: SERIAL1_PINS.tx, rx: SERIAL1_PINS.rx }]]);
    expect(board.consoles).toEqual(['USB']);
    expect(BUTTON_PINS).toHaveLength(BUTTON_COUNT);
    expect(LED_PINS).toHaveLength(BUTTON_COUNT);
    expect(board.watches.map((w) => w.pin)).toEqual(BUTTON_PINS);
    expect(board.watches[0]?.options).toEqual({ repeat: true, edge: 'both', debounce: 0 });
    for (const pin of BUTTON_PINS) expect(board.pinModes[pin]).toBe('input_pullup');
    expect(board.leds()).toEqual(Array(BUTTON_COUNT).fill(false));
    board.init(); // a second init (e.g. save() after a run) does not start a second terminal
    expect(board.watches).toHaveLength(BUTTON_COUNT);
  });

  it('says hello with a valid frame', () => {
    board.init();
    expect(board.frames()).toEqual([
      expect.objectContaining({ type: 'hello', proto: 1, serial: 'espruino-33FFD605-41573033-15720843', boot: expect.stringMatching(/^[0-9a-f]{16}$/) }),
    ]);
  });

  it('lights all LEDs on an invitation, reports one rating and keeps only its LED lit', async () => {
    board.init();
    await fromBridge({ type: 'ack', ack: 1 }); // the hello: invitations are taken from then on
    await fromBridge({ type: 'invite', inv: 'inv-1', timeoutMs: 60_000, reasons: 0, reasonTimeoutMs: 15_000 });
    expect(board.leds()).toEqual([true, true, true, true, true]);
    expect(board.frames()).toContainEqual(expect.objectContaining({ type: 'ack', ack: 101 }));

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
    expect(journalled()).toEqual([expect.stringContaining('"type":"stray"')]);

    await board.advance(3000);
    const sent = board.reports('stray');
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect(sent.every((m) => m.seq === stray?.seq)).toBe(true);

    await fromBridge({ type: 'ack', ack: stray?.seq }, 1000);
    expect(journalled()).toEqual([]);
    const before = board.reports('stray').length;
    await board.advance(20_000);
    expect(board.reports('stray')).toHaveLength(before);
    expect(board.reports('hb').length).toBeGreaterThan(0); // the link stays alive
  });

  it('pairs over the line: keeps the key in flash, and tags its hello and reports for the session, across a power cycle; a forged copy does not pass', async () => {
    board.init();
    await fromBridge({ type: 'pair', key: TEST_PAIRING_KEY });
    expect(board.flash.readJSON('hcpkey', true)).toBe(TEST_PAIRING_KEY);
    expect(board.frames()).toContainEqual(expect.objectContaining({ type: 'ack', ack: 100 }));
    await fromBridge({ type: 'hello', proto: 1, boot: 'b0b0b0b0b0b0b0b0' });
    await board.press(2);

    const tagger = lineTagger(TEST_PAIRING_KEY);
    /** Per frame of a type written by this boot, whether the bridge's check passes it in the session with `bridgeBoot`. */
    const checks = (type: string, bridgeBoot: string): boolean[] => {
      const boot = (board.reports('hello')[0] as { boot: string }).boot;
      return board.written
        .map((frame) => decodeFrame(frame.slice(0, -1)))
        .flatMap((d) => (d.ok && (d.value as { type: string }).type === type ? [verifyFrameJson(tagger, lineSession(boot, bridgeBoot), d.json)] : []));
    };
    expect(board.reports('hello').at(-1)).toMatchObject({ peer: 'b0b0b0b0b0b0b0b0' });
    expect(checks('hello', 'b0b0b0b0b0b0b0b0').at(-1)).toBe(true);
    expect(checks('stray', 'b0b0b0b0b0b0b0b0')).toEqual([true]);
    expect(checks('stray', 'c0c0c0c0c0c0c0c0')).toEqual([false]);
    // The same report changed under its tag, as a forger without the key would write it, does not pass.
    const stray = decodeFrame((board.written.find((frame) => frame.includes('"type":"stray"')) ?? '').slice(0, -1));
    if (!stray.ok) throw new Error('no stray frame');
    const boot = (board.reports('hello')[0] as { boot: string }).boot;
    expect(verifyFrameJson(tagger, lineSession(boot, 'b0b0b0b0b0b0b0b0'), stray.json.replace('basically_satisfied', 'very_satisfied'))).toBe(false);

    powerCycle();
    await fromBridge({ type: 'hello', proto: 1, boot: 'd0d0d0d0d0d0d0d0' });
    expect(board.written[0]).toMatch(/^\{"type":"hello".*,"mac":"[0-9a-f]{16}"\}\*/); // tagged from power-up: the key was in flash
    expect(checks('hello', 'd0d0d0d0d0d0d0d0').at(-1)).toBe(true);
    // The journalled stray, replayed after the bridge's hello, is tagged for the new session.
    expect(checks('stray', 'd0d0d0d0d0d0d0d0').at(-1)).toBe(true);
  });

  it('replays a journalled report after a reset', async () => {
    board.init();
    await board.press(2);
    powerCycle();
    expect(board.frames().map((m) => m.type)).toEqual(['hello', 'stray']);
    expect(board.reports('stray')[0]).toMatchObject({ grade: 'basically_satisfied' });
  });

  it('replays after a hello that names the journalled invitation, and drops a report the bridge refuses (nak)', async () => {
    board.init();
    await fromBridge({ type: 'ack', ack: 1 }); // the hello: invitations are taken from then on
    await fromBridge({ type: 'invite', inv: 'inv-9', timeoutMs: 5000, reasons: 0, reasonTimeoutMs: 15_000 });
    await board.press(1);
    powerCycle();
    expect(board.frames()[0]).toMatchObject({ type: 'hello', pending: ['inv-9'] });
    const rating = board.reports('rating')[0];
    await fromBridge({ type: 'nak', nak: rating?.seq, problem: 'inv: unknown' });
    expect(journalled()).toEqual([]);
    const before = board.reports('rating').length;
    await board.advance(20_000);
    expect(board.reports('rating')).toHaveLength(before);
  });

  it('drops an over-long or corrupt line and keeps reading', async () => {
    board.init();
    await fromBridge({ type: 'ack', ack: 1 }); // the hello: invitations are taken from then on
    await board.receive('x'.repeat(2000) + '\n' + encodeFrame({ type: 'invite', inv: 'inv-2', timeoutMs: 5000, seq: 7 }).replace('inv-2', 'inv-3'), 64);
    expect(board.leds()).toEqual([false, false, false, false, false]);
    await fromBridge({ type: 'invite', inv: 'inv-4', timeoutMs: 5000, reasons: 0, reasonTimeoutMs: 15_000 }, 64);
    expect(board.leds()).toEqual([true, true, true, true, true]);
  });
});

/** The same protocol/serial-messages.ts, as the device runs it: built with zod-subset.ts in place of zod. */
async function deviceSchemas(dir: string): Promise<typeof protocol> {
  const outfile = join(dir, 'serial-messages.mjs');
  await esbuild.build({ entryPoints: [join(import.meta.dirname, '../../protocol/serial-messages.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile, plugins: [zodSubset], logLevel: 'silent' });
  return (await import(pathToFileURL(outfile).href)) as typeof protocol;
}

describe('zod-subset on the serial protocol schemas', () => {
  const hello = { type: 'hello', seq: 1, proto: 1, boot: '0123456789abcdef' };
  const invite = { type: 'invite', seq: 2, inv: 'inv-1', timeoutMs: 60_000 };
  const bridgeFrames: unknown[] = [
    hello,
    { ...hello, boot: '0123456' },
    { ...hello, boot: '0'.repeat(32) },
    { ...hello, boot: '0'.repeat(33) },
    { ...hello, boot: '0123456789ABCDEF' },
    { ...hello, proto: 0 },
    { ...hello, seq: 2 ** 31 + 1 },
    { ...hello, seq: 1.5 },
    { ...hello, extra: 'dropped' },
    invite,
    { ...invite, reasons: 3, reasonTimeoutMs: 20_000 },
    { ...invite, timeoutMs: 999 },
    { ...invite, timeoutMs: '60000' },
    { ...invite, inv: '' },
    { ...invite, inv: 'x'.repeat(65) },
    { type: 'cancel', seq: 3, inv: 'inv-1' },
    { type: 'cancel', seq: 3 },
    { type: 'ack', seq: 4, ack: 9 },
    { type: 'hb', seq: 5 },
    { type: 'test', seq: 6, active: true },
    { type: 'test', seq: 6, active: true, leds: [true, false, true, false, true], beepMs: 100 },
    { type: 'test', seq: 6, active: true, leds: [true] },
    { type: 'test', seq: 6, active: 'yes' },
    { type: 'nope', seq: 7 },
    { seq: 7 },
    null,
    [],
    'hello',
    { type: 'hb', seq: Infinity },
    { type: 'hb', seq: -1 },
    { type: 'nak', seq: 8, nak: 3, problem: 'inv: too long' },
    { type: 'nak', seq: 8, nak: 3, problem: 'x'.repeat(161) },
    { type: 'nak', seq: 8, problem: 'no seq named' },
  ];
  const deviceFrames: unknown[] = [
    { type: 'rating', seq: 1, inv: 'inv-1', grade: 'satisfied', latencyMs: 1500 },
    { type: 'rating', seq: 1, inv: 'inv-1', grade: 'satisfied', latencyMs: 1500, reason: 2 },
    { type: 'rating', seq: 1, inv: 'inv-1', grade: 'satisfied', latencyMs: 1500, reason: null },
    { type: 'rating', seq: 1, inv: 'inv-1', grade: 'great', latencyMs: 1500 },
    { type: 'rating', seq: 1, inv: 'inv-1', grade: 'satisfied', latencyMs: -1 },
    { type: 'stray', seq: 2, grade: 'very_dissatisfied', ref: 'abc-1' },
    { type: 'stuck', seq: 3, button: 5, heldMs: 5000, ref: 'abc-s1' },
    { type: 'hello', seq: 0, proto: 1, fw: '0.1.0', serial: 'espruino-1', boot: 'deadbeef' },
    { type: 'hello', seq: 0, proto: 1, fw: '0.1.0', serial: 'espruino-1', boot: 'DEADBEEF', pending: ['inv-1', 'inv-2'] },
    { type: 'hello', seq: 0, proto: 1, fw: '0.1.0', serial: 'espruino-1', boot: 'deadbeef', pending: null },
    { type: 'hello', seq: 0, proto: 1, fw: '0.1.0', serial: 'espruino-1', boot: 'deadbeef', pending: ['a', 'b', 'c', 'd', 'e'] },
    { type: 'hello', seq: 0, proto: 1, fw: '0.1.0', serial: 'espruino-1', boot: 'deadbeef', pending: [''] },
    { type: 'expired', seq: 4, inv: 'inv-1' },
  ];

  it('accepts, rejects and fills defaults as zod does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-zod-subset-'));
    try {
      const device = await deviceSchemas(dir);
      const cases = [
        ...bridgeFrames.map((frame) => [protocol.bridgeMessageSchema, device.bridgeMessageSchema, frame] as const),
        ...deviceFrames.map((frame) => [protocol.terminalMessageSchema, device.terminalMessageSchema, frame] as const),
      ];
      for (const [zod, subset, frame] of cases) {
        const expected = zod.safeParse(frame);
        const actual = subset.safeParse(frame);
        expect({ frame, success: actual.success, data: actual.data }).toEqual({ frame, success: expected.success, data: expected.data });
        if (!expected.success && !actual.success) {
          expect({ frame, paths: actual.error.issues.map((i) => i.path) }).toEqual({ frame, paths: expected.error.issues.map((i) => i.path) });
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
