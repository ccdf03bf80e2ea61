import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { publicKeyText, signerOf } from '../../bridge/identity/terminal-key.js';
import { receiptQrUrl, type QrUrlInput } from '../../bridge/printer/receipt-url.js';
import { openDatabase } from '../../bridge/store/database.js';
import type { ReceiptPage } from '../../protocol/province-config.js';
import { verifyEvaluationUrl } from '../../protocol/receipt-token.js';
import { invitation, receiptService, SIGNING_KEYS } from './receipt-page-fixture.js';

/**
 * A receipt's QR code URL (bridge/printer/receipt-url.ts, ReceiptService): the page the gateway
 * sent, or the bridge's own printer.evaluationUrl; a page URL that cannot be made or does not fit
 * falls back to the bridge's own, counted and logged, and the receipt keeps its QR code.
 */
const PUBLIC_KEY = publicKeyText(SIGNING_KEYS.publicKey);
const CODE_33 = '11530102MB1234567A000100000000012';
const claims = { terminalId: 'T-WH-03', invitationId: '0193f5a0-0000-7000-8000-0000000000aa', caseNos: ['C-1', 'C-2'], issuedAt: 1_796_000_000 };
const province = (urlTemplate: string): ReceiptPage => ({ mode: 'province', urlTemplate, taskCode: { splitLength: 33, taskCodeLength: 31 }, areaCodeDigits: 12 });
const SUBJECT = { caseNo: 'C-1', itemCode: CODE_33, areaCode: '530102', hallCode: 'hall-wuhua', windowNo: '3' };

const choose = (page: ReceiptPage | null, changes: Partial<QrUrlInput> = {}) =>
  receiptQrUrl({ page, ownUrl: 'https://own.example/rate', claims, sign: signerOf(SIGNING_KEYS.privateKey), subject: SUBJECT, misfit: () => undefined, ...changes });

describe('receiptQrUrl', () => {
  it('no page, or the bridge’s: printer.evaluationUrl with the signed token', () => {
    for (const page of [null, { mode: 'bridge' } as const]) {
      const chosen = choose(page);
      expect(chosen).toEqual({ url: expect.stringMatching(/^https:\/\/own\.example\/rate\?v=1&/), from: 'config' });
      expect(verifyEvaluationUrl(chosen.url, PUBLIC_KEY)).toEqual({ ok: true, claims });
    }
  });

  it('the gateway’s page: its URL with the signed token (its own query kept)', () => {
    const chosen = choose({ mode: 'gateway', url: 'https://hall.example/rate?src=receipt' });
    expect(chosen.from).toBe('gateway');
    expect(chosen.url).toMatch(/^https:\/\/hall\.example\/rate\?src=receipt&v=1&/);
    expect(verifyEvaluationUrl(chosen.url, PUBLIC_KEY)).toEqual({ ok: true, claims });
  });

  it('the province’s page: the template filled with the first case and its place, percent-encoded, taskCode cut and areaCode padded by the rules', () => {
    const page = province('https://pj.example/pj/{hallCode}?projectNo={caseNo}&itemCode={itemCode}&taskCode={taskCode}&areaCode={areaCode}&a6={areaCode6}&w={windowNo}');
    expect(choose(page)).toEqual({
      url: `https://pj.example/pj/hall-wuhua?projectNo=C-1&itemCode=${CODE_33}&taskCode=${CODE_33.slice(0, 31)}&areaCode=530102000000&a6=530102&w=3`,
      from: 'province',
    });
    expect(choose(page, { subject: { ...SUBJECT, caseNo: 'C 1&x=#', itemCode: 'SHORT', hallCode: '../h', windowNo: '3?' } }).url).toBe(
      'https://pj.example/pj/..%2Fh?projectNo=C%201%26x%3D%23&itemCode=SHORT&taskCode=SHORT&areaCode=530102000000&a6=530102&w=3%3F',
    );
  });

  it('falls back to printer.evaluationUrl, saying why: no case, a value that cannot go into a URL, a URL that does not fit', () => {
    const page = province('https://pj.example/pj?projectNo={caseNo}');
    expect(choose(page, { subject: undefined })).toMatchObject({ from: 'config', fallback: { from: 'province', problem: expect.stringMatching(/no case/) } });
    expect(choose(page, { subject: { ...SUBJECT, caseNo: 'C\ud800' } })).toMatchObject({ from: 'config', fallback: { from: 'province', problem: expect.stringMatching(/\{caseNo\} is not well-formed/) } });
    const tooBig = () => 'too large';
    const gateway = choose({ mode: 'gateway', url: 'https://hall.example/rate' }, { misfit: tooBig });
    expect(gateway).toMatchObject({ from: 'config', fallback: { from: 'gateway', problem: 'too large' } });
    expect(verifyEvaluationUrl(gateway.url, PUBLIC_KEY)).toEqual({ ok: true, claims });
  });
});

