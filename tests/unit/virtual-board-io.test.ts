import { once } from 'node:events';
import five from 'johnny-five';
import { describe, expect, it } from 'vitest';
import { MODES, VirtualBoardIO } from '../../simulator/virtual-board-io.js';
import { waitUntil } from '../../simulator/wait.js';

describe('VirtualBoardIO', () => {
  it('announces itself asynchronously: connect, then ready', async () => {
    const io = new VirtualBoardIO();
    const events: string[] = [];
    io.on('connect', () => events.push(`connect ready=${io.isReady}`));
    io.on('ready', () => events.push(`ready ready=${io.isReady}`));
    expect(events).toEqual([]);
    await once(io, 'ready');
    expect(events).toEqual(['connect ready=false', 'ready ready=true']);
  });

  it('describes its pins as johnny-five expects', () => {
    const io = new VirtualBoardIO();
    expect(io.pins).toHaveLength(28);
    expect(io.pins[5]).toEqual({ supportedModes: [MODES.INPUT, MODES.OUTPUT], mode: MODES.INPUT, value: 0, report: 0, analogChannel: 127 });
    expect(io.pins[18]?.supportedModes).toContain(MODES.PWM);
    expect(io.analogPins).toEqual([]);
  });

  it('writes outputs and rejects what the pin cannot do', () => {
    const io = new VirtualBoardIO();
    io.pinMode(4, MODES.OUTPUT);
    io.digitalWrite(4, 1);
    expect(io.output(4)).toBe(1);
    io.pinMode(12, MODES.PWM);
    io.analogWrite(12, 128);
    expect(io.output(12)).toBe(128);
    expect(() => io.pinMode(4, MODES.PWM)).toThrow(/does not support mode 3/);
    expect(() => io.analogWrite(4, 10)).toThrow(/not in PWM mode/);
    expect(() => io.output(7)).toThrow(/not an output/);
    expect(() => io.setInput(4, 1)).toThrow(/not an input/);
    expect(() => io.digitalWrite(40, 1)).toThrow(/no pin 40/);
  });

  it('reports an input once, then on every change; an undriven input follows its pull-up', async () => {
    const io = new VirtualBoardIO();
    const seen: number[] = [];
    io.pinMode(6, MODES.INPUT);
    io.digitalWrite(6, io.HIGH); // pull-up on
    io.digitalRead(6, (value) => seen.push(value));
    expect(io.pins[6]?.report).toBe(1);
    await waitUntil(() => seen.length === 1, 'the first report');
    io.setInput(6, 0);
    io.setInput(6, 0); // no change, no report
    io.setInput(6, null);
    io.digitalWrite(6, io.LOW); // pull-up off: the pin floats low
    expect(seen).toEqual([1, 0, 1, 0]);
  });

  it('runs johnny-five components', async () => {
    const io = new VirtualBoardIO();
    const board = new five.Board({ io, repl: false, debug: false, sigint: false });
    await once(board, 'ready');
    const digitalLed = new five.Led({ pin: 17, board });
    const pwmLed = new five.Led({ pin: 13, board });
    digitalLed.on();
    pwmLed.on();
    expect([io.output(17), io.output(13)]).toEqual([1, 255]);
    pwmLed.off();
    expect(io.output(13)).toBe(0);

    const button = new five.Button({ pin: 5, board, pullup: true });
    const edges: string[] = [];
    button.on('down', () => edges.push('down'));
    button.on('up', () => edges.push('up'));
    expect(io.pins[5]?.value).toBe(1); // Button enabled the pull-up
    io.setInput(5, 0);
    await waitUntil(() => edges.length === 1, 'down');
    io.setInput(5, null);
    await waitUntil(() => edges.length === 2, 'up');
    expect(edges).toEqual(['down', 'up']);
  });
});
