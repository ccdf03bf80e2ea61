import type { ReceiptContent } from '../../bridge/printer/receipt-layout.js';

/** A receipt as the bridge would print it, for the printer and preview tests. */
export const SAMPLE_URL = 'https://hcp.province.example/e/330106/01a20394-3444-701f-b8a2-8d5659a29855?t=Zm9vYmFy';
export const SAMPLE_RECEIPT: ReceiptContent = {
  hallName: '西湖区行政服务中心',
  windowNo: 'A03',
  staffId: 'S1001',
  services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: '330106202611220001' }],
  printedAt: new Date('2026-11-22T06:06:14Z'),
  rated: false,
  evaluationUrl: SAMPLE_URL,
  test: false,
  reprint: false,
};
