import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BridgeConfigInput } from '../../bridge/config.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import type { ApiAnswer } from '../../simulator/sim-window.js';
import { removeOnExit } from './exit-cleanup.js';
import { spawnHcpChild } from './run-hcp.js';
import { freePort } from '../../simulator/free-port.js';

/*
 * The real bridge CLI (`hcp run --config FILE`) as a child process, for tests that kill it
 * (SIGKILL at any point) and start it again on the same database, serial line and HTTP port.
 * The terminal lives on in the test process, on the other end of a real serial line (PtyLine).
 */


export interface BridgeProcessOptions {
  /**
   * The bridge config, written to a temporary file. `http.port` is pinned, so that the API stays
   * at one address across restarts: left out or 0, a free port is picked now.
   */
  config: BridgeConfigInput;
  /** Added to (or, undefined, removed from) the test process's environment. */
  env?: Record<string, string | undefined>;
  /** How long start() and restart() wait for the API to answer. Default 20 s (tsx compiles the bridge first). */
  readyTimeoutMs?: number;
}

export interface BridgeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One run of the child: from spawn to exit. */
interface Run {
  child: ChildProcess;
  exit: BridgeExit | undefined;
  exited: Promise<BridgeExit>;
  /** stdout has ended: every log line the run wrote is in. */
  stdoutDone: Promise<void>;
}



export class BridgeProcess {
  private run: Run | undefined;
  private runs = 0;
  private output = '';

  /** The config file the bridge runs with (YAML is a superset of JSON: written as JSON). */
  readonly configPath: string;

  private constructor(
    private readonly dir: string,
    private readonly configText: string,
    /** e.g. http://127.0.0.1:41783, the same across restarts. */
    readonly httpUrl: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly readyTimeoutMs: number,
  ) {
    this.configPath = join(dir, 'bridge.json');
    removeOnExit(dir);
  }

  /** Writes the config, spawns `hcp run --config FILE`, and resolves once the HTTP API answers. */
  static async start({ config, env = {}, readyTimeoutMs = 20_000 }: BridgeProcessOptions): Promise<BridgeProcess> {
    const host = config.http?.host ?? '127.0.0.1';
    const port = config.http?.port || (await freePort(host === '0.0.0.0' ? '127.0.0.1' : host));
    // No province roster reaches these bridges: their staff sign in unchecked unless a test says otherwise.
    const configText = `${JSON.stringify({ ...config, http: { allowUnverifiedStaff: true, ...config.http, host, port } }, null, 2)}\n`;
    const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[key];
      else childEnv[key] = value;
    }
    const dir = mkdtempSync(join(tmpdir(), 'hcp-bridge-process-'));
    const bridge = new BridgeProcess(dir, configText, `http://${urlHost}:${port}`, childEnv, readyTimeoutMs);
    try {
      await bridge.spawnAndWait();
    } catch (err) {
      await bridge.kill('SIGKILL'); // if it is hung rather than dead; the caller has no handle to stop it
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return bridge;
  }

  /** The running child's pid; undefined between a kill() or stop() and the next restart(). */
  get pid(): number | undefined {
    return this.run && !this.run.exit ? this.run.child.pid : undefined;
  }

  get running(): boolean {
    return this.run !== undefined && this.run.exit === undefined;
  }

  /** How the last run ended; undefined while it runs. */
  get lastExit(): BridgeExit | undefined {
    return this.run?.exit;
  }

  /** `GET /api/v1/status`; throws if the API does not answer 200. */
  async status(): Promise<BridgeStatus> {
    const { status, body } = await this.api('GET', '/api/v1/status');
    if (status !== 200) throw new Error(`GET /api/v1/status answered ${status}: ${JSON.stringify(body)}`);
    // The child is this checkout's own bridge: its status has the bridge's own type.
    return body as BridgeStatus;
  }

