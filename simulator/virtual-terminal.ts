import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import {
  startJohnnyFiveTerminal,
  type JohnnyFiveTerminal,
  type LineTransport,
} from '../firmware/adapters/johnny-five.js';
import type { KeyStore, ReportJournal } from '../firmware/core/hardware.js';
import { DEFAULT_DEBOUNCE_MS, type TerminalCore, type TerminalCoreOptions } from '../firmware/core/terminal-core.js';
import { VirtualBoardIO } from './virtual-board-io.js';
import { closeVirtualPort, openVirtualPort } from './virtual-serial-line.js';

export interface VirtualTerminalPins {
  buttons: readonly number[];
  leds: readonly number[];
  buzzer?: number;
}

/** A plausible Raspberry Pi wiring (BCM numbers): buttons to ground with pull-ups, LEDs, a buzzer. */
export const VIRTUAL_TERMINAL_PINS: VirtualTerminalPins = {
  buttons: [5, 6, 16, 20, 21],
  leds: [17, 27, 22, 23, 24],
  buzzer: 18,
};

/**
 * Makes (and may start opening) the terminal's serial port at `path`; called again on every plug().
 * A port not yet opening is opened.
 */
export type OpenDevicePort = (path: string) => SerialPortStream;

export type VirtualTerminalOptions = Omit<TerminalCoreOptions, 'bootId'> & {
  /** The device end of a virtual line (createVirtualLine), or of a real one (see openPort). */
  devicePath: string;
  /**
   * Default: a port on the virtual line (openVirtualPort). For a real serial line, e.g. the device
   * end of a PtyLine: `(path) => new SerialPort({ path, baudRate: 115200, autoOpen: false })`.
   */
  openPort?: OpenDevicePort;
  /** Default: random, as a real terminal makes one per boot. */
  bootId?: string;
  pins?: VirtualTerminalPins;
  /**
   * Non-volatile memory that outlives this boot (pass the same one to the next boot): the reports
   * not yet acknowledged and the pairing key (unless `keyStore` is given apart). simulator/memory-journal.ts.
   */
  journal?: ReportJournal & KeyStore;
  /**
   * Whether the terminal has its own sound module: it then plays the bridge's `say` clips (kept in
   * `clips`). Default false: like most terminals, it acknowledges `say` and stays silent.
   */
  soundModule?: boolean;
};

/** How long a finger rests on a button in press() and bounce(). */
const HOLD_MS = 20;
/** Extra quiet time after a release, on top of the core's debounce. */
const SETTLE_MARGIN_MS = 10;
/** johnny-five delivers an edge about 7 ms after the pin changes; far longer means it never will. */
const EDGE_TIMEOUT_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The terminal's end of the cable: can be unplugged and plugged back; frames written meanwhile are lost. */
class DevicePort implements LineTransport {
  private port: SerialPortStream | undefined;
  private handler: ((chunk: string) => void) | undefined;

  constructor(
    private readonly path: string,
    private readonly openPort: OpenDevicePort,
  ) {}

  write(frame: string): void {
    if (this.port?.isOpen) this.port.write(frame);
  }

  onData(handler: (chunk: string) => void): void {
    this.handler = handler;
  }

  get plugged(): boolean {
    return this.port?.isOpen ?? false;
  }

  async plug(): Promise<void> {
    // A port that is no longer open but has not emitted 'close' yet (a line torn down under it) is
    // gone already: a new one is opened, and the old one's 'close' leaves the new one alone.
    if (this.port?.isOpen) return;
    const port = this.openPort(this.path);
    if (!port.isOpen) {
      const opened = once(port, 'open'); // rejects on the port's 'error', e.g. a failed open
      if (!port.opening) port.open();
      await opened;
    }
    port.on('data', (chunk: Buffer) => this.handler?.(chunk.toString('latin1')));
    // A real line can go away under the port (e.g. the pty pair is torn down): a write then fails
    // with EIO, which the stream emits as 'error', and serialport closes the port. The terminal
    // carries on as with a pulled cable; plug() opens the port again.
    port.on('error', () => {});
    port.once('close', () => {
      if (this.port === port) this.port = undefined;
    });
    this.port = port;
  }

  async unplug(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port) await closeVirtualPort(port);
  }
}

/**
 * A terminal made of the real firmware core and the johnny-five adapter, running on a virtual
 * board and talking over a virtual serial line. The test presses its buttons and looks at its LEDs.
 * One gesture per button at a time; each resolves once the button is back up long enough for the
 * next press to count.
 */
export class VirtualTerminal {
  private readonly held = new Set<number>();
  /** Per button, the gesture step waiting for its edge to reach the core. */
  private readonly edgeWaiters = new Map<number, () => void>();
  private terminal: JohnnyFiveTerminal | undefined;
  private stopped = false;
  /** The prompt clips its sound module played, in order (with soundModule). */
  readonly clips: number[] = [];

