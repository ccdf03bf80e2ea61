import { spawn as nodeSpawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { lineSplitter } from '../../../protocol/line-splitter.js';
import {
  chipNeedsLookup,
  getArgv,
  helpOffersInteractive,
  infoArgv,
  monitorArgv,
  parseChips,
  parseEventLine,
  parseLevels,
  parseLineInfo,
  parseToolsVersion,
  pickChip,
  setArgv,
  setCommand,
  type ChipInfo,
  type GpiodTools,
  type LineInfo,
} from './gpiod-argv.js';
import type { GpioEvents, GpioLines, GpioWiring, Level } from './lines.js';

/*
 * The GPIO lines through Debian's libgpiod tools, run as child processes: no native addon to
 * build, the same on a Pi 4 and a Pi 5, on Bookworm (libgpiod 1.6) and Trixie (2.x). One gpiomon
 * reports the buttons' edges; one gpioset holds the LEDs and the buzzer (v2 built with editline:
 * told each change on its stdin; otherwise restarted with every output's level at each change,
 * which lets the outputs go for the few milliseconds between the two processes). A tool that
 * exits while the lines are held has lost them: reported once through GpioEvents.failed, the
 * others stopped, and the terminal port closes (the bridge reopens it: a new boot).
 */

/** What the lines need of a child process: node's ChildProcess (spawned with pipes) fits. */
export interface ToolProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  kill(signal?: NodeJS.Signals): boolean;
  /** Once it has ended and its output streams are closed (node's 'close', not 'exit': nothing it printed is missed). */
  once(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
}

/** Starts a tool: `command` is the tool's name (found on the PATH), `args` its argv. */
export type SpawnTool = (command: string, args: readonly string[]) => ToolProcess;

export const spawnTool: SpawnTool = (command, args) => nodeSpawn(command, [...args], { stdio: 'pipe' });

const INSTALL_HINT = 'install Debian\'s gpiod package: sudo apt-get install gpiod';
/** Longer than anything a tool prints when it fails: the rest is not kept. */
const MAX_STDERR = 2000;

/** A tool's failure as a technician reads it: what it said, and what to do. */
export function toolError(tool: string, said: string, code: number | null, chip?: string): Error {
  // The tools start each line with their own name: said once, in front.
  const text =
    said
      .trim()
      .split('\n')
      .filter(Boolean)
      .slice(-2)
      .map((line) => (line.startsWith(`${tool}: `) ? line.slice(tool.length + 2) : line))
      .join(' / ') || `exited with code ${code ?? 'none (killed)'}`;
  let hint = '';
  if (/permission denied|EACCES/i.test(text)) hint = ' — is the user in the gpio group? (sudo usermod -aG gpio <user>, then log in again)';
  else if (/busy/i.test(text)) hint = ' — another program holds a line (`gpioinfo` names it): is the bridge service running, or another GPIO program?';
  else if (/unrecognized option|invalid option|try .* --help/i.test(text)) hint = ' — these gpiod tools do not take the options this bridge gives them: report it with `gpioset --version`';
  else if (/no such file or directory|ENOENT/i.test(text)) hint = chip ? ` — no GPIO chip ${chip} here: \`gpiodetect\` lists them` : ` — ${INSTALL_HINT}`;
  return new Error(`${tool}: ${text}${hint}`);
}

/** Runs a tool to its end: what it printed, or a clear error if it could not start or failed. */
export function runTool(spawn: SpawnTool, command: string, args: readonly string[], chip?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let child: ToolProcess;
    try {
      child = spawn(command, args);
    } catch (err) {
      reject(startError(command, err));
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR)));
    child.once('error', (err) => reject(startError(command, err)));
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(toolError(command, stderr, code, chip))));
  });
}

function startError(command: string, err: unknown): Error {
  const text = err instanceof Error ? err.message : String(err);
  return new Error(/ENOENT/.test(text) ? `${command} is not installed — ${INSTALL_HINT}` : `${command} could not be started: ${text}`);
}

/** Which libgpiod the tools are, from `gpioset --version` (and `--help` for v2's --interactive). */
export async function detectTools(spawn: SpawnTool): Promise<GpiodTools> {
  const version = await runTool(spawn, 'gpioset', ['--version']);
  const first = parseToolsVersion(version, false);
  if ('problem' in first) throw new Error(first.problem);
  if (first.major === 1) return first;
  const help = await runTool(spawn, 'gpioset', ['--help']);
  return { ...first, interactiveSet: helpOffersInteractive(help) };
}

/** Every GPIO chip, as gpiodetect lists it. */
export async function listChips(spawn: SpawnTool): Promise<ChipInfo[]> {
  return parseChips(await runTool(spawn, 'gpiodetect', []));
}

/** The chip name the tools are given for the config's `chip` (a path or name as it is; 'auto' or a label looked up). */
export async function resolveChip(spawn: SpawnTool, chip: string): Promise<string> {
  if (!chipNeedsLookup(chip)) return chip;
  const picked = pickChip(await listChips(spawn), chip);
  if ('problem' in picked) throw new Error(picked.problem);
  return picked.name;
}

/** The chip's lines and who holds them (for doctor). */
export async function lineInfo(spawn: SpawnTool, tools: GpiodTools, chip: string): Promise<LineInfo[]> {
  return parseLineInfo(tools.major, await runTool(spawn, 'gpioinfo', infoArgv(tools, chip), chip));
}

export interface GpiodToolsOptions {
  /** The config's chip: 'auto', a label (pinctrl-rp1), a name (gpiochip0) or a path (/dev/gpiochip0). */
  chip: string;
  spawn?: SpawnTool;
}