  /**
   * Polls status() until `check` holds; resolves with that status. Rejects with `what` and the
   * last status after the timeout, or at once if the bridge exits.
   */
  async waitForStatus(
    check: (status: BridgeStatus) => boolean,
    what: string,
    { timeoutMs = 10_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<BridgeStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: BridgeStatus | undefined;
    for (;;) {
      const run = this.run;
      if (!run || run.exit) throw new Error(`waiting for ${what}: the bridge is not running (last exit ${JSON.stringify(run?.exit)})`);
      last = await this.status();
      if (check(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status: ${JSON.stringify(last)}`);
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, intervalMs)), run.exited]);
    }
  }

  /** Calls the bridge's HTTP API as the window PC would. Throws if nothing answers (e.g. the bridge is dead). */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer> {
    return this.request(method, path, body);
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<ApiAnswer> {
    const res = await fetch(`${this.httpUrl}${path}`, {
      method,
      signal,
      // A call without a body says it comes from a program, as the console does; the bridge refuses it otherwise.
      headers: body !== undefined ? { 'content-type': 'application/json' } : method === 'GET' ? {} : { 'x-hcp-request': '1' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  }

  /**
   * Sends a signal (default SIGKILL: the power cut) and resolves once the process has exited and
   * all it wrote is in logs(). A process already gone resolves with how it ended.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<BridgeExit> {
    const run = this.run;
    if (!run) throw new Error('bridge process was never started');
    if (!run.exit) run.child.kill(signal);
    const exit = await run.exited;
    await run.stdoutDone;
    return exit;
  }

  /** Starts the bridge again with the same config (after kill() or stop()); resolves once the API answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`bridge process ${this.pid} is still running; kill() or stop() it first`);
    await this.spawnAndWait();
  }

  /**
   * A graceful stop (SIGTERM: the bridge closes the port, the broker connection and the database)
   * and resolves with how it exited; removes the config file (restart() writes it again). A bridge
   * that has not exited after `timeoutMs` is killed (SIGKILL) and stop() rejects: a bridge that
   * hangs on SIGTERM is a bug worth a red test. A bridge already gone resolves with how it ended.
   */
  async stop(timeoutMs = 10_000): Promise<BridgeExit> {
    try {
      const run = this.run;
      if (!run) return { code: null, signal: null };
      if (run.exit) return await this.kill();
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
      const outcome = await Promise.race([this.kill('SIGTERM'), hung]);
      clearTimeout(timer);
      if (outcome !== 'hung') return outcome;
      await this.kill('SIGKILL');
      throw new Error(`bridge did not exit within ${timeoutMs} ms of SIGTERM (killed):\n${this.logs()}`);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /**
   * Everything the bridge printed, every run: pino JSON lines from stdout, anything on stderr
   * (prefixed `stderr| `), and a `--- run N (pid P) ---` line as each run starts and how it ended.
   */
  logs(): string {
    return this.output;
  }

  /** The pino JSON lines of every run (stdout), parsed; other lines are left out. */
  logRecords(): Array<Record<string, unknown>> {
    const records: Array<Record<string, unknown>> = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        records.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut short by SIGKILL
      }
    }
    return records;
  }

  private async spawnAndWait(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.configPath, this.configText);
    const child = spawnHcpChild(['run', '--config', this.configPath], { env: this.env });
    const runNo = ++this.runs;
    this.output += `--- run ${runNo} (pid ${child.pid}) ---\n`;

    let exitNow!: (exit: BridgeExit) => void;
    const run: Run = {
      child,
      exit: undefined,
      exited: new Promise<BridgeExit>((resolve) => (exitNow = resolve)),
      stdoutDone: new Promise<void>((resolve) => child.stdout?.once('close', resolve)),
    };
    this.run = run;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
    });
    // stderr by whole lines, so that a prefix never lands inside a stdout line.
    let stderrPartial = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (stderrPartial + chunk).split('\n');
      stderrPartial = lines.pop() ?? '';
      for (const line of lines) this.output += `stderr| ${line}\n`;
    });
    const done = (exit: BridgeExit): void => {
      if (run.exit) return;
      run.exit = exit;
      exitNow(exit);
      // After the run's last words (stdout may still be draining when 'exit' fires).
      void run.stdoutDone.then(() => {
        if (stderrPartial) this.output += `stderr| ${stderrPartial}\n`;
        stderrPartial = '';
        this.output += `--- run ${runNo} ended: code ${exit.code}, signal ${exit.signal} ---\n`;
      });
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (err) => {
      // Spawning failed: there is no stdout to wait for.
      this.output += `--- run ${runNo}: cannot spawn hcp run: ${err.message} ---\n`;
      child.stdout?.destroy();
      done({ code: null, signal: null });
    });
    await this.waitForApi(run);
  }

  /** Polls `GET /api/v1/status` until it answers 200; fails at once if the child exits first. */
  private async waitForApi(run: Run): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let lastError: string;
    for (;;) {
      if (run.exit) {
        await run.stdoutDone;
        throw new Error(`bridge exited before its HTTP API answered (code ${run.exit.code}, signal ${run.exit.signal}):\n${this.logs()}`);
      }
      try {
        // Bounded, in case a half-started bridge accepts the connection but never answers.
        const { status } = await this.request('GET', '/api/v1/status', undefined, AbortSignal.timeout(2000));
        if (status === 200) return;
        lastError = `status ${status}`;
      } catch (err) {
        lastError = (err as Error).message; // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`bridge HTTP API at ${this.httpUrl} did not answer within ${this.readyTimeoutMs} ms (${lastError}):\n${this.logs()}`);
      }
      // Poll again soon, or at once if the child dies meanwhile.
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), run.exited]);
    }
  }
}
