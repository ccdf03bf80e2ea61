import { existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { SerialPort } from 'serialport';
import { hostTimers } from '../../protocol/timers.js';
import { terminalPort, type BridgeConfig } from '../config.js';
import { errorText, fail, warn, withTimeout, type CheckResult } from '../diagnose/check.js';
import { portAddress, type PortAddress } from './address.js';
import { checkPresent, openTransport, type OpenSerialPort, type PresenceDeps, type SerialPortLike, type WantedPort } from './transport.js';

export const defaultPresenceDeps: PresenceDeps = {
  list: () => SerialPort.list(),
  exists: existsSync,
  isCharacterDevice: (path) => statSync(path).isCharacterDevice(),
  canConnect: (host, port, timeoutMs) =>
    withTimeout(
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      }),
      timeoutMs,
      `no answer within ${timeoutMs} ms`,
    ),
};

/**
 * Whether the terminal's and the printer's ports are there, each as its transport says: a serial
 * port exists (udev lists it, or the path is there), a TCP address accepts a connection, a USB
 * printer device is a character device. A terminal on the Pi's own GPIO has no port: its lines
 * are checked by bridge/terminal/gpio-probe.ts, and only the printer's port is here.
 */
export async function checkPorts(config: BridgeConfig, deps: PresenceDeps = defaultPresenceDeps): Promise<CheckResult[]> {
  const wanted: { port: WantedPort; address: PortAddress }[] = [];
  const { board } = config;
  // Board paths are serial ports; the schema checked every address.
  if (board?.io === 'firmata') wanted.push({ port: { name: 'terminal port', path: board.path, what: 'Arduino', field: 'board.path' }, address: { kind: 'serial', path: board.path } });
  else if (!board) {
    const { path } = terminalPort(config);
    wanted.push({ port: { name: 'terminal port', path, what: 'terminal', field: 'serial.path' }, address: portAddress(path) });
  }
  if (config.printer) wanted.push({ port: { name: 'printer port', path: config.printer.path, what: 'receipt printer', field: 'printer.path' }, address: portAddress(config.printer.path) });
  return Promise.all(wanted.map(({ port, address }) => checkPresent(port, address, deps)));
}

export const openSerialProbe: OpenSerialPort = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false });

/** Did opening fail because someone else (the bridge service) holds the port? */
export function isBusyError(err: unknown): boolean {
  return /cannot lock port|resource temporarily unavailable|EBUSY|EAGAIN|device or resource busy/i.test(errorText(err));
}

/** Opens a device's port (of the transport its address names) for a probe, or says why not (busy: a warning; anything else: a failure). */
export async function openProbe(
  name: string,
  path: string,
  baudRate: number,
  openSerialPort: OpenSerialPort,
  fixes: { busy: string[]; other(err: unknown): string[] },
): Promise<SerialPortLike | CheckResult> {
  try {
    const port = openTransport(portAddress(path), baudRate, { openSerialPort, timers: hostTimers });
    await openPort(port);
    return port;
  } catch (err) {
    if (isBusyError(err)) return warn(name, `${path} is busy: another program (most likely the bridge service) holds it`, fixes.busy);
    return fail(name, `cannot open ${path}: ${errorText(err)}`, fixes.other(err));
  }
}

export function openPort(port: SerialPortLike): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
}

export function closePort(port: SerialPortLike): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
