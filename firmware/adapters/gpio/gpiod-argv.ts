import { z } from 'zod';
import type { Bias, GpioWiring, Level } from './lines.js';

/*
 * What Debian's libgpiod command-line tools are told, and how what they print is read: pure
 * functions, one place for both major versions. Options are spelled long (--bias=…), because the
 * short ones changed meaning between versions (gpiomon -b is --line-buffered in v1, --bias in v2).
 *
 *            Raspberry Pi OS Bookworm: libgpiod 1.6           Trixie: libgpiod 2.x
 * inputs     gpiomon --bias=pull-up --line-buffered          gpiomon --chip=CHIP --bias=pull-up
 *              --format="%o %e" CHIP 5 6 …                     --debounce-period=10ms --format="%o %e" 5 6 …
 *            (%e: 1 rising, 0 falling; no debounce option)   (%e: 1 rising, 2 falling; flushed per event)
 * levels     gpioget --bias=pull-up CHIP 5 6 …  → "1 1 …"    gpioget --chip=CHIP --bias=pull-up 5 6 … → "5"=active …
 * outputs    gpioset --mode=signal CHIP 17=0 27=0 …          gpioset --chip=CHIP --interactive 17=0 … ("set 17=1" on stdin),
 *            (held until SIGTERM; a change restarts it)      or, built without editline, held like v1 and restarted
 * chips      gpiodetect → "gpiochip0 [pinctrl-bcm2711] (58 lines)" in both
 * lines      gpioinfo CHIP                                   gpioinfo --chip=CHIP
 *
 * Verified against the v1.6.3 binaries (tests/integration/gpiod-tools.test.ts runs them) and the
 * v2.2 sources (tools/gpiomon.c, gpioset.c, gpioget.c, gpioinfo.c, tools-common.c).
 * No argument ever carries a secret: chip names and line numbers only.
 */

export type ToolsMajor = 1 | 2;

/** The installed tools, as `gpioset --version` (and, for v2, `gpioset --help`) tell. */
export interface GpiodTools {
  /** e.g. "1.6.3", "2.2.1" */
  version: string;
  major: ToolsMajor;
  /** v2 gpioset takes --interactive (built with editline): outputs change without a restart. */
  interactiveSet: boolean;
}

const VERSION = /\(libgpiod\)\s+v?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?/;

/** Reads `gpioset --version`; a text naming no libgpiod 1.x or 2.x is refused with what it said. */
export function parseToolsVersion(text: string, interactiveSet: boolean): GpiodTools | { problem: string } {
  const match = VERSION.exec(text.slice(0, 4096));
  const firstLine = JSON.stringify(text.split('\n')[0]?.slice(0, 80) ?? '');
  if (!match) return { problem: `gpioset --version printed ${firstLine}, not "gpioset (libgpiod) vX.Y": is this Debian's gpiod package?` };
  const [, major, minor, patch] = match;
  const version = `${major}.${minor}${patch === undefined ? '' : `.${patch}`}`;
  if (major === '1') {
    // --bias came with 1.5: Debian Bullseye has 1.6.2, Bookworm 1.6.3.
    if (Number(minor) < 5) return { problem: `libgpiod ${version} is too old: its tools cannot set a pull-up (1.5 or newer is needed; Raspberry Pi OS Bookworm has 1.6.3)` };
    return { version, major: 1, interactiveSet: false };
  }
  if (major === '2') return { version, major: 2, interactiveSet };
  return { problem: `libgpiod ${version} is not known here (1.6 on Bookworm and 2.x on Trixie are)` };
}

/** Whether `gpioset --help` offers --interactive (v2 built with editline). */
export function helpOffersInteractive(help: string): boolean {
  return /--interactive\b/.test(help);
}

const BIAS_WORD: Record<ToolsMajor, Record<Bias, string>> = {
  1: { 'pull-up': 'pull-up', 'pull-down': 'pull-down', none: 'disable' },
  2: { 'pull-up': 'pull-up', 'pull-down': 'pull-down', none: 'disabled' },
};

/** gpiomon's line format: offset and edge. */
const EVENT_FORMAT = '%o %e';

