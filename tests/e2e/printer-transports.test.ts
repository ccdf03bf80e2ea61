import { describe, expect, it } from 'vitest';
import { verifyEvaluationUrl } from '../../protocol/receipt-token.js';
import type { SimPrinterOptions, SimWindow } from '../../simulator/sim-window.js';
import type { PrintedReceipt } from '../../simulator/printed-receipt.js';
import { NetworkPrinter } from '../../simulator/network-printer.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/*
 * Receipts on each transport the bridge takes by address: a serial line, a network printer
 * (tcp://, a real TCP server) and a USB printer-class device (a real pty opened as a file). Faults
 * strike mid-receipt; the receipt queue prints the receipt again, and the rating reaches the
 * province exactly once whatever the printer does.
 */
const halls = useHall(BROKERS[0]!);

type Via = NonNullable<SimPrinterOptions['via']>;
const VIAS: readonly Via[] = ['serial', 'tcp', 'usb'];
/** Far enough into a receipt to be past its title (which is how a second start is recognised). */
const MID_RECEIPT = 60;

const printerOf = (w: SimWindow) => {
  const status = w.bridge.status().printer;
  if (!status.configured) throw new Error('no printer');
  return status;
};
const withCase = (caseNo: string) => (r: PrintedReceipt) => r.lines().join('').includes(caseNo);
const alarm = (w: SimWindow, name: string) => waitUntil(() => w.bridge.status().alarms.includes(name as never), `the ${name} alarm`, { timeoutMs: 10_000 });

/** The receipt printed again: its cut-short start and then the whole of it, with a QR the province can verify. */
function expectPrintedAgain(w: SimWindow, receipt: PrintedReceipt, invitationId: string): void {
  const text = receipt.lines().join('').replace(/\s+/g, '');
  expect(text.split('办件回执')).toHaveLength(3);
  expect(verifyEvaluationUrl(receipt.qrCodes()[0]!.payload, printerOf(w).publicKey)).toMatchObject({ ok: true, claims: { invitationId } });
}

describe.each(VIAS)('receipts on a %s printer', (via) => {
  it('prints a receipt, the printer ready', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { via, print: 'always' } });
    expect(w.bridge.config.printer?.path).toMatch(via === 'tcp' ? /^tcp:\/\/127\.0\.0\.1:\d+$/ : via === 'usb' ? /^usblp:\// : /^\/dev\/virtual\//);
    const id = await hall.serve(w, `C-${via}-OK`, 0);
    const receipt = await w.printer!.waitForReceipt(withCase(`C-${via}-OK`), { timeoutMs: 10_000 });
    expect(receipt.lines().join('\n')).toContain('已评价，感谢您的评价！');
    await hall.expectExactlyOnce(w, [id]);
    await waitUntil(() => printerOf(w).condition === 'ready' && printerOf(w).printed === 1, 'the printer ready, one receipt printed');
  });

  it('unplugged mid-receipt: printed again once it is back; the rating reaches the province once', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { via, print: 'always' } });
    const printer = w.printer!;
    printer.faultAfter(MID_RECEIPT, () => printer.unplug());
    const id = await hall.serve(w, `C-${via}-UNPLUG`, 3);
    await hall.expectExactlyOnce(w, [id]);
    await alarm(w, 'printer_offline');
    expect(printerOf(w).pending).toBe(1);
    expect(printer.receipts()).toHaveLength(0);
    await printer.plug();
    const receipt = await printer.waitForReceipt(withCase(`C-${via}-UNPLUG`), { timeoutMs: 15_000 });
    expectPrintedAgain(w, receipt, id);
    await waitUntil(() => printerOf(w).pending === 0 && !w.bridge.status().alarms.includes('printer_offline'), 'the queue empty, the alarm cleared');
    await hall.expectExactlyOnce(w, [id]);
  });

  it('paper out mid-receipt: printed again when paper is back; the rating reaches the province once', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { via, print: 'always' } });
    const printer = w.printer!;
    printer.faultAfter(MID_RECEIPT, () => printer.setPaper('out'));
    const id = await hall.serve(w, `C-${via}-PAPER`, 4);
    await alarm(w, 'printer_paper_out');
    await hall.expectExactlyOnce(w, [id]);
    expect(printerOf(w).pending).toBe(1);
    printer.setPaper('ok');
    const receipt = await printer.waitForReceipt(withCase(`C-${via}-PAPER`), { timeoutMs: 15_000 });
    expectPrintedAgain(w, receipt, id);
    await waitUntil(() => printerOf(w).pending === 0, 'the queue empty');
  });
});

describe('a network printer', () => {
  it('connection dropped mid-receipt: the bridge reconnects and prints it again; the rating reaches the province once', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { via: 'tcp', print: 'always' } });
    const printer = w.printer as NetworkPrinter;
    expect(printer).toBeInstanceOf(NetworkPrinter);
    printer.faultAfter(MID_RECEIPT, () => printer.dropConnections());
    const id = await hall.serve(w, 'C-TCP-DROP', 1);
    const receipt = await printer.waitForReceipt(withCase('C-TCP-DROP'), { timeoutMs: 15_000 });
    expectPrintedAgain(w, receipt, id);
    await hall.expectExactlyOnce(w, [id]);
    await waitUntil(() => printerOf(w).pending === 0 && printerOf(w).printed === 1, 'the receipt marked printed, once');
  });
});

describe('a USB printer that never answers a status request', () => {
  it('is reported unknown, raises no alarm, and prints', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { via: 'usb', answersStatus: false, print: 'always' } });
    await waitUntil(() => printerOf(w).condition === 'unknown', 'the printer condition unknown');
    const id = await hall.serve(w, 'C-USB-MUTE', 2);
    const receipt = await w.printer!.waitForReceipt(withCase('C-USB-MUTE'), { timeoutMs: 15_000 });
    expect(receipt.lines().join('\n')).toContain('办件回执');
    await hall.expectExactlyOnce(w, [id]);
    expect(w.printer!.counters.statusRequests).toBeGreaterThan(0);
    expect(w.printer!.counters.statusAnswers).toBe(0);
    expect(w.bridge.status().alarms.filter((a) => a.startsWith('printer_'))).toEqual([]);
  });
});
