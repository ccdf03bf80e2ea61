import { SerialPortStream, type OpenOptions } from '@serialport/stream';
import { closeVirtualPort, createVirtualLine, delegatingPort, openVirtualPort, virtualSerialBinding } from './virtual-serial-line.js';

/*
 * An Arduino Uno running StandardFirmata, emulated at the device end of a virtual serial line.
 * The host (firmata.js) opens the other end through openHostPort(), which stands for the
 * /dev/ttyACM0 that exists only while the USB cable is in.
 *
 * The subset of Firmata (protocol 2.5, as the stock StandardFirmata reports it) it implements, host to board:
 *   REPORT_VERSION (0xF9)                    answers the protocol version
 *   SYSEX QUERY_FIRMWARE (0x79)              answers the sketch name and firmware version
 *   SYSEX CAPABILITY_QUERY (0x6B)            answers the Uno's pins (see UNO_PINS below)
 *   SYSEX ANALOG_MAPPING_QUERY (0x69)        answers A0-A5 = pins 14-19
 *   SET_PIN_MODE (0xF4)                      INPUT, OUTPUT, PULLUP, PWM; ANALOG is accepted
 *   DIGITAL_MESSAGE (0x90-0x9F)              a whole port: sets outputs; a 1 on an INPUT pin enables
 *                                            its pull-up, a 0 leaves it (as StandardFirmata 2.5 does)
 *   SET_DIGITAL_PIN_VALUE (0xF5)             one output pin
 *   ANALOG_MESSAGE (0xE0-0xEF)               PWM duty 0-255 on a PWM pin (johnny-five's Led uses it)
 *   REPORT_DIGITAL (0xD0-0xDF)               per port; enabling it sends the port's inputs at once
 *   SYSTEM_RESET (0xFF)                      pins back to their reset modes, reporting off
 * Accepted and ignored: REPORT_ANALOG, SAMPLING_INTERVAL and any other sysex (no analog input,
 * servo, I2C, serial or stepper is emulated).
 * Board to host: the version and firmware name at boot, DIGITAL_MESSAGE when a reported input changes
 * (at once, where the sketch would notice it on its next loop, within a millisecond).
 *
 * Like a real Uno, the board resets when the host opens the port (DTR auto-reset) and announces
 * itself once its bootloader has passed; bytes sent to it meanwhile are lost. After a reset the
 * digital pins are outputs (LOW) and A0-A5 analog inputs, until the host sets their modes.
 */

const REPORT_VERSION = 0xf9;
const START_SYSEX = 0xf0;
const END_SYSEX = 0xf7;
const QUERY_FIRMWARE = 0x79;
const CAPABILITY_QUERY = 0x6b;
const CAPABILITY_RESPONSE = 0x6c;
const ANALOG_MAPPING_QUERY = 0x69;
const ANALOG_MAPPING_RESPONSE = 0x6a;
const SET_PIN_MODE = 0xf4;
const SET_DIGITAL_PIN_VALUE = 0xf5;
const DIGITAL_MESSAGE = 0x90;
const ANALOG_MESSAGE = 0xe0;
const REPORT_ANALOG = 0xc0;
const REPORT_DIGITAL = 0xd0;
const SYSTEM_RESET = 0xff;
const NO_ANALOG_CHANNEL = 0x7f;

/** Pin modes, numbered as Firmata numbers them. */
export const FIRMATA_MODES = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, PULLUP: 0x0b } as const;
export type FirmataMode = (typeof FIRMATA_MODES)[keyof typeof FIRMATA_MODES];
export type Level = 0 | 1;

const { INPUT, OUTPUT, ANALOG, PWM, PULLUP } = FIRMATA_MODES;
/** Resolution in bits, as the capability response states it. */
const RESOLUTION: Record<FirmataMode, number> = { [INPUT]: 1, [OUTPUT]: 1, [ANALOG]: 10, [PWM]: 8, [PULLUP]: 1 };

interface PinSpec {
  modes: readonly FirmataMode[];
  analogChannel: number;
}

const UNO_PWM_PINS: readonly number[] = [3, 5, 6, 9, 10, 11];
/**
 * D0-D13 and A0-A5 (pins 14-19). D0 and D1 are the USB serial line, so StandardFirmata offers
 * no mode on them.
 */
const UNO_PINS: readonly PinSpec[] = Array.from({ length: 20 }, (_, pin) => {
  if (pin < 2) return { modes: [], analogChannel: NO_ANALOG_CHANNEL };
  const modes: FirmataMode[] = [INPUT, OUTPUT, PULLUP];
  if (UNO_PWM_PINS.includes(pin)) modes.push(PWM);
  if (pin >= 14) modes.push(ANALOG);
  return { modes, analogChannel: pin >= 14 ? pin - 14 : NO_ANALOG_CHANNEL };
});