  private constructor(
    readonly io: VirtualBoardIO,
    private readonly port: DevicePort,
    private readonly pins: VirtualTerminalPins,
    private readonly debounceMs: number,
    /** This boot's id, as the terminal reports it in hello. */
    readonly bootId: string,
  ) {}

  static async start(options: VirtualTerminalOptions): Promise<VirtualTerminal> {
    const {
      devicePath,
      openPort = (path: string) => openVirtualPort(path),
      journal,
      bootId = randomBytes(8).toString('hex'),
      pins = VIRTUAL_TERMINAL_PINS,
      soundModule = false,
      ...core
    } = options;
    const port = new DevicePort(devicePath, openPort);
    const vt = new VirtualTerminal(new VirtualBoardIO(), port, pins, core.debounceMs ?? DEFAULT_DEBOUNCE_MS, bootId);
    await port.plug();
    try {
      vt.terminal = await startJohnnyFiveTerminal({
        io: vt.io,
        pins,
        buttonPullup: true,
        transport: port,
        ...(journal && { journal }),
        core: { ...core, bootId, ...((core.keyStore ?? journal) && { keyStore: core.keyStore ?? journal }) },
        onEdge: (button) => vt.edgeArrived(button),
        ...(soundModule && { play: (clip: number) => void vt.clips.push(clip) }),
      });
    } catch (err) {
      await port.unplug();
      throw err;
    }
    return vt;
  }

  get core(): TerminalCore {
    if (!this.terminal) throw new Error('virtual terminal not started');
    return this.terminal.core;
  }

  /** A full press as a person makes it (0 = 非常满意 … 4 = 非常不满意): down, a short hold, up. */
  async press(button: number): Promise<void> {
    await this.hold(button);
    await sleep(HOLD_MS);
    await this.release(button);
  }

  /** A press on a chattering contact: several closings and openings that must count as one press. */
  async bounce(button: number): Promise<void> {
    if (this.held.has(button)) throw new Error(`button ${button} is held; release it before bouncing it`);
    for (const down of [true, false, true, false, true]) await this.drive(button, down);
    this.held.add(button);
    await sleep(HOLD_MS);
    for (const down of [false, true]) await this.drive(button, down);
    await this.release(button);
  }

  /** Presses and keeps holding; resolves once the core has the press. */
  async hold(button: number): Promise<void> {
    if (this.held.has(button)) return;
    await this.drive(button, true);
    this.held.add(button);
  }

  /** Lets go; resolves once the button has been quiet for longer than the core's debounce. */
  async release(button: number): Promise<void> {
    if (!this.held.has(button)) return;
    await this.drive(button, false);
    this.held.delete(button);
    await sleep(this.debounceMs + SETTLE_MARGIN_MS);
  }

  /** What johnny-five actually wrote to the LED pins, left to right. */
  leds(): boolean[] {
    return this.pins.leds.map((pin) => this.io.output(pin) > 0);
  }

  /** Whether it shows the window paused (暂停服务): its middle LED blinking, presses stray. */
  get paused(): boolean {
    return this.core.state === 'paused';
  }

  buzzing(): boolean {
    return this.pins.buzzer !== undefined && this.io.output(this.pins.buzzer) > 0;
  }

  /** Pulls the serial cable: the terminal keeps running, and what it sends meanwhile is lost. */
  unplug(): Promise<void> {
    return this.port.unplug();
  }

  plug(): Promise<void> {
    return this.port.plug();
  }

  /** Whether the cable is in: false after unplug(), or once a real line went away under the port. */
  get plugged(): boolean {
    return this.port.plugged;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.terminal?.stop();
    // Gestures in flight end quietly; letting go of held buttons also stops johnny-five's hold timers.
    for (const done of this.edgeWaiters.values()) done();
    this.edgeWaiters.clear();
    for (const button of this.held) this.io.setInput(this.buttonPin(button), null);
    this.held.clear();
    await this.port.unplug();
  }

  /** Moves one contact and waits until johnny-five has handed the edge to the core. */
  private async drive(button: number, down: boolean): Promise<void> {
    if (this.stopped) return;
    const pin = this.buttonPin(button);
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.edgeWaiters.delete(button);
        reject(new Error(`button ${button} ${down ? 'down' : 'up'}: no edge reached the core within ${EDGE_TIMEOUT_MS} ms`));
      }, EDGE_TIMEOUT_MS);
      this.edgeWaiters.set(button, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Pressed shorts the pin to ground; released leaves it to the pull-up.
    this.io.setInput(pin, down ? this.io.LOW : null);
    await arrived;
  }

  private edgeArrived(button: number): void {
    const done = this.edgeWaiters.get(button);
    this.edgeWaiters.delete(button);
    done?.();
  }

  private buttonPin(button: number): number {
    const pin = this.pins.buttons[button];
    if (pin === undefined) throw new RangeError(`no button ${button} (buttons are 0..${this.pins.buttons.length - 1})`);
    return pin;
  }
}
