import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { removeOnExit } from './exit-cleanup.js';
import { spawnHcpChild } from './run-hcp.js';

/*
 * The real gateway CLI (`hcp gateway --config FILE`) as a child process, for tests that kill it
 * with SIGKILL mid-batch and start it again with the same config (the same instance name: the
 * same MQTT session and `instances` row). Ready is its own word for it: the "gateway started"
 * log line, awaited as it is written, not polled for.
 */

const STARTED = 'gateway started';

export interface GatewayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A pino line of the gateway's stdout. */
export type GatewayLogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface GatewayProcessOptions {
  /** Written as YAML to gateway.yaml in a temporary folder, removed by stop(). */
  config: GatewayConfigInput;
  /** How long start() and restart() wait for "gateway started". Default 20 s (tsx compiles the gateway first). */
  readyTimeoutMs?: number;
}

/** One run of the child, from spawn to exit. */
interface Run {
  child: ChildProcess;
  exit: GatewayExit | undefined;
  exited: Promise<GatewayExit>;
  /** stdout is closed: every line the run wrote has been read. */
  drained: Promise<void>;
}


export class GatewayProcess {
  readonly configPath: string;
  #run: Run | undefined;
  #runs = 0;
  #output = '';
  #lines: GatewayLogLine[] = [];
  #lineWaiters = new Set<() => void>();
  #started: GatewayLogLine | undefined;

  private constructor(
    private readonly dir: string,
    private readonly configText: string,
    private readonly readyTimeoutMs: number,
  ) {
    this.configPath = join(dir, 'gateway.yaml');
  }