/** How many data bytes follow each (non-sysex) command byte. */
function dataLength(command: number): number {
  switch (command < 0xf0 ? command & 0xf0 : command) {
    case DIGITAL_MESSAGE:
    case ANALOG_MESSAGE:
    case SET_PIN_MODE:
    case SET_DIGITAL_PIN_VALUE:
      return 2;
    case REPORT_ANALOG:
    case REPORT_DIGITAL:
      return 1;
    default:
      return 0; // REPORT_VERSION, SYSTEM_RESET, and anything unknown
  }
}

type BindingInterface = OpenOptions['binding'];
type BindingPort = Awaited<ReturnType<BindingInterface['open']>>;

export interface FirmataBoardOptions {
  /** Names the virtual line (unique per process). */
  name: string;
  /** The serial number its USB chip reports (as `SerialPort.list()` shows it); default: from the name. */
  usbSerialNumber?: string;
}

/** The sketch as it reports itself: StandardFirmata 2.5.x. */
const FIRMWARE = { name: 'StandardFirmata.ino', major: 2, minor: 5 } as const;
/** From reset to the sketch's announcement; a real Uno's bootloader takes about 1.5 s. */
const BOOT_MS = 20;

interface PinState {
  mode: FirmataMode;
  /** An output's level (0-255 on a PWM pin); an input's last level read. */
  value: number;
  pullUp: boolean;
}

/** A wrapped host port, and how to make it fail as a pulled cable does. */
interface HostSession {
  disconnect(): void;
}

/** An Arduino Uno with StandardFirmata on the end of a USB cable; see the top of this file. */
export class FirmataBoard {
  /** Where the host opens the board (its /dev/ttyACM0), through openHostPort(). */
  readonly hostPath: string;
  /** What the board's USB chip says it is: the bridge names the terminal on it by this. */
  readonly usbSerialNumber: string;
  readonly firmware = FIRMWARE;
  private readonly devicePath: string;
  private readonly pins: PinState[] = [];
  /** Per port, the input bits last reported; undefined while the port is not reported. */
  private readonly reported = new Map<number, number>();
  /** Inputs something outside drives (a pressed button shorts its pin to ground). */
  private readonly driven = new Map<number, Level>();
  private device: SerialPortStream | undefined;
  private host: HostSession | undefined;
  private bootTimer: NodeJS.Timeout | undefined;
  private booting = false;
  private command: number[] = [];
  private sysex: number[] | undefined;
  private bootCount = 0;

  private constructor(options: FirmataBoardOptions) {
    const line = createVirtualLine(options.name);
    this.hostPath = line.bridgePath;
    this.devicePath = line.devicePath;
    this.usbSerialNumber = options.usbSerialNumber ?? `SIM${options.name.replace(/[^\w]/g, '').toUpperCase()}`;
    this.powerOnPins();
  }

  /** A board with its cable plugged in. */
  static async start(options: FirmataBoardOptions): Promise<FirmataBoard> {
    const board = new FirmataBoard(options);
    await board.plug();
    return board;
  }

  /**
   * Makes the host's port on this board (not yet open; open() it), as serialport's SerialPort
   * would for /dev/ttyACM0: opening fails while the cable is out, and pulling the cable closes
   * it with a disconnect error.
   */
  openHostPort = (path: string, baudRate: number): SerialPortStream =>
    new SerialPortStream({ binding: this.hostBinding, path, baudRate, autoOpen: false });

  get plugged(): boolean {
    return this.device !== undefined;
  }

  /** How many times the sketch has started (power-up, or a reset when the host opened the port). */
  get boots(): number {
    return this.bootCount;
  }

  /** Plugs the USB cable in: the board powers up and boots. */
  async plug(): Promise<void> {
    if (this.device) return;
    const port = openVirtualPort(this.devicePath, 57600);
    this.device = port;
    port.on('data', (chunk: Buffer) => {
      if (this.device === port) for (const byte of chunk) this.receive(byte);
    });
    await new Promise<void>((resolve, reject) => {
      port.once('open', resolve);
      port.once('error', reject);
    });
    this.reset();
  }

  /** Pulls the USB cable: the host's port closes with a disconnect, the board loses power (and its state). */
  async unplug(): Promise<void> {
    const port = this.device;
    if (!port) return;
    this.device = undefined;
    clearTimeout(this.bootTimer);
    this.host?.disconnect();
    this.host = undefined;
    await closeVirtualPort(port);
    this.powerOnPins();
  }

