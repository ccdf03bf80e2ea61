import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { lineSession, lineTagger, verifyFrameJson } from '../../protocol/line-auth.js';
import { lineSplitter } from '../../protocol/line-splitter.js';
import { terminalHelloSchema, SERIAL_PROTOCOL_VERSION } from '../../protocol/serial-messages.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import { terminalPort, type BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, type CheckResult } from '../diagnose/check.js';
import { silentLogger } from '../log.js';
import { closePort, isBusyError, openPort, openProbe } from '../transport/probe.js';
import type { OpenSerialPort, SerialPortLike } from '../transport/transport.js';
import { boardTerminalPort, type BoardTerminalDeps } from './board-terminal.js';
import { gpioTerminalPort, type GpioTerminalDeps } from './gpio-terminal.js';
import { pairingFile, readPairing } from './pairing.js';

export interface TerminalProbeDeps {
  /** Serial ports (a terminal behind ser2net is reached over TCP). */
  openPort: OpenSerialPort;
  timeoutMs: number;
  /** The doctor's boot id in its hello (16 hex digits). */
  bootId?: string;
}

export interface TerminalHello {
  fw: string;
  serial: string;
  proto: number;
  boot: string;
  /** The bridge boot this hello answers: ours when it answered the probe's hello. */
  peer: string | null;
  /** The hello's JSON as sent, to check its tag. */
  json: string;
}

const TERMINAL_BUSY_FIXES = [
  'the running bridge knows the terminal: `hcp status`',
  'or stop it for a full check: `sudo systemctl stop hcp-bridge`, run `hcp doctor` again, then `sudo systemctl start hcp-bridge`',
];

const PERMISSION_FIX = 'add the user to the dialout group (`sudo usermod -aG dialout $USER`, then log in again)';

/** What the terminal said within the timeout, after our hello. */
interface Heard {
  hello: TerminalHello | undefined;
  frames: number;
  garbled: number;
}

/**
 * Says hello on an open port and listens for the terminal's (or any valid frame) until the
 * timeout; closes the port. A tagged hello that does not answer ours (the terminal's own at
 * power-up) is kept while the answer to ours, whose tag can be checked, is awaited.
 */
async function listenForHello(port: SerialPortLike, timeoutMs: number, bootId: string): Promise<Heard> {
  const heard: Heard = { hello: undefined, frames: 0, garbled: 0 };
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const split = lineSplitter({
        line: (line) => {
          const decoded = decodeFrame(line);
          if (!decoded.ok) {
            heard.garbled++;
            return;
          }
          heard.frames++;
          const parsed = terminalHelloSchema.safeParse(decoded.value);
          if (parsed.success) {
            const { fw, serial, proto, boot, peer } = parsed.data;
            heard.hello = { fw, serial, proto, boot, peer, json: decoded.json };
            const answersOurs = peer?.toLowerCase() === bootId;
            if (answersOurs || !decoded.json.includes('"mac":"')) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
        tooLong: () => heard.garbled++,
      });
      port.on('error', () => undefined);
      port.on('data', (chunk: Buffer) => split(chunk.toString('latin1')));
      port.write(encodeFrame({ type: 'hello', seq: 1, proto: SERIAL_PROTOCOL_VERSION, boot: bootId }));
    });
  } finally {
    await closePort(port);
  }
  return heard;
}

/** Whether the terminal is the one this bridge is paired with (docs/technician.md, pairing): a problem, or a note for the verdict. */
function pairingVerdict(config: BridgeConfig, hello: TerminalHello, bootId: string): { problem: string; fixes: string[] } | { note: string } {
  const path = pairingFile(config);
  let pairing;
  try {
    pairing = existsSync(path) ? readPairing(path) : undefined;
  } catch (err) {
    return { problem: `this bridge's pairing is unreadable: ${errorText(err)}`, fixes: ['re-pair: `hcp pair -c <config>`'] };
  }
  if (!pairing || pairing.serial === null) return { note: 'not paired yet: the service pairs the terminal that answers at its first start' };
  const repair = `if this terminal replaced ${pairing.serial} on purpose, re-pair: \`hcp pair -c <config>\` (docs/technician.md)`;
  if (hello.serial !== pairing.serial) {
    return { problem: `is not the paired terminal ${pairing.serial}: the service takes nothing from it (alarm terminal_replaced)`, fixes: [repair, 'otherwise find out what is on the line'] };
  }
  if (hello.peer?.toLowerCase() !== bootId) return { note: `paired (serial ${pairing.serial}; its tag was not checked: it did not answer in time)` };
  if (verifyFrameJson(lineTagger(pairing.key), lineSession(hello.boot, bootId), hello.json)) return { note: 'paired: its tag holds' };
  return {
    problem: `has the paired serial, but its hello does not carry a tag this bridge's key makes (another key, or firmware without pairing)`,
    fixes: ['re-pair: `hcp pair -c <config>`, and power the terminal off and on when it says so', `check the firmware: this bridge was built with ${FIRMWARE_VERSION}`],
  };
}