/** gpiomon: one long-running process reports every edge of every input. */
export function monitorArgv(tools: GpiodTools, chip: string, wiring: GpioWiring): string[] {
  const lines = wiring.inputs.map(String);
  const bias = `--bias=${BIAS_WORD[tools.major][wiring.bias]}`;
  if (tools.major === 1) return [bias, '--line-buffered', `--format=${EVENT_FORMAT}`, chip, ...lines];
  const debounce = wiring.debounceMs > 0 ? [`--debounce-period=${wiring.debounceMs}ms`] : [];
  return [`--chip=${chip}`, bias, ...debounce, `--format=${EVENT_FORMAT}`, ...lines];
}

/** gpioget: the inputs' levels before monitoring starts (gpiomon v1 and v2.2 print none). */
export function getArgv(tools: GpiodTools, chip: string, wiring: GpioWiring): string[] {
  const lines = wiring.inputs.map(String);
  const bias = `--bias=${BIAS_WORD[tools.major][wiring.bias]}`;
  return tools.major === 1 ? [bias, chip, ...lines] : [`--chip=${chip}`, bias, ...lines];
}

/** gpioset: holds every output at its level until stopped (v1: SIGTERM in --mode=signal; v2: its default). */
export function setArgv(tools: GpiodTools, chip: string, levels: ReadonlyMap<number, Level>): string[] {
  const values = [...levels].map(([line, level]) => `${line}=${level}`);
  if (tools.major === 1) return ['--mode=signal', chip, ...values];
  return [`--chip=${chip}`, ...(tools.interactiveSet ? ['--interactive'] : []), ...values];
}

/** A command to an interactive gpioset (v2). */
export function setCommand(line: number, level: Level): string {
  return `set ${line}=${level}\n`;
}

/** gpioinfo on one chip. */
export function infoArgv(tools: GpiodTools, chip: string): string[] {
  return tools.major === 1 ? [chip] : [`--chip=${chip}`];
}

/** An edge, as gpiomon reports it. */
export interface LineEvent {
  offset: number;
  level: Level;
}

/** %e: v1 prints 1 rising, 0 falling; v2 GPIOD_EDGE_EVENT_RISING_EDGE 1, FALLING_EDGE 2. */
const EDGE_LEVEL: Record<ToolsMajor, Record<string, Level>> = { 1: { '1': 1, '0': 0 }, 2: { '1': 1, '2': 0 } };

const eventLineSchema = (major: ToolsMajor) =>
  z
    .string()
    .max(32, 'is longer than any "<offset> <edge>" line')
    .regex(/^\d{1,4} \d$/, 'expected "<offset> <edge>"')
    .transform((text, ctx): LineEvent => {
      const [offset, edge] = text.split(' ') as [string, string];
      const level = EDGE_LEVEL[major][edge];
      if (level === undefined) {
        ctx.addIssue({ code: 'custom', message: `edge ${edge} is not one libgpiod ${major} prints (${Object.keys(EDGE_LEVEL[major]).join(' or ')})` });
        return z.NEVER;
      }
      return { offset: Number(offset), level };
    });

const EVENT_SCHEMAS: Record<ToolsMajor, ReturnType<typeof eventLineSchema>> = { 1: eventLineSchema(1), 2: eventLineSchema(2) };

/** One line of gpiomon's output (in EVENT_FORMAT), trailing \r tolerated. */
export function parseEventLine(major: ToolsMajor, line: string): LineEvent | { problem: string } {
  const result = EVENT_SCHEMAS[major].safeParse(line.replace(/\r$/, ''));
  if (result.success) return result.data;
  return { problem: `gpiomon printed ${JSON.stringify(line.slice(0, 40))}: ${result.error.issues[0]?.message ?? 'not an event'}` };
}

