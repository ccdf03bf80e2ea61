import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../bridge/log.js';
import { canPrint, PrinterLink } from '../../bridge/printer/printer-link.js';
import type { SerialPortLike } from '../../bridge/transport/transport.js';
import { encodeStatus, type PrinterStatus } from '../../protocol/escpos/commands.js';
import { ManualTimers } from '../support/manual-timers.js';

/** A printer on a serial port that answers each DLE EOT n at once, or (status undefined) never. */
class FakePrinterPort extends Duplex implements SerialPortLike {
  isOpen = false;
  status: PrinterStatus | undefined = { online: true, coverOpen: false, paper: 'ok' };
  readonly written: number[] = [];
  open(callback?: (err: Error | null) => void): void {
    this.isOpen = true;
    callback?.(null);
  }
  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    callback?.(null);
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(...chunk);
    for (let i = 2; i < chunk.length; i++) {
      if (chunk[i - 2] !== 0x10 || chunk[i - 1] !== 0x04 || !this.status) continue;
      const [printer, cause, paper] = encodeStatus(this.status);
      this.push(Buffer.from([chunk[i] === 1 ? printer : chunk[i] === 2 ? cause : paper]));
    }
    callback();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
/** Line quiet time before a status request (printer-link.ts QUIET_MS). */
const QUIET_MS = 30;

function setup() {
  const timers = new ManualTimers();
  const port = new FakePrinterPort();
  const link = new PrinterLink({
    path: '/dev/ttyUSB1',
    baudRate: 9600,
    openPort: () => port,
    timers,
    logger: silentLogger,
    statusTimeoutMs: 1000,
    now: () => new Date('2026-11-22T06:00:00Z'),
  });
  /** One status check, the line's quiet time passed by hand. */
  const check = async () => {
    const checking = link.check();
    await settle();
    timers.advance(QUIET_MS);
    return checking;
  };
  return { timers, port, link, check };
}

describe('PrinterLink on injected time', () => {
  it('reads the printer condition from its three status answers', async () => {
    const { port, link, check } = setup();
    expect((await check()).condition).toBe('disconnected'); // not started: no port
    link.start();
    expect(await check()).toMatchObject({ condition: 'ready', status: { paper: 'ok' }, checkedAt: '2026-11-22T06:00:00.000Z' });
    port.status = { online: false, coverOpen: false, paper: 'out' };
    expect((await check()).condition).toBe('paper_out');
    port.status = { online: true, coverOpen: false, paper: 'low' };
    expect(canPrint((await check()).condition)).toBe(true);
    await link.stop();
  });

  it('a serial printer that stops answering is offline after exactly statusTimeoutMs, and does not print', async () => {
    const { timers, port, link } = setup();
    link.start();
    port.status = undefined;
    let result: string | undefined;
    const checking = link.check().then((s) => (result = s.condition));
    await settle();
    timers.advance(999);
    await settle();
    expect(result).toBeUndefined();
    timers.advance(1);
    await checking;
    expect(result).toBe('offline');
    expect(canPrint('offline')).toBe(false);
    await link.stop();
  });

  it('waits for the line to be quiet before asking (a stray answer is not taken for ours)', async () => {
    const { timers, port, link } = setup();
    link.start();
    port.push(Buffer.from([0x12])); // a stray status byte, as raster data can provoke
    await settle();
    const before = port.written.length;
    const checking = link.check();
    await settle();
    expect(port.written.length).toBe(before); // not asked yet
    timers.advance(QUIET_MS);
    await checking;
    expect(port.written.slice(before)).toEqual([0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]);
    await link.stop();
  });
});
