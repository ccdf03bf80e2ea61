import { headerName } from '../../firmware/adapters/gpio/header.js';
import { pickChip, type ChipInfo, type GpiodTools, type LineInfo } from '../../firmware/adapters/gpio/gpiod-argv.js';
import { detectTools, lineInfo, listChips, type SpawnTool } from '../../firmware/adapters/gpio/gpiod-tools.js';
import type { GpioBoardConfig } from '../config.js';
import { errorText, fail, ok, warn, withTimeout, type CheckResult } from '../diagnose/check.js';

/*
 * doctor's line for a terminal on the Pi's own GPIO, in place of a port's presence: the gpiod
 * tools and their version, the chip the config means (and what it is), and each configured line
 * free, or held and by whom (gpioinfo).
 */

export interface GpioProbeDeps {
  spawn: SpawnTool;
  timeoutMs: number;
}

const NAME = 'terminal port';
const GROUP_FIX = 'add the user to the gpio group (`sudo usermod -aG gpio $USER`, then log in again); the service user too';
/** Consumer names our own helpers hold lines under: most likely the bridge service. */
const OUR_TOOLS = new Set(['gpiomon', 'gpioset', 'gpioget']);

/** The configured lines by role, for messages: [line, "button 1"] … */
function roles(board: GpioBoardConfig): [number, string][] {
  const { pins } = board;
  return [...pins.buttons.map((pin, i): [number, string] => [pin, `button ${i + 1}`]), ...pins.leds.map((pin, i): [number, string] => [pin, `LED ${i + 1}`]), ...(pins.buzzer === undefined ? [] : [[pins.buzzer, 'the buzzer'] as [number, string]])];
}

async function look(board: GpioBoardConfig, spawn: SpawnTool): Promise<CheckResult> {
  let tools: GpiodTools;
  try {
    tools = await detectTools(spawn);
  } catch (err) {
    return fail(NAME, `the gpiod tools: ${errorText(err)}`, ["install them: `sudo apt-get install gpiod` (Raspberry Pi OS has them)"]);
  }
  const toolsText = `libgpiod tools v${tools.version}${tools.major === 2 ? (tools.interactiveSet ? ' (gpioset --interactive)' : ' (gpioset without --interactive: restarted at each LED change)') : ''}`;
  let chips: ChipInfo[];
  try {
    chips = await listChips(spawn);
  } catch (err) {
    return fail(NAME, `gpiodetect: ${errorText(err)}`, [GROUP_FIX]);
  }
  if (chips.length === 0) {
    return fail(NAME, `no GPIO chip here (${toolsText}): /dev/gpiochip* is missing or unreadable`, [
      'on a Raspberry Pi: check `ls -l /dev/gpiochip*`, and that the user is in the gpio group',
      'elsewhere: scripts/gpio-sim.sh makes a simulated chip (docs/wiring.md)',
      GROUP_FIX,
    ]);
  }
  const chip = pickChip(chips, board.chip);
  if ('problem' in chip) return fail(NAME, chip.problem, ['set board.chip to auto, or to one of the chips listed (`gpiodetect`)']);
  const chipText = `${chip.name} [${chip.label}] (${chip.lines} lines), ${toolsText}`;
  let lines: LineInfo[];
  try {
    lines = await lineInfo(spawn, tools, chip.name);
  } catch (err) {
    return fail(NAME, `${chipText}; gpioinfo: ${errorText(err)}`, [GROUP_FIX]);
  }
  const missing: string[] = [];
  const held: string[] = [];
  let ours = true;
  for (const [pin, role] of roles(board)) {
    const info = lines.find((line) => line.offset === pin);
    if (!info) missing.push(`${role} on ${headerName(pin)}`);
    else if (info.consumer !== null) {
      held.push(`${role} on ${headerName(pin)} is held by "${info.consumer}"`);
      if (!OUR_TOOLS.has(info.consumer)) ours = false;
    }
  }
  if (missing.length > 0) return fail(NAME, `${chipText}: it has no line for ${missing.join(', ')}`, ['is board.chip the header chip? `gpiodetect` lists the chips; auto finds the header']);
  if (held.length > 0) {
    if (ours) return warn(NAME, `${chipText}: ${held.join('; ')} (most likely the bridge service)`, ['the running bridge knows the terminal: `hcp status`', 'or stop it for a full check: `sudo systemctl stop hcp-bridge`, then run `hcp doctor` again']);
    return fail(NAME, `${chipText}: ${held.join('; ')}`, [
      'another program or a kernel driver (an overlay in /boot/firmware/config.txt, e.g. w1-gpio, i2c, spi, a fan) holds the line: free it or wire the part to another GPIO',
    ]);
  }
  return ok(NAME, `${chipText}: the ${roles(board).length} lines of the buttons${board.pins.buzzer === undefined ? ' and LEDs' : ', LEDs and buzzer'} are free`);
}

/** What doctor says of the GPIO wiring; never throws. */
export function checkGpioLines(board: GpioBoardConfig, deps: GpioProbeDeps): Promise<CheckResult> {
  return withTimeout(look(board, deps.spawn), deps.timeoutMs, `the gpiod tools did not answer within ${deps.timeoutMs / 1000} s`).catch((err: unknown) =>
    fail(NAME, errorText(err), ['run `gpiodetect` and `gpioinfo` by hand to see where they hang']),
  );
}
