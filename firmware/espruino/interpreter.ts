/**
 * Espruino's own interpreter built for Linux (shared-tools.ts finds it), driven through its REPL
 * the way a board is through its console: the build measures the bundle's variables with it, the
 * tests run the bundle on it (tests/support/espruino-interpreter.ts).
 *
 * What the Linux build does, as tried out (2v29):
 * - The console is stdin/stdout. Stdin at EOF makes its input thread spin, so stdin stays an open
 *   pipe until the process is killed.
 * - Flash is the file `espruino.flash` in the working directory. A process started on a flash that
 *   holds `.bootcde` runs it, then the init handlers, before it reads its console: a board's
 *   power-up after `save()`. So a reset is SIGKILL and a new process in the same directory
 *   (restart()). `load()` typed at the console is no sync point: it runs only after the lines
 *   already typed, so the runner does not offer it.
 * - A command line starting with DLE (0x10) is not echoed (the Web IDE's trick), so the console
 *   shows only what the code prints. Output printed while the prompt is shown comes as
 *   `>` `\r` `ESC[J` text `\r\n`: consoleLine() cleans that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DLE = '\x10';
/** Dies with its parent where util-linux's setpriv is present (always on Debian): a killed build or test leaves no interpreter behind. */
const SETPRIV = '/usr/bin/setpriv';
/** Characters written to flash per REPL command by writeStorage(). */
const STORAGE_CHUNK = 1024;
/** Console text kept for error messages. */
const LOG_LIMIT = 200_000;

/** What one console line says once the prompt and the terminal control sequences are taken out. */
export function consoleLine(raw: string): string {
  // eslint-disable-next-line no-control-regex -- the console's own control sequences are what is removed
  const text = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r+$/, '');
  // A carriage return starts the line over: what follows the last one is what the line shows.
  const shown = text.slice(text.lastIndexOf('\r') + 1);
  return shown.replace(/^>+/, '');
}

/** Splits console output into cleaned complete lines and the unfinished rest. */
export function splitConsole(text: string): { lines: string[]; rest: string } {
  const parts = text.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.map(consoleLine), rest };
}

