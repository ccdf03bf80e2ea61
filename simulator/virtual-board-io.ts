import { EventEmitter } from 'node:events';

/** Pin modes, numbered as johnny-five and Firmata number them. */
export const MODES = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;
export type PinMode = (typeof MODES)[keyof typeof MODES];
export type Level = 0 | 1;

const HIGH: Level = 1;
const LOW: Level = 0;

/** GPIO 0..27, as on a Raspberry Pi header (BCM numbering). */
const PIN_COUNT = 28;
/** The Pi's hardware-PWM pins; johnny-five drives an Led on one of these with analogWrite. */
const PWM_PINS: readonly number[] = [12, 13, 18, 19];
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

/**
 * A johnny-five IO plugin for a board that exists only in memory: digital pins in and out, a few
 * PWM pins, pull-ups. The test drives inputs with setInput() and reads outputs with output().
 * Pins start as inputs, as on a real board after reset.
 */
export class VirtualBoardIO extends EventEmitter {
  readonly name = 'VirtualBoard';
  readonly MODES = MODES;
  readonly HIGH = HIGH;
  readonly LOW = LOW;
  /** The pin five.Led uses when given none. */
  readonly defaultLed = 13;
  readonly analogPins: number[] = [];
  readonly pins: PinInfo[] = Array.from({ length: PIN_COUNT }, (_, pin) => ({
    supportedModes: PWM_PINS.includes(pin) ? [MODES.INPUT, MODES.OUTPUT, MODES.PWM] : [MODES.INPUT, MODES.OUTPUT],
    mode: MODES.INPUT,
    value: LOW,
    report: 0,
    analogChannel: NO_ANALOG_CHANNEL,
  }));
  isReady = false;

  private readonly readers = new Map<number, Array<(value: number) => void>>();
  private readonly pullUps = new Set<number>();
  /** Inputs something outside drives (a closed switch); the others follow their pull-up. */
  private readonly driven = new Map<number, Level>();

  constructor() {
    super();
    // Like any IO plugin: johnny-five attaches its listeners right after construction.
    process.nextTick(() => {
      this.emit('connect');
      this.isReady = true;
      this.emit('ready');
    });
  }

  pinMode(pin: number, mode: number): void {
    const info = this.pin(pin);
    if (!(info.supportedModes as number[]).includes(mode)) {
      throw new Error(`${this.name}: pin ${pin} does not support mode ${mode}`);
    }
    info.mode = mode as PinMode;
    if (mode === MODES.INPUT) info.value = this.inputLevel(pin);
    else info.value = LOW; // an output starts low
  }

  /** On an output, sets its level; on an input, enables (HIGH) or disables the pull-up, as on an Arduino. */
  digitalWrite(pin: number, value: number): void {
    const info = this.pin(pin);
    if (info.mode !== MODES.INPUT) {
      info.value = value ? HIGH : LOW;
      return;
    }
    if (value) this.pullUps.add(pin);
    else this.pullUps.delete(pin);
    this.inputChanged(pin);
  }

  analogWrite(pin: number, value: number): void {
    const info = this.pin(pin);
    if (info.mode !== MODES.PWM) throw new Error(`${this.name}: pin ${pin} is not in PWM mode`);
    info.value = value;
  }

  pwmWrite(pin: number, value: number): void {
    this.analogWrite(pin, value);
  }

  /** Calls `callback` with the pin's level now (asynchronously, as Firmata reports it) and on every change. */
  digitalRead(pin: number, callback: (value: number) => void): void {
    const info = this.pin(pin);
    info.report = 1;
    this.readers.set(pin, [...(this.readers.get(pin) ?? []), callback]);
    process.nextTick(() => callback(info.value));
  }

  /** Test side: drives an input HIGH or LOW, or stops driving it (null: the pull-up, if any, decides). */
  setInput(pin: number, level: Level | null): void {
    if (this.pin(pin).mode !== MODES.INPUT) throw new Error(`${this.name}: pin ${pin} is not an input`);
    if (level === null) this.driven.delete(pin);
    else this.driven.set(pin, level);
    this.inputChanged(pin);
  }

  /** Test side: the last value written to an output pin (0/1, or 0-255 on a PWM pin). */
  output(pin: number): number {
    const info = this.pin(pin);
    if (info.mode === MODES.INPUT) throw new Error(`${this.name}: pin ${pin} is not an output`);
    return info.value;
  }

  private pin(pin: number): PinInfo {
    const info = this.pins[pin];
    if (!info) throw new Error(`${this.name}: no pin ${pin} (pins are 0..${PIN_COUNT - 1})`);
    return info;
  }

  /** A pin nothing drives and nothing pulls up floats; we read it as LOW. */
  private inputLevel(pin: number): Level {
    return this.driven.get(pin) ?? (this.pullUps.has(pin) ? HIGH : LOW);
  }

  private inputChanged(pin: number): void {
    const info = this.pin(pin);
    const level = this.inputLevel(pin);
    if (info.value === level) return;
    info.value = level;
    for (const reader of this.readers.get(pin) ?? []) reader(level);
  }
}
