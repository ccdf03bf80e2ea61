import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { PtyLine } from './pty-line.js';
import { VirtualPrinter, type PrinterCoreOptions } from './virtual-printer.js';

/**
 * A USB printer-class printer (/dev/usb/lp0) as the bridge sees one: a character device it opens
 * by path and reads and writes as a file. Here a pty (socat's, see pty-line.ts) stands in for it,
 * under a path of its own that exists only while the printer is plugged in; the printer core
 * reads the pty's other end. With `answersStatus: false` it prints but never answers DLE EOT, as
 * many USB printers do.
 */
export class UsbPrinter extends VirtualPrinter {
  private line: PtyLine | undefined;

  private constructor(
    private readonly dir: string,
    options: PrinterCoreOptions,
  ) {
    super({ ...options, devicePath: join(dir, 'printer'), openPort: (path) => new SerialPort({ path, baudRate: 115200, autoOpen: false }) });
  }

  static override async start(options: PrinterCoreOptions = {}): Promise<UsbPrinter> {
    const printer = new UsbPrinter(mkdtempSync(join(tmpdir(), 'hcp-usblp-')), options);
    await printer.plug();
    return printer;
  }

  /** The device file, as /dev/usb/lp0 would be. */
  get path(): string {
    return join(this.dir, 'lp0');
  }

  /** What the bridge's config says: usblp: and the path (the path is not under /dev/usb/). */
  get address(): string {
    return `usblp:${this.path}`;
  }

  /** Unplugged: the device file is gone, and the bridge's open file sees the end. */
  override async unplug(): Promise<void> {
    await super.unplug();
    const line = this.line;
    this.line = undefined;
    rmSync(this.path, { force: true });
    rmSync(join(this.dir, 'printer'), { force: true });
    await line?.stop();
  }

  /** Plugged in again: the device file is back under the same path. */
  override async plug(): Promise<void> {
    if (this.line || this.isStopped) return;
    const line = await PtyLine.start();
    this.line = line;
    symlinkSync(line.bridgePath, this.path);
    symlinkSync(line.devicePath, join(this.dir, 'printer'));
    await super.plug();
  }

  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
