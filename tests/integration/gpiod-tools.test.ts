import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { getArgv, infoArgv, monitorArgv, setArgv } from '../../firmware/adapters/gpio/gpiod-argv.js';
import { detectTools, GpiodToolsLines, runTool, spawnTool } from '../../firmware/adapters/gpio/gpiod-tools.js';
import type { GpioWiring } from '../../firmware/adapters/gpio/lines.js';
import { onCI } from '../support/brokers.js';

/*
 * Debian's libgpiod tools, for real (CI installs the gpiod package: 1.6.3 on Debian Bookworm).
 * There is no /dev/gpiochip on this machine, so every argv the bridge builds is run against a
 * chip that does not exist: the tool must get past its option parser and fail on the chip, never
 * on an option. (v2 is checked against its sources in tests/unit/gpiod-argv.test.ts.)
 */

const installed = spawnSync('gpioset', ['--version']).status === 0;
const version = installed ? String(spawnSync('gpioset', ['--version']).stdout) : '';
const NO_CHIP = '/dev/gpiochip-hcp-test-none';
const WIRING: GpioWiring = { inputs: [5, 6, 16, 20, 21], outputs: [17, 27, 22, 23, 24, 18], bias: 'pull-up', debounceMs: 10 };

/** What the tool says on stderr with `args` (it must fail: the chip is not there). */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: 5000 });
  expect(result.status).toBe(1);
  return result.stderr;
}

describe.skipIf(!installed && !onCI())("the gpiod tools' option parsers take the bridge's argv", () => {
  it('finds libgpiod 1.6 installed', async () => {
    expect(version).toMatch(/^gpioset \(libgpiod\) v1\.6\./);
    expect(await detectTools(spawnTool)).toMatchObject({ major: 1, interactiveSet: false, version: expect.stringMatching(/^1\.6\./) });
  });

  it('gpiomon, gpioget, gpioset and gpioinfo fail on the missing chip, not on an option', async () => {
    const tools = await detectTools(spawnTool);
    const stderr = [
      run('gpiomon', monitorArgv(tools, NO_CHIP, WIRING)),
      run('gpiomon', monitorArgv(tools, NO_CHIP, { ...WIRING, bias: 'none' })),
      run('gpioget', getArgv(tools, NO_CHIP, { ...WIRING, bias: 'pull-down' })),
      run('gpioset', setArgv(tools, NO_CHIP, new Map([[17, 0], [18, 1]]))),
      run('gpioinfo', infoArgv(tools, NO_CHIP)),
    ];
    for (const text of stderr) {
      expect(text).not.toMatch(/unrecognized|invalid|try .* --help/);
      expect(text).toMatch(/No such file or directory/);
    }
    // The control: a wrong option is refused as such.
    expect(run('gpiomon', ['--debounce-period=10ms', NO_CHIP, '5'])).toMatch(/unrecognized option/);
  });

  it('opening lines on the missing chip fails with the tool named and what to do', async () => {
    const lines = new GpiodToolsLines({ chip: NO_CHIP });
    await expect(lines.open(WIRING, { edge: () => undefined, failed: () => undefined })).rejects.toThrow(
      `gpioinfo: looking up chip ${NO_CHIP}: No such file or directory — no GPIO chip ${NO_CHIP} here: \`gpiodetect\` lists them`,
    );
    // No chip at all here: 'auto' finds none, and says so.
    await expect(new GpiodToolsLines({ chip: 'auto' }).open(WIRING, { edge: () => undefined, failed: () => undefined })).rejects.toThrow(/^no Raspberry Pi header GPIO chip .* lists: none/);
    expect(await runTool(spawnTool, 'gpiodetect', [])).toBe('');
  });
});
