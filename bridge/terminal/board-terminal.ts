import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SerialPort } from 'serialport';
import { FileJournal } from '../../firmware/adapters/file-journal.js';
import { checkPins, firmwareOf, openFirmata, type ArduinoPort, type FirmataOptions, type FirmwareInfo } from '../../firmware/adapters/firmata.js';
import { startJohnnyFiveTerminal, type JohnnyFiveTerminal } from '../../firmware/adapters/johnny-five.js';
import type { BoardConfig, BridgeConfig } from '../config.js';
import { withTimeout } from '../diagnose/check.js';
import type { Logger } from '../log.js';
import { DeviceStream } from '../transport/device-stream.js';
import type { OpenSerialPort, SerialPortLike } from '../transport/transport.js';
import { pairingFile, readPairing } from './pairing.js';

/*
 * A terminal whose buttons, LEDs and buzzer hang on an Arduino running StandardFirmata, while its
 * firmware core runs here, in the bridge process. To the bridge it is one more serial port: opening
 * it opens the Arduino, waits for Firmata, and boots the terminal core on it (a new boot each time:
 * the journal replays what was never acknowledged); the frames cross an in-memory line exactly as
 * they would cross a cable. When the Arduino's USB cable is pulled, the port closes and the
 * bridge's ReconnectingPort reopens it (a new boot) once the cable is back.
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

/** The board section, and what it leaves to defaults elsewhere in the config. */
interface BoardSettings {
  board: BoardConfig;
  journalPath: string;
  /** Where the bridge keeps the pairing key: the terminal run here uses the same key. */
  pairingPath: string;
  /** The serial the terminal reports when its Arduino has no USB serial number. */
  fallbackSerial: string;
}

function boardSettings(config: BridgeConfig): BoardSettings {
  const { board } = config;
  if (!board) throw new Error('this config has no board section');
  return {
    board,
    journalPath: board.journalPath ?? join(dirname(config.database.path), 'terminal-journal.json'),
    pairingPath: pairingFile(config),
    fallbackSerial: config.terminal.id,
  };
}

/**
 * The bridge's port opener for a config with a board: the board's path opens the terminal run
 * here; any other path (the printer's) opens as a plain serial port.
 */
export function boardTerminalOpener(config: BridgeConfig, deps: BoardTerminalDeps): OpenSerialPort {
  const settings = boardSettings(config);
  return (path, baudRate) => (path === settings.board.path ? new BoardTerminalPort(settings, deps) : deps.openSerialPort(path, baudRate));
}

/** The terminal on the config's board, as a port that is not yet open (for `hcp doctor`). */
export function boardTerminalPort(config: BridgeConfig, deps: BoardTerminalDeps): BoardTerminalPort {
  return new BoardTerminalPort(boardSettings(config), deps);
}

/** One boot of the board terminal, shaped like a serial port to it. */
export class BoardTerminalPort extends DeviceStream {
  private arduino: ArduinoSerialPort | undefined;
  private terminal: JohnnyFiveTerminal | undefined;
  private dataHandler: (chunk: string) => void = () => undefined;
  private board: FirmwareInfo | undefined;

  constructor(
    private readonly settings: BoardSettings,
    private readonly deps: BoardTerminalDeps,
  ) {
    super();
  }

  /** The sketch on the Arduino, known once open. */
  get firmware(): FirmwareInfo | undefined {
    return this.board;
  }

  /** What the bridge writes goes to the terminal's serial reader, as a cable would carry it. */
  protected send(chunk: Buffer): Promise<void> {
    this.dataHandler(chunk.toString('latin1'));
    return Promise.resolve();
  }

  protected disconnect(): Promise<void> {
    this.terminal?.stop(); // LEDs and buzzer off: let those writes reach the board before closing
    this.terminal = undefined;
    const arduino = this.arduino;
    this.arduino = undefined;
    if (!arduino?.isOpen) return Promise.resolve();
    return new Promise((resolve) => arduino.drain(() => (arduino.isOpen ? arduino.close(() => resolve()) : resolve())));
  }

  protected async connect(): Promise<void> {
    const { board, journalPath, pairingPath, fallbackSerial } = this.settings;
    const { logger } = this.deps;
    const arduino = this.deps.openSerialPort(board.path, board.baudRate);
    this.arduino = arduino;
    let gone = false;
    arduino.on('error', (err) => {
      if (this.isOpen) logger.warn({ err: err.message, port: board.path }, 'Arduino serial error');
    });
    // The Arduino's port closed under us (cable pulled): this boot of the terminal is over.
    arduino.on('close', () => {
      gone = true;
      if (this.isOpen) logger.warn({ port: board.path }, 'the Arduino went away; the terminal stopped');
      this.lost();
    });
    try {
      // The device this terminal is: the Arduino's USB serial number (Firmata reports none), so
      // that another Arduino on the cable is a different device (terminal_replaced). A board
      // without one (some CH340 clones) is named by the terminal id: a swap then goes unseen.
      const usb = await (this.deps.usbSerialNumber ?? systemUsbSerialNumber)(board.path);
      const serial = usb ? `usb-${usb}` : fallbackSerial;
      // The core runs here, beside the bridge: its key is the bridge's own (made when the bridge
      // starts), not a copy in flash. None yet (doctor before the first start): unpaired.
      const key = existsSync(pairingPath) ? readPairing(pairingPath).key : null;
      const io = await openFirmata(arduino, board.path, this.deps.firmata);
      checkPins(io, board.pins);
      const terminal = await startJohnnyFiveTerminal({
        io,
        pins: board.pins,
        buttonPullup: board.buttonPullup,
        transport: {
          write: (frame) => void this.push(frame, 'latin1'),
          onData: (handler) => (this.dataHandler = handler),
        },
        core: { serial, bootId: randomBytes(8).toString('hex'), keyStore: { loadKey: () => key, saveKey: () => undefined } },
        journal: new FileJournal(journalPath),
      });
      if (gone) {
        terminal.stop();
        throw new Error(`${board.path} closed while the terminal was starting`);
      }
      this.terminal = terminal;
      this.board = firmwareOf(io);
      logger.info({ port: board.path, firmware: this.board }, 'terminal started on the Arduino');
    } catch (err) {
      this.arduino = undefined;
      if (arduino.isOpen) await new Promise<void>((resolve) => arduino.close(() => resolve()));
      throw err;
    }
  }

}
