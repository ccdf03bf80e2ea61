import { EventEmitter } from 'node:events';

/** Pin modes, numbered as johnny-five and Firmata number them. */
export const MODES = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;
export type PinMode = (typeof MODES)[keyof typeof MODES];
export type Level = 0 | 1;

const HIGH: Level = 1;
const LOW: Level = 0;
/** Firmata's "no analog channel" marker. */
const NO_ANALOG_CHANNEL = 127;

/** One entry of `pins`, in the shape johnny-five's Board.Pins copies from an IO plugin. */
export interface PinInfo {
  supportedModes: PinMode[];
  mode: PinMode;
  /** Level of an input, or the last value written to an output. */
  value: number;
  /** 1 once someone listens with digitalRead. */
  report: 0 | 1;
  analogChannel: number;
}

/** A digital pin that can take `supportedModes`, starting in `mode` at LOW. */
export function digitalPin(supportedModes: PinMode[], mode: PinMode = MODES.INPUT): PinInfo {
  return { supportedModes, mode, value: LOW, report: 0, analogChannel: NO_ANALOG_CHANNEL };
}

/**
 * What every johnny-five IO plugin of ours shares (the simulator's virtual board, the Pi's GPIO
 * lines): the pins table, modes, digitalRead listeners, and the connect/ready announcement on
 * the next tick, after johnny-five has attached its listeners. Subclasses say how a pin is
 * written and report input changes through inputChanged().
 */
export abstract class DigitalIOPlugin extends EventEmitter {
  abstract readonly name: string;
  readonly MODES = MODES;
  readonly HIGH = HIGH;
  readonly LOW = LOW;
  readonly analogPins: number[] = [];
  isReady = false;

  private readonly readers = new Map<number, Array<(value: number) => void>>();

  constructor(readonly pins: PinInfo[]) {
    super();
    process.nextTick(() => {
      this.emit('connect');
      this.isReady = true;
      this.emit('ready');
    });
  }

  abstract digitalWrite(pin: number, value: number): void;

  pinMode(pin: number, mode: number): void {
    const info = this.pin(pin);
    if (!(info.supportedModes as number[]).includes(mode)) throw new Error(this.unsupported(pin, mode));
    info.mode = mode as PinMode;
    this.modeSet(pin, info);
  }

  /** Calls `callback` with the pin's level now (asynchronously, as Firmata reports it) and on every change. */
  digitalRead(pin: number, callback: (value: number) => void): void {
    const info = this.pin(pin);
    info.report = 1;
    this.readers.set(pin, [...(this.readers.get(pin) ?? []), callback]);
    process.nextTick(() => callback(info.value));
  }

  /** After pinMode has set a supported mode. */
  protected modeSet(_pin: number, _info: PinInfo): void {}

  /** Why pinMode refuses `mode` on `pin`. */
  protected unsupported(pin: number, mode: number): string {
    return `${this.name}: pin ${pin} does not support mode ${mode}`;
  }

  protected pin(pin: number): PinInfo {
    const info = this.pins[pin];
    if (!info) throw new Error(`${this.name}: no pin ${pin} (pins are 0..${this.pins.length - 1})`);
    return info;
  }

  /** An input now reads `level`: the listeners hear of it if it changed. */
  protected inputChanged(pin: number, level: Level): void {
    const info = this.pin(pin);
    if (info.value === level) return;
    info.value = level;
    for (const reader of this.readers.get(pin) ?? []) reader(level);
  }
}
