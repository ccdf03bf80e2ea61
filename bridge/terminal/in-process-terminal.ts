import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type five from 'johnny-five';
import { FileJournal } from '../../firmware/adapters/file-journal.js';
import { startJohnnyFiveTerminal, type JohnnyFiveTerminal, type TerminalPins } from '../../firmware/adapters/johnny-five.js';
import type { BridgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import { DeviceStream } from '../transport/device-stream.js';
import { pairingFile, readPairing } from './pairing.js';

/*
 * A terminal whose firmware core runs here, in the bridge process, on buttons and LEDs reached
 * through a johnny-five IO plugin: an Arduino running StandardFirmata (board-terminal.ts) or the
 * Pi's own GPIO (gpio-terminal.ts). To the bridge it is one more serial port: opening it claims
 * the hardware and boots the terminal core on it (a new boot each time: the journal replays what
 * was never acknowledged); the frames cross an in-memory line exactly as they would cross a
 * cable. When the hardware goes away, the port closes and the bridge's ReconnectingPort reopens
 * it (a new boot) once it is back.
 */

/** What every in-process terminal takes from the config beyond its board. */
export interface InProcessSettings {
  journalPath: string;
  /** Where the bridge keeps the pairing key: the terminal run here uses the same key. */
  pairingPath: string;
  /** The serial the terminal reports when its hardware names none. */
  fallbackSerial: string;
}

export function inProcessSettings(config: BridgeConfig): InProcessSettings {
  if (!config.board) throw new Error('this config has no board section');
  return {
    journalPath: config.board.journalPath ?? join(dirname(config.database.path), 'terminal-journal.json'),
    pairingPath: pairingFile(config),
    fallbackSerial: config.terminal.id,
  };
}

/** The hardware, claimed and ready for the core. */
export interface AttachedBoard {
  io: five.IOPlugin;
  pins: TerminalPins;
  /** Pressed reads LOW (buttons to ground, a pull-up). */
  buttonPullup: boolean;
  /** The device this terminal is, in its hello. */
  serial: string;
  /** For the log line once started, e.g. { port, firmware }. */
  described: Record<string, unknown>;
}

export abstract class InProcessTerminalPort extends DeviceStream {
  private terminal: JohnnyFiveTerminal | undefined;
  private dataHandler: (chunk: string) => void = () => undefined;
  private gone = false;

  protected constructor(
    protected readonly settings: InProcessSettings,
    protected readonly logger: Logger,
  ) {
    super();
  }

  /** Claims the hardware; on failure releases what it claimed and throws why. */
  protected abstract attach(): Promise<AttachedBoard>;
  /** Releases the hardware (after the terminal's last writes, LEDs off, have gone to it). Never rejects. */
  protected abstract detach(): Promise<void>;

  /** The hardware went away under the terminal (or while it was starting): this boot is over. */
  protected hardwareLost(): void {
    this.gone = true;
    this.lost();
  }

  /** What the bridge writes goes to the terminal's serial reader, as a cable would carry it. */
  protected send(chunk: Buffer): Promise<void> {
    this.dataHandler(chunk.toString('latin1'));
    return Promise.resolve();
  }

  protected disconnect(): Promise<void> {
    this.terminal?.stop(); // LEDs and buzzer off: let those writes reach the board before releasing it
    this.terminal = undefined;
    return this.detach();
  }

  protected async connect(): Promise<void> {
    this.gone = false;
    const board = await this.attach();
    try {
      // The core runs here, beside the bridge: its key is the bridge's own (made when the bridge
      // starts), not a copy in flash. None yet (doctor before the first start): unpaired.
      const { pairingPath, journalPath } = this.settings;
      const key = existsSync(pairingPath) ? readPairing(pairingPath).key : null;
      const terminal = await startJohnnyFiveTerminal({
        io: board.io,
        pins: board.pins,
        buttonPullup: board.buttonPullup,
        transport: {
          write: (frame) => void this.push(frame, 'latin1'),
          onData: (handler) => (this.dataHandler = handler),
        },
        core: { serial: board.serial, bootId: randomBytes(8).toString('hex'), keyStore: { loadKey: () => key, saveKey: () => undefined } },
        journal: new FileJournal(journalPath),
      });
      if (this.gone) {
        terminal.stop();
        throw new Error(`${String(board.described.port ?? 'the board')} went away while the terminal was starting`);
      }
      this.terminal = terminal;
      this.logger.info(board.described, 'terminal started');
    } catch (err) {
      await this.detach();
      throw err;
    }
  }
}
