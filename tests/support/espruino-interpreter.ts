import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEspruino } from '../../firmware/espruino/build.js';
import { EspruinoInterpreter } from '../../firmware/espruino/interpreter.js';
import { LINUX_LINE_FILE } from '../../firmware/espruino/linux-board.js';
import { espruinoBinary, type EspruinoKind } from '../../firmware/espruino/shared-tools.js';
import { killOnExit, removeOnExit } from './exit-cleanup.js';

/*
 * The terminal's test build (linux-board.ts) on Espruino's own interpreter built for Linux, for
 * tests: the interpreter runs in a temporary folder (its flash), killed and removed at exit.
 *
 *   let board = await startEspruino('pico');
 *   linkLine(board.dir, rig.line.devicePath);           // Serial1 on one end of a socat pty pair
 *   await board.writeStorage('.bootcde', await linuxBundle());   // as save() leaves it
 *   board = await restartEspruino(board);                // power-up: the saved code starts
 *   await pressPin(board, BUTTON_PINS[2]);               // typed into the REPL
 *   await board.waitFor((l) => pinMarker(l)?.pin === 'B13');
 *   const used = await board.measureVariables();
 *   board = await restartEspruino(board);                // a reset: SIGKILL, the same flash, started again
 */

export { EspruinoInterpreter };

/** Starts the `kind` interpreter in `dir` (default: a fresh temporary folder, removed at exit); killed at exit. */
export async function startEspruino(kind: EspruinoKind, dir?: string): Promise<EspruinoInterpreter> {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'hcp-espruino-'));
  if (dir === undefined) removeOnExit(folder);
  const interpreter = await EspruinoInterpreter.start(espruinoBinary(kind), folder);
  killOnExit(interpreter.process);
  return interpreter;
}

/** A reset: SIGKILL, then a new interpreter of the same kind on the same flash, its saved code started. */
export async function restartEspruino(interpreter: EspruinoInterpreter): Promise<EspruinoInterpreter> {
  const next = await interpreter.restart();
  killOnExit(next.process);
  return next;
}

/** Points the test build's Serial1 (the file `hcpline` in the interpreter's folder) at `devicePath`, e.g. a socat pty end. */
export function linkLine(dir: string, devicePath: string): void {
  symlinkSync(devicePath, join(dir, LINUX_LINE_FILE));
}

let bundle: Promise<string> | undefined;

/** The test build (target 'linux'), built once per test process into a temporary folder. */
export function linuxBundle(): Promise<string> {
  bundle ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-espruino-build-'));
    removeOnExit(dir);
    const build = await buildEspruino({ target: 'linux', outfile: join(dir, 'terminal-linux.js') });
    return readFileSync(build.outfile, 'latin1');
  })();
  return bundle;
}

/** An output change the test build printed (linux-board.ts): `@pin <pin> <0|1>`. */
export function pinMarker(line: string): { pin: string; on: boolean } | undefined {
  const match = /^@pin (\S+) ([01])$/.exec(line);
  return match ? { pin: match[1] as string, on: match[2] === '1' } : undefined;
}

/** Each pin's last level in `lines` (later lines win). */
export function pinLevels(lines: readonly string[]): Record<string, boolean> {
  const levels: Record<string, boolean> = {};
  for (const line of lines) {
    const marker = pinMarker(line);
    if (marker) levels[marker.pin] = marker.on;
  }
  return levels;
}

/** Presses and lets go of the button on `pin` (typed into the REPL: linux-board.ts's press()); resolves once both edges ran. */
export async function pressPin(interpreter: EspruinoInterpreter, pin: string): Promise<void> {
  await interpreter.eval(`(press(${JSON.stringify(pin)},1),press(${JSON.stringify(pin)},0))`);
}