/** The verdict on a terminal's hello: `where` says where it answered, e.g. "on /dev/ttyUSB0". */
function helloResult(name: string, where: string, hello: TerminalHello, config: BridgeConfig, bootId: string): CheckResult {
  const found = `serial ${hello.serial}, firmware ${hello.fw}, protocol v${hello.proto}`;
  const pairing = pairingVerdict(config, hello, bootId);
  if ('problem' in pairing) return fail(name, `answers ${where}: ${found}, but ${pairing.problem}`, pairing.fixes);
  if (hello.proto !== SERIAL_PROTOCOL_VERSION) {
    return fail(name, `answers ${where}: ${found}, but this bridge speaks protocol v${SERIAL_PROTOCOL_VERSION}`, [
      'update the terminal firmware or the bridge so both speak the same protocol',
    ]);
  }
  if (hello.fw !== FIRMWARE_VERSION) {
    return warn(name, `answers ${where}: ${found} (this bridge was built with firmware ${FIRMWARE_VERSION}); ${pairing.note}`, [
      'consider flashing the matching firmware (`npm run build:espruino`)',
    ]);
  }
  return ok(name, `answers ${where}: ${found}; ${pairing.note}`);
}

/**
 * Opens the terminal's port, says hello (the terminal answers with its own: firmware and serial
 * number) and listens for any valid frame (heartbeats come every 2 s) until the timeout.
 */
export async function checkTerminal(config: BridgeConfig, deps: TerminalProbeDeps): Promise<CheckResult> {
  const name = 'terminal';
  const { path, baudRate } = terminalPort(config);
  const port = await openProbe(name, path, baudRate, deps.openPort, {
    busy: TERMINAL_BUSY_FIXES,
    other: (err) =>
      /permission denied|EACCES/i.test(errorText(err))
        ? [PERMISSION_FIX]
        : ['see the terminal port line: the port must exist before the terminal can answer'],
  });
  if (!('write' in port)) return port;
  const bootId = (deps.bootId ?? randomBytes(8).toString('hex')).toLowerCase();
  const { hello, frames, garbled } = await listenForHello(port, deps.timeoutMs, bootId);
  const seconds = `${Math.round(deps.timeoutMs / 100) / 10} s`;
  if (hello) return helloResult(name, `on ${path}`, hello, config, bootId);
  if (frames > 0) {
    return warn(name, `sends valid frames on ${path} (${frames} in ${seconds}) but did not say hello`, [
      'power-cycle the terminal: it says hello on boot',
    ]);
  }
  if (garbled > 0) {
    return fail(name, `${path} carries data, but no valid frame (${garbled} garbled lines in ${seconds})`, [
      `check the baud rate: serial.baudRate is ${baudRate}, the terminal firmware uses 115200 8N1`,
      'check the cable and ground (a loose ground garbles every byte)',
    ]);
  }
  return fail(name, `no answer on ${path} within ${seconds}`, [
    'check the terminal has power and its USB/serial cable is in (it says hello at boot: power-cycle it while this runs)',
    'with a UART cable: TX goes to RX, RX to TX, and the grounds are joined',
    `check the baud rate: serial.baudRate is ${baudRate}`,
  ]);
}

export interface BoardProbeDeps {
  /** Makes the Arduino's serial port, not yet open. */
  openSerialPort: BoardTerminalDeps['openSerialPort'];
  timeoutMs: number;
  bootId?: string;
}

