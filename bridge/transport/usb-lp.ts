import { constants } from 'node:fs';
import { open as openFileDefault, type FileHandle } from 'node:fs/promises';
import type { Timers } from '../../protocol/timers.js';
import { fail, ok, type CheckResult } from '../diagnose/check.js';
import { DeviceStream } from './device-stream.js';
import type { PresenceDeps, Transport, WantedPort } from './transport.js';

export type OpenFile = (path: string, flags: number) => Promise<FileHandle>;

/** How often the device is asked for bytes (status answers) and a busy write retried. */
const POLL_MS = 20;

/** errno codes of a device that is busy for now: try again shortly. */
const AGAIN = new Set(['EAGAIN', 'EWOULDBLOCK']);
/** errno codes of a printer with no way back (a unidirectional one): it will never answer. */
const CANNOT_READ = new Set(['EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'ENOTSUP']);

/**
 * A USB printer-class device (/dev/usb/lp0, the kernel's usblp driver), opened and written as a
 * file. The file is non-blocking and polled for what the printer sends back: a blocking read
 * would hold a thread until the printer speaks, which many never do, and close() could not
 * end it. Only one process may have the device open (usblp refuses a second: EBUSY).
 */
export class UsbLpPort extends DeviceStream {
  private handle: FileHandle | undefined;
  private poll: unknown;
  private reading: Promise<void> = Promise.resolve();
  private readonly buffer = Buffer.alloc(64);

  constructor(
    private readonly path: string,
    private readonly timers: Timers,
    private readonly openFile: OpenFile = openFileDefault,
  ) {
    super();
  }

  protected async connect(): Promise<void> {
    this.handle = await this.openFile(this.path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    this.schedulePoll();
  }

  protected async send(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length && this.handle; ) {
      try {
        offset += (await this.handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
      } catch (err) {
        if (!AGAIN.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        // The printer is still taking the previous block (usblp lets one write run at a time).
        await new Promise((resolve) => this.timers.setTimeout(() => resolve(undefined), POLL_MS));
      }
    }
  }

  protected async disconnect(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.timers.clearTimeout(this.poll);
    await this.reading; // a non-blocking read: over at once
    await handle?.close().catch(() => undefined);
  }

  private schedulePoll(): void {
    this.poll = this.timers.setTimeout(() => {
      this.reading = this.readOnce();
    }, POLL_MS);
  }

  private async readOnce(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    try {
      const { bytesRead } = await handle.read(this.buffer, 0, this.buffer.length, null);
      // End of file on a device: the other end is gone (unplugged).
      if (bytesRead === 0) return this.lost();
      this.push(Buffer.from(this.buffer.subarray(0, bytesRead)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (CANNOT_READ.has(code)) return; // it prints, but will never answer: stop asking
      if (!AGAIN.has(code)) return this.lost(err as Error);
    }
    if (this.handle === handle) this.schedulePoll();
  }
}

/** /dev/usb/lpN (or usblp:/path): there when the path is a character device. */
export const usbLpTransport: Transport<'usb-lp'> = {
  open: (address, _baudRate, deps) => new UsbLpPort(address.path, deps.timers, deps.openFile),
  present: async (port, address, deps) => checkUsbLp(port, address.path, deps),
};

function checkUsbLp({ name, path, what, field }: WantedPort, devicePath: string, deps: PresenceDeps): CheckResult {
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
