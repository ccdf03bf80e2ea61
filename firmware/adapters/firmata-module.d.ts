// firmata.js ships no types: just the part of it this project uses. (Not named firmata.d.ts, so
// that TypeScript does not take it for the declaration of firmata.ts beside it.)
declare module 'firmata' {
  import type { EventEmitter } from 'node:events';
  import type five from 'johnny-five';

  /** What Firmata reads and writes through: it listens for 'open', 'data' and 'close' (and 'error'). */
  interface FirmataTransport extends EventEmitter {
    write(data: Buffer, callback?: () => void): unknown;
  }

  interface FirmataOptions {
    /** Without REPORT_VERSION from the board within this, Firmata asks for it. Default 5000 ms. */
    reportVersionTimeout?: number;
  }

  interface FirmataPin {
    /** The pin's modes, as numbers of MODES. */
    supportedModes: number[];
  }

  /** firmata.js's Board: a johnny-five IO plugin. Given a transport object, it opens nothing itself. */
  class Firmata extends EventEmitter implements five.IOPlugin {
    constructor(transport: FirmataTransport, options?: FirmataOptions);
    readonly isReady: boolean;
    readonly MODES: { INPUT: number; OUTPUT: number; PWM: number; PULLUP: number };
    pinMode(pin: number | string, mode: number): this;
    digitalWrite(pin: number | string, value: number): this;
    /** Filled from the capability response. */
    readonly pins: FirmataPin[];
    /** The protocol version the board reported. */
    readonly version: { major?: number; minor?: number };
    /** The sketch's name and version, from the firmware query. */
    readonly firmware: { name?: string; version?: { major: number; minor: number } };
  }

  export = Firmata;
}
