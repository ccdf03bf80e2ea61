import type { ReceiptPage } from '../../protocol/province-config.js';
import { signedEvaluationUrl, type ReceiptClaims } from '../../protocol/receipt-token.js';
import type { Sign } from '../../protocol/seal/seal.js';
import { fillUrlTemplate, paddedAreaCode, taskCodeOf } from '../../protocol/url-template.js';

/*
 * Contract: a receipt's QR code URL, from the receipt page the gateway sent in the terminal's
 * config (protocol/province-config.ts receiptPage) or, without one, the bridge's own
 * printer.evaluationUrl. gateway: its page with the receipt's signed token; province: its page for
 * the receipt's first case (it takes one case), with the place the receipt's record carries (as the
 * service push carries it); bridge or none: the bridge's own URL with the token. A page URL that cannot be made or does not fit the QR code falls back to the bridge's own
 * URL with the reason: a receipt is never printed without its QR code.
 */

/** Where a receipt's QR code leads: the gateway's page, the province's, or the bridge's own printer.evaluationUrl. */
export type QrPageSource = 'gateway' | 'province' | 'config';

export interface QrUrl {
  url: string;
  from: QrPageSource;
  /** Why the gateway's choice was not used (the URL fell back to the bridge's own). */
  fallback?: { from: Exclude<QrPageSource, 'config'>; problem: string };
}

export interface ReceiptSubject {
  caseNo: string;
  itemCode: string;
  /** The 6-digit area code, as the record has it. */
  areaCode: string;
  hallCode: string;
  windowNo: string;
}

export interface QrUrlInput {
  page: ReceiptPage | null;
  /** printer.evaluationUrl. */
  ownUrl: string;
  claims: ReceiptClaims;
  sign: Sign;
  /** The receipt's first case and where it was served: what the province's page is opened for. */
  subject: ReceiptSubject | undefined;
  /** A problem when the URL would not fit the receipt's QR code; undefined when it fits. */
  misfit: (url: string) => string | undefined;
}

/** The source a page gives, before any fallback (what status shows as configured). */
export function pageSource(page: ReceiptPage | null): QrPageSource {
  return page === null || page.mode === 'bridge' ? 'config' : page.mode;
}

export function receiptQrUrl(input: QrUrlInput): QrUrl {
  const { page, ownUrl, claims, sign } = input;
  const own = (): string => signedEvaluationUrl(ownUrl, claims, sign);
  if (page === null || page.mode === 'bridge') return { url: own(), from: 'config' };
  const made = page.mode === 'gateway' ? { ok: true as const, url: signedEvaluationUrl(page.url, claims, sign) } : provinceUrl(page, input.subject);
  const problem = made.ok ? input.misfit(made.url) : made.problem;
  if (made.ok && problem === undefined) return { url: made.url, from: page.mode };
  return { url: own(), from: 'config', fallback: { from: page.mode, problem: problem ?? 'unknown' } };
}

type Made = { ok: true; url: string } | { ok: false; problem: string };

function provinceUrl(page: Extract<ReceiptPage, { mode: 'province' }>, subject: ReceiptSubject | undefined): Made {
  if (subject === undefined) return { ok: false, problem: 'the receipt has no case for the province’s page' };
  const { caseNo, itemCode, areaCode, hallCode, windowNo } = subject;
  try {
    const url = fillUrlTemplate(page.urlTemplate, {
      caseNo,
      itemCode,
      taskCode: taskCodeOf(itemCode, page.taskCode),
      areaCode: paddedAreaCode(areaCode, page.areaCodeDigits),
      areaCode6: areaCode,
      hallCode,
      windowNo,
    });
    // The values are percent-encoded, so this holds unless the template itself is broken.
    new URL(url);
    return { ok: true, url };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}
