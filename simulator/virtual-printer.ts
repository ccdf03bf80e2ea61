import { EventEmitter, once } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import { encodeStatus, type PrinterStatus } from '../protocol/escpos/commands.js';
import { EscPosParser, isPrintItem, type EscPosItem, type EscPosParserOptions, type PrintItem } from '../protocol/escpos/parser.js';
import type { PrinterProfile } from '../bridge/printer/receipt-layout.js';
import { PrintedReceipt } from './printed-receipt.js';
import { closeVirtualPort, openVirtualPort } from './virtual-serial-line.js';
import type { OpenDevicePort } from './virtual-terminal.js';

export interface PrinterCoreOptions {
  /** 32 (58 mm paper) or 48 (80 mm paper): where long lines wrap. Default 32. */
  columns?: 32 | 48;
  /** How this printer model reads Chinese and big text (printerModel(profile) makes the one a profile is for). */
  model?: EscPosParserOptions;
  /** false: a printer that never answers a status request (many USB printer-class ones). Default true. */
  answersStatus?: boolean;
}

export interface VirtualPrinterStatus extends PrinterStatus {
  /** Hung: connected, but answers nothing and prints nothing. */
  silenced: boolean;
  /** Whether it can be reached: its cable in, its server up. */
  plugged: boolean;
}

export interface VirtualPrinterCounters {
  /** Bytes received (also while faulted or silenced). */
  bytes: number;
  receipts: number;
  /** Print items (lines, QR codes, images, feeds, cuts) dropped: paper out, cover open or silenced. */
  discarded: number;
  /** Unknown commands and bytes (the parser's `unknown` items). */
  unknown: number;
  statusRequests: number;
  /** Status bytes sent back. */
  statusAnswers: number;
}

/** DLE EOT 3 (error cause): nothing to report: bits 1 and 4 only. */
const NO_ERROR = 0x12;

/** The printer model that reads what a bridge with `profile` sends: how it is told Chinese, and what ESC ! does. */
export function printerModel(profile: Pick<PrinterProfile, 'chinese' | 'codePage' | 'bigText'>): EscPosParserOptions {
  return {
    chineseByDefault: profile.chinese === 'none',
    ...(profile.chinese === 'ESC t' && { gb18030CodePage: profile.codePage }),
    printModeSizesChinese: profile.bigText === 'ESC !',
  };
}

/**
 * An ESC/POS receipt printer, whatever it is plugged into (a serial line, a network, USB): parses
 * what arrives, answers status requests at once (as real-time commands, even while offline), and
 * collects what it prints into receipts, one per cut. Faults: paper low/out, cover open, hung
 * (silence), and (by subclass) the cable or connection gone.
 *
 * While the paper is out, the cover open, or the printer silenced, print data is thrown away
 * (counted in `discarded`); a receipt begun before the fault keeps what it had printed and goes on
 * with what comes after it.
 */
export abstract class PrinterCore {
  readonly counters: VirtualPrinterCounters = { bytes: 0, receipts: 0, discarded: 0, unknown: 0, statusRequests: 0, statusAnswers: 0 };
  readonly columns: 32 | 48;
  private readonly events = new EventEmitter();
  private readonly printed: PrintedReceipt[] = [];
  private readonly model: EscPosParserOptions;
  private readonly answersStatus: boolean;
  private parser: EscPosParser;
  private current: PrintItem[] = [];
  private paper: PrinterStatus['paper'] = 'ok';
  private coverOpen = false;
  private silenced = false;
  /** Receipts before this index were already handed out by waitForReceipt. */
  private cursor = 0;
  private stopped = false;
  private fault: { bytes: number; strike: () => unknown } | undefined;

  protected constructor(options: PrinterCoreOptions) {
    this.columns = options.columns ?? 32;
    this.model = options.model ?? {};
    this.answersStatus = options.answersStatus ?? true;
    this.parser = this.newParser();
    this.events.setMaxListeners(0);
  }

  /** Whether it can be reached now. */
  abstract get plugged(): boolean;
  /** Cuts it off (cable pulled, server down); what is sent meanwhile is lost, and the sender is told nothing. */
  abstract unplug(): Promise<void>;
  /** Makes it reachable again (a no-op if it is). */
  abstract plug(): Promise<void>;
  /** Sends status bytes back to whoever asked; false if nobody can be reached. */
  protected abstract answer(bytes: Buffer): boolean;

  setPaper(paper: PrinterStatus['paper']): void {
    this.paper = paper;
  }

  openCover(): void {
    this.coverOpen = true;
  }

  closeCover(): void {
    this.coverOpen = false;
  }

  /**
   * Behaviour: once `bytes` more bytes have arrived, `strike` runs (paper out, unplug, a dropped
   * connection): mid-receipt, if one is being sent. The rest of the chunk it struck in is lost.
   */
  faultAfter(bytes: number, strike: () => unknown): void {
    this.fault = { bytes, strike };
  }

  /** on: hung. Stays connected, never answers a status request and prints nothing. */
  silence(on: boolean): void {
    this.silenced = on;
  }

  status(): VirtualPrinterStatus {
    return {
      online: !this.coverOpen && this.paper !== 'out',
      coverOpen: this.coverOpen,
      paper: this.paper,
      silenced: this.silenced,
      plugged: this.plugged,
    };
  }

  /** Every receipt printed so far, oldest first. */
  receipts(): PrintedReceipt[] {
    return [...this.printed];
  }

