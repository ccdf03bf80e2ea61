/**
 * The board port: everything the terminal does with the board's own pins, line and chip id, in
 * one object, so that a test build can swap it for linux-board.ts (the Espruino interpreter built
 * for Linux has no B3 or B15, and built-ins such as digitalWrite cannot be reassigned there). The
 * build picks the file (buildEspruino's `target`); main.ts only sees `board`.
 */
import { LINE, LINE_BAUD, SERIAL1_PINS } from './config.js';
import type { EspruinoE, Pin, PinMode, SerialPort, WatchEvent, WatchOptions } from './espruino.js';

// ---- Espruino globals, declared here rather than globally (see espruino.d.ts) --------------------
declare const E: EspruinoE;
declare const USB: SerialPort;
declare const Serial1: SerialPort;
declare const LoopbackA: SerialPort;
declare function setWatch(callback: (event: WatchEvent) => void, pin: Pin, options: WatchOptions): number;
declare function pinMode(pin: Pin, mode: PinMode): void;
declare function digitalWrite(pin: Pin, value: boolean): void;
/** The chip's unique id. */
declare function getSerial(): string;

export interface BoardPort {
  /** Drives an output (an LED, the buzzer): true is high, lit or sounding. */
  out(pin: Pin, on: boolean): void;
  /** Watches a button wired to GND (internal pull-up): `edge(true)` when pressed, `edge(false)` when let go. */
  watch(pin: Pin, edge: (down: boolean) => void): void;
  /** Sets up the line to the bridge (config.ts's LINE) and returns it. */
  line(): SerialPort;
  /** The chip's unique id. */
  serial(): string;
  /** 32 random bits (the boot id is made of them). */
  random32(): number;
}

export const board: BoardPort = {
  out: (pin, on) => digitalWrite(pin, on),
  watch(pin, edge) {
    pinMode(pin, 'input_pullup');
    // Pressed pulls the pin to GND: state false is down. Debouncing is the core's job.
    setWatch((event) => edge(!event.state), pin, { repeat: true, edge: 'both', debounce: 0 });
  },
  line() {
    if (LINE === 'USB') {
      // The REPL must leave USB, or it would read our frames as JavaScript.
      LoopbackA.setConsole(true);
      return USB;
    }
    Serial1.setup(LINE_BAUD, { tx: SERIAL1_PINS.tx, rx: SERIAL1_PINS.rx });
    // Without USB at boot Espruino moves the REPL to Serial1: keep it on USB.
    USB.setConsole(true);
    return Serial1;
  },
  serial: () => getSerial(),
  random32: () => E.hwRand(),
};
