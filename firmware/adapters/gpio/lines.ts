/*
 * The thin port between the terminal's johnny-five IO plugin (gpio-io.ts) and whatever reaches
 * the GPIO lines: Debian's libgpiod tools (gpiod-tools.ts) on a Pi, the simulator's fake chip in
 * tests. Every line the terminal uses is claimed at once, when the terminal starts: the character
 * device hands a line to one requester at a time, so inputs and outputs are known up front.
 */

export type Level = 0 | 1;

/** What holds an input at rest: the Pi's internal pull-up or pull-down, or nothing (an external resistor). */
export type Bias = 'pull-up' | 'pull-down' | 'none';

export const BIASES: readonly Bias[] = ['pull-up', 'pull-down', 'none'];

/** The lines a terminal claims, by offset on the chip (on a Pi's header chip: the BCM GPIO number). */
export interface GpioWiring {
  /** Inputs (the buttons): biased, debounced, every edge reported. */
  inputs: readonly number[];
  /** Outputs (the LEDs, the buzzer): driven low from the start. */
  outputs: readonly number[];
  bias: Bias;
  /** Edges closer together than this are merged by the kernel where the backend can ask it to; 0: none. */
  debounceMs: number;
}

/** What the lines report once claimed. */
export interface GpioEvents {
  /** An input changed to `level`. */
  edge(offset: number, level: Level): void;
  /** The lines were lost (a helper process died, the chip went away): nothing more will be reported. */
  failed(error: Error): void;
}

export interface GpioLines {
  /**
   * Claims the wiring's lines; resolves with each input's level now. Rejects with an error a
   * technician can act on (no such chip, a line busy, no permission) and claims nothing then.
   */
  open(wiring: GpioWiring, events: GpioEvents): Promise<ReadonlyMap<number, Level>>;
  /** Drives an output (claimed by open) high or low. */
  write(offset: number, level: Level): void;
  /** Releases every line (no more events). Never rejects. */
  close(): Promise<void>;
}

/** The level a released button reads under a bias: a pull-up holds it high, a pull-down low; none: an external pull-up. */
export function restingLevel(bias: Bias): Level {
  return bias === 'pull-down' ? 0 : 1;
}
