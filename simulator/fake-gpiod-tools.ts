import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { SpawnTool, ToolProcess } from '../firmware/adapters/gpio/gpiod-tools.js';
import type { ChipInfo } from '../firmware/adapters/gpio/gpiod-argv.js';

/*
 * Debian's libgpiod tools as child processes, scripted: what `gpioset --version`, `gpiodetect`,
 * `gpioinfo` and `gpioget` print (in the v1 or v2 format), and long-running gpiomon and gpioset
 * processes a test drives (an edge printed, a death with a message) and inspects (their argv,
 * what was written to their stdin, whether they were stopped). For the gpiod tools backend and
 * doctor, where no /dev/gpiochip exists.
 */

export interface FakeToolsOptions {
  /** What `gpioset --version` says: "1.6.3", "2.2.1". */
  version: string;
  /** v2: gpioset built with --interactive. */
  interactive?: boolean;
  /** gpiodetect's chips; default one Pi 4 header chip. */
  chips?: ChipInfo[];
  /** gpioinfo: lines held, by offset, and by whom. */
  consumers?: Record<number, string>;
  /** gpioget's levels, by offset (default 1: pulled up). */
  levels?: Record<number, 0 | 1>;
  /** A tool that fails at once, with what it prints on stderr. */
  failing?: Record<string, string>;
}

/** One started tool. */
export class FakeTool extends EventEmitter implements ToolProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** What was written to its stdin. */
  written = '';
  /** The signal it was stopped with. */
  killedWith: NodeJS.Signals | undefined;
  exited = false;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
  ) {
    super();
    this.stdin.on('data', (chunk: Buffer) => (this.written += chunk.toString('utf8')));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exited) return false;
    this.killedWith = signal;
    setImmediate(() => this.exit(null, signal));
    return true;
  }

  /** Prints a line on stdout (gpiomon's events). */
  print(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  /** Ends on its own, having said `stderr`. */
  die(stderr: string, code = 1): void {
    this.stderr.write(stderr);
    setImmediate(() => this.exit(code, null));
  }

  /** Prints `stdout` and ends with `code` (a tool that runs to its end). */
  finish(stdout: string, code = 0, stderr = ''): void {
    setImmediate(() => {
      this.stdout.write(stdout);
      this.stderr.write(stderr);
      setImmediate(() => this.exit(code, null));
    });
  }

  private exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('close', code, signal);
  }
}

export class FakeGpiodTools {
  /** Every tool started, in order. */
  readonly started: FakeTool[] = [];
  readonly spawn: SpawnTool;

  constructor(private readonly options: FakeToolsOptions) {
    this.spawn = (command, args) => this.start(command, args);
  }

  /** The tools started with `command`, in order. */
  all(command: string): FakeTool[] {
    return this.started.filter((tool) => tool.command === command && !tool.args.includes('--version') && !tool.args.includes('--help'));
  }

  /** The latest tool started with `command` (gpiomon, gpioset…). */
  latest(command: string): FakeTool {
    const tool = this.all(command).at(-1);
    if (!tool) throw new Error(`no ${command} was started`);
    return tool;
  }

  private get major(): 1 | 2 {
    return this.options.version.startsWith('1.') ? 1 : 2;
  }

  private start(command: string, args: readonly string[]): FakeTool {
    const tool = new FakeTool(command, args);
    this.started.push(tool);
    const failure = this.options.failing?.[command];
    if (failure !== undefined) {
      tool.die(failure);
      return tool;
    }
    const chips = this.options.chips ?? [{ name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 }];
    if (args.includes('--version')) tool.finish(`${command} (libgpiod) v${this.options.version}\nCopyright (C) 2017-2023 Bartosz Golaszewski\n`);
    else if (args.includes('--help')) tool.finish(`Usage: ${command} [OPTIONS] <line=value>...\n${this.options.interactive ? '  -i, --interactive\tset the lines then wait for additional set commands\n' : ''}`);
    else if (command === 'gpiodetect') tool.finish(chips.map((c) => `${c.name} [${c.label}] (${c.lines} lines)\n`).join(''));
    else if (command === 'gpioinfo') tool.finish(this.info(chips[0]));
    else if (command === 'gpioget') tool.finish(`${this.levels(args)}\n`);
    // gpiomon and gpioset hold their lines until stopped.
    return tool;
  }

  private levels(args: readonly string[]): string {
    const lines = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
    const level = (line: number): 0 | 1 => this.options.levels?.[line] ?? 1;
    return this.major === 1 ? lines.map(level).join(' ') : lines.map((line) => `"${line}"=${level(line) ? 'active' : 'inactive'}`).join(' ');
  }

  private info(chip: ChipInfo | undefined): string {
    if (!chip) return '';
    const rows = [`${chip.name} - ${chip.lines} lines:`];
    for (let line = 0; line < chip.lines; line++) {
      const consumer = this.options.consumers?.[line];
      const name = line < 28 ? `"GPIO${line}"` : 'unnamed';
      rows.push(
        this.major === 1
          ? `\tline ${String(line).padStart(3)}: ${name.padStart(12)} ${(consumer ? `"${consumer}"` : 'unused').padStart(12)}  input  active-high${consumer ? ' [used]' : ''}`
          : `\tline ${String(line).padStart(3)}:\t${name.padEnd(16)}\tinput${consumer ? ` consumer="${consumer}"` : ''}`,
      );
    }
    return `${rows.join('\n')}\n`;
  }
}

/** The scripted tools' spawn alone (doctor takes only that). */
export function scriptedTools(options: FakeToolsOptions): SpawnTool {
  return new FakeGpiodTools(options).spawn;
}
