import { describe, expect, it } from 'vitest';
import { GpiodToolsLines, toolError } from '../../firmware/adapters/gpio/gpiod-tools.js';
import type { GpioEvents, GpioWiring, Level } from '../../firmware/adapters/gpio/lines.js';
import { FakeGpiodTools, type FakeToolsOptions } from '../../simulator/fake-gpiod-tools.js';
import { waitUntil } from '../../simulator/wait.js';

/*
 * The GPIO lines through the gpiod tools, on scripted tools (simulator/fake-gpiod-tools.ts): which
 * tools are started with what, edges read from gpiomon, outputs through gpioset (restarted, or
 * told on its stdin), and a tool that dies reported once as lost lines.
 */

const WIRING: GpioWiring = { inputs: [5, 6], outputs: [17, 18], bias: 'pull-up', debounceMs: 10 };

function recorder(): GpioEvents & { edges: string[]; failures: string[] } {
  const edges: string[] = [];
  const failures: string[] = [];
  return { edges, failures, edge: (offset, level) => edges.push(`${offset}=${level}`), failed: (err) => failures.push(err.message) };
}

async function opened(options: FakeToolsOptions, chip = 'auto'): Promise<{ tools: FakeGpiodTools; lines: GpiodToolsLines; events: ReturnType<typeof recorder>; levels: ReadonlyMap<number, Level> }> {
  const tools = new FakeGpiodTools(options);
  const lines = new GpiodToolsLines({ chip, spawn: tools.spawn });
  const events = recorder();
  const levels = await lines.open(WIRING, events);
  return { tools, lines, events, levels };
}

describe('GpiodToolsLines on libgpiod 1.6 (Bookworm)', () => {
  it('finds the chip, reads the inputs, then monitors them and holds the outputs low', async () => {
    const { tools, levels, lines } = await opened({ version: '1.6.3', levels: { 6: 0 } });
    expect(levels).toEqual(new Map([[5, 1], [6, 0]]));
    expect(tools.started.map((t) => [t.command, ...t.args].join(' '))).toEqual([
      'gpioset --version',
      'gpiodetect',
      'gpioinfo gpiochip0',
      'gpioget --bias=pull-up gpiochip0 5 6',
      'gpiomon --bias=pull-up --line-buffered --format=%o %e gpiochip0 5 6',
      'gpioset --mode=signal gpiochip0 17=0 18=0',
    ]);
    await lines.close();
  });

  it('reports each edge gpiomon prints', async () => {
    const { tools, events, lines } = await opened({ version: '1.6.3' });
    tools.latest('gpiomon').print('5 0');
    tools.latest('gpiomon').print('5 1');
    await waitUntil(() => events.edges.length === 2, 'two edges');
    expect(events.edges).toEqual(['5=0', '5=1']);
    await lines.close();
  });

  it('restarts gpioset with every output level at a change, one restart at a time, with the levels as they are by then', async () => {
    const { tools, lines, events } = await opened({ version: '1.6.3' }, 'gpiochip0');
    const first = tools.latest('gpioset');
    lines.write(17, 1);
    lines.write(18, 1); // while the restart is under way
    lines.write(17, 0);
    await waitUntil(() => tools.all('gpioset').length === 2, 'the restart');
    expect(first.killedWith).toBe('SIGTERM');
    lines.write(18, 0);
    await waitUntil(() => tools.all('gpioset').length === 3, 'the next restart');
    expect(tools.all('gpioset').map((t) => t.args.join(' '))).toEqual(['--mode=signal gpiochip0 17=0 18=0', '--mode=signal gpiochip0 17=0 18=1', '--mode=signal gpiochip0 17=0 18=0']);
    // A chip given by name is not looked up; stopping a gpioset on purpose is no failure.
    expect(tools.started.some((t) => t.command === 'gpiodetect')).toBe(false);
    expect(events.failures).toEqual([]);
    await lines.close();
    expect(tools.started.filter((t) => !t.exited)).toEqual([]);
    expect(events.failures).toEqual([]);
  });

  it('reports the lines lost, once, when gpiomon dies, and stops the other tools', async () => {
    const { tools, events } = await opened({ version: '1.6.3' });
    tools.latest('gpiomon').die('gpiomon: error waiting for events: No such device\n');
    await waitUntil(() => events.failures.length > 0, 'the failure');
    await waitUntil(() => tools.latest('gpioset').exited, 'gpioset stopped');
    expect(events.failures).toEqual(['gpiomon: error waiting for events: No such device']);
  });

  it('names a line another holder has, and a line the chip lacks, before claiming any', async () => {
    await expect(opened({ version: '1.6.3', consumers: { 17: 'w1-gpio' } })).rejects.toThrow(
      'gpiochip0: line 17 is held by "w1-gpio" (Device or resource busy) — another program, a running bridge or a kernel driver (an overlay in config.txt) has it',
    );
    const small = await opened({ version: '1.6.3', chips: [{ name: 'gpiochip1', label: 'pinctrl-bcm2711', lines: 8 }] }).catch((err: Error) => err.message);
    expect(small).toBe("gpiochip1 has no line 17, 18 (it has 0..7): is it the header's chip? `gpiodetect` lists them");
  });

  it('refuses to open, saying what to do: a busy line, no permission, no tools', async () => {
    await expect(opened({ version: '1.6.3', failing: { gpioget: 'gpioget: error reading GPIO values: Device or resource busy\n' } })).rejects.toThrow(
      'gpioget: error reading GPIO values: Device or resource busy — another program holds a line (`gpioinfo` names it): is the bridge service running, or another GPIO program?',
    );
    await expect(opened({ version: '1.6.3', failing: { gpiodetect: 'gpiodetect: unable to access GPIO chips: Permission denied\n' } })).rejects.toThrow(/Permission denied — is the user in the gpio group\?/);
    await expect(opened({ version: '1.6.3', chips: [] })).rejects.toThrow(/^no Raspberry Pi header GPIO chip .* lists: none/);
    const missing = new GpiodToolsLines({
      chip: 'auto',
      spawn: () => {
        throw Object.assign(new Error('spawn gpioset ENOENT'), { code: 'ENOENT' });
      },
    });
    await expect(missing.open(WIRING, recorder())).rejects.toThrow("gpioset is not installed — install Debian's gpiod package: sudo apt-get install gpiod");
  });

  it('takes a gpiomon line it cannot read for lost lines, naming the tools', async () => {
    const { tools, events } = await opened({ version: '1.6.3' });
    tools.latest('gpiomon').print('GPIO EVENT at 5');
    await waitUntil(() => events.failures.length > 0, 'the failure');
    expect(events.failures[0]).toMatch(/^gpiomon printed "GPIO EVENT at 5": expected "<offset> <edge>" — these gpiod tools \(libgpiod 1\.6\.3\)/);
  });
});

