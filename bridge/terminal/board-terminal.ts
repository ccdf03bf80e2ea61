import { realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { checkPins, firmwareOf, openFirmata, type ArduinoPort, type FirmataOptions, type FirmwareInfo } from '../../firmware/adapters/firmata.js';
import type { BridgeConfig, FirmataBoardConfig } from '../config.js';
import { withTimeout } from '../diagnose/check.js';
import type { Logger } from '../log.js';
import type { OpenSerialPort, SerialPortLike } from '../transport/transport.js';
import { InProcessTerminalPort, inProcessSettings, type AttachedBoard, type InProcessSettings } from './in-process-terminal.js';

/*
 * A terminal whose buttons, LEDs and buzzer hang on an Arduino running StandardFirmata, while its
 * firmware core runs here, in the bridge process (in-process-terminal.ts): opening the port opens
 * the Arduino and waits for Firmata. When the Arduino's USB cable is pulled, the port closes and
 * the bridge's ReconnectingPort reopens it (a new boot) once the cable is back.
 */

/** The Arduino's serial port as serialport 13 makes it: `new SerialPort({ path, baudRate, autoOpen: false })`. */
export interface ArduinoSerialPort extends ArduinoPort {
  close(callback?: (err: Error | null) => void): void;
  /** Calls back once every write has left for the device. */
  drain(callback?: (err: Error | null) => void): void;
}

export interface BoardTerminalDeps {
  /** Makes a serial port, not yet open: the Arduino's, and (through boardTerminalOpener) any other, e.g. the printer's. */
  openSerialPort: (path: string, baudRate: number) => ArduinoSerialPort & SerialPortLike;
  logger: Logger;
  firmata?: FirmataOptions;
  /** The USB serial number of the device at a path (default: serialport's list), undefined if it has none. */
  usbSerialNumber?: (path: string) => Promise<string | undefined>;
}

/** The real thing, for openSerialPort: a system serial port (the Arduino's is /dev/ttyACM0 or /dev/ttyUSB0). */
export const openSystemSerialPort: BoardTerminalDeps['openSerialPort'] = (path, baudRate) =>
  new SerialPort({ path, baudRate, autoOpen: false }) as SerialPort & SerialPortLike;

/** The USB serial number of the port at `path` (a /dev/serial/by-id link is followed), from the system's list. */
export async function systemUsbSerialNumber(path: string): Promise<string | undefined> {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  // A system that cannot list its ports (no udev, e.g. in a container), or not in time (a hung
  // udev query, as hcp doctor allows for), names no number either.
  const ports = await withTimeout(Promise.resolve().then(() => SerialPort.list()), 3000, 'listing serial ports timed out').catch(() => []);
  return ports.find((port) => real(port.path) === real(path))?.serialNumber;
}

/** The Arduino board section, and what it leaves to defaults elsewhere in the config. */
interface BoardSettings extends InProcessSettings {
  board: FirmataBoardConfig;
}

function boardSettings(config: BridgeConfig): BoardSettings {
  const { board } = config;
  if (board?.io !== 'firmata') throw new Error('this config has no Arduino (board.io firmata) section');
  return { board, ...inProcessSettings(config) };
}

/**
 * The bridge's port opener for a config with an Arduino board: the board's path opens the
 * terminal run here; any other path (the printer's) opens as a plain serial port.
 */
export function boardTerminalOpener(config: BridgeConfig, deps: BoardTerminalDeps): OpenSerialPort {
  const settings = boardSettings(config);
  return (path, baudRate) => (path === settings.board.path ? new BoardTerminalPort(settings, deps) : deps.openSerialPort(path, baudRate));
}

/** The terminal on the config's Arduino, as a port that is not yet open (for `hcp doctor`). */
export function boardTerminalPort(config: BridgeConfig, deps: BoardTerminalDeps): BoardTerminalPort {
  return new BoardTerminalPort(boardSettings(config), deps);
}

/** One boot of the terminal on the Arduino, shaped like a serial port to it. */
export class BoardTerminalPort extends InProcessTerminalPort {
  private arduino: ArduinoSerialPort | undefined;
  private board: FirmwareInfo | undefined;

  constructor(
    protected override readonly settings: BoardSettings,
    private readonly deps: BoardTerminalDeps,
  ) {
    super(settings, deps.logger);
  }

  /** The sketch on the Arduino, known once open. */
  get firmware(): FirmwareInfo | undefined {
    return this.board;
  }

  protected detach(): Promise<void> {
    const arduino = this.arduino;
    this.arduino = undefined;
    if (!arduino?.isOpen) return Promise.resolve();
    return new Promise((resolve) => arduino.drain(() => (arduino.isOpen ? arduino.close(() => resolve()) : resolve())));
  }

  protected async attach(): Promise<AttachedBoard> {
    const { board, fallbackSerial } = this.settings;
    const { logger } = this.deps;
    const arduino = this.deps.openSerialPort(board.path, board.baudRate);
    this.arduino = arduino;
    arduino.on('error', (err) => {
      if (this.isOpen) logger.warn({ err: err.message, port: board.path }, 'Arduino serial error');
    });
    // The Arduino's port closed under us (cable pulled): this boot of the terminal is over.
    arduino.on('close', () => {
      if (this.isOpen) logger.warn({ port: board.path }, 'the Arduino went away; the terminal stopped');
      this.hardwareLost();
    });
    try {
      // The device this terminal is: the Arduino's USB serial number (Firmata reports none), so
      // that another Arduino on the cable is a different device (terminal_replaced). A board
      // without one (some CH340 clones) is named by the terminal id: a swap then goes unseen.
      const usb = await (this.deps.usbSerialNumber ?? systemUsbSerialNumber)(board.path);
      const io = await openFirmata(arduino, board.path, this.deps.firmata);
      checkPins(io, board.pins);
      this.board = firmwareOf(io);
      return {
        io,
        pins: board.pins,
        buttonPullup: board.buttonPullup,
        serial: usb ? `usb-${usb}` : fallbackSerial,
        described: { port: board.path, firmware: this.board, on: 'the Arduino' },
      };
    } catch (err) {
      this.arduino = undefined;
      if (arduino.isOpen) await new Promise<void>((resolve) => arduino.close(() => resolve()));
      throw err;
    }
  }
}
