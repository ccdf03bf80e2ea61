import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GpioIO } from '../../firmware/adapters/gpio/gpio-io.js';
import type { GpioWiring } from '../../firmware/adapters/gpio/lines.js';
import { startJohnnyFiveTerminal } from '../../firmware/adapters/johnny-five.js';
import { MODES } from '../../firmware/adapters/digital-io-plugin.js';
import { FakeGpioChip } from '../../simulator/fake-gpio-chip.js';
import { waitUntil } from '../../simulator/wait.js';
import { ManualTimers } from '../support/manual-timers.js';

const PINS = { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 };
const WIRING: GpioWiring = { inputs: PINS.buttons, outputs: [...PINS.leds, PINS.buzzer], bias: 'pull-up', debounceMs: 10 };

async function openOn(chip: FakeGpioChip, wiring: GpioWiring = WIRING): Promise<{ io: GpioIO; failures: Error[] }> {
  const failures: Error[] = [];
  const io = await GpioIO.open({ lines: chip.lines(), wiring, onFailure: (err) => failures.push(err) });
  return { io, failures };
}

describe('GpioIO: a johnny-five IO plugin on the GpioLines port', () => {
  it('claims the lines before it exists, then says connect and ready', async () => {
    const chip = new FakeGpioChip();
    const { io } = await openOn(chip);
    expect(chip.claimed).toBe(true);
    expect(io.isReady).toBe(false);
    await once(io, 'ready');
    expect(io.isReady).toBe(true);
    // Each line can do what the config wired it for, and a line not wired nothing.
    expect(io.pins).toHaveLength(28);
    expect(io.pins[5]).toMatchObject({ supportedModes: [MODES.INPUT], mode: MODES.INPUT, value: 1 });
    expect(io.pins[17]).toMatchObject({ supportedModes: [MODES.OUTPUT], mode: MODES.OUTPUT, value: 0 });
    expect(io.pins[2]?.supportedModes).toEqual([]);
  });

  it('reads inputs as they change and drives outputs on the chip; a pull-up write to an input changes nothing', async () => {
    const chip = new FakeGpioChip();
    const { io } = await openOn(chip);
    const seen: number[] = [];
    io.digitalRead(5, (value) => seen.push(value));
    io.digitalWrite(5, 1);
    await waitUntil(() => seen.length === 1, 'the first reading');
    chip.press(5);
    chip.release(5);
    expect(seen).toEqual([1, 0, 1]);
    io.digitalWrite(17, 1);
    expect(chip.output(17)).toBe(1);
    io.digitalWrite(17, 0);
    expect(chip.output(17)).toBe(0);
  });

  it('refuses a mode the wiring does not give a line, naming its header pin', async () => {
    const { io } = await openOn(new FakeGpioChip());
    expect(() => io.pinMode(17, MODES.INPUT)).toThrow('GPIO 17 (header pin 11) is wired for an LED or the buzzer (an output) in the config; it cannot be used as an input');
    expect(() => io.pinMode(3, MODES.OUTPUT)).toThrow('GPIO 3 (header pin 5) is wired for nothing in the config; it cannot be used as an output');
    expect(() => io.pinMode(40, MODES.OUTPUT)).toThrow('RaspberryPiGPIO: no GPIO 40 on the header (BCM 0..27)');
  });

  it('is not made when the lines cannot be claimed, and says so', async () => {
    const chip = new FakeGpioChip();
    await openOn(chip);
    await expect(openOn(chip)).rejects.toThrow('gpiochip0: the lines are busy (Device or resource busy): another program holds them');
  });

  it('reports lines lost after opening once, and gives them back when closed', async () => {
    const chip = new FakeGpioChip();
    const { io, failures } = await openOn(chip);
    chip.fail(new Error('gpiomon: No such device'));
    expect(failures.map((e) => e.message)).toEqual(['gpiomon: No such device']);
    chip.restore();
    const again = await openOn(chip);
    await io.close(); // the first holder's close does not release the new holder's lines
    expect(chip.claimed).toBe(true);
    await again.io.close();
    expect(chip.claimed).toBe(false);
  });

  it('runs the terminal core: a press on a button line is an edge of its button, the LEDs and buzzer follow the core', async () => {
    const chip = new FakeGpioChip();
    const { io } = await openOn(chip);
    const timers = new ManualTimers();
    const edges: string[] = [];
    const terminal = await startJohnnyFiveTerminal({
      io,
      pins: PINS,
      buttonPullup: true,
      transport: { write: () => undefined, onData: () => undefined },
      core: { serial: 'T-GPIO', bootId: '0123456789abcdef' },
      timers,
      onEdge: (button, down) => edges.push(`${button}${down ? 'v' : '^'}`),
    });
    chip.press(20);
    await waitUntil(() => edges.includes('3v'), 'button 4 down');
    chip.release(20);
    await waitUntil(() => edges.includes('3^'), 'button 4 up');
    terminal.stop();
    expect(PINS.leds.map((line) => chip.output(line))).toEqual([0, 0, 0, 0, 0]);
    expect(chip.output(18)).toBe(0);
  });
});
