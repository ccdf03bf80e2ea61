import { describe, expect, it } from 'vitest';
import { parseConfig, type GpioBoardConfig } from '../../bridge/config.js';
import { checkGpioLines } from '../../bridge/terminal/gpio-probe.js';
import { scriptedTools, type FakeToolsOptions } from '../../simulator/fake-gpiod-tools.js';

/* doctor's "terminal port" line for a terminal on the Pi's GPIO, on scripted gpiod tools. */

const board = parseConfig({
  terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H', windowNo: '1' },
  board: { io: 'gpio', pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24] } },
  mqtt: { url: 'mqtts://b.example:8883' },
  database: { path: '/var/lib/hcp/hcp.db' },
}).board as GpioBoardConfig;

const check = (options: FakeToolsOptions, over: Partial<GpioBoardConfig> = {}) => checkGpioLines({ ...board, ...over }, { spawn: scriptedTools(options), timeoutMs: 2000 });

describe("doctor's line for the Pi's GPIO", () => {
  it('finds a Pi 5 header by its label and says the lines are free', async () => {
    expect(await check({ version: '2.2.1', interactive: false, chips: [{ name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 }, { name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 }] })).toEqual({
      level: 'ok',
      name: 'terminal port',
      message: 'gpiochip4 [pinctrl-rp1] (54 lines), libgpiod tools v2.2.1 (gpioset without --interactive: restarted at each LED change): the 10 lines of the buttons and LEDs are free',
    });
  });

  it('takes lines held by our own tools for the running service: a warning', async () => {
    const result = await check({ version: '1.6.3', consumers: { 5: 'gpiomon', 17: 'gpioset' } });
    expect(result).toMatchObject({ level: 'warn', message: expect.stringContaining('button 1 on GPIO 5 (header pin 29) is held by "gpiomon"; LED 1 on GPIO 17 (header pin 11) is held by "gpioset" (most likely the bridge service)') });
  });

  it('says what to install, which chips there are, and which group is missing', async () => {
    const missing = await checkGpioLines(board, {
      spawn: () => {
        throw Object.assign(new Error('spawn gpioset ENOENT'), { code: 'ENOENT' });
      },
      timeoutMs: 2000,
    });
    expect(missing).toMatchObject({ level: 'fail', message: "the gpiod tools: gpioset is not installed — install Debian's gpiod package: sudo apt-get install gpiod" });
    expect(await check({ version: '1.6.3' }, { chip: 'pinctrl-rp1' })).toMatchObject({ level: 'fail', message: 'no GPIO chip "pinctrl-rp1": gpiodetect lists gpiochip0 [pinctrl-bcm2711]' });
    const denied = await check({ version: '1.6.3', failing: { gpioinfo: 'gpioinfo: unable to open chip: Permission denied\n' } });
    expect(denied).toMatchObject({ level: 'fail', fix: [expect.stringMatching(/gpio group/)] });
  });
});