  /** Test side: drives an input HIGH or LOW, or lets go of it (null: its pull-up, if any, decides). */
  setInput(pin: number, level: Level | null): void {
    this.pin(pin);
    if (level === null) this.driven.delete(pin);
    else this.driven.set(pin, level);
    this.inputsChanged(pin >> 3);
  }

  /** A button wired from the pin to ground: pressed pulls it LOW. */
  press(pin: number): void {
    this.setInput(pin, 0);
  }

  release(pin: number): void {
    this.setInput(pin, null);
  }

  /** Test side: an output's level (0/1, or 0-255 on a PWM pin). */
  output(pin: number): number {
    const state = this.pin(pin);
    if (state.mode !== OUTPUT && state.mode !== PWM) throw new Error(`Firmata board: pin ${pin} is not an output (mode ${state.mode})`);
    return state.value;
  }

  /** Test side: the pin's mode, as the host last set it. */
  mode(pin: number): FirmataMode {
    return this.pin(pin).mode;
  }

  /** Test side: whether the pin's pull-up is enabled. */
  pullUp(pin: number): boolean {
    return this.pin(pin).pullUp;
  }

  private readonly hostBinding: BindingInterface = {
    list: () => virtualSerialBinding.list(),
    open: async (options) => {
      // As the OS says it of a USB serial device that is not there.
      if (!this.device) throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
      const port = await virtualSerialBinding.open(options);
      const session = hostSession(port);
      this.host = session;
      this.reset(); // DTR auto-reset
      return session.port;
    },
  };

  /** As StandardFirmata's reset leaves them: analog pins ANALOG, the other digital pins OUTPUT and LOW. */
  private powerOnPins(): void {
    this.pins.length = 0;
    for (const spec of UNO_PINS) {
      const mode = spec.analogChannel !== NO_ANALOG_CHANNEL ? ANALOG : spec.modes.length ? OUTPUT : INPUT;
      this.pins.push({ mode, value: 0, pullUp: false });
    }
    this.reported.clear();
    this.command = [];
    this.sysex = undefined;
  }

  /** Reset: RAM lost, pins back to their reset modes; the sketch announces itself once the bootloader has passed. */
  private reset(): void {
    clearTimeout(this.bootTimer);
    this.powerOnPins();
    this.booting = true;
    this.bootTimer = setTimeout(() => {
      this.booting = false;
      this.bootCount += 1;
      this.sendVersion();
      this.sendFirmware();
    }, BOOT_MS);
  }

  private receive(byte: number): void {
    if (this.booting) return; // the bootloader has the line
    if (this.sysex) {
      if (byte === END_SYSEX) {
        const message = this.sysex;
        this.sysex = undefined;
        this.handleSysex(message);
      } else {
        this.sysex.push(byte);
      }
      return;
    }
    if (byte === START_SYSEX) {
      this.sysex = [];
      this.command = [];
      return;
    }
    if (byte & 0x80) this.command = [byte];
    else if (this.command.length) this.command.push(byte);
    else return; // a data byte without its command: lost in the noise
    const [command] = this.command;
    if (command !== undefined && this.command.length === 1 + dataLength(command)) {
      const message = this.command;
      this.command = [];
      this.handle(message);
    }
  }

  private handle([command = 0, a = 0, b = 0]: number[]): void {
    if (command === REPORT_VERSION) return this.sendVersion();
    if (command === SYSTEM_RESET) return this.powerOnPins();
    if (command === SET_PIN_MODE) return this.setMode(a, b);
    if (command === SET_DIGITAL_PIN_VALUE) return this.writePin(a, b);
    const channel = command & 0x0f;
    switch (command & 0xf0) {
      case DIGITAL_MESSAGE:
        return this.writePort(channel, a | (b << 7));
      case ANALOG_MESSAGE:
        return this.writePwm(channel, a | (b << 7));
      case REPORT_DIGITAL:
        return this.reportPort(channel, a !== 0);
    }
  }

  private handleSysex([command]: number[]): void {
    if (command === QUERY_FIRMWARE) return this.sendFirmware();
    if (command === CAPABILITY_QUERY) {
      const pins = UNO_PINS.flatMap((spec) => [...spec.modes.flatMap((mode) => [mode, RESOLUTION[mode]]), 0x7f]);
      return this.send([START_SYSEX, CAPABILITY_RESPONSE, ...pins, END_SYSEX]);
    }
    if (command === ANALOG_MAPPING_QUERY) {
      return this.send([START_SYSEX, ANALOG_MAPPING_RESPONSE, ...UNO_PINS.map((spec) => spec.analogChannel), END_SYSEX]);
    }
    // SAMPLING_INTERVAL and everything else: accepted, nothing to do
  }