/** gpioget's answer, one level per line asked, in order: v1 "1 0 1", v2 '"5"=active "6"=inactive' (or --numeric digits). */
export function parseLevels(major: ToolsMajor, text: string, lines: readonly number[]): ReadonlyMap<number, Level> | { problem: string } {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const said = JSON.stringify(text.trim().slice(0, 80));
  if (words.length !== lines.length) return { problem: `gpioget printed ${said}: expected ${lines.length} values` };
  const levels = new Map<number, Level>();
  for (const [i, word] of words.entries()) {
    const value = major === 1 ? word : (/^(?:"[^"]*"|[^=]*)=(.*)$/.exec(word)?.[1] ?? word);
    const level = ({ '1': 1, '0': 0, active: 1, inactive: 0 } as Record<string, Level>)[value];
    if (level === undefined) return { problem: `gpioget printed ${said}: ${JSON.stringify(word.slice(0, 20))} is no level` };
    levels.set(lines[i] as number, level);
  }
  return levels;
}

/** A chip as gpiodetect lists it. */
export interface ChipInfo {
  /** e.g. gpiochip0 */
  name: string;
  /** e.g. pinctrl-rp1 */
  label: string;
  lines: number;
}

const CHIP_LINE = /^(gpiochip\d{1,4}) \[(.{0,64})\] \((\d{1,5}) lines?\)$/;

/** gpiodetect's listing (both versions print the same); lines that are not a chip are skipped. */
export function parseChips(text: string): ChipInfo[] {
  return text
    .split('\n')
    .slice(0, 256)
    .map((line) => CHIP_LINE.exec(line.trim()))
    .filter((match) => match !== null)
    .map(([, name, label, lines]) => ({ name: name as string, label: label as string, lines: Number(lines) }));
}

/**
 * The Raspberry Pi header's chip, by label, most recent first: the Pi 5's RP1 (gpiochip0 from
 * kernel 6.6.45, gpiochip4 before), the Pi 4's BCM2711, the Pi 1-3 and Zero's BCM2835.
 */
export const PI_HEADER_LABELS: readonly string[] = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];

/** What the config's `chip` is: a device path or name the tools take as it is, or a label or 'auto' to look up. */
export function chipNeedsLookup(chip: string): boolean {
  return chip === 'auto' || !(chip.startsWith('/') || /^gpiochip\d+$/.test(chip));
}

/** The chip the config means among those listed: 'auto' (the Pi header's), a label, or a name. */
export function pickChip(chips: readonly ChipInfo[], wanted: string): ChipInfo | { problem: string } {
  const found = chips.map((chip) => `${chip.name} [${chip.label}]`).join(', ') || 'none';
  if (wanted === 'auto') {
    for (const label of PI_HEADER_LABELS) {
      const chip = chips.find((c) => c.label === label);
      if (chip) return chip;
    }
    return { problem: `no Raspberry Pi header GPIO chip (${PI_HEADER_LABELS.join(', ')}) among the chips gpiodetect lists: ${found}; set board.chip to one of them` };
  }
  const chip = chips.find((c) => c.label === wanted || c.name === wanted || `/dev/${c.name}` === wanted);
  return chip ?? { problem: `no GPIO chip ${JSON.stringify(wanted)}: gpiodetect lists ${found}` };
}

/** One line of a chip, as gpioinfo shows it. */
export interface LineInfo {
  offset: number;
  /** The line's name on the board, e.g. GPIO17; null when unnamed. */
  name: string | null;
  /** Who holds it (a program's consumer name, "kernel"); null when free. */
  consumer: string | null;
}

/*
 * v1: `\tline  17:     "GPIO17"       unused   input  active-high `
 *     `\tline  17:     "GPIO17"    "gpioset"  output  active-high [used]`
 * v2: `\tline  17:\t"GPIO17"        \tinput`
 *     `\tline  17:\t"GPIO17"        \toutput consumer="gpioset"`
 */
const INFO_LINE = /^\s*line\s+(\d{1,5}):\s+("[^"]*"|unnamed)\s*(.*)$/;

/** gpioinfo's lines (the chip's header line and anything else skipped). */
export function parseLineInfo(major: ToolsMajor, text: string): LineInfo[] {
  const out: LineInfo[] = [];
  for (const line of text.split('\n').slice(0, 4096)) {
    const match = INFO_LINE.exec(line);
    if (!match) continue;
    const [, offset, quotedName, rest = ''] = match;
    const name = quotedName === 'unnamed' ? null : (quotedName as string).slice(1, -1);
    let consumer: string | null;
    if (major === 1) {
      const holder = /^("[^"]*"|unused|kernel)/.exec(rest)?.[1] ?? 'unused';
      consumer = holder === 'unused' ? (/\[used/.test(rest) ? 'kernel' : null) : holder.replace(/^"|"$/g, '');
    } else {
      consumer = /consumer=("[^"]*"|\S+)/.exec(rest)?.[1]?.replace(/^"|"$/g, '') ?? null;
    }
    out.push({ offset: Number(offset), name, consumer });
  }
  return out;
}