/**
 * A terminal on an Arduino (config `board`): starts the terminal as the bridge would (Firmata
 * handshake, then the core on the board's pins) and reports the sketch on the Arduino and the
 * core's hello.
 */
export async function checkBoardTerminal(config: BridgeConfig, deps: BoardProbeDeps): Promise<CheckResult> {
  const name = 'terminal';
  const { path, baudRate } = terminalPort(config);
  const port = boardTerminalPort(config, { openSerialPort: deps.openSerialPort, logger: silentLogger, firmata: { readyTimeoutMs: deps.timeoutMs } });
  try {
    await openPort(port);
  } catch (err) {
    const text = errorText(err);
    if (isBusyError(err)) return warn(name, `${path} is busy: another program (most likely the bridge service) holds it`, TERMINAL_BUSY_FIXES);
    if (/no Firmata answer/.test(text)) {
      return fail(name, text, [
        'upload StandardFirmata to the Arduino (Arduino IDE: File > Examples > Firmata > StandardFirmata; see docs/wiring.md)',
        `check board.baudRate: it is ${baudRate}, StandardFirmata uses 57600`,
      ]);
    }
    if (/configured wiring/.test(text)) return fail(name, text, ['check board.pins against the wiring (docs/wiring.md)']);
    return fail(name, `cannot start the terminal on ${path}: ${text}`, [
      /permission denied|EACCES/i.test(text) ? PERMISSION_FIX : 'see the terminal port line: the Arduino must be plugged in',
    ]);
  }
  const firmware = port.firmware;
  const board = firmware ? `${firmware.name} ${firmware.version} (Firmata protocol ${firmware.protocol})` : 'Firmata';
  const bootId = (deps.bootId ?? randomBytes(8).toString('hex')).toLowerCase();
  const { hello } = await listenForHello(port, deps.timeoutMs, bootId);
  if (hello) return helloResult(name, `on the Arduino at ${path}, running ${board}`, hello, config, bootId);
  return fail(name, `the Arduino at ${path} runs ${board}, but the terminal core did not say hello`, [
    'run `hcp doctor` again; if it persists, report it with the bridge log',
  ]);
}

export interface GpioTerminalProbeDeps {
  /** The lines on the config's chip (default: Debian's gpiod tools). */
  lines?: GpioTerminalDeps['lines'];
  timeoutMs: number;
  bootId?: string;
}

const GPIO_GROUP_FIX = 'add the user to the gpio group (`sudo usermod -aG gpio $USER`, then log in again)';

/**
 * A terminal on the Pi's own GPIO (config board.io gpio): starts the terminal as the bridge would
 * (claims the lines, then the core on them) and reports the core's hello.
 */
export async function checkGpioTerminal(config: BridgeConfig, deps: GpioTerminalProbeDeps): Promise<CheckResult> {
  const name = 'terminal';
  const chip = config.board?.io === 'gpio' ? config.board.chip : '?';
  const port = gpioTerminalPort(config, {
    ...(deps.lines && { lines: deps.lines }),
    openSerialPort: () => {
      throw new Error('a terminal on the GPIO has no serial port');
    },
    logger: silentLogger,
  });
  try {
    await openPort(port);
  } catch (err) {
    const text = errorText(err);
    if (isBusyError(err)) return warn(name, `its GPIO lines are busy: ${text}`, TERMINAL_BUSY_FIXES);
    return fail(name, `cannot start the terminal on the Pi's GPIO (chip ${chip}): ${text}`, [
      /permission denied|EACCES|gpio group/i.test(text) ? GPIO_GROUP_FIX : 'see the terminal port line above: the gpiod tools and the chip must be there',
    ]);
  }
  const bootId = (deps.bootId ?? randomBytes(8).toString('hex')).toLowerCase();
  const { hello } = await listenForHello(port, deps.timeoutMs, bootId);
  if (hello) return helloResult(name, `on the Pi's GPIO (chip ${chip})`, hello, config, bootId);
  return fail(name, `the terminal core on the Pi's GPIO (chip ${chip}) did not say hello`, ['run `hcp doctor` again; if it persists, report it with the bridge log']);
}