  /** Writes the config and spawns `hcp gateway --config FILE`; resolves once it logs "gateway started". */
  static async start({ config, readyTimeoutMs = 20_000 }: GatewayProcessOptions): Promise<GatewayProcess> {
    const level = config.log?.level ?? 'info';
    if (!['info', 'debug', 'trace'].includes(level)) throw new Error(`log.level ${level} hides the "${STARTED}" line (info) this harness waits for: use info, debug or trace`);
    const dir = mkdtempSync(join(tmpdir(), 'hcp-gateway-process-'));
    removeOnExit(dir);
    const gateway = new GatewayProcess(dir, toYaml(config), readyTimeoutMs);
    try {
      await gateway.#spawnAndWait();
    } catch (err) {
      await gateway.kill().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return gateway;
  }

  get pid(): number | undefined {
    return this.running ? this.#run?.child.pid : undefined;
  }

  get running(): boolean {
    return this.#run !== undefined && this.#run.exit === undefined;
  }

  /** How the last run ended; undefined while it runs. */
  get lastExit(): GatewayExit | undefined {
    return this.#run?.exit;
  }

  /** The admin API of the current run, as its "gateway started" line says (http.port 0 picks a new one each run). */
  get adminUrl(): string {
    const admin = this.#started?.admin;
    if (typeof admin !== 'string') throw new Error(`the gateway has not said where its admin API is:\n${this.logs()}`);
    return admin;
  }

  /** Sends a signal (default SIGKILL: the power cut) and resolves once the process has exited and its output is read. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<GatewayExit> {
    const run = this.#run;
    if (!run) throw new Error('the gateway process was never started');
    if (!run.exit) run.child.kill(signal);
    const exit = await run.exited;
    await run.drained;
    return exit;
  }

  /**
   * SIGTERM, and resolves with how it exited once it has (the batch in flight committed and
   * acknowledged first). One still running after `timeoutMs` is killed and stop() rejects: a
   * gateway that hangs on SIGTERM is a bug. Removes the config folder; restart() writes it again.
   */
  async stop(timeoutMs = 10_000): Promise<GatewayExit> {
    try {
      if (!this.#run) return { code: null, signal: null };
      if (!this.running) return await this.kill();
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
      const outcome = await Promise.race([this.kill('SIGTERM'), hung]);
      clearTimeout(timer);
      if (outcome !== 'hung') return outcome;
      await this.kill('SIGKILL');
      throw new Error(`the gateway did not exit within ${timeoutMs} ms of SIGTERM (killed):\n${this.logs()}`);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Starts it again with the same config after kill() or stop(); resolves once it logs "gateway started". */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`gateway process ${this.pid} is still running: kill() or stop() it first`);
    await this.#spawnAndWait();
  }

  /** Everything it printed, every run: stdout as written, stderr lines prefixed `stderr| `, a line as each run starts and ends. */
  logs(): string {
    return this.#output;
  }

  /** Its pino lines (stdout), every run; a line cut short by SIGKILL is left out. */
  logLines(): readonly GatewayLogLine[] {
    return this.#lines;
  }

  /**
   * Resolves with the first log line (of any run, from the first) that `matches`, as soon as it
   * is written; rejects naming `what` after the timeout, or at once if the current run exits first.
   */
  async waitForLog(matches: (line: GatewayLogLine) => boolean, what: string, timeoutMs = 10_000): Promise<GatewayLogLine> {
    const run = this.#run;
    if (!run) throw new Error(`waiting for ${what}: the gateway process was never started`);
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      for (let seen = 0; ; ) {
        for (; seen < this.#lines.length; seen++) {
          const line = this.#lines[seen]!;
          if (matches(line)) return line;
        }
        if (run.exit) {
          await run.drained;
          if (seen < this.#lines.length) continue;
          throw new Error(`waiting for ${what}: the gateway exited (code ${run.exit.code}, signal ${run.exit.signal}):\n${this.logs()}`);
        }
        const more = new Promise<'line'>((resolve) => (wake = () => resolve('line')));
        this.#lineWaiters.add(wake!);
        const woke = await Promise.race([more, timedOut, run.exited.then(() => 'line' as const)]);
        this.#lineWaiters.delete(wake!);
        if (woke === 'timeout') throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.logs()}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #spawnAndWait(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.configPath, this.configText, { mode: 0o600 });
    const child = spawnHcpChild(['gateway', '--config', this.configPath]);
    const runNo = ++this.#runs;
    const firstLine = this.#lines.length;
    this.#started = undefined;
    this.#output += `--- run ${runNo} (pid ${child.pid}) ---\n`;
    let exited!: (exit: GatewayExit) => void;
    const run: Run = {
      child,
      exit: undefined,
      exited: new Promise((resolve) => (exited = resolve)),
      drained: new Promise((resolve) => child.stdout?.once('close', resolve)),
    };
    this.#run = run;
    this.#readLines(child);
    const ended = (exit: GatewayExit): void => {
      if (run.exit) return;
      run.exit = exit;
      exited(exit);
      void run.drained.then(() => (this.#output += `--- run ${runNo} ended: code ${exit.code}, signal ${exit.signal} ---\n`));
    };
    child.once('exit', (code, signal) => ended({ code, signal }));
    child.once('error', (err) => {
      this.#output += `--- run ${runNo}: cannot spawn hcp gateway: ${err.message} ---\n`;
      child.stdout?.destroy();
      ended({ code: null, signal: null });
    });
    const thisRun = (line: GatewayLogLine): boolean => this.#lines.indexOf(line, firstLine) >= 0;
    this.#started = await this.waitForLog((line) => line.msg === STARTED && thisRun(line), `"${STARTED}" (run ${runNo})`, this.readyTimeoutMs);
  }

  /** stdout by whole lines (pino JSON, parsed as each arrives); stderr by whole lines, prefixed. */
  #readLines(child: ChildProcess): void {
    const byLine = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      stream?.on('end', () => partial && onLine(partial));
    };
    byLine(child.stdout, (line) => {
      this.#output += `${line}\n`;
      const parsed = parseLogLine(line);
      if (!parsed) return;
      this.#lines.push(parsed);
      for (const wake of this.#lineWaiters) wake();
    });
    byLine(child.stderr, (line) => (this.#output += `stderr| ${line}\n`));
  }
}

function parseLogLine(line: string): GatewayLogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as GatewayLogLine) : undefined;
  } catch {
    return undefined; // a line cut short by SIGKILL
  }
}
