import { describe, expect, it } from 'vitest';
import {
  getArgv,
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
  type GpiodTools,
} from '../../firmware/adapters/gpio/gpiod-argv.js';
import type { GpioWiring } from '../../firmware/adapters/gpio/lines.js';

/*
 * The argv given to Debian's gpiod tools and the reading of what they print. v1 (1.6.3) is also
 * run for real in tests/integration/gpiod-tools.test.ts; v2 cannot run here: its argv is checked
 * against the option tables of the v2.2 sources (tools/gpiomon.c shortopts "+b:c:C:e:E:hF:ln:p:qshv"
 * with longopts bias, chip, debounce-period, format; gpioset "+b:c:C:d:hilp:st:vz" with
 * interactive; gpioget "+ab:c:C:hlp:sv"; tools-common.c parse_bias: pull-up, pull-down, disabled;
 * parse_period: "10ms").
 */

const V1: GpiodTools = { version: '1.6.3', major: 1, interactiveSet: false };
const V2: GpiodTools = { version: '2.2.1', major: 2, interactiveSet: true };
const V2_PLAIN: GpiodTools = { ...V2, interactiveSet: false };
const WIRING: GpioWiring = { inputs: [5, 6, 16, 20, 21], outputs: [17, 27, 22, 23, 24, 18], bias: 'pull-up', debounceMs: 10 };

describe('which gpiod tools are installed', () => {
  it('reads the version gpioset prints, v1 and v2', () => {
    expect(parseToolsVersion('gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n', false)).toEqual(V1);
    expect(parseToolsVersion('gpioset (libgpiod) v2.2.1\nCopyright (C) 2017-2023 Bartosz Golaszewski\n', true)).toEqual(V2);
    expect(parseToolsVersion('gpioset (libgpiod) v2.1', false)).toEqual({ version: '2.1', major: 2, interactiveSet: false });
  });

  it('refuses what it cannot drive, saying why', () => {
    expect(parseToolsVersion('gpioset (libgpiod) v1.4.1', false)).toEqual({ problem: expect.stringMatching(/^libgpiod 1\.4\.1 is too old: its tools cannot set a pull-up/) });
    expect(parseToolsVersion('gpioset (libgpiod) v3.0', false)).toEqual({ problem: 'libgpiod 3.0 is not known here (1.6 on Bookworm and 2.x on Trixie are)' });
    expect(parseToolsVersion('busybox gpioset', false)).toEqual({ problem: 'gpioset --version printed "busybox gpioset", not "gpioset (libgpiod) vX.Y": is this Debian\'s gpiod package?' });
  });
});

describe('the argv', () => {
  it('v1 (Bookworm): the chip as the first word, long options, no debounce option', () => {
    expect(monitorArgv(V1, 'gpiochip0', WIRING)).toEqual(['--bias=pull-up', '--line-buffered', '--format=%o %e', 'gpiochip0', '5', '6', '16', '20', '21']);
    expect(getArgv(V1, 'gpiochip0', WIRING)).toEqual(['--bias=pull-up', 'gpiochip0', '5', '6', '16', '20', '21']);
    expect(setArgv(V1, 'gpiochip0', new Map([[17, 0], [18, 1]]))).toEqual(['--mode=signal', 'gpiochip0', '17=0', '18=1']);
    expect(infoArgv(V1, 'gpiochip0')).toEqual(['gpiochip0']);
    expect(monitorArgv(V1, 'gpiochip0', { ...WIRING, bias: 'none' })[0]).toBe('--bias=disable');
  });

  it('v2 (Trixie): --chip, the kernel debounce, gpioset interactive when built so', () => {
    expect(monitorArgv(V2, 'gpiochip4', WIRING)).toEqual(['--chip=gpiochip4', '--bias=pull-up', '--debounce-period=10ms', '--format=%o %e', '5', '6', '16', '20', '21']);
    expect(monitorArgv(V2, 'gpiochip4', { ...WIRING, debounceMs: 0, bias: 'none' })).toEqual(['--chip=gpiochip4', '--bias=disabled', '--format=%o %e', '5', '6', '16', '20', '21']);
    expect(getArgv(V2, 'gpiochip4', { ...WIRING, bias: 'pull-down' })).toEqual(['--chip=gpiochip4', '--bias=pull-down', '5', '6', '16', '20', '21']);
    expect(setArgv(V2, 'gpiochip4', new Map([[17, 0], [18, 0]]))).toEqual(['--chip=gpiochip4', '--interactive', '17=0', '18=0']);
    expect(setArgv(V2_PLAIN, 'gpiochip4', new Map([[17, 1]]))).toEqual(['--chip=gpiochip4', '17=1']);
    expect(setCommand(17, 1)).toBe('set 17=1\n');
    expect(infoArgv(V2, 'gpiochip4')).toEqual(['--chip=gpiochip4']);
  });
});

