import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sharedToolsDir } from '../../firmware/espruino/shared-tools.js';
import { buildUnoSimulator } from '../../simulator/avr/build-uno-sim.js';
import { buttonCommand, parseUnoEvent, type PinState, type UnoEvent } from '../../simulator/avr/uno-events.js';
import { removeOnExit } from './exit-cleanup.js';

/*
 * An Arduino Uno running the stock StandardFirmata in simavr (simulator/avr/uno-uart-pty.c), for
 * tests: its serial port is a pty behind a link that stays put across unplug and plug, as
 * /dev/serial/by-id/… does; its buttons are pressed and its LEDs read through the program's
 * line channel. Every wait is on the program's own lines, bounded by a timeout.
 */

/** The stock StandardFirmata built for an Uno (its README says how). */
export function standardFirmataElf(): string {
  const elf = join(sharedToolsDir(), 'firmata', 'StandardFirmata-uno.elf');
  if (!existsSync(elf)) throw new Error(`StandardFirmata for the Uno is not at ${elf}: set HCP_SHARED_TOOLS to the folder holding firmata/StandardFirmata-uno.elf (see its README.md)`);
  return elf;
}

/** Dies with its parent where util-linux's setpriv is present (always on Debian), as PtyLine's socat does. */
const SETPRIV = '/usr/bin/setpriv';

export interface SimulatedUnoOptions {
  /** The firmware ELF. Default: the shared StandardFirmata. */
  firmware?: string;
  /** How long the bootloader holds the chip after the host opens the port. Default the program's (500 ms). */
  bootMs?: number;
  /** How long start() and plug() wait for the program's pty. Default 10 s. */
  timeoutMs?: number;
}

interface Run {
  child: ChildProcess;
  exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** A simulated Uno on a pty; `path` is where the host opens it, the same after every plug(). */
export class SimulatedUno {
  #run: Run | undefined;
  #pins = new Map<number, PinState>();
  #rises = new Map<number, number>();
  #ptyPath: string | undefined;
  #resets = 0;
  #errors: string[] = [];
  #stderr = '';
  #listeners = new Set<() => void>();
  /** A line the program should never write: every wait fails with it. */
  #broken: Error | undefined;

  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    private readonly options: SimulatedUnoOptions,
  ) {
    removeOnExit(dir);
  }

  /** The host's path to the Uno (a link to the pty of the current run). */
  get path(): string {
    return join(this.dir, 'uno');
  }

  /** Builds the program if needed, powers the Uno up and resolves once its pty exists. */
  static async start(options: SimulatedUnoOptions = {}): Promise<SimulatedUno> {
    const binary = await buildUnoSimulator();
    const uno = new SimulatedUno(binary, mkdtempSync(join(tmpdir(), 'hcp-uno-')), options);
    await uno.plug();
    return uno;
  }

  /** The pty of the current run, once it has one. */
  get ptyPath(): string | undefined {
    return this.#ptyPath;
  }

  get plugged(): boolean {
    return this.#run !== undefined && this.#run.exit === undefined;
  }

  /** How many times a host opened the port (each resets the board, as an Uno's DTR does), over every run. */
  get resets(): number {
    return this.#resets;
  }

  /** How the sketch has set pin N, as last reported; undefined before the first report. */
  pin(pin: number): PinState | undefined {
    return this.#pins.get(pin);
  }

  /** Whether the output on pin N is driven high (an LED lit, the buzzer on). */
  high(pin: number): boolean {
    return this.#pins.get(pin) === 'high';
  }

  /** How many times the output on pin N went high (a beep of the buzzer, an LED lit), over every run. */
  rises(pin: number): number {
    return this.#rises.get(pin) ?? 0;
  }

  /** Presses the button between pin N and GND. */
  press(pin: number): void {
    this.send(buttonCommand('press', pin));
  }

  /** Lets go of the button on pin N: the pin is left to its pull-up. */
  release(pin: number): void {
    this.send(buttonCommand('release', pin));
  }

  /**
   * Resolves with `check`'s first truthy answer, asked now and after each line of the program;
   * rejects after `timeoutMs`, or at once if the program exits.
   */
  waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolvePromise, reject) => {
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        settle();
      };
      const listener = (): void => {
        if (this.#broken) return done(() => reject(this.#broken));
        const answer = check();
        if (answer) done(() => resolvePromise(answer));
        else if (!this.plugged) done(() => reject(new Error(`waiting for ${what}: the simulated Uno is not running\n${this.#stderr}`)));
      };
      this.#listeners.add(listener);
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; pins ${JSON.stringify(Object.fromEntries(this.#pins))}`))), timeoutMs);
      listener();
    });
  }

  /** Pulls the USB cable: the program is killed (the pty goes away under the host) and the link removed. */
  async unplug(): Promise<void> {
    const run = this.#run;
    if (run && !run.exit) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    rmSync(this.path, { force: true });
  }

  /** Plugs the cable back in: a new run of the program (a new pty behind the same path); resolves once the link is there. */
  async plug(): Promise<void> {
    if (this.plugged) throw new Error('the simulated Uno is already plugged in');
    this.#pins.clear();
    this.#ptyPath = undefined;
    const args = [this.options.firmware ?? standardFirmataElf(), '-l', this.path, ...(this.options.bootMs === undefined ? [] : ['-b', String(this.options.bootMs)])];
    const [command, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', this.binary, ...args]] : [this.binary, args];
    // stdin stays an open pipe for the run's life: at EOF the program exits.
    const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let exitNow!: () => void;
    const run: Run = { child, exit: undefined, exited: new Promise((resolveExit) => (exitNow = resolveExit)) };
    this.#run = run;
    child.once('exit', (code, signal) => {
      run.exit = { code, signal };
      exitNow();
      this.notify();
    });
    child.once('error', (err) => {
      this.#stderr += `cannot run ${this.binary}: ${err.message}\n`;
      run.exit = { code: null, signal: null };
      exitNow();
      this.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.#stderr.length < 64_000) this.#stderr += chunk;
    });
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          this.apply(parseUnoEvent(line));
        } catch (err) {
          this.#broken ??= err as Error;
        }
        this.notify();
      });
    }
    await this.waitFor(() => this.#ptyPath, 'the simulated Uno to make its pty', this.options.timeoutMs ?? 10_000);
  }

  /** Unplugs for good and removes the link's folder. */
  async stop(): Promise<void> {
    await this.unplug();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Commands the program refused, and what it wrote on stderr (for failure messages). */
  get log(): string {
    return [...this.#errors.map((e) => `error ${e}`), this.#stderr].join('\n');
  }

  /** What the program answered `error` to, in order (a refused command, named). */
  get errors(): readonly string[] {
    return this.#errors;
  }

  /** Writes `text` to the program's stdin as it is: for tests of the command channel itself. */
  writeRaw(text: string): void {
    this.send(text);
  }

  private apply(event: UnoEvent): void {
    switch (event.kind) {
      case 'pty':
        this.#ptyPath = event.path;
        break;
      case 'reset':
        this.#resets += 1;
        break;
      case 'pin':
        if (event.state === 'high') this.#rises.set(event.pin, this.rises(event.pin) + 1);
        this.#pins.set(event.pin, event.state);
        break;
      case 'error':
        this.#errors.push(event.message);
        break;
    }
  }

  private notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  private send(command: string): void {
    const stdin = this.#run?.exit === undefined ? this.#run?.child.stdin : undefined;
    if (!stdin) throw new Error('the simulated Uno is unplugged');
    stdin.write(command);
  }
}
