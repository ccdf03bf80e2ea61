import five from 'johnny-five';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';
import type { ReportJournal, TerminalHardware } from '../core/hardware.js';
import { TerminalCore, type TerminalCoreOptions } from '../core/terminal-core.js';

/** A pin as the IO plugin names it: a number, or a string such as raspi-io's 'GPIO17'. */
export type PinId = number | string;

export interface TerminalPins {
  /** The rating buttons, left to right: 非常满意 … 非常不满意. */
  buttons: readonly PinId[];
  /** The LED above each button, in the same order. */
  leds: readonly PinId[];
  buzzer?: PinId;
}

/** The serial line as the terminal sees it; which serial stack carries it is not our business. */
export interface LineTransport {
  /** Writes one encoded frame, newline included. */
  write(frame: string): void;
  /** Registers the handler for what the line receives, as it comes (latin1 text; the core cuts it into lines). */
  onData(handler: (chunk: string) => void): void;
}

export interface JohnnyFiveTerminalOptions {
  /** An IO plugin instance: Firmata, a Raspberry Pi GPIO plugin, or the simulator's virtual board. It stays the caller's. */
  io: five.IOPlugin;
  pins: TerminalPins;
  /** True for buttons wired to ground with the pull-up enabled: pressed reads LOW. */
  buttonPullup: boolean;
  transport: LineTransport;
  core: TerminalCoreOptions;
  /** Default: performance.now() and the global timers. */
  timers?: Timers;
  /** Where unacknowledged reports survive a reset (e.g. a FileJournal); none: they do not. */
  journal?: ReportJournal;
  /** How long the IO may take from 'connect' to 'ready'. Default 10 s. */
  readyTimeoutMs?: number;
  /** Called after each button edge has been handed to the core (the simulator waits on it). */
  onEdge?(button: number, down: boolean): void;
  /** The board's sound module, if it has one: plays prompt clip N (TerminalHardware.play). */
  play?(clip: number): void;
}

export interface JohnnyFiveTerminal {
  readonly core: TerminalCore;
  /** Stops the core, ignores further edges and lines, and turns the LEDs and buzzer off. */
  stop(): void;
}

/** Runs the terminal core on a johnny-five board; resolves once the board is ready and the core has started. */
export async function startJohnnyFiveTerminal(options: JohnnyFiveTerminalOptions): Promise<JohnnyFiveTerminal> {
  const { pins } = options;
  if (pins.buttons.length !== BUTTON_COUNT || pins.leds.length !== BUTTON_COUNT) {
    throw new RangeError(`a terminal has ${BUTTON_COUNT} buttons and ${BUTTON_COUNT} LEDs`);
  }
  const board = await readyBoard(options.io, options.readyTimeoutMs ?? 10_000);
  return runOnBoard(board, options);
}

function readyBoard(io: five.IOPlugin, timeout: number): Promise<five.Board> {
  // Given an io, johnny-five never opens a port itself. Several boards share this process, so no
  // REPL and no SIGINT handler; every component is later given its board explicitly.
  const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout });
  return new Promise((resolve, reject) => {
    let failed = false;
    // Stays attached once failed: johnny-five reports a ready timeout twice, and an unheard
    // 'error' would throw. After 'ready' it is removed, so later IO errors are not swallowed.
    const onStartError = (error: unknown): void => {
      if (failed) return;
      failed = true;
      reject(asError(error));
    };
    board.on('error', onStartError);
    board.once('ready', () => {
      if (failed) return;
      board.off('error', onStartError);
      resolve(board);
    });
  });
}

function runOnBoard(board: five.Board, options: JohnnyFiveTerminalOptions): JohnnyFiveTerminal {
  const { pins, transport } = options;
  const timers = options.timers ?? hostTimers;
  if (options.buttonPullup) {
    // Every button's pull-up before any button reads its port. johnny-five's Button sets its pin
    // an input, then (a separate message) its pull-up, while an earlier button on the same port
    // already has StandardFirmata reporting it: in between, the pin (an output LOW since the
    // sketch's reset) floats low and reads pressed, a stray press at boot whenever the host's
    // writes stall past johnny-five's 7 ms debounce (StandardFirmata in simavr showed 100 ms).
    // Pulled up first, the pin stays high (charged) through the Button's own input-then-pull-up.
    for (const pin of pins.buttons) {
      options.io.pinMode(pin, options.io.MODES.INPUT);
      options.io.digitalWrite(pin, 1);
    }
  }
  const buttons = pins.buttons.map((pin) => new five.Button({ pin, board, pullup: options.buttonPullup }));
  const leds = pins.leds.map((pin) => new five.Led({ pin, board }));
  const buzzer = pins.buzzer === undefined ? undefined : new five.Pin({ pin: pins.buzzer, board });
  let beepTimer: unknown;
  let running = true;

  const hardware: TerminalHardware = {
    setLeds: (pattern) => leds.forEach((led, i) => (pattern[i] ? led.on() : led.off())),
    beep: (ms) => {
      if (!buzzer) return;
      timers.clearTimeout(beepTimer); // a new beep restarts the tone rather than being cut short
      buzzer.high();
      beepTimer = timers.setTimeout(() => buzzer.low(), ms);
    },
    write: (frame) => transport.write(frame),
    timers,
    ...(options.journal && { journal: options.journal }),
    ...(options.play && { play: options.play }),
  };
  const core = new TerminalCore(hardware, options.core);

  buttons.forEach((button, index) => {
    for (const down of [true, false]) {
      button.on(down ? 'down' : 'up', () => {
        if (!running) return;
        core.buttonEdge(index, down);
        options.onEdge?.(index, down);
      });
    }
  });
  transport.onData((chunk) => {
    if (running) core.receiveData(chunk);
  });
  core.start();

  return {
    core,
    stop() {
      if (!running) return;
      running = false;
      core.stop();
      timers.clearTimeout(beepTimer);
      buzzer?.low();
      leds.forEach((led) => led.off());
    },
  };
}

function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  // johnny-five's own reports are log events: { class, message, … }
  const message = (value as { message?: unknown } | null)?.message;
  return new Error(typeof message === 'string' ? message : String(value));
}
