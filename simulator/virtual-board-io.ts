import { DigitalIOPlugin, digitalPin, MODES, type Level, type PinInfo } from '../firmware/adapters/digital-io-plugin.js';

export { MODES, type Level, type PinInfo, type PinMode } from '../firmware/adapters/digital-io-plugin.js';

const HIGH: Level = 1;
const LOW: Level = 0;

/** GPIO 0..27, as on a Raspberry Pi header (BCM numbering). */
const PIN_COUNT = 28;
/** The Pi's hardware-PWM pins; johnny-five drives an Led on one of these with analogWrite. */
const PWM_PINS: readonly number[] = [12, 13, 18, 19];

/**
 * A johnny-five IO plugin for a board that exists only in memory: digital pins in and out, a few
 * PWM pins, pull-ups. The test drives inputs with setInput() and reads outputs with output().
 * Pins start as inputs, as on a real board after reset.
 */
export class VirtualBoardIO extends DigitalIOPlugin {
  readonly name = 'VirtualBoard';
  /** The pin five.Led uses when given none. */
  readonly defaultLed = 13;

  private readonly pullUps = new Set<number>();
  /** Inputs something outside drives (a closed switch); the others follow their pull-up. */
  private readonly driven = new Map<number, Level>();

  constructor() {
    super(Array.from({ length: PIN_COUNT }, (_, pin) => digitalPin(PWM_PINS.includes(pin) ? [MODES.INPUT, MODES.OUTPUT, MODES.PWM] : [MODES.INPUT, MODES.OUTPUT])));
  }

  protected override modeSet(pin: number, info: PinInfo): void {
    if (info.mode === MODES.INPUT) info.value = this.inputLevel(pin);
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
    this.inputChanged(pin, this.inputLevel(pin));
  }

  analogWrite(pin: number, value: number): void {
    const info = this.pin(pin);
    if (info.mode !== MODES.PWM) throw new Error(`${this.name}: pin ${pin} is not in PWM mode`);
    info.value = value;
  }

  pwmWrite(pin: number, value: number): void {
    this.analogWrite(pin, value);
  }

  /** Test side: drives an input HIGH or LOW, or stops driving it (null: the pull-up, if any, decides). */
  setInput(pin: number, level: Level | null): void {
    if (this.pin(pin).mode !== MODES.INPUT) throw new Error(`${this.name}: pin ${pin} is not an input`);
    if (level === null) this.driven.delete(pin);
    else this.driven.set(pin, level);
    this.inputChanged(pin, this.inputLevel(pin));
  }

  /** Test side: the last value written to an output pin (0/1, or 0-255 on a PWM pin). */
  output(pin: number): number {
    const info = this.pin(pin);
    if (info.mode === MODES.INPUT) throw new Error(`${this.name}: pin ${pin} is not an output`);
    return info.value;
  }

  /** A pin nothing drives and nothing pulls up floats; we read it as LOW. */
  private inputLevel(pin: number): Level {
    return this.driven.get(pin) ?? (this.pullUps.has(pin) ? HIGH : LOW);
  }
}
