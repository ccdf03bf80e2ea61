import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { v7 as uuidv7 } from 'uuid';
import { previewReceiptPng } from '../simulator/receipt-png.js';
import { printerProfileSchema, type ReceiptContent } from '../bridge/printer/receipt-layout.js';
import { signerOf } from '../bridge/identity/terminal-key.js';
import { signedEvaluationUrl } from '../protocol/receipt-token.js';

export interface ReceiptPreviewOptions {
  out: string;
  columns: 32 | 48;
  qr: 'native' | 'raster';
  /** As printed after the citizen rated at the counter (the grade itself is never printed). */
  rated: boolean;
  url: string;
}

/**
 * `hcp receipt --preview`: a sample case receipt, laid out and encoded exactly as the bridge
 * sends it to the printer, parsed back and drawn as the paper shows it, into a PNG.
 */
export function receiptPreviewCommand(options: ReceiptPreviewOptions): void {
  const invitationId = uuidv7();
  const services = [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: '330106202611220001' }];
  const content: ReceiptContent = {
    hallName: '西湖区政务服务中心',
    windowNo: 'A03',
    staffId: 'S1001',
    services,
    printedAt: new Date(),
    rated: options.rated,
    evaluationUrl: signedEvaluationUrl(
      options.url,
      { terminalId: 'T-330106-A03', invitationId, caseNos: services.map((s) => s.caseNo), issuedAt: Math.floor(Date.now() / 1000) },
      // A throwaway key: a preview is not a receipt anyone can rate with.
      signerOf(generateKeyPairSync('ed25519').privateKey),
    ),
    test: false,
    reprint: false,
  };
  const profile = printerProfileSchema.parse({ columns: options.columns, qr: options.qr });
  writeFileSync(options.out, previewReceiptPng(content, profile));
  console.log(`wrote ${options.out}: a ${options.columns}-column receipt, QR ${options.qr === 'native' ? 'by the printer (GS ( k)' : 'as a raster image (GS v 0)'}`);
}
