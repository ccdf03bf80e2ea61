import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { terminalPort, type BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, withTimeout, type CheckResult } from '../diagnose/check.js';

export interface PortListing {
  path: string;
  manufacturer?: string | undefined;
}

export interface SerialPortsDeps {
  /** serialport's SerialPort.list(): needs udev, so may throw or reject (e.g. in a container). */
  list: () => Promise<PortListing[]>;
  exists: (path: string) => boolean;
}

export const defaultSerialPortsDeps: SerialPortsDeps = {
  list: () => SerialPort.list(),
  exists: existsSync,
};

/** Lists the ports (if udev lets us), then checks the terminal's and the printer's port are there. */
export async function checkSerialPorts(config: BridgeConfig, deps: SerialPortsDeps = defaultSerialPortsDeps): Promise<CheckResult[]> {
  let listed: PortListing[] | undefined;
  let listError: string | undefined;
  try {
    listed = await withTimeout(Promise.resolve().then(() => deps.list()), 3000, 'listing serial ports timed out');
  } catch (err) {
    listError = errorText(err);
  }
  const wanted: Array<{ name: string; path: string; what: string; field: string }> = [
    config.board
      ? { name: 'terminal port', path: config.board.path, what: 'Arduino', field: 'board.path' }
      : { name: 'terminal port', path: terminalPort(config).path, what: 'terminal', field: 'serial.path' },
  ];
  if (config.printer) wanted.push({ name: 'printer port', path: config.printer.path, what: 'receipt printer', field: 'printer.path' });
  const available = listed?.map((p) => p.path).join(', ') || 'none';
  return wanted.map(({ name, path, what, field }) => {
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
    return fail(name, `${path} (the ${what}) is missing`, [
      `check the ${what}'s USB cable and power, then \`ls -l /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/\` to see where it appeared`,
      listError ? `udev cannot list the ports here (${listError}): look in /dev yourself` : `look among the ports udev knows: ${available}`,
      `set ${field} in the config to that device (a /dev/serial/by-id/ path survives re-plugging)`,
      'the service user must be in the dialout group: `sudo usermod -aG dialout hcp`',
    ]);
  });
}


/** The little of a serial port the probes use; serialport's SerialPort has it all. */
export interface ProbePort {
  open(callback: (err: Error | null) => void): void;
  write(data: string | Buffer): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(callback?: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}

export type OpenProbePort = (path: string, baudRate: number) => ProbePort;

export const openSerialProbe: OpenProbePort = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false }) as unknown as ProbePort;

/** Did opening fail because someone else (the bridge service) holds the port? */
export function isBusyError(err: unknown): boolean {
  return /cannot lock port|resource temporarily unavailable|EBUSY|EAGAIN|device or resource busy/i.test(errorText(err));
}

/** Opens a device's port for a probe, or says why not (busy: a warning; anything else: a failure). */
export async function openProbe(
  name: string,
  path: string,
  baudRate: number,
  open: OpenProbePort,
  fixes: { busy: string[]; other(err: unknown): string[] },
): Promise<ProbePort | CheckResult> {
  try {
    const port = open(path, baudRate);
    await openPort(port);
    return port;
  } catch (err) {
    if (isBusyError(err)) return warn(name, `${path} is busy: another program (most likely the bridge service) holds it`, fixes.busy);
    return fail(name, `cannot open ${path}: ${errorText(err)}`, fixes.other(err));
  }
}

export function openPort(port: ProbePort): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
}

export function closePort(port: ProbePort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