/** A running tool, and whether its exit is expected (we stopped it). */
interface Held {
  process: ToolProcess;
  stopping: boolean;
  exited: Promise<void>;
}

export class GpiodToolsLines implements GpioLines {
  private readonly spawn: SpawnTool;
  private tools: GpiodTools | undefined;
  private chip = '';
  private events: GpioEvents | undefined;
  private monitor: Held | undefined;
  private setter: Held | undefined;
  private readonly levels = new Map<number, Level>();
  /** A restart of gpioset is under way: the new one starts with the levels as they are by then. */
  private restarting = false;
  private done = false;

  constructor(private readonly options: GpiodToolsOptions) {
    this.spawn = options.spawn ?? spawnTool;
  }

  async open(wiring: GpioWiring, events: GpioEvents): Promise<ReadonlyMap<number, Level>> {
    const tools = (this.tools = await detectTools(this.spawn));
    const chip = (this.chip = await resolveChip(this.spawn, this.options.chip));
    await this.checkFree(tools, chip, [...wiring.inputs, ...wiring.outputs]);
    let levels: ReadonlyMap<number, Level> = new Map();
    if (wiring.inputs.length > 0) {
      const parsed = parseLevels(tools.major, await runTool(this.spawn, 'gpioget', getArgv(tools, chip, wiring), chip), wiring.inputs);
      if ('problem' in parsed) throw new Error(parsed.problem);
      levels = parsed;
    }
    this.events = events;
    try {
      if (wiring.inputs.length > 0) this.monitor = this.start('gpiomon', monitorArgv(tools, chip, wiring), (line) => this.event(line));
      for (const line of wiring.outputs) this.levels.set(line, 0);
      if (wiring.outputs.length > 0) this.setter = this.start('gpioset', setArgv(tools, chip, this.levels));
    } catch (err) {
      await this.close();
      throw startError('a gpiod tool', err);
    }
    return levels;
  }

  write(offset: number, level: Level): void {
    if (this.done || !this.tools || !this.levels.has(offset) || this.levels.get(offset) === level) return;
    this.levels.set(offset, level);
    if (this.tools.interactiveSet && this.setter) this.setter.process.stdin.write(setCommand(offset, level));
    else this.restartSetter();
  }

  async close(): Promise<void> {
    this.done = true;
    await Promise.all([this.monitor, this.setter].map((held) => (held ? this.stop(held) : undefined)));
  }

  /**
   * Every line free before any is claimed (gpioinfo): a line held by a kernel driver or another
   * program is named with its holder, rather than found out by a tool dying after the start.
   */
  private async checkFree(tools: GpiodTools, chip: string, wanted: readonly number[]): Promise<void> {
    const info = await lineInfo(this.spawn, tools, chip);
    const absent = wanted.filter((line) => !info.some((l) => l.offset === line));
    if (absent.length > 0) throw new Error(`${chip} has no line ${absent.join(', ')} (it has 0..${info.length - 1}): is it the header's chip? \`gpiodetect\` lists them`);
    const held = info.filter((l) => wanted.includes(l.offset) && l.consumer !== null);
    if (held.length > 0) {
      throw new Error(
        `${chip}: ${held.map((l) => `line ${l.offset} is held by "${l.consumer}"`).join(', ')} (Device or resource busy) — another program, a running bridge or a kernel driver (an overlay in config.txt) has it`,
      );
    }
  }

  /** Starts a tool that holds lines until stopped; its stdout lines go to `onLine`. */
  private start(command: string, args: readonly string[], onLine?: (line: string) => void): Held {
    const child = this.spawn(command, args);
    let stderr = '';
    const held: Held = {
      process: child,
      stopping: false,
      exited: new Promise((resolve) => {
        child.once('close', (code) => {
          resolve();
          if (!held.stopping) this.lost(toolError(command, stderr, code, this.chip));
        });
        child.once('error', (err) => {
          resolve();
          if (!held.stopping) this.lost(startError(command, err));
        });
      }),
    };
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR)));
    const split = lineSplitter({ line: (line) => onLine?.(line), tooLong: (length) => onLine?.(`(a line of ${length} characters)`) }, 256);
    child.stdout.on('data', (chunk: Buffer) => split(chunk.toString('utf8')));
    // Writes to a gpioset that just died are lost with it; its exit says why.
    child.stdin.on('error', () => undefined);
    return held;
  }

  private event(line: string): void {
    if (this.done || !this.tools) return;
    const parsed = parseEventLine(this.tools.major, line);
    if ('problem' in parsed) this.lost(new Error(`${parsed.problem} — these gpiod tools (libgpiod ${this.tools.version}) print what this bridge does not read`));
    else this.events?.edge(parsed.offset, parsed.level);
  }

  /** gpioset holds levels fixed: a change ends it and starts another with every output's level (changes meanwhile included). */
  private restartSetter(): void {
    const old = this.setter;
    if (this.restarting || !old) return;
    this.restarting = true;
    void this.stop(old).then(() => {
      this.restarting = false;
      if (this.done || !this.tools) return;
      try {
        this.setter = this.start('gpioset', setArgv(this.tools, this.chip, this.levels));
      } catch (err) {
        this.lost(startError('gpioset', err));
      }
    });
  }

  private stop(held: Held): Promise<void> {
    held.stopping = true;
    held.process.kill('SIGTERM');
    return held.exited;
  }

  /** The lines are lost: said once; every tool still running is stopped. */
  private lost(error: Error): void {
    if (this.done) return;
    this.done = true;
    for (const held of [this.monitor, this.setter]) if (held) void this.stop(held);
    this.events?.failed(error);
  }
}
