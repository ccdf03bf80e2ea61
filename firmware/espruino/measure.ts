/**
 * Variables the terminal uses on Espruino's own interpreter (built for Linux with a board's
 * memory): the test build (linux-board.ts) written to flash and started at power-up, as a board
 * runs it after save(), then driven through its busiest moments while process.memory() is read:
 *
 * - after start;
 * - paired, with a full resend queue (as many reports unacknowledged as the journal keeps) and an
 *   invitation whose bad grade has the reasons open;
 * - after a reset with that journal: replayed, tagged for a new bridge session.
 *
 * The bridge is played here: its frames are handed to Serial1's data handler, and what the
 * terminal writes lands in the plain file the line is set up on (linux-board.ts's LINUX_LINE_FILE).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';
import { BUTTON_PINS, JOURNAL_LIMIT } from './config.js';
import { EspruinoInterpreter, isEspruinoError } from './interpreter.js';
import { LINUX_LINE_FILE } from './linux-board.js';

const PAIRING_KEY = '5e'.repeat(32);
const BRIDGE_BOOTS = ['b1d9e0000000000a', 'b1d9e0000000000b'] as const;

export interface VariableFigures {
  /** After power-up, the terminal started and its hello written. */
  afterStart: number;
  /** Paired, JOURNAL_LIMIT reports unacknowledged, an invitation's reasons open. */
  busiest: number;
  /** After a reset with that journal, replayed to a new bridge session. */
  replay: number;
  /** How long the terminal took to handle the new bridge's hello (every journalled report tagged anew), on this machine. */
  replayMs: number;
}

type Frame = Record<string, unknown>;

/** What the terminal wrote on its line (a file here): whole frames from byte `from` on, torn ones left out. */
function written(file: string, from: number): Frame[] {
  return readFileSync(file, 'latin1')
    .slice(from)
    .split('\n')
    .flatMap((line) => {
      const decoded = decodeFrame(line);
      return decoded.ok && typeof decoded.value === 'object' && decoded.value !== null ? [decoded.value as Frame] : [];
    });
}

class PlayedBridge {
  #seq = 100;
  #from = 0;

  constructor(
    public interpreter: EspruinoInterpreter,
    private readonly lineFile: string,
  ) {}

  /** Frames from now on (after a reset: not the previous boot's). */
  forget(): void {
    this.#from = readFileSync(this.lineFile, 'latin1').length;
  }

  /** Hands `message` to the terminal; resolves once it has handled it (`timeoutMs` for that, default 15 s). */
  async send(message: Frame, timeoutMs?: number): Promise<void> {
    const frame = encodeFrame({ ...message, seq: this.#seq++ });
    await this.interpreter.eval(`Serial1.emit("data",${JSON.stringify(frame)})`);
    // emit() queues the handler: one more REPL turn and it has run (and any error is printed).
    await this.interpreter.eval('1', { timeoutMs });
    this.check();
  }

  frames(): Frame[] {
    return written(this.lineFile, this.#from);
  }

  /**
   * The first frame written that `match` accepts. The interpreter writes its line from its idle
   * loop: each REPL round trip gives it one, so this asks again until the frame is there.
   */
  async frame(match: (frame: Frame) => boolean, what: string): Promise<Frame> {
    for (let turn = 0; turn < 100; turn++) {
      this.check();
      const found = this.frames().find(match);
      if (found) return found;
      await this.interpreter.eval('1');
    }
    throw new Error(`the terminal wrote no ${what} on its line; its console ends with:\n${this.interpreter.log.slice(-2000).replace(/ {20,}/g, " ")}`);
  }

  /** Throws if Espruino reported a failure (an uncaught error, memory running out). */
  check(): void {
    const errors = this.interpreter.errors;
    if (errors.length > 0) throw new Error(`Espruino reported: ${errors.join(' | ')}; its console ends with:\n${this.interpreter.log.slice(-2000).replace(/ {20,}/g, " ")}`);
  }
}

/** Runs the test build `code` on the interpreter at `binary` through the moments above; throws if any step fails. */
export async function measureVariables(code: string, binary: string): Promise<VariableFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-espruino-measure-'));
  const lineFile = join(dir, LINUX_LINE_FILE);
  writeFileSync(lineFile, '');
  const bridge = new PlayedBridge(await EspruinoInterpreter.start(binary, dir), lineFile);
  try {
    await bridge.interpreter.writeStorage('.bootcde', code);
    bridge.interpreter = await bridge.interpreter.restart();
    bridge.check();
    const afterStart = await bridge.interpreter.measureVariables();
    await bridge.frame((f) => f.type === 'hello', 'hello');

    await bridge.send({ type: 'pair', key: PAIRING_KEY });
    await bridge.send({ type: 'hello', proto: 1, boot: BRIDGE_BOOTS[0] });
    const hello = await bridge.frame((f) => f.type === 'hello' && f.peer === BRIDGE_BOOTS[0], 'hello to the bridge');
    await bridge.send({ type: 'ack', ack: hello.seq });

    // Strays, one press every 40 ms round the buttons (the core debounces 30 ms per button), timed by the interpreter.
    const pins = JSON.stringify(BUTTON_PINS);
    bridge.interpreter.send(
      `(function f(i){var p=${pins}[i%${BUTTON_PINS.length}];press(p,1);press(p,0);if(i<${JOURNAL_LIMIT - 1})setTimeout(function(){f(i+1)},40);else print("@filled")})(0)`,
    );
    await bridge.interpreter.waitFor((line) => line === '@filled' || isEspruinoError(line), { timeoutMs: 600_000 });
    bridge.check();
    await bridge.frame(() => new Set(bridge.frames().flatMap((f) => (f.type === 'stray' ? [f.seq] : []))).size >= JOURNAL_LIMIT, `${JOURNAL_LIMIT} strays`);

    await bridge.send({ type: 'invite', inv: 'inv-busiest', timeoutMs: 60_000, reasons: BUTTON_COUNT, reasonTimeoutMs: 60_000 });
    const worst = JSON.stringify(BUTTON_PINS[BUTTON_COUNT - 1]);
    await bridge.interpreter.eval(`(press(${worst},1),press(${worst},0))`);
    await bridge.frame((f) => f.type === 'choosing' && f.inv === 'inv-busiest', 'choosing (the reasons open)');
    bridge.check();
    const busiest = await bridge.interpreter.measureVariables();

    bridge.forget();
    bridge.interpreter = await bridge.interpreter.restart({ timeoutMs: 600_000 });
    // Every journalled report is tagged anew for the new session, at once: seconds on this interpreter.
    const replayStarted = Date.now();
    await bridge.send({ type: 'hello', proto: 1, boot: BRIDGE_BOOTS[1] }, 300_000);
    const replayMs = Date.now() - replayStarted;
    await bridge.frame(() => bridge.frames().filter((f) => f.type === 'stray' && typeof f.mac === 'string').length >= JOURNAL_LIMIT, 'the journal replayed');
    bridge.check();
    const replay = await bridge.interpreter.measureVariables();
    return { afterStart, busiest, replay, replayMs };
  } finally {
    await bridge.interpreter.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
