import { decodeStatus, isStatusByte, STATUS_REQUEST, type PrinterStatus } from '../../protocol/escpos/commands.js';
import type { BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, type CheckResult } from '../diagnose/check.js';
import { portAddress } from '../transport/address.js';
import { closePort, openProbe } from '../transport/probe.js';
import type { OpenSerialPort } from '../transport/transport.js';

export interface PrinterProbeDeps {
  /** Serial ports (network and USB printers need none). */
  openPort: OpenSerialPort;
  timeoutMs: number;
}

/** Asks the printer for its real-time status (DLE EOT 1, 2, 4) and reads the three answers. */
export async function checkPrinter(config: BridgeConfig, deps: PrinterProbeDeps): Promise<CheckResult | undefined> {
  if (!config.printer) return undefined;
  const name = 'printer';
  const { path, baudRate } = config.printer;
  const port = await openProbe(name, path, baudRate, deps.openPort, {
    busy: ['the running bridge reports the printer: `hcp status`'],
    other: (err) =>
      /permission denied|EACCES/i.test(errorText(err))
        ? ['the service user must be in the dialout group (a serial printer) or the lp group (/dev/usb/lp0): `sudo usermod -aG dialout,lp hcp`']
        : ['see the printer port line above'],
  });
  if (!('write' in port)) return port;
  const answers: number[] = [];
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deps.timeoutMs);
      port.on('error', () => undefined);
      port.on('data', (chunk: Buffer) => {
        for (const byte of chunk) if (isStatusByte(byte)) answers.push(byte);
        if (answers.length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
      port.write(Buffer.from([...STATUS_REQUEST.printer, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper]));
    });
  } finally {
    await closePort(port);
  }
  const [printer, cause, paper] = answers;
  if (printer === undefined || cause === undefined || paper === undefined) {
    if (portAddress(path).kind === 'usb-lp') {
      // Many USB printer-class printers never answer: the bridge prints to them regardless.
      return warn(name, `${path} is open, but the printer does not answer status requests: paper and cover cannot be checked`, [
        'normal for many USB printers: receipts still print (status shows the printer as unknown)',
        'print a test receipt to be sure: `hcp selftest`',
      ]);
    }
    return fail(name, `no status answer on ${path} within ${deps.timeoutMs} ms`, [
      'check the printer is switched on and its cable is in',
      `check the baud rate: printer.baudRate is ${baudRate} (print a self-test page: hold FEED while switching on)`,
    ]);
  }
  return printerResult(path, decodeStatus(printer, cause, paper));
}

export function printerResult(path: string, status: PrinterStatus): CheckResult {
  const name = 'printer';
  if (status.coverOpen) return fail(name, `cover open (${path})`, ['close the paper cover until it clicks']);
  if (status.paper === 'out') return fail(name, `out of paper (${path})`, ['load a new roll, thermal side facing the print head']);
  if (!status.online) return fail(name, `offline (${path})`, ['press the printer\'s FEED button, or switch it off and on']);
  if (status.paper === 'low') return warn(name, `ready, paper low (${path})`, ['have a new roll ready']);
  return ok(name, `ready (${path})`);
}
