import { once } from 'node:events';
import type Firmata from 'firmata';
import five from 'johnny-five';
import type { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { firmwareOf, openFirmata } from '../../firmware/adapters/firmata.js';
import { FIRMATA_MODES, FirmataBoard } from '../../simulator/firmata-board.js';
import { waitUntil } from '../../simulator/wait.js';

/**
 * The emulated Arduino (StandardFirmata) against the real firmata.js and johnny-five, over the
 * serialport stack: what the board terminal relies on.
 */
let count = 0;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connect(): Promise<{ board: FirmataBoard; port: SerialPortStream; io: Firmata }> {
  count += 1;
  const board = await FirmataBoard.start({ name: `firmata-it-${process.pid}-${count}` });
  cleanups.push(() => board.unplug());
  const port = board.openHostPort(board.hostPath, 57600);
  const io = await openFirmata(port, board.hostPath, { readyTimeoutMs: 2000 });
  return { board, port, io };
}

async function johnnyFive(io: Firmata): Promise<five.Board> {
  const j5 = new five.Board({ io, repl: false, debug: false, sigint: false });
  await once(j5, 'ready');
  return j5;
}

describe('FirmataBoard (an emulated Arduino Uno with StandardFirmata)', () => {
  it('answers firmata.js handshake: version, firmware, the Uno pins and analog mapping', async () => {
    const { io } = await connect();
    expect(firmwareOf(io)).toEqual({ name: 'StandardFirmata.ino', version: '2.5', protocol: '2.5' });
    expect(io.pins).toHaveLength(20);
    expect(io.pins[0]?.supportedModes).toEqual([]); // D0/D1: the USB serial line
    expect(io.pins[9]?.supportedModes).toEqual(expect.arrayContaining([FIRMATA_MODES.INPUT, FIRMATA_MODES.OUTPUT, FIRMATA_MODES.PULLUP, FIRMATA_MODES.PWM]));
    expect(io.pins[8]?.supportedModes).not.toContain(FIRMATA_MODES.PWM);
    expect((io as unknown as { analogPins: number[] }).analogPins).toEqual([14, 15, 16, 17, 18, 19]);
  });

  it('drives LEDs through johnny-five: OUTPUT on a plain pin, PWM on a PWM pin', async () => {
    const { io, board } = await connect();
    const j5 = await johnnyFive(io);
    const plain = new five.Led({ pin: 8, board: j5 });
    const pwm = new five.Led({ pin: 9, board: j5 });
    await waitUntil(() => board.mode(8) === FIRMATA_MODES.OUTPUT && board.mode(9) === FIRMATA_MODES.PWM, 'the LED pin modes');
    plain.on();
    pwm.on();
    await waitUntil(() => board.output(8) === 1 && board.output(9) === 255, 'both LEDs on');
    plain.off();
    pwm.off();
    await waitUntil(() => board.output(8) === 0 && board.output(9) === 0, 'both LEDs off');
  });

  it('reports button edges on a pulled-up input, and a buzzer on the same port leaves the pull-up on', async () => {
    const { io, board } = await connect();
    const j5 = await johnnyFive(io);
    const button = new five.Button({ pin: 2, board: j5, pullup: true });
    const buzzer = new five.Pin({ pin: 7, board: j5 });
    const edges: string[] = [];
    button.on('down', () => edges.push('down'));
    button.on('up', () => edges.push('up'));
    await waitUntil(() => board.pullUp(2), 'the pull-up on D2');

    board.press(2);
    await waitUntil(() => edges.length === 1, 'the down edge');
    // D7 shares port 0 with D2: its DIGITAL_MESSAGE carries a 0 for the pressed input.
    buzzer.high();
    await waitUntil(() => board.output(7) === 1, 'the buzzer on');
    expect(board.pullUp(2)).toBe(true);
    board.release(2);
    await waitUntil(() => edges.length === 2, 'the up edge');
    expect(edges).toEqual(['down', 'up']);
    buzzer.low();
    await waitUntil(() => board.output(7) === 0, 'the buzzer off');
  });

  it('starts as StandardFirmata resets: digital pins LOW outputs, A0-A5 analog', async () => {
    const { board } = await connect();
    expect([board.mode(2), board.output(2), board.mode(13), board.mode(14), board.mode(19)]).toEqual([
      FIRMATA_MODES.OUTPUT,
      0,
      FIRMATA_MODES.OUTPUT,
      FIRMATA_MODES.ANALOG,
      FIRMATA_MODES.ANALOG,
    ]);
  });

  it('sets a single output with SET_DIGITAL_PIN_VALUE and ignores a mode the pin lacks', async () => {
    const { port, board } = await connect();
    port.write(Buffer.from([0xf4, 13, FIRMATA_MODES.INPUT, 0xf4, 13, FIRMATA_MODES.OUTPUT, 0xf5, 13, 1, 0xf4, 8, FIRMATA_MODES.PWM]));
    await waitUntil(() => board.mode(13) === FIRMATA_MODES.OUTPUT && board.output(13) === 1, 'D13 high');
    expect(board.mode(8)).toBe(FIRMATA_MODES.OUTPUT);
  });

  it('unplugged: the host port closes with a disconnect, cannot be opened, and works again once plugged', async () => {
    const { port, board } = await connect();
    const boots = board.boots;
    const closed = once(port, 'close');
    await board.unplug();
    const [reason] = (await closed) as [{ disconnected?: boolean } | null];
    expect(reason?.disconnected).toBe(true);

    const again = board.openHostPort(board.hostPath, 57600);
    const failed = await new Promise<Error | null>((resolve) => again.open(resolve));
    expect(failed?.message).toMatch(/No such file or directory/);

    await board.plug();
    const port2 = board.openHostPort(board.hostPath, 57600);
    const io = await openFirmata(port2, board.hostPath, { readyTimeoutMs: 2000 });
    expect(firmwareOf(io).name).toBe('StandardFirmata.ino');
    expect(board.boots).toBeGreaterThan(boots); // a new boot: reset by the host opening the port
  });
});
