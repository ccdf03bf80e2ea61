import { once } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EscPosWriter } from '../../protocol/escpos/writer.js';
import { layoutReceipt, printerProfileSchema, type ReceiptContent } from '../../bridge/printer/receipt-layout.js';
import { decodeStatus, encodeStatus, isStatusByte, STATUS_REQUEST } from '../../protocol/escpos/commands.js';
import { closeVirtualPort, createVirtualLine, openVirtualPort } from '../../simulator/virtual-serial-line.js';
import { VirtualPrinter } from '../../simulator/virtual-printer.js';
import { waitUntil } from '../../simulator/wait.js';
import { SAMPLE_RECEIPT, SAMPLE_URL } from '../support/sample-receipt.js';

const URL = SAMPLE_URL;
const CONTENT = SAMPLE_RECEIPT;

const cleanups: (() => Promise<void>)[] = [];
let lines = 0;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The bridge's end of the cable, as the test plays it: writes jobs, reads status bytes. */
class BridgeEnd {
  readonly received: number[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly port: SerialPortStream) {
    port.on('data', (chunk: Buffer) => {
      this.received.push(...chunk);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves once the write has left this end (and crossed the virtual cable, or been lost). */
  write(bytes: Uint8Array | readonly number[]): Promise<void> {
    return new Promise((resolve, reject) => this.port.write(Buffer.from(bytes as Uint8Array), (err) => (err ? reject(err) : resolve())));
  }

  /** The next `n` bytes from the printer, waiting for them (event-driven). */
  async read(n: number): Promise<number[]> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received.splice(0, n);
  }

  /** Asks for the three status bytes and decodes them. */
  async status() {
    await this.write([...STATUS_REQUEST.printer, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper]);
    const [printer, offlineCause, paper] = await this.read(3);
    for (const byte of [printer!, offlineCause!, paper!]) expect(isStatusByte(byte)).toBe(true);
    return decodeStatus(printer!, offlineCause!, paper!);
  }

  /**
   * Waits until the printer has dealt with everything written before: the line keeps order, and
   * a status request is answered as soon as it is read.
   */
  async sync(): Promise<void> {
    await this.write(STATUS_REQUEST.printer);
    await this.read(1);
  }
}

async function rig(columns: 32 | 48 = 32) {
  const line = createVirtualLine(`vprinter-${++lines}`);
  const printer = await VirtualPrinter.start({ devicePath: line.devicePath, columns });
  cleanups.push(() => printer.stop());
  const port = openVirtualPort(line.bridgePath);
  cleanups.push(() => closeVirtualPort(port));
  await once(port, 'open');
  return { line, printer, bridge: new BridgeEnd(port) };
}

const receipt = (columns: 32 | 48, qr: 'native' | 'raster', content: Partial<ReceiptContent> = {}) =>
  layoutReceipt({ ...CONTENT, ...content }, printerProfileSchema.parse({ columns, qr }));

describe('VirtualPrinter', () => {
  it('prints a receipt sent down the line, with its lines and its native QR code', async () => {
    const { printer, bridge } = await rig();
    const printed = new Promise((resolve) => printer.on('receipt', resolve));
    await bridge.write(receipt(32, 'native'));
    const r = await printer.waitForReceipt();
    expect(await printed).toBe(r);
    const lines = r.lines().map((l) => l.trim());
    expect(lines[0]).toBe('办件回执');
    expect(lines).toEqual(expect.arrayContaining(['窗口：A03', '工号：S1001', '时间：2026-11-22 14:06', '事项：食品经营许可', '办件编号：330106202611220001']));
    expect(lines.join('')).toContain('请扫描下方二维码对本次服务进行评价');
    expect(r.qrCodes()).toEqual([{ payload: URL, via: 'native' }]);
    expect(printer.counters).toMatchObject({ receipts: 1, discarded: 0, unknown: 0 });
  });

  it('decodes a raster QR code (jsQR) on an 80 mm printer, with the job arriving in small pieces', async () => {
    const { line, printer, bridge } = await rig(48);
    line.impair({ maxChunk: 7 }, 'toDevice');
    await bridge.write(receipt(48, 'raster', { rated: true }));
    const r = await printer.waitForReceipt();
    expect(r.images).toHaveLength(1);
    expect(r.qrCodes()).toEqual([{ payload: URL, via: 'raster' }]);
    expect(r.lines().map((l) => l.trim())).toContain('已评价，感谢您的评价！');
  });

  it('hands out receipts one by one, and waits for one matching a predicate', async () => {
    const { printer, bridge } = await rig();
    await bridge.write(new EscPosWriter().init().line('一').cut().line('二').cut().bytes());
    expect((await printer.waitForReceipt()).lines()).toEqual(['一']);
    expect((await printer.waitForReceipt()).lines()).toEqual(['二']);
    const third = printer.waitForReceipt((r) => r.lines().includes('四'));
    await bridge.write(new EscPosWriter().init().line('三').cut().line('四').cut().bytes());
    expect((await third).lines()).toEqual(['四']);
    await expect(printer.waitForReceipt(undefined, { timeoutMs: 20 })).rejects.toThrow(/no matching receipt within 20 ms/);
  });

  it('answers DLE EOT 1, 2 and 4 for paper ok, low and out, and for the cover open', async () => {
    const { printer, bridge } = await rig();
    expect(await bridge.status()).toEqual({ online: true, coverOpen: false, paper: 'ok' });
    printer.setPaper('low');
    expect(await bridge.status()).toEqual({ online: true, coverOpen: false, paper: 'low' });
    printer.setPaper('out');
    expect(await bridge.status()).toEqual({ online: false, coverOpen: false, paper: 'out' });
    printer.setPaper('ok');
    printer.openCover();
    expect(await bridge.status()).toEqual({ online: false, coverOpen: true, paper: 'ok' });
    printer.closeCover();
    expect(await bridge.status()).toEqual({ online: true, coverOpen: false, paper: 'ok' });
    expect(printer.status()).toMatchObject({ online: true, silenced: false, plugged: true });
    // The exact bytes are the shared contract's.
    printer.setPaper('low');
    await bridge.write(STATUS_REQUEST.paper);
    expect(await bridge.read(1)).toEqual([encodeStatus({ online: true, coverOpen: false, paper: 'low' })[2]]);
  });

  it('prints nothing while out of paper or with the cover open, and prints again once fixed', async () => {
    const { printer, bridge } = await rig();
    printer.setPaper('out');
    await bridge.write(receipt(32, 'native'));
    await bridge.sync();
    expect(printer.receipts()).toHaveLength(0);
    expect(printer.counters.discarded).toBeGreaterThan(10);

    printer.setPaper('ok');
    printer.openCover();
    await bridge.write(receipt(32, 'native'));
    await bridge.sync();
    expect(printer.receipts()).toHaveLength(0);

    printer.closeCover();
    await bridge.write(receipt(32, 'native', { reprint: true }));
    const r = await printer.waitForReceipt();
    expect(r.lines()[0]?.trim()).toBe('办件回执【补打】');
    expect(printer.receipts()).toHaveLength(1);
  });

  it('silenced (hung): answers no status request and prints nothing', async () => {
    const { printer, bridge } = await rig();
    printer.setPaper('low');
    printer.silence(true);
    await bridge.write(receipt(32, 'native'));
    await bridge.write(STATUS_REQUEST.printer);
    await waitUntil(() => printer.counters.statusRequests === 1, 'the printer to read the request');
    expect(printer.counters.statusAnswers).toBe(0);
    expect(printer.status().silenced).toBe(true);

    printer.silence(false);
    await bridge.write(STATUS_REQUEST.paper);
    // The first byte back answers the second request: the first one got none.
    expect(await bridge.read(1)).toEqual([encodeStatus({ online: true, coverOpen: false, paper: 'low' })[2]]);
    expect(printer.counters.statusAnswers).toBe(1);
    expect(printer.receipts()).toHaveLength(0);
    expect(printer.counters.discarded).toBeGreaterThan(0);
  });

  it('unplugged: nothing arrives and the bridge is told nothing; plugged back, it prints again', async () => {
    const { printer, bridge } = await rig();
    await printer.unplug();
    expect(printer.status().plugged).toBe(false);
    await bridge.write(receipt(32, 'native'));
    await bridge.write(STATUS_REQUEST.printer);
    expect(printer.counters.bytes).toBe(0);
    expect(bridge.port.isOpen).toBe(true);

    await printer.plug();
    expect(await bridge.status()).toEqual({ online: true, coverOpen: false, paper: 'ok' });
    expect(bridge.received).toEqual([]); // the request sent while unplugged was never answered
    await bridge.write(receipt(32, 'native', { windowNo: 'B07' }));
    const r = await printer.waitForReceipt();
    expect(r.lines()).toContain('窗口：B07');
    expect(printer.receipts()).toHaveLength(1);
  });

  it('counts unknown commands and keeps printing', async () => {
    const { printer, bridge } = await rig();
    await bridge.write(new EscPosWriter().init().raw([0x1b, 0x01, 0x1d, 0x99]).line('ok').cut().bytes());
    expect((await printer.waitForReceipt()).lines()).toEqual(['ok']);
    expect(printer.counters.unknown).toBe(2);
  });
});
