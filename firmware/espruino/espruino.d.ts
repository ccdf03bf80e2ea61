/**
 * The few Espruino APIs the terminal uses (see https://www.espruino.com/Reference).
 *
 * Only types live here, exported from a module: the globals themselves are declared inside
 * main.ts, so they do not leak into the Node code type-checked by the same tsconfig (Espruino's
 * `setTimeout`, `require` and friends would clash with @types/node).
 */

/** A pin. Espruino accepts a pin object (`B3`) or its name as a string (`'B3'`); we use names. */
export type Pin = string;

export type PinMode = 'input' | 'input_pullup' | 'input_pulldown' | 'output' | 'opendrain' | 'af_output';

export interface WatchOptions {
  repeat?: boolean;
  edge?: 'rising' | 'falling' | 'both';
  /** Milliseconds; 0 turns Espruino's own debouncing off (the core debounces). */
  debounce?: number;
}

/** What a watch callback receives; times are in seconds, like getTime(). */
export interface WatchEvent {
  state: boolean;
  time: number;
  lastTime?: number;
}

export interface SerialSetupOptions {
  rx?: Pin;
  /** Espruino built for Linux only: a device file (a pty) to read and write instead of pins. */
  path?: string;
  tx?: Pin;
}

/** `USB`, `Serial1`, … */
export interface SerialPort {
  setup(baudRate: number, options?: SerialSetupOptions): void;
  on(event: 'data', listener: (data: string) => void): void;
  /** A string, or bytes. */
  write(data: string | number[]): void;
  /** Makes this device the REPL console; `force` keeps it there when USB is (un)plugged. */
  setConsole(force?: boolean): void;
}

/** The `E` object (a small part of it). */
export interface EspruinoE {
  /** 32 random bits from the hardware (may be negative). */
  hwRand(): number;
  /** The standard CRC-32 of a string's bytes, unsigned (native: fast, unlike CRC code in JavaScript). */
  CRC32(data: string): number;
  on(event: 'init', listener: () => void): void;
}

/** `require('Storage')`: files in flash. */
export interface StorageModule {
  readJSON(name: string, noExceptions: boolean): unknown;
  writeJSON(name: string, data: unknown): boolean;
  erase(name: string): void;
  /** `length` bytes from `offset` (clipped to the file; unwritten bytes read 0xFF); undefined if there is no file. */
  read(name: string, offset: number, length: number): string | undefined;
  /** At offset 0: a new file of `size` bytes (default the data's). Else into the file, where its bytes are still unwritten; throws otherwise. */
  write(name: string, data: string, offset: number, size?: number): boolean;
}
