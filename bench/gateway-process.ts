/*
 * `hcp gateway --config FILE` as a child process for the fleet benchmark: ready on its
 * "gateway started" log line, killed with SIGKILL mid-run and started again with the same config
 * (same instance name), stopped with SIGTERM. Its peak RSS is read from /proc/<pid>/status
 * (VmHWM) while it runs, so that a killed run's peak is not lost with it. A leaner sibling of
 * tests/support/gateway-process.ts (spawned the same way: tests/support/run-hcp.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify as toYaml } from 'yaml';
import type { GatewayConfigInput } from '../gateway/config.js';
import { spawnHcpChild } from '../tests/support/run-hcp.js';
import { cpuSecondsOf } from './proc-cpu.js';

const STARTED = 'gateway started';
/** The last lines of output kept for an error message. */
const KEPT_LINES = 200;

/** Peak resident memory (VmHWM) of a process, in bytes; undefined once it is gone. */
export function peakRssOf(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class BenchGateway {
  readonly configPath: string;
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  #tail: string[] = [];
  /** Highest VmHWM seen per run (index = run number − 1). */
  readonly peakRss: number[] = [];
  /** CPU seconds per run, as last read (once a second, and before each signal). */
  readonly cpuSeconds: number[] = [];
  #sampler: NodeJS.Timeout | undefined;

  private constructor(
    readonly name: string,
    dir: string,
    private readonly nodeFlags: readonly string[],
  ) {
    this.configPath = join(dir, `${name}.yaml`);
  }

  /** Writes `<dir>/<instance>.yaml` and starts the process; resolves on "gateway started". */
  static async start(config: GatewayConfigInput & { instance: string }, dir: string, nodeFlags: readonly string[] = [], readyTimeoutMs = 60_000): Promise<BenchGateway> {
    const gateway = new BenchGateway(config.instance, dir, nodeFlags);
    writeFileSync(gateway.configPath, toYaml(config), { mode: 0o600 });
    await gateway.#spawn(readyTimeoutMs);
    return gateway;
  }

  get pid(): number | undefined {
    const child = this.#child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** The last lines it wrote (stdout and stderr). */
  output(): string {
    return this.#tail.join('\n');
  }

  /** SIGKILL (the power cut); resolves once it has exited. */
  async kill(): Promise<void> {
    this.#sample();
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /**
   * Starts it again with the same config; resolves on "gateway started". Started while the fleet
   * saturates both cores, a gateway took about 60 s to compile and start (its log said "started"
   * just past a 60 s limit): the time it took is reported beside the kill, the limit only catches a hang.
   */
  async restart(readyTimeoutMs = 180_000): Promise<void> {
    if (this.pid !== undefined) throw new Error(`gateway ${this.name} is still running`);
    await this.#spawn(readyTimeoutMs);
  }

  /** SIGTERM (the batch in flight is committed and acked first); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.pid === undefined) return;
    this.#sample();
    this.#child?.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const hung = await Promise.race([this.#exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
    clearTimeout(timer);
    if (hung) await this.kill();
  }

  /** CPU seconds of every run so far, the current one read now. */
  totalCpuSeconds(): number {
    this.#sample();
    return this.cpuSeconds.reduce((a, b) => a + b, 0);
  }

  #sample(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    const run = this.peakRss.length - 1;
    const peak = peakRssOf(pid);
    if (peak !== undefined) this.peakRss[run] = Math.max(this.peakRss[run] ?? 0, peak);
    const cpu = cpuSecondsOf(pid);
    if (cpu !== undefined) this.cpuSeconds[run] = cpu;
  }

  async #spawn(readyTimeoutMs: number): Promise<void> {
    const child = spawnHcpChild(['gateway', '--config', this.configPath], { nodeFlags: this.nodeFlags });
    this.#child = child;
    this.#exited = once(child, 'exit');
    this.peakRss.push(0);
    this.cpuSeconds.push(0);
    const keep = (line: string): void => {
      this.#tail.push(line);
      if (this.#tail.length > KEPT_LINES) this.#tail.shift();
    };
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(line);
      if (line.includes(`"msg":"${STARTED}"`)) ready();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => keep(`stderr| ${line}`));
    clearInterval(this.#sampler);
    this.#sampler = setInterval(() => this.#sample(), 1000);
    this.#sampler.unref();
    void this.#exited.then(() => clearInterval(this.#sampler));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      started.then(() => 'started' as const),
      this.#exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), readyTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'started') return;
    if (outcome === 'timeout') await this.kill();
    throw new Error(`gateway ${this.name} ${outcome === 'exited' ? 'exited' : `did not start within ${readyTimeoutMs} ms`}; its output:\n${this.output()}`);
  }
}
