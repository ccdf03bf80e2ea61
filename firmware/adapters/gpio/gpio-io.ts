import { DigitalIOPlugin, digitalPin, MODES, type PinInfo } from '../digital-io-plugin.js';
import { HEADER_GPIO_COUNT, headerName } from './header.js';
import type { GpioEvents, GpioLines, GpioWiring, Level } from './lines.js';

/*
 * A johnny-five IO plugin on the Raspberry Pi's own GPIO lines, through the GpioLines port: what
 * five.Button, five.Led and five.Pin use (pins, MODES, pinMode, digitalRead, digitalWrite,
 * connect/ready). The lines are claimed before the plugin exists (GpioIO.open), so a missing
 * chip or a busy line is an error of opening, never a board that hangs on 'ready'. Each line can
 * do what the config wired it for and nothing else: a button's line is an input, an LED's or the
 * buzzer's an output. No PWM: an Led is simply on or off.
 */

export interface GpioIOOptions {
  lines: GpioLines;
  wiring: GpioWiring;
  /** The lines were lost after opening (a helper died, the chip went away): the terminal must stop. */
  onFailure(error: Error): void;
}

export class GpioIO extends DigitalIOPlugin {
  readonly name = 'RaspberryPiGPIO';
  readonly defaultLed: number;

  private constructor(
    private readonly lines: GpioLines,
    private readonly wiring: GpioWiring,
    levels: ReadonlyMap<number, Level>,
  ) {
    super(
      Array.from({ length: HEADER_GPIO_COUNT }, (_, line): PinInfo => {
        if (wiring.inputs.includes(line)) return { ...digitalPin([MODES.INPUT], MODES.INPUT), value: levels.get(line) ?? 0 };
        if (wiring.outputs.includes(line)) return digitalPin([MODES.OUTPUT], MODES.OUTPUT);
        return digitalPin([]);
      }),
    );
    this.defaultLed = wiring.outputs[0] ?? 0;
  }

  /** Claims the wiring's lines and makes the plugin on them; rejects as GpioLines.open does. */
  static async open(options: GpioIOOptions): Promise<GpioIO> {
    // Events may come before the plugin exists: a failure then is said once the caller has it.
    const made: { io?: GpioIO; failure?: Error } = {};
    const events: GpioEvents = {
      edge: (offset, level) => made.io?.inputChanged(offset, level),
      failed: (error) => {
        if (made.io) options.onFailure(error);
        else made.failure ??= error;
      },
    };
    const levels = await options.lines.open(options.wiring, events);
    const io = (made.io = new GpioIO(options.lines, options.wiring, levels));
    const { failure } = made;
    if (failure) process.nextTick(() => options.onFailure(failure));
    return io;
  }

  /** Drives an output; on an input it does nothing (its bias is the config's, set when claimed: johnny-five's pull-up write is not needed). */
  digitalWrite(pin: number, value: number): void {
    const info = this.pin(pin);
    if (info.mode !== MODES.OUTPUT) return;
    const level: Level = value ? 1 : 0;
    info.value = level;
    this.lines.write(pin, level);
  }

  /** Releases the lines. */
  close(): Promise<void> {
    return this.lines.close();
  }

  protected override unsupported(pin: number, mode: number): string {
    const role = this.wiring.inputs.includes(pin) ? 'a button (an input)' : this.wiring.outputs.includes(pin) ? 'an LED or the buzzer (an output)' : 'nothing';
    const wanted = mode === MODES.INPUT ? 'an input' : mode === MODES.OUTPUT ? 'an output' : `mode ${mode}`;
    return `${headerName(pin)} is wired for ${role} in the config; it cannot be used as ${wanted}`;
  }

  protected override pin(pin: number): PinInfo {
    const info = this.pins[pin];
    if (!info) throw new Error(`${this.name}: no GPIO ${pin} on the header (BCM 0..${HEADER_GPIO_COUNT - 1})`);
    return info;
  }
}