  on(event: 'receipt', listener: (receipt: PrintedReceipt) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'receipt', listener: (receipt: PrintedReceipt) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * The first receipt matching `predicate` among those printed after the one the previous call
   * returned (or since start), waiting for it if need be. So successive calls without a predicate
   * hand out receipts one by one, whether they were printed before or after the call.
   */
  waitForReceipt(
    predicate: (receipt: PrintedReceipt) => boolean = () => true,
    { timeoutMs = 5000 }: { timeoutMs?: number } = {},
  ): Promise<PrintedReceipt> {
    const take = (from: number): PrintedReceipt | undefined => {
      for (let i = from; i < this.printed.length; i++) {
        const receipt = this.printed[i]!;
        if (predicate(receipt)) {
          this.cursor = i + 1;
          return receipt;
        }
      }
      return undefined;
    };
    const ready = take(this.cursor);
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, receipt?: PrintedReceipt) => {
        clearTimeout(timer);
        this.events.off('receipt', onReceipt);
        this.events.off('stop', onStop);
        if (receipt) resolve(receipt);
        else reject(error);
      };
      const onReceipt = () => {
        const receipt = take(this.cursor);
        if (receipt) finish(undefined, receipt);
      };
      const onStop = () => finish(new Error('virtual printer stopped while waiting for a receipt'));
      const timer = setTimeout(
        () => finish(new Error(`no matching receipt within ${timeoutMs} ms (${this.printed.length} printed, ${this.counters.discarded} items discarded)`)),
        timeoutMs,
      );
      this.events.on('receipt', onReceipt);
      this.events.on('stop', onStop);
    });
  }

  protected get isStopped(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.events.emit('stop');
    await this.unplug();
  }

  /** Bytes from the host. */
  protected receive(chunk: Buffer): void {
    const fault = this.fault;
    if (fault && chunk.length >= fault.bytes) {
      this.fault = undefined;
      this.counters.bytes += fault.bytes;
      this.parser.feed(chunk.subarray(0, fault.bytes));
      fault.strike();
      return;
    }
    if (fault) fault.bytes -= chunk.length;
    this.counters.bytes += chunk.length;
    this.parser.feed(chunk);
  }

  /**
   * A new job begins on a new connection: a command the last one left half-sent is dropped (a
   * network printer does not join two connections' bytes). What was printed stays on the paper.
   */
  protected newJob(): void {
    this.parser = this.newParser();
  }

  private newParser(): EscPosParser {
    return new EscPosParser(this.model).onItem((item) => this.handle(item));
  }

  private handle(item: EscPosItem): void {
    if (item.kind === 'status') {
      this.counters.statusRequests += 1;
      if (this.silenced || !this.answersStatus) return;
      const [printer, offlineCause, paper] = encodeStatus(this.status());
      const answer = item.n === 1 ? printer : item.n === 2 ? offlineCause : item.n === 4 ? paper : NO_ERROR;
      if (this.answer(Buffer.from([answer]))) this.counters.statusAnswers += 1;
      return;
    }
    if (item.kind === 'unknown') this.counters.unknown += 1;
    if (!isPrintItem(item)) return;
    if (this.silenced || this.coverOpen || this.paper === 'out') {
      this.counters.discarded += 1;
      return;
    }
    this.current.push(item);
    if (item.kind !== 'cut') return;
    const receipt = new PrintedReceipt(this.current, this.columns);
    this.current = [];
    this.printed.push(receipt);
    this.counters.receipts += 1;
    this.events.emit('receipt', receipt);
  }
}

export interface VirtualPrinterOptions extends PrinterCoreOptions {
  /** The device end of a virtual line (createVirtualLine), or of a real one (see openPort). */
  devicePath: string;
  /** Default: a port on the virtual line (openVirtualPort); called again on every plug(). */
  openPort?: OpenDevicePort;
}

/**
 * The printer at the device end of a serial line. Unplugging keeps the printer's state (it still
 * has power): a command cut in half by the pull stays half-parsed, as it would on a real printer.
 */
export class VirtualPrinter extends PrinterCore {
  private port: SerialPortStream | undefined;
  private readonly devicePath: string;
  private readonly openPort: OpenDevicePort;

  protected constructor(options: VirtualPrinterOptions) {
    super(options);
    this.devicePath = options.devicePath;
    this.openPort = options.openPort ?? ((path: string) => openVirtualPort(path));
  }

  static async start(options: VirtualPrinterOptions): Promise<VirtualPrinter> {
    const printer = new VirtualPrinter(options);
    await printer.plug();
    return printer;
  }

  get plugged(): boolean {
    return this.port?.isOpen ?? false;
  }

  /** Pulls the cable: the port closes; what the bridge writes meanwhile is lost, and it is told nothing. */
  async unplug(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port) await closeVirtualPort(port);
  }

  /** Plugs the cable back in (a no-op if it is in). */
  async plug(): Promise<void> {
    if (this.port || this.isStopped) return;
    const port = this.openPort(this.devicePath);
    if (!port.isOpen) {
      const opened = once(port, 'open'); // rejects on 'error', e.g. a failed open
      if (!port.opening) port.open();
      await opened;
    }
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', () => {}); // a line gone away under the port: it closes, plug() opens it again
    port.once('close', () => {
      if (this.port === port) this.port = undefined;
    });
    this.port = port;
  }

  protected answer(bytes: Buffer): boolean {
    if (!this.port?.isOpen) return false;
    this.port.write(bytes);
    return true;
  }
}
