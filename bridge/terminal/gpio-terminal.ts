import { GpioIO } from '../../firmware/adapters/gpio/gpio-io.js';
import { GpiodToolsLines, spawnTool, type SpawnTool } from '../../firmware/adapters/gpio/gpiod-tools.js';
import type { GpioLines, GpioWiring } from '../../firmware/adapters/gpio/lines.js';
import { terminalPort, type BridgeConfig, type GpioBoardConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { OpenSerialPort } from '../transport/transport.js';
import { InProcessTerminalPort, inProcessSettings, type AttachedBoard, type InProcessSettings } from './in-process-terminal.js';

/*
 * A terminal whose buttons, LEDs and buzzer are wired straight to the Raspberry Pi's header, its
 * firmware core run here (in-process-terminal.ts) on the GPIO lines: opening the port claims the
 * lines (through Debian's libgpiod tools on a Pi; through the simulator's fake chip in tests).
 * When the lines are lost (a tool died, the chip went away), the port closes and the bridge's
 * ReconnectingPort reopens it: a new boot.
 */

export interface GpioTerminalDeps {
  /** The lines on the config's chip ('auto', a label, a name or a path). Default: Debian's gpiod tools. */
  lines?: (chip: string) => GpioLines;
  /** Any other port (the printer's). */
  openSerialPort: OpenSerialPort;
  logger: Logger;
}

/** The gpiod tools on `chip`, run by `spawn`: the lines on a real Pi. */
export function gpiodLines(spawn: SpawnTool = spawnTool): (chip: string) => GpioLines {
  return (chip) => new GpiodToolsLines({ chip, spawn });
}

interface GpioSettings extends InProcessSettings {
  board: GpioBoardConfig;
  /** The name the link opens the terminal by (config.ts terminalPort). */
  path: string;
}

function gpioSettings(config: BridgeConfig): GpioSettings {
  const { board } = config;
  if (board?.io !== 'gpio') throw new Error('this config has no Pi GPIO (board.io gpio) section');
  return { board, path: terminalPort(config).path, ...inProcessSettings(config) };
}

/** The wiring the lines are claimed with: buttons in, LEDs and buzzer out. */
export function gpioWiring(board: GpioBoardConfig): GpioWiring {
  const { pins } = board;
  return { inputs: pins.buttons, outputs: [...pins.leds, ...(pins.buzzer === undefined ? [] : [pins.buzzer])], bias: board.bias, debounceMs: board.debounceMs };
}

/** The bridge's port opener for a config with the Pi's GPIO: the terminal's name opens the terminal run here; any other path (the printer's) a serial port. */
export function gpioTerminalOpener(config: BridgeConfig, deps: GpioTerminalDeps): OpenSerialPort {
  const settings = gpioSettings(config);
  return (path, baudRate) => (path === settings.path ? new GpioTerminalPort(settings, deps) : deps.openSerialPort(path, baudRate));
}

/** The terminal on the config's GPIO lines, as a port that is not yet open (for `hcp doctor`). */
export function gpioTerminalPort(config: BridgeConfig, deps: GpioTerminalDeps): GpioTerminalPort {
  return new GpioTerminalPort(gpioSettings(config), deps);
}

/** One boot of the terminal on the Pi's GPIO, shaped like a serial port to it. */
export class GpioTerminalPort extends InProcessTerminalPort {
  private io: GpioIO | undefined;

  constructor(
    protected override readonly settings: GpioSettings,
    private readonly deps: GpioTerminalDeps,
  ) {
    super(settings, deps.logger);
  }

  protected async attach(): Promise<AttachedBoard> {
    const { board, fallbackSerial } = this.settings;
    const lines = (this.deps.lines ?? gpiodLines())(board.chip);
    this.io = await GpioIO.open({
      lines,
      wiring: gpioWiring(board),
      onFailure: (err) => {
        this.deps.logger.warn({ err: err.message, chip: board.chip }, 'the GPIO lines were lost; the terminal stopped');
        this.hardwareLost();
      },
    });
    return {
      io: this.io,
      pins: board.pins,
      // Buttons to ground (a pull-up, internal or external) read LOW when pressed; to 3.3 V (pull-down) HIGH.
      buttonPullup: board.bias !== 'pull-down',
      // The Pi is the terminal's device; it names none of its own.
      serial: fallbackSerial,
      described: { port: this.settings.path, chip: board.chip, on: "the Pi's GPIO" },
    };
  }

  protected detach(): Promise<void> {
    const io = this.io;
    this.io = undefined;
    return io ? io.close() : Promise.resolve();
  }
}
