import { describe, expect, it } from 'vitest';
import { Bridge } from '../../bridge/bridge.js';
import { parseConfig, type BridgeConfig, type BridgeConfigInput } from '../../bridge/config.js';
import { defaultDoctorDeps, runDoctor, type DoctorDeps } from '../../bridge/diagnose/doctor.js';
import { silentLogger } from '../../bridge/log.js';
import { gpiodLines, gpioTerminalOpener } from '../../bridge/terminal/gpio-terminal.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import type { GpioLines } from '../../firmware/adapters/gpio/lines.js';
import { FakeGpioChip } from '../../simulator/fake-gpio-chip.js';
import { waitUntil } from '../../simulator/wait.js';
import { useBrokerAndProvince } from '../support/broker-and-province.js';
import { buttonSettles, inProcessTerminal } from '../support/in-process-terminal.js';
import { technician } from '../support/technician.js';
import { FakeGpiodTools, scriptedTools } from '../../simulator/fake-gpiod-tools.js';

/*
 * The bridge running the terminal itself on the Raspberry Pi's own GPIO, as `hcp run` does with a
 * `board: { io: gpio }` config: the real bridge, johnny-five, GpioIO and the firmware core, on the
 * simulator's fake chip (behind the same port as Debian's gpiod tools), an embedded broker and
 * the province emulator. The reference wiring of docs/wiring.md, in BCM numbers.
 */

const PINS = { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 };

const env = useBrokerAndProvince('hcp-gpio-');
const { config: terminalConfig, helloFrom, api, leds, only, invite, inviteAndPress, recordOf, deliveredOnce } = inProcessTerminal(env, {
  pins: PINS,
  where: 'the GPIO',
  tag: 'GPIO',
  hands: (chip: FakeGpioChip) => ({ press: (line) => chip.press(line), release: (line) => chip.release(line), led: (line) => chip.output(line) === 1 }),
});
const gpioConfig = (over: Partial<BridgeConfigInput> = {}): BridgeConfigInput => terminalConfig({ io: 'gpio', pins: PINS }, over);

const noSerialPorts = (): never => {
  throw new Error('no serial port in this test');
};

async function startBridge(chip: FakeGpioChip, config: BridgeConfig = parseConfig(gpioConfig())): Promise<Bridge> {
  const opened: string[] = [];
  const bridge = await Bridge.start(config, {
    openPort: gpioTerminalOpener(config, {
      lines: (name) => {
        opened.push(name);
        return chip.lines();
      },
      openSerialPort: noSerialPorts,
      logger: silentLogger,
    }),
  });
  env.cleanups.push(() => bridge.stop());
  await helloFrom(bridge, chip);
  expect(opened).toEqual(['auto']);
  return bridge;
}

describe("a terminal on the Raspberry Pi's own GPIO, run by the bridge", () => {
  it('takes a rating from a button on the header to the province, once, and lights its LED', async () => {
    const chip = new FakeGpioChip();
    const bridge = await startBridge(chip);
    expect(bridge.status().link.terminal).toMatchObject({ fw: FIRMWARE_VERSION, serial: bridge.config.terminal.id });
    expect((await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S3001' })).status).toBe(200);

    const id = await inviteAndPress(bridge, chip, 4, 'C-1');

    const [record] = await deliveredOnce(bridge, [id]);
    expect(record).toMatchObject({ kind: 'invitation', outcome: 'rated', staffId: 'S3001', rating: { grade: 'very_dissatisfied' } });

    // Stopping the bridge stops the terminal and gives the lines back.
    await bridge.stop();
    env.cleanups.pop();
    expect(chip.claimed).toBe(false);
  });

  it('comes back when the lines are lost (a gpiod tool died): a new boot, and rates again', async () => {
    const chip = new FakeGpioChip();
    const bridge = await startBridge(chip);
    await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S3002' });
    const first = await inviteAndPress(bridge, chip, 0, 'C-2');
    await recordOf(bridge, first);
    const boot = bridge.status().link.terminal?.boot;

    chip.fail(new Error('gpiomon: error waiting for events: No such device'));
    await waitUntil(() => !bridge.status().link.portOpen, 'the bridge to see the terminal port close');
    chip.restore();
    await helloFrom(bridge, chip, boot);
    expect(chip.opens).toBeGreaterThanOrEqual(2);

    const second = await inviteAndPress(bridge, chip, 1, 'C-3');
    const [, record] = await deliveredOnce(bridge, [first, second]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });
  });

  it('reads buttons wired to 3.3 V under a pull-down the same way', async () => {
    const chip = new FakeGpioChip();
    const config = parseConfig(gpioConfig({ board: { io: 'gpio', pins: PINS, bias: 'pull-down' } }));
    const bridge = await startBridge(chip, config);
    await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S3003' });
    const id = await inviteAndPress(bridge, chip, 2, 'C-4');
    const record = await recordOf(bridge, id);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'basically_satisfied' } });
  });
});

