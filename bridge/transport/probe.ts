import { existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { SerialPort } from 'serialport';
import { hostTimers } from '../../protocol/timers.js';
import { terminalPort, type BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, withTimeout, type CheckResult } from '../diagnose/check.js';
import { portAddress } from './address.js';
import { openTransport, type OpenSerialPort, type SerialPortLike } from './transport.js';

export interface PortListing {
  path: string;
  manufacturer?: string | undefined;
}

export interface PortsDeps {
  /** serialport's SerialPort.list(): needs udev, so may throw or reject (e.g. in a container). */
  list: () => Promise<PortListing[]>;
  exists: (path: string) => boolean;
  /** Whether the path is a character device (follows symlinks); throws if it is not there. */
  isCharacterDevice: (path: string) => boolean;
  /** Resolves once a TCP connection to host:port is made (and closes it), rejects with why not. */
  canConnect: (host: string, port: number, timeoutMs: number) => Promise<void>;
}

export const defaultPortsDeps: PortsDeps = {
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

const CONNECT_TIMEOUT_MS = 3000;

interface WantedPort {
  name: string;
  path: string;
  what: string;
  field: string;
}

/**
 * Whether the terminal's and the printer's ports are there, each as its transport says: a serial
 * port exists (udev lists it, or the path is there), a TCP address accepts a connection, a USB
 * printer device is a character device.
 */
export async function checkPorts(config: BridgeConfig, deps: PortsDeps = defaultPortsDeps): Promise<CheckResult[]> {
  const wanted: WantedPort[] = [
    config.board
      ? { name: 'terminal port', path: config.board.path, what: 'Arduino', field: 'board.path' }
      : { name: 'terminal port', path: terminalPort(config).path, what: 'terminal', field: 'serial.path' },
  ];
  if (config.printer) wanted.push({ name: 'printer port', path: config.printer.path, what: 'receipt printer', field: 'printer.path' });
  // Board paths are serial ports; the schema checked every address.
  const addressed = wanted.map((port) => ({ port, address: config.board && port.field === 'board.path' ? { kind: 'serial' as const, path: port.path } : portAddress(port.path) }));
  const listing = addressed.some(({ address }) => address.kind === 'serial') ? await listSerialPorts(deps) : undefined;
  return Promise.all(
    addressed.map(({ port, address }) => {
      if (address.kind === 'tcp') return checkTcp(port, address, deps);
      if (address.kind === 'usb-lp') return Promise.resolve(checkUsbLp(port, address.path, deps));
      return Promise.resolve(checkSerial(port, listing!, deps));
    }),
  );
}

async function listSerialPorts(deps: PortsDeps): Promise<{ listed?: PortListing[]; error?: string }> {
  try {
    return { listed: await withTimeout(Promise.resolve().then(() => deps.list()), 3000, 'listing serial ports timed out') };
  } catch (err) {
    return { error: errorText(err) };
  }
}

function checkSerial({ name, path, what, field }: WantedPort, { listed, error }: { listed?: PortListing[]; error?: string }, deps: PortsDeps): CheckResult {
  const entry = listed?.find((p) => p.path === path);
  let present = entry !== undefined;
  try {
    present ||= deps.exists(path);
  } catch {
    // treated as missing
  }
  if (present) {
    const how = entry ? (entry.manufacturer ? ` (${entry.manufacturer})` : '') : listed ? ' (not listed by udev: a pty, a built-in UART or a symlink)' : '';
    return ok(name, `${path} is present${how}`);
  }
  const available = listed?.map((p) => p.path).join(', ') || 'none';
  return fail(name, `${path} (the ${what}) is missing`, [
    `check the ${what}'s USB cable and power, then \`ls -l /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/\` to see where it appeared`,
    error ? `udev cannot list the ports here (${error}): look in /dev yourself` : `look among the ports udev knows: ${available}`,
    `set ${field} in the config to that device (a /dev/serial/by-id/ path survives re-plugging)`,
    'the service user must be in the dialout group: `sudo usermod -aG dialout hcp`',
  ]);
}

async function checkTcp({ name, path, what, field }: WantedPort, address: { host: string; port: number }, deps: PortsDeps): Promise<CheckResult> {
  try {
    await deps.canConnect(address.host, address.port, CONNECT_TIMEOUT_MS);
    return ok(name, `${path} accepts connections`);
  } catch (err) {
    const printer = field === 'printer.path';
    return fail(name, `cannot connect to ${path} (the ${what}): ${errorText(err)}`, [
      printer
        ? 'check the printer is on and on this network: its self-test page (hold FEED while switching on) shows its IP address'
        : `check ser2net runs on ${address.host} and forwards port ${address.port} to the terminal's serial line`,
      `check ${field}: ${printer ? 'network printers take raw print jobs on port 9100' : 'the host and port of the ser2net connection'}`,
      `from this Pi: \`nc -vz ${address.host} ${address.port}\``,
    ]);
  }
}

function checkUsbLp({ name, path, what, field }: WantedPort, devicePath: string, deps: PortsDeps): CheckResult {
  let isDevice: boolean;
  try {
    isDevice = deps.isCharacterDevice(devicePath);
  } catch {
    return fail(name, `${devicePath} (the ${what}) is missing`, [
      `check the ${what}'s USB cable and power, then \`ls -l /dev/usb/\` to see where it appeared`,
      'the kernel driver must be loaded: `lsmod | grep usblp` (else `sudo modprobe usblp`)',
      `set ${field} in the config to that device`,
    ]);
  }
  if (!isDevice) return fail(name, `${path} is not a device (a USB printer is a character device, like /dev/usb/lp0)`, [`set ${field} to the printer's device`]);
  return ok(name, `${path} is present (a USB printer-class device)`);
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