describe('ReceiptService: the QR code of each queued receipt', () => {
  const dbs: ReturnType<typeof openDatabase>[] = [];
  afterEach(() => dbs.splice(0).forEach((db) => db.close()));
  const service = (page: () => ReceiptPage | null) => {
    const db = openDatabase(':memory:');
    dbs.push(db);
    const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    return { ...receiptService(db, page, { logger }), lines };
  };
  const record = invitation([{ itemCode: CODE_33, itemName: '个体工商户设立登记', caseNo: '530102-2026-0001' }]);

  it('follows the page the config holds now, and status says which', () => {
    let page: ReceiptPage | null = null;
    const { service: s, queue } = service(() => page);
    const urls = (): string[] => {
      const got: string[] = [];
      for (let next = queue.next(); next; next = queue.next()) {
        got.push(next.content.evaluationUrl);
        queue.markPrinted(next.id, new Date());
      }
      return got;
    };
    expect(s.status().qrPage.from).toBe('config');
    s.queue(record, false);
    page = { mode: 'gateway', url: 'https://hall.example/rate' };
    expect(s.status().qrPage.from).toBe('gateway');
    s.queue(record, true);
    page = province('https://pj.example/pj?projectNo={caseNo}&w={windowNo}');
    expect(s.status().qrPage.from).toBe('province');
    s.queue(record, false);
    expect(urls()).toEqual([expect.stringMatching(/^https:\/\/own\.example\/rate\?/), expect.stringMatching(/^https:\/\/hall\.example\/rate\?/), 'https://pj.example/pj?projectNo=530102-2026-0001&w=3']);
    // The self-test receipt goes where a citizen's would.
    expect(s.queueTest('T-WH-03', '4', '0193f5a0-0000-7000-8000-0000000000bb').url).toBe('https://pj.example/pj?projectNo=SELFTEST-000000bb&w=4');
  });

  it('a province URL too long for the QR code: the receipt leads to printer.evaluationUrl, logged and counted in status', () => {
    const { service: s, queue, lines } = service(() => province(`https://pj.example/${'p'.repeat(3500)}?projectNo={caseNo}`));
    s.queue(record, false);
    const url = queue.next()?.content.evaluationUrl ?? '';
    expect(verifyEvaluationUrl(url, PUBLIC_KEY)).toMatchObject({ ok: true, claims: { caseNos: ['530102-2026-0001'] } });
    expect(url.startsWith('https://own.example/rate?')).toBe(true);
    expect(s.status().qrPage).toEqual({ from: 'province', fallbacks: 1, lastFallback: expect.stringMatching(/^province: .*\(\d+ characters\)$/) });
    expect(lines.filter((l) => l.level === 40).map((l) => [l.msg, l.page, l.invitationId])).toEqual([
      [expect.stringMatching(/^receipt QR: .* leads to printer\.evaluationUrl$/), 'province', record.id],
    ]);
  });
});