describe('hcp selftest on the GPIO terminal', () => {
  it('passes every button, LED and buzzer step with a technician at the header', async () => {
    const chip = new FakeGpioChip();
    let buzzed = false;
    const config = parseConfig(gpioConfig());
    // The chip's lines, with the buzzer's every sounding remembered (a beep is shorter than a look).
    const lines = (): GpioLines => {
      const inner = chip.lines();
      return { ...inner, write: (offset, level) => ((buzzed ||= offset === PINS.buzzer && level === 1), inner.write(offset, level)) };
    };
    const bridge = await Bridge.start(config, { openPort: gpioTerminalOpener(config, { lines, openSerialPort: noSerialPorts, logger: silentLogger }) });
    env.cleanups.push(() => bridge.stop());
    await helloFrom(bridge, chip);
    // The terminal as a technician at the header finds it: the buzzer as heard since the last look at
    // the LEDs (the buzzer question is about what sounds after them).
    const atHeader = technician({
      terminal: {
        press: async (button) => {
          const line = PINS.buttons[button] as number;
          chip.press(line);
          await buttonSettles();
          chip.release(line);
          await buttonSettles();
        },
        leds: () => {
          buzzed = false;
          return leds(chip);
        },
        buzzing: () => buzzed,
      },
    });
    const report = await bridge.selftest(atHeader, undefined, { helloMs: 5000, pressMs: 5000, printMs: 1000, provinceMs: 10_000 });
    await atHeader.settle();
    expect(report.steps.map((step) => `${step.outcome} ${step.step}`)).toEqual([
      'pass terminal',
      ...[1, 2, 3, 4, 5].map((n) => `pass button-${n}`),
      ...[1, 2, 3, 4, 5].map((n) => `pass led-${n}`),
      'pass buzzer',
      'skip printer',
      'pass province',
    ]);
  });
});

describe("the same terminal through Bookworm's gpiod tools (scripted: gpiomon prints the edges, gpioset holds the LEDs)", () => {
  it('rates from an edge gpiomon reports, and lights the LED through a restarted gpioset', async () => {
    const tools = new FakeGpiodTools({ version: '1.6.3' });
    const config = parseConfig(gpioConfig());
    const bridge = await Bridge.start(config, { openPort: gpioTerminalOpener(config, { lines: gpiodLines(tools.spawn), openSerialPort: noSerialPorts, logger: silentLogger }) });
    env.cleanups.push(() => bridge.stop());
    await helloFrom(bridge);
    // The LEDs as the latest gpioset holds them: its argv.
    const lit = (): boolean[] => PINS.leds.map((line) => tools.latest('gpioset').args.includes(`${line}=1`));
    await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S3004' });
    const id = await invite(bridge, 'C-5');
    await waitUntil(() => lit().every(Boolean), 'every LED lit through gpioset');
    tools.latest('gpiomon').print(`${PINS.buttons[1]} 0`);
    await waitUntil(() => lit().join() === only(1).join(), 'only LED 1 lit');
    tools.latest('gpiomon').print(`${PINS.buttons[1]} 1`);
    const record = await recordOf(bridge, id);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });
    expect(tools.latest('gpiomon').args).toEqual(['--bias=pull-up', '--line-buffered', '--format=%o %e', 'gpiochip0', '5', '6', '16', '20', '21']);

    await bridge.stop();
    env.cleanups.pop();
    expect(tools.started.filter((tool) => !tool.exited)).toEqual([]);
  });
});

describe('hcp doctor with the terminal on the GPIO', () => {
  function doctorDeps(config: BridgeConfig, chip: FakeGpioChip, tools: DoctorDeps['gpioTools']): DoctorDeps {
    return { ...defaultDoctorDeps, loadConfig: () => config, gpioTools: tools, gpioLines: () => chip.lines(), ntpSynced: async () => true };
  }

  it('reports the chip, the tools, the free lines and the terminal core hello', async () => {
    const config = parseConfig(gpioConfig());
    const chip = new FakeGpioChip();
    const results = await runDoctor('gpio.yaml', 3000, doctorDeps(config, chip, scriptedTools({ version: '1.6.3' })));
    expect(results.find((r) => r.name === 'terminal port')).toMatchObject({
      level: 'ok',
      message: 'gpiochip0 [pinctrl-bcm2711] (58 lines), libgpiod tools v1.6.3: the 11 lines of the buttons, LEDs and buzzer are free',
    });
    const terminal = results.find((r) => r.name === 'terminal');
    expect(terminal).toMatchObject({ level: 'ok' });
    expect(terminal?.message).toBe(
      `answers on the Pi's GPIO (chip auto): serial ${config.terminal.id}, firmware ${FIRMWARE_VERSION}, protocol v1; not paired yet: the service pairs the terminal that answers at its first start`,
    );
    expect(chip.claimed).toBe(false);
  });

  it('names a line a kernel driver holds, and does not start the terminal on a chip that is not there', async () => {
    const config = parseConfig(gpioConfig());
    const held = await runDoctor('gpio.yaml', 3000, doctorDeps(config, new FakeGpioChip(), scriptedTools({ version: '2.2.1', interactive: true, consumers: { 17: 'w1-gpio' } })));
    expect(held.find((r) => r.name === 'terminal port')).toMatchObject({
      level: 'fail',
      message: 'gpiochip0 [pinctrl-bcm2711] (58 lines), libgpiod tools v2.2.1 (gpioset --interactive): LED 1 on GPIO 17 (header pin 11) is held by "w1-gpio"',
    });

    const none = await runDoctor('gpio.yaml', 3000, doctorDeps(config, new FakeGpioChip(), scriptedTools({ version: '1.6.3', chips: [] })));
    expect(none.find((r) => r.name === 'terminal port')).toMatchObject({ level: 'fail', message: 'no GPIO chip here (libgpiod tools v1.6.3): /dev/gpiochip* is missing or unreadable' });
    expect(none.find((r) => r.name === 'terminal')).toMatchObject({ level: 'fail', message: 'not asked: its port is missing' });
  });
});
