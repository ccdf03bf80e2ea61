import { errorText, fail, ok, withTimeout, type CheckResult } from '../diagnose/check.js';
import type { PresenceDeps, Transport, WantedPort } from './transport.js';

export interface PortListing {
  path: string;
  manufacturer?: string | undefined;
}

/**
 * A serial port: made by the injected opener (serialport's, the simulator's virtual line, or an
 * Arduino running the terminal); there when udev lists it or its path exists.
 */
export const serialTransport: Transport<'serial'> = {
  open: (address, baudRate, deps) => deps.openSerialPort(address.path, baudRate),
  present: async (port, _address, deps) => checkSerial(port, await listSerialPorts(deps), deps),
};

async function listSerialPorts(deps: PresenceDeps): Promise<{ listed?: PortListing[]; error?: string }> {
  try {
    return { listed: await withTimeout(Promise.resolve().then(() => deps.list()), 3000, 'listing serial ports timed out') };
  } catch (err) {
    return { error: errorText(err) };
  }
}

function checkSerial({ name, path, what, field }: WantedPort, { listed, error }: { listed?: PortListing[]; error?: string }, deps: PresenceDeps): CheckResult {
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