describe('GpiodToolsLines on libgpiod 2 (Trixie)', () => {
  it('asks the kernel to debounce, and tells an interactive gpioset each change on its stdin', async () => {
    const { tools, lines, levels } = await opened({ version: '2.2.1', interactive: true, chips: [{ name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 }] });
    expect(levels).toEqual(new Map([[5, 1], [6, 1]]));
    expect(tools.latest('gpiomon').args).toEqual(['--chip=gpiochip4', '--bias=pull-up', '--debounce-period=10ms', '--format=%o %e', '5', '6']);
    const setter = tools.latest('gpioset');
    expect(setter.args).toEqual(['--chip=gpiochip4', '--interactive', '17=0', '18=0']);
    lines.write(17, 1);
    lines.write(17, 1); // no change: nothing said
    lines.write(18, 1);
    await waitUntil(() => setter.written === 'set 17=1\nset 18=1\n', 'the set commands');
    expect(tools.all('gpioset')).toHaveLength(1);
    tools.latest('gpiomon').print('6 2');
    await lines.close();
  });

  it('restarts a gpioset built without --interactive, as on v1', async () => {
    const { tools, lines } = await opened({ version: '2.1', interactive: false });
    lines.write(18, 1);
    await waitUntil(() => tools.all('gpioset').length === 2, 'the restart');
    expect(tools.latest('gpioset').args).toEqual(['--chip=gpiochip0', '17=0', '18=1']);
    await lines.close();
  });
});

describe('toolError', () => {
  it('keeps the last lines of what the tool said and adds the fix', () => {
    expect(toolError('gpioset', 'gpioset: unrecognized option \'--mode=signal\'\ngpioset: try gpioset --help\n', 1).message).toBe(
      "gpioset: unrecognized option '--mode=signal' / try gpioset --help — these gpiod tools do not take the options this bridge gives them: report it with `gpioset --version`",
    );
    expect(toolError('gpioset', '', null).message).toBe('gpioset: exited with code none (killed)');
    expect(toolError('gpioset', 'gpioset: error setting the GPIO line values: No such file or directory', 1, '/dev/gpiochip9').message).toBe(
      'gpioset: error setting the GPIO line values: No such file or directory — no GPIO chip /dev/gpiochip9 here: `gpiodetect` lists them',
    );
  });
});
