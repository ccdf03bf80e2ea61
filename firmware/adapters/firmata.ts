import { EventEmitter } from 'node:events';
import Firmata from 'firmata';

/*
 * The terminal's buttons, LEDs and buzzer on an Arduino running StandardFirmata, driven by
 * firmata.js (johnny-five's own Firmata IO plugin). firmata.js would open its port with the
 * serialport 8 API; we hand it a port we opened ourselves (serialport 13), so its own serial
 * code is never used.
 */

/** The serial port to the Arduino: serialport's SerialPort fits (made with autoOpen: false). */
export interface ArduinoPort {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  write(data: Buffer, callback?: (err: Error | null | undefined) => void): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** The terminal's wiring on the Arduino, as digital pin numbers. */
export interface ArduinoPins {
  buttons: readonly number[];
  leds: readonly number[];
  buzzer?: number;
}

export interface FirmataOptions {
  /** From opening the port until the board has answered firmata.js's handshake. Default 10 s. */
  readyTimeoutMs?: number;
  /**
   * A board that has not announced itself within this is asked (firmata.js's default: 5 s; an
   * Uno resets when the port opens and announces itself after its bootloader, about 1.5 s).
   */
  reportVersionTimeoutMs?: number;
}

export interface FirmwareInfo {
  /** The sketch, e.g. "StandardFirmata.ino". */
  name: string;
  /** The sketch's version, e.g. "2.5". */
  version: string;
  /** The Firmata protocol version, e.g. "2.6". */
  protocol: string;
}

/**
 * What firmata.js is given instead of the port: the bytes only. The port's errors and closing are
 * the caller's to handle; Firmata would pass an error on to johnny-five, which rethrows it once
 * the board is ready and nobody listens. Writes while the port is closed are dropped, as on a
 * pulled cable (firmata.js asks for the version on a timer, even after the port went away).
 */
class BytesOnly extends EventEmitter {
  constructor(private readonly port: ArduinoPort) {
    super();
    port.on('data', (chunk) => this.emit('data', chunk));
  }

  write(data: Buffer, callback?: () => void): boolean {
    if (!this.port.isOpen) {
      callback?.();
      return false;
    }
    this.port.write(data, () => callback?.());
    return true;
  }
}

/**
 * Opens the port and runs firmata.js on it; resolves with the board (a johnny-five IO plugin)
 * once it has answered the handshake: version, firmware, capabilities, analog mapping.
 * Rejects if the port does not open, closes or fails first, or the board stays silent too long.
 */
export async function openFirmata(port: ArduinoPort, path: string, options: FirmataOptions = {}): Promise<Firmata> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const io = new Firmata(new BytesOnly(port), {
    ...(options.reportVersionTimeoutMs !== undefined && { reportVersionTimeout: options.reportVersionTimeoutMs }),
  });
  let onError: (err: Error) => void = () => undefined;
  let onClose: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onError = (err) => reject(new Error(`serial port ${path}: ${err.message}`));
      onClose = () => reject(new Error(`serial port ${path} closed before the board answered`));
      port.on('error', onError);
      port.on('close', onClose);
      io.once('ready', () => resolve());
      port.open((err) => {
        if (err) return reject(new Error(`cannot open ${path}: ${err.message}`));
        timer = setTimeout(
          () => reject(new Error(`no Firmata answer on ${path} within ${readyTimeoutMs / 1000} s: is StandardFirmata uploaded to the Arduino, at 57600 baud?`)),
          readyTimeoutMs,
        );
      });
    });
  } finally {
    clearTimeout(timer);
    port.off('error', onError);
    port.off('close', onClose);
  }
  return io;
}

/** The sketch and protocol the board reported in the handshake. */
export function firmwareOf(io: Firmata): FirmwareInfo {
  const { name = 'unknown', version } = io.firmware;
  return {
    name,
    version: version ? `${version.major}.${version.minor}` : 'unknown',
    protocol: `${io.version.major ?? '?'}.${io.version.minor ?? '?'}`,
  };
}

/**
 * Checks the wiring against the board's capability report, so that a pin the board lacks is
 * refused with its number (firmata.js itself would fail on it with a TypeError).
 */
export function checkPins(io: Firmata, pins: ArduinoPins): void {
  const problems: string[] = [];
  const need = (pin: number, mode: number, role: string): void => {
    const supported = io.pins[pin]?.supportedModes;
    if (!supported) problems.push(`${role} pin ${pin}: the board has no such pin (it has 0..${io.pins.length - 1})`);
    else if (!supported.includes(mode)) problems.push(`${role} pin ${pin}: the board cannot use it as ${mode === io.MODES.INPUT ? 'an input' : 'an output'}`);
  };
  pins.buttons.forEach((pin, i) => need(pin, io.MODES.INPUT, `button ${i + 1}`));
  pins.leds.forEach((pin, i) => need(pin, io.MODES.OUTPUT, `LED ${i + 1}`));
  if (pins.buzzer !== undefined) need(pins.buzzer, io.MODES.OUTPUT, 'buzzer');
  if (problems.length) throw new Error(`the Arduino does not fit the configured wiring: ${problems.join('; ')}`);
}
