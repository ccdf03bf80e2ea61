import { describe, expect, it } from 'vitest';
import { verifyEvaluationUrl } from '../../protocol/receipt-token.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/** Case receipts (办件回执) through the whole path: bridge → ESC/POS → virtual printer. */
const halls = useHall(BROKERS[0]!);

function publicKeyOf(w: SimWindow) {
  const printer = w.bridge.status().printer;
  if (!printer.configured) throw new Error('no printer');
  return printer.publicKey;
}

const food = { itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: '330106202611220001' };

describe('receipts', () => {
  it('an invitation nobody rated: every field, and a QR whose signed token the province can verify', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'not_rated' }, config: { invitation: { timeoutSeconds: 1, deviceGraceSeconds: 5 } } });
    const id = await w.invite({ services: [food] });
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    // Compared without spaces and line breaks: the layout wraps and centres at the column width.
    const text = receipt.lines().join('').replace(/\s+/g, '');
    for (const expected of ['办件回执', '模拟政务服务大厅', `窗口：${w.windowNo}`, '工号：S', '事项：食品经营许可', '330106-XK-0012', '办件编号：330106202611220001', '请扫描下方二维码对本次服务进行评价', '7日内有效']) {
      expect(text).toContain(expected);
    }
    expect(receipt.lines().join('\n')).toMatch(/时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    const [qr] = receipt.qrCodes();
    expect(qr?.via).toBe('native');
    const verified = verifyEvaluationUrl(qr!.payload, publicKeyOf(w));
    expect(verified).toMatchObject({ ok: true, claims: { terminalId: w.terminalId, invitationId: id, caseNos: [food.caseNo] } });
    const forged = qr!.payload.replace('330106202611220001', '330106202611220009');
    expect(verifyEvaluationUrl(forged, publicKeyOf(w)).ok).toBe(false);
  });

  it('a printer without native QR: the QR goes as a raster image and decodes to the same signed URL', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'always', profile: { columns: 48, qr: 'raster' } } });
    const services = [food, { ...food, caseNo: '330106202611220002' }];
    const id = await w.invite({ services, mode: 'batch' });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(1);
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    const text = receipt.lines().join('\n');
    expect(text).toContain('已评价，感谢您的评价！'); // never the grade: the counter hands the receipt over
    expect(text).toContain('330106202611220001');
    expect(text).toContain('330106202611220002');
    expect(Math.max(...receipt.lines().map((l) => [...l].reduce((n, c) => n + (c.charCodeAt(0) > 0x2e7f ? 2 : 1), 0)))).toBeLessThanOrEqual(48);
    const [qr] = receipt.qrCodes();
    expect(qr?.via).toBe('raster');
    expect(verifyEvaluationUrl(qr!.payload, publicKeyOf(w))).toMatchObject({ ok: true, claims: { invitationId: id, caseNos: services.map((s) => s.caseNo) } });
  });

  it('prints by policy, and staff can reprint (marked 补打)', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'never' } });
    const id = await hall.serve(w, 'C-NEVER-1', 0);
    await hall.expectExactlyOnce(w, [id]);
    expect(w.printer!.receipts()).toHaveLength(0);
    const reprint = await w.api('POST', `/api/v1/invitations/${id}/receipt`);
    expect(reprint.status).toBe(202);
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    expect(receipt.lines().join('\n')).toContain('补打');
    expect((await w.api('POST', '/api/v1/invitations/01a20394-0000-7000-8000-000000000000/receipt')).status).toBe(404);
  });

  it('out of paper: the rating goes on, the receipt waits in the queue and prints when paper is back', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'always' } });
    w.printer!.setPaper('out');
    await waitUntil(() => w.bridge.status().alarms.includes('printer_paper_out'), 'the paper-out alarm');
    const id = await hall.serve(w, 'C-PAPER-1', 2);
    await hall.expectExactlyOnce(w, [id]); // the rating reached the province regardless
    await waitUntil(() => (w.bridge.status().printer as { pending: number }).pending === 1, 'the receipt to be queued');
    expect(w.printer!.receipts()).toHaveLength(0);
    w.printer!.setPaper('ok');
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    expect(receipt.lines().join('\n')).toContain('C-PAPER-1');
    await waitUntil(() => !w.bridge.status().alarms.includes('printer_paper_out'), 'the alarm to clear');
  });

  it('paper low, cover open, cable pulled and a hung printer each show in status; none blocks a rating', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'always' } });
    const printer = w.printer!;
    const alarm = (name: string) => waitUntil(() => w.bridge.status().alarms.includes(name as never), `the ${name} alarm`);

    printer.setPaper('low');
    await alarm('printer_paper_low');
    const low = await hall.serve(w, 'C-LOW-1', 0);
    await printer.waitForReceipt((r) => r.lines().join('').includes('C-LOW-1'), { timeoutMs: 10_000 }); // paper low still prints
    printer.setPaper('ok');

    printer.openCover();
    await alarm('printer_cover_open');
    printer.closeCover();

    await printer.unplug();
    await alarm('printer_offline');
    const unplugged = await hall.serve(w, 'C-UNPLUG-1', 1);
    await printer.plug();
    await printer.waitForReceipt((r) => r.lines().join('').includes('C-UNPLUG-1'), { timeoutMs: 10_000 });

    printer.silence(true);
    await alarm('printer_offline');
    const started = Date.now();
    const hung = await hall.serve(w, 'C-HUNG-1', 4);
    await hall.expectExactlyOnce(w, [low, unplugged, hung]);
    expect(Date.now() - started).toBeLessThan(3000);
    printer.silence(false);
    await printer.waitForReceipt((r) => r.lines().join('').includes('C-HUNG-1'), { timeoutMs: 10_000 });
  });
});