  private setMode(pin: number, mode: number): void {
    const spec = UNO_PINS[pin];
    if (!spec?.modes.includes(mode as FirmataMode)) return; // StandardFirmata ignores what a pin cannot do
    const state = this.pin(pin);
    state.mode = mode as FirmataMode;
    if (mode === OUTPUT || mode === PWM) state.value = 0;
    else state.pullUp = mode === PULLUP; // pinMode(INPUT) clears the pull-up on an AVR
    this.inputsChanged(pin >> 3);
  }

  private writePort(port: number, bits: number): void {
    for (let bit = 0; bit < 8; bit += 1) {
      const pin = port * 8 + bit;
      const state = this.pins[pin];
      if (!state) continue;
      const high = (bits >> bit) & 1;
      if (state.mode === OUTPUT) state.value = high;
      // StandardFirmata's legacy pull-up: a 1 on an INPUT pin turns it on; a 0 never turns it off.
      else if (state.mode === INPUT && high) state.pullUp = true;
    }
    this.inputsChanged(port);
  }

  private writePin(pin: number, value: number): void {
    const state = this.pins[pin];
    if (state?.mode === OUTPUT) state.value = value ? 1 : 0;
  }

  private writePwm(pin: number, duty: number): void {
    const state = this.pins[pin];
    if (state?.mode === PWM) state.value = Math.min(duty, 255);
  }

  private reportPort(port: number, enable: boolean): void {
    if (!enable) {
      this.reported.delete(port);
      return;
    }
    const bits = this.inputBits(port);
    this.reported.set(port, bits);
    this.sendPort(port, bits);
  }

  private inputsChanged(port: number): void {
    const last = this.reported.get(port);
    if (last === undefined) return;
    const bits = this.inputBits(port);
    if (bits === last) return;
    this.reported.set(port, bits);
    this.sendPort(port, bits);
  }

  /** The port's input pins as read now; outputs read as 0, as StandardFirmata masks them. */
  private inputBits(port: number): number {
    let bits = 0;
    for (let bit = 0; bit < 8; bit += 1) {
      const pin = port * 8 + bit;
      const state = this.pins[pin];
      if (!state || (state.mode !== INPUT && state.mode !== PULLUP)) continue;
      // Nothing driving it and no pull-up: the pin floats; we read that as LOW.
      const level = this.driven.get(pin) ?? (state.pullUp ? 1 : 0);
      state.value = level;
      bits |= level << bit;
    }
    return bits;
  }

  private sendVersion(): void {
    this.send([REPORT_VERSION, 2, 5]);
  }

  private sendFirmware(): void {
    const name = [...Buffer.from(this.firmware.name)].flatMap((byte) => [byte & 0x7f, byte >> 7]);
    this.send([START_SYSEX, QUERY_FIRMWARE, this.firmware.major, this.firmware.minor, ...name, END_SYSEX]);
  }

  private sendPort(port: number, bits: number): void {
    this.send([DIGITAL_MESSAGE | port, bits & 0x7f, (bits >> 7) & 0x7f]);
  }

  private send(bytes: number[]): void {
    if (this.device?.isOpen) this.device.write(Buffer.from(bytes));
  }

  private pin(pin: number): PinState {
    const state = this.pins[pin];
    if (!state) throw new Error(`Firmata board: no pin ${pin} (an Uno has 0..${UNO_PINS.length - 1})`);
    return state;
  }
}

/**
 * The host's port, wrapped so that a pulled cable fails its pending read as the OS does: serialport
 * takes a read error as a disconnect and closes the port (its 'close' carries the error).
 */
function hostSession(port: BindingPort): HostSession & { port: BindingPort } {
  let pull: (error: Error) => void = () => undefined;
  const gone = new Promise<never>((_, reject) => (pull = reject));
  gone.catch(() => undefined); // only a read that is waiting hears it
  let disconnected = false;
  const wrapped = delegatingPort(port, {
    read: (buffer, offset, length) => Promise.race([port.read(buffer, offset, length), gone]),
    write: (buffer) => (disconnected ? Promise.reject(new Error('device disconnected')) : port.write(buffer)),
  });
  return {
    port: wrapped,
    disconnect: () => {
      disconnected = true;
      pull(new Error('device disconnected (the USB cable was pulled)'));
    },
  };
}