describe("reading the tools' output", () => {
  it('reads gpiomon events: v1 edges 1/0, v2 edges 1/2', () => {
    expect(parseEventLine(1, '5 0')).toEqual({ offset: 5, level: 0 });
    expect(parseEventLine(1, '5 1\r')).toEqual({ offset: 5, level: 1 });
    expect(parseEventLine(2, '21 2')).toEqual({ offset: 21, level: 0 });
    expect(parseEventLine(2, '21 1')).toEqual({ offset: 21, level: 1 });
    expect(parseEventLine(1, '5 2')).toEqual({ problem: 'gpiomon printed "5 2": edge 2 is not one libgpiod 1 prints (0 or 1)' });
    expect(parseEventLine(2, 'event:  RISING EDGE offset: 5')).toEqual({ problem: 'gpiomon printed "event:  RISING EDGE offset: 5": expected "<offset> <edge>"' });
  });

  it("reads gpioget's levels in the order asked", () => {
    expect(parseLevels(1, '1 0 1\n', [5, 6, 16])).toEqual(new Map([[5, 1], [6, 0], [16, 1]]));
    expect(parseLevels(2, '"5"=active "6"=inactive\n', [5, 6])).toEqual(new Map([[5, 1], [6, 0]]));
    expect(parseLevels(2, '5=inactive 6=active', [5, 6])).toEqual(new Map([[5, 0], [6, 1]]));
    expect(parseLevels(1, '1 0', [5, 6, 16])).toEqual({ problem: 'gpioget printed "1 0": expected 3 values' });
    expect(parseLevels(2, '"5"=maybe', [5])).toEqual({ problem: 'gpioget printed "\\"5\\"=maybe": "\\"5\\"=maybe" is no level' });
  });

  it('lists the chips and finds the header: Pi 5 (RP1) before Pi 4 before the older ones', () => {
    const pi5 = parseChips('gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip1 [gpio-brcmstb@107d508520] (4 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n');
    expect(pi5).toHaveLength(3);
    expect(pickChip(pi5, 'auto')).toEqual({ name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 });
    const pi4 = parseChips('gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n');
    expect(pickChip(pi4, 'auto')).toMatchObject({ name: 'gpiochip0' });
    expect(pickChip(pi4, '/dev/gpiochip1')).toMatchObject({ label: 'raspberrypi-exp-gpio' });
    expect(pickChip(pi4, 'pinctrl-rp1')).toEqual({ problem: 'no GPIO chip "pinctrl-rp1": gpiodetect lists gpiochip0 [pinctrl-bcm2711], gpiochip1 [raspberrypi-exp-gpio]' });
    expect(pickChip([{ name: 'gpiochip0', label: 'gpio-sim.0-node0', lines: 28 }], 'auto')).toEqual({
      problem: 'no Raspberry Pi header GPIO chip (pinctrl-rp1, pinctrl-bcm2711, pinctrl-bcm2835) among the chips gpiodetect lists: gpiochip0 [gpio-sim.0-node0]; set board.chip to one of them',
    });
  });

  it("reads gpioinfo's lines and who holds them, v1 and v2", () => {
    const v1 = [
      'gpiochip0 - 58 lines:',
      '\tline   4:     "GPIO4"       unused   input  active-high ',
      '\tline  17:    "GPIO17"    "gpioset"  output  active-high [used]',
      '\tline  18:    "GPIO18"       kernel   input  active-high [used]',
      '\tline  30:      unnamed       unused   input  active-high ',
    ].join('\n');
    expect(parseLineInfo(1, v1)).toEqual([
      { offset: 4, name: 'GPIO4', consumer: null },
      { offset: 17, name: 'GPIO17', consumer: 'gpioset' },
      { offset: 18, name: 'GPIO18', consumer: 'kernel' },
      { offset: 30, name: null, consumer: null },
    ]);
    const v2 = ['gpiochip0 - 54 lines:', '\tline   4:\t"GPIO4"         \tinput', '\tline  17:\t"GPIO17"        \toutput consumer="gpioset"', '\tline  18:\t"GPIO18"        \tinput consumer=kernel'].join('\n');
    expect(parseLineInfo(2, v2)).toEqual([
      { offset: 4, name: 'GPIO4', consumer: null },
      { offset: 17, name: 'GPIO17', consumer: 'gpioset' },
      { offset: 18, name: 'GPIO18', consumer: 'kernel' },
    ]);
  });
});
