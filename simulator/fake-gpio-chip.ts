import type { GpioEvents, GpioLines, GpioWiring, Level } from '../firmware/adapters/gpio/lines.js';
import { restingLevel } from '../firmware/adapters/gpio/lines.js';

/*
 * A Raspberry Pi's header GPIO chip in memory, behind the same port (GpioLines) as Debian's
 * libgpiod tools, so a test runs the Pi-GPIO terminal's whole path: bridge config, the gpio
 * terminal port, johnny-five, GpioIO, the port. A person presses and releases a button's line;
 * the LEDs and the buzzer are read back. Like the character device, it hands a line to one
 * requester at a time, and forgets its outputs when released (they go back to low).
 */

export interface FakeGpioChipOptions {
  /** The chip's name in errors, e.g. gpiochip0. */
  name?: string;
  /** How many lines it has (a Pi 4's header chip: 58). */
  lines?: number;
}

export class FakeGpioChip {
  readonly name: string;
  readonly lineCount: number;
  /** What the holder claimed, while it holds them. */
  private claim: { wiring: GpioWiring; events: GpioEvents; owner: object } | undefined;
  private readonly outputs = new Map<number, Level>();
  private readonly pressed = new Set<number>();
  /** open() attempts refused from now on, with this error (a chip that is gone, a line held elsewhere). */
  private refusal: Error | undefined;
  /** How many times the lines have been claimed (each boot of the terminal claims them once). */
  opens = 0;

  constructor(options: FakeGpioChipOptions = {}) {
    this.name = options.name ?? 'gpiochip0';
    this.lineCount = options.lines ?? 58;
  }

  /** The port a terminal claims its lines through; one at a time, as on a real chip. */
  lines(): GpioLines {
    const owner = {};
    const mine = (): boolean => this.claim?.owner === owner;
    return {
      open: (wiring, events) => {
        if (this.refusal) return Promise.reject(this.refusal);
        const bad = [...wiring.inputs, ...wiring.outputs].find((line) => line < 0 || line >= this.lineCount);
        if (bad !== undefined) return Promise.reject(new Error(`${this.name} has no line ${bad} (it has 0..${this.lineCount - 1})`));
        if (this.claim) return Promise.reject(new Error(`${this.name}: the lines are busy (Device or resource busy): another program holds them`));
        this.claim = { wiring, events, owner };
        this.opens += 1;
        for (const line of wiring.outputs) this.outputs.set(line, 0);
        return Promise.resolve(new Map(wiring.inputs.map((line) => [line, this.level(line)])));
      },
      write: (offset, level) => {
        if (!mine()) return; // released or lost: the write goes nowhere, as on a chip that is gone
        if (!this.claim?.wiring.outputs.includes(offset)) throw new Error(`${this.name}: line ${offset} is not one of the outputs claimed`);
        this.outputs.set(offset, level);
      },
      close: () => {
        if (mine()) this.releaseAll();
        return Promise.resolve();
      },
    };
  }

  /** Whether a requester holds the lines now. */
  get claimed(): boolean {
    return this.claim !== undefined;
  }

  /** A person presses the button on `line` (it connects the line to ground, or to 3.3 V under a pull-down). */
  press(line: number): void {
    this.pressed.add(line);
    this.changed(line);
  }

  release(line: number): void {
    this.pressed.delete(line);
    this.changed(line);
  }

  /** An output's level (an LED lit, the buzzer sounding); undefined while nobody drives it. */
  output(line: number): Level | undefined {
    return this.outputs.get(line);
  }

  /** The lines are lost under their holder (its helper process died, the chip went away); open() refuses with `error` until restore(). */
  fail(error: Error): void {
    this.refusal = error;
    const claim = this.claim;
    this.claim = undefined;
    this.outputs.clear();
    claim?.events.failed(error);
  }

  /** Lets open() claim the lines again after fail(). */
  restore(): void {
    this.refusal = undefined;
  }

  /** Every line given back: outputs are no longer driven. */
  private releaseAll(): void {
    this.claim = undefined;
    this.outputs.clear();
  }

  /** What an input reads: its bias at rest, the other level while its button is pressed. */
  private level(line: number): Level {
    const rest = restingLevel(this.claim?.wiring.bias ?? 'pull-up');
    return this.pressed.has(line) ? ((1 - rest) as Level) : rest;
  }

  private changed(line: number): void {
    if (this.claim?.wiring.inputs.includes(line)) this.claim.events.edge(line, this.level(line));
  }
}
