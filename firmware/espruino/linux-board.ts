/**
 * The board port of the test build (buildEspruino({ target: 'linux' })), for Espruino's own
 * interpreter built for Linux (tests/support/espruino-interpreter.ts runs it):
 * - an output change is printed on the console as `@pin <pin> <0|1>`;
 * - a button is pressed by typing `press('<pin>',1)` (released: `press('<pin>',0)`) into the REPL;
 * - the line is Serial1 on the file `hcpline` in the interpreter's working directory (the runner
 *   links it to one end of a socat pty pair);
 * - random bits mix in the clock (wall time there): on Linux, E.hwRand() and Math.random() give
 *   the same numbers in every new process, so every reset would reuse one boot id.
 * Kept tiny: it sits in the memory the build measures in place of board.ts. Loaded on the
 * 5,100-variable interpreter it takes 45 variables (390 bytes built), board.ts 42 (456 bytes);
 * started, its table holds a function per button where board.ts has a watch per button.
 */
import { LINE_BAUD } from './config.js';
import type { BoardPort } from './board.js';
import type { EspruinoE, Pin, SerialPort } from './espruino.js';

declare const E: EspruinoE;
declare const Serial1: SerialPort;
declare const global: Record<string, unknown>;
declare function getSerial(): string;
declare function getTime(): number;

/** The line's path, relative to the interpreter's working directory. */
export const LINUX_LINE_FILE = 'hcpline';

const buttons: Record<Pin, (down: boolean) => void> = {};
/** Typed by the test: `press('B3',1)` is button B3 pressed, `press('B3',0)` let go. */
const press = (pin: Pin, down: number): void => buttons[pin]?.(down === 1);

export const board: BoardPort = {
  out: (pin, on) => console.log('@pin', pin, on ? 1 : 0),
  watch(pin, edge) {
    buttons[pin] = edge;
    // Made global here rather than at load, so that Node can import this module's constants.
    global.press = press;
  },
  line() {
    Serial1.setup(LINE_BAUD, { path: LINUX_LINE_FILE });
    return Serial1;
  },
  serial: () => getSerial(),
  random32: () => E.hwRand() + Math.floor(getTime() * 1e6),
};