/** Console lines in which Espruino reports a failure: an uncaught error, memory running out, a device it cannot open, an internal check. */
export function isEspruinoError(line: string): boolean {
  return /^(Uncaught |New interpreter error|Execution Interrupted|ERROR: |OUT OF MEMORY|ASSERT\()/.test(line) || line.includes('LOW_MEMORY');
}

/** A result line of eval(): `@r<id> <json>` or `@e<id> <error>`. */
export function evalResult(line: string, id: number): { ok: true; json: string } | { ok: false; error: string } | undefined {
  const prefix = `@r${id} `;
  if (line.startsWith(prefix)) return { ok: true, json: line.slice(prefix.length) };
  const failed = `@e${id} `;
  if (line.startsWith(failed)) return { ok: false, error: line.slice(failed.length) };
  return undefined;
}

interface Waiter {
  match: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

export interface WaitOptions {
  /** Default 15 s. */
  timeoutMs?: number;
  /** Look at lines from this index of lines() on (default: only lines still to come). */
  from?: number;
}

export interface StartOptions {
  /** How long the saved code may take to start before the REPL answers. Default 60 s. */
  timeoutMs?: number;
}

/** One running interpreter in a working directory (its flash); start() spawns, kill() ends it. */
export class EspruinoInterpreter {
  #lines: string[] = [];
  #rest = '';
  #log = '';
  #waiters = new Set<Waiter>();
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #exited: Promise<void>;
  #nextId = 1;

  private constructor(
    readonly binary: string,
    /** The working directory: espruino.flash and the files the code reads live here. */
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        for (const waiter of this.#waiters) waiter.reject(this.#error(`the interpreter exited (code ${code}, signal ${signal})`));
        this.#waiters.clear();
        resolve();
      });
    });
    // Writing to a killed interpreter fails with EPIPE; the exit above is what callers hear about.
    child.stdin?.on('error', () => undefined);
    child.stdout?.setEncoding('latin1').on('data', (chunk: string) => this.#take(chunk));
    child.stderr?.setEncoding('latin1').on('data', (chunk: string) => this.#take(chunk));
  }

  /**
   * Spawns `binary` in `dir` (stdin an open pipe) and resolves once its REPL answers: after the
   * code saved in its flash, if any, has started (within `timeoutMs`, default 60 s: a flash
   * Storage must compact first takes seconds).
   */
  static async start(binary: string, dir: string, { timeoutMs = 60_000 }: StartOptions = {}): Promise<EspruinoInterpreter> {
    if (!existsSync(binary)) throw new Error(`Espruino for Linux not found at ${binary}`);
    for (let attempt = 1; ; attempt++) {
      const [command, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', binary]] : [binary, []];
      const child = spawn(command, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      const interpreter = new EspruinoInterpreter(binary, dir, child);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) => reject(new Error(`cannot run ${binary}: ${error.message}`)));
      });
      try {
        await interpreter.eval('1', { timeoutMs });
        return interpreter;
      } catch (error) {
        const crashed = interpreter.#crashedOnInput();
        await interpreter.kill();
        // A start the interpreter itself aborted (below) is a failed power-up: tried again, twice at most.
        if (crashed && attempt < 3) continue;
        throw error;
      }
    }
  }

  /**
   * Espruino's Linux input thread pushes console characters into the event buffer while the main
   * loop pops them, with no lock (targets/linux/jshardware.c): now and then the race trips
   * `ASSERT(len <= 64) FAILED AT src/jsdevices.c` and the process exits by itself.
   */
  #crashedOnInput(): boolean {
    return this.#exit !== undefined && this.#exit.signal === null && this.#log.includes('ASSERT(');
  }

  /** The process, for callers that register it for cleanup. */
  get process(): ChildProcess {
    return this.child;
  }

  /** Cleaned console lines so far (eval results included). */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Everything printed, as printed (capped at the last 200,000 characters). */
  get log(): string {
    return this.#log;
  }

  /** The console lines so far in which Espruino reported a failure (isEspruinoError). */
  get errors(): string[] {
    return this.#lines.filter(isEspruinoError);
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** Types `command` into the REPL without echo. */
  send(command: string): void {
    if (command.includes('\n')) throw new Error('a REPL command is one line');
    if (this.#exit) throw this.#error('the interpreter has exited');
    this.child.stdin?.write(`${DLE}${command}\n`);
  }

  /** Evaluates `expression` in the interpreter and resolves with its value (through JSON). */
  async eval<T = unknown>(expression: string, options: WaitOptions = {}): Promise<T> {
    const id = this.#nextId++;
    const from = this.#lines.length;
    this.send(`try{print("@r${id} "+JSON.stringify(${expression}))}catch(e){print("@e${id} "+e)}`);
    const line = await this.waitFor((l) => evalResult(l, id) !== undefined, { ...options, from });
    const result = evalResult(line, id);
    if (!result?.ok) throw this.#error(`${expression} threw: ${result?.error}`);
    return (result.json === 'undefined' || result.json === '' ? undefined : JSON.parse(result.json)) as T;
  }

  /** Resolves with the first console line (from `from`, default: still to come) that `match` accepts. */
  waitFor(match: RegExp | ((line: string) => boolean), { timeoutMs = 15_000, from = this.#lines.length }: WaitOptions = {}): Promise<string> {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    const seen = this.#lines.slice(from).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#exit) return Promise.reject(this.#error('the interpreter has exited'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(this.#error(`no console line matching ${String(match)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        match: test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /**
   * Writes `content` to the Storage file `name` in flash, through a file in dir read 1 KB at a time
   * (neither a REPL line nor a whole-file read holds it: 30 KB would not fit beside 2,500 variables).
   */
  async writeStorage(name: string, content: string): Promise<void> {
    const file = `storage-${name.replace(/[^A-Za-z0-9]/g, '_')}.tmp`;
    writeFileSync(join(this.dir, file), content, 'latin1');
    const quoted = JSON.stringify(name);
    if (content.length === 0) {
      await this.eval(`require("Storage").write(${quoted},"")`);
    } else {
      await this.eval(`(global.hcpFile=E.openFile(${JSON.stringify(file)},"r"),1)`);
      for (let offset = 0; offset < content.length; offset += STORAGE_CHUNK) {
        await this.eval(`require("Storage").write(${quoted},hcpFile.read(${STORAGE_CHUNK}),${offset},${content.length})`);
      }
      await this.eval('(hcpFile.close(),delete global.hcpFile)');
    }
    const length = await this.eval<number>(`require("Storage").read(${quoted}).length`);
    if (length !== content.length) throw this.#error(`Storage file ${name}: ${length} characters in flash, ${content.length} written`);
  }

  /** Variables in use (process.memory() collects garbage first). */
  async measureVariables(): Promise<number> {
    return this.eval<number>('process.memory().usage');
  }

  /** SIGKILL, as a power cut: nothing the code does runs after it. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.#exit) this.child.kill('SIGKILL');
    await this.#exited;
  }

  /** A reset (or the first power-up after writeStorage('.bootcde', …)): kill(), then a new interpreter on the same flash, its saved code started. */
  async restart(options: StartOptions = {}): Promise<EspruinoInterpreter> {
    await this.kill();
    return EspruinoInterpreter.start(this.binary, this.dir, options);
  }

  #take(chunk: string): void {
    this.#log = (this.#log + chunk).slice(-LOG_LIMIT);
    const { lines, rest } = splitConsole(this.#rest + chunk);
    this.#rest = rest;
    for (const line of lines) {
      this.#lines.push(line);
      for (const waiter of this.#waiters) {
        if (!waiter.match(line)) continue;
        this.#waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  #error(message: string): Error {
    return new Error(`${message} (${this.binary} in ${this.dir}); console ends with:\n${this.#log.slice(-3000)}`);
  }
}
