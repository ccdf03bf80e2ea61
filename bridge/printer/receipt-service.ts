import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import { repeat, type Timers } from '../../protocol/timers.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { canPrint, type PrinterLink, type PrinterState } from './printer-link.js';
import { fittingQrCellSize, layoutReceipt, type PrinterProfile, type ReceiptContent } from './receipt-layout.js';
import type { ReceiptQueue } from './receipt-queue.js';
import type { ReceiptPage } from '../../protocol/province-config.js';
import type { ReceiptClaims } from '../../protocol/receipt-token.js';
import { signerOf } from '../identity/terminal-key.js';
import { pageSource, receiptQrUrl, type QrPageSource, type ReceiptSubject } from './receipt-url.js';

/** When a receipt is printed after an invitation closes; staff can always reprint. */
export type PrintPolicy = 'always' | 'not_rated' | 'never';

/** Where closed invitations are announced (the bridge's events). */
export interface Closings {
  on(event: 'closed', listener: (record: StoredInvitation) => void): unknown;
  off(event: 'closed', listener: (record: StoredInvitation) => void): unknown;
}

export interface ReceiptServiceOptions {
  closings: Closings;
  link: PrinterLink;
  queue: ReceiptQueue;
  profile: PrinterProfile;
  policy: PrintPolicy;
  /** printer.evaluationUrl: the QR code's page unless the gateway sent one (receiptPage). */
  evaluationUrl: string;
  /** The receipt page the gateway's config sent (bridge/province/receipt-page.ts); default none. */
  receiptPage?: () => ReceiptPage | null;
  signingKey: KeyObject;
  hallName: string;
  /** The terminal's area and hall (config.terminal): where a self-test receipt says it was made. */
  place: { areaCode: string; hallCode: string };
  clock: Clock;
  timers: Timers;
  newId(): string;
  logger: Logger;
  /** How often the printer's sensors are read, and a waiting queue retried. */
  pollMs: number;
}

export interface ReceiptStatus extends PrinterState {
  pending: number;
  printed: number;
  /**
   * Where the QR codes lead: the gateway's page, the province's, or printer.evaluationUrl
   * ('config'); and how many receipts fell back to printer.evaluationUrl because the page's URL
   * could not be made or did not fit, with the last reason.
   */
  qrPage: { from: QrPageSource; fallbacks: number; lastFallback: string | null };
}

/**
 * Prints case receipts: queued durably, printed in order when the printer is ready, checked
 * again afterwards (a receipt cut short by a paper-out is printed again, not lost). A feature of
 * the bridge (bridge/features/): it reacts to closed invitations beside the rating path and
 * never holds it up.
 */
export class ReceiptService extends EventEmitter<{
  printed: [QueuedReceiptInfo];
  state: [PrinterState];
  /** A receipt was queued, with the URL its QR code carries (the customer screen shows the same code). */
  queued: [{ receiptId: string; invitationId: string; url: string }];
}> {
  private stopPolling: (() => void) | undefined;
  private draining = false;
  private stopped = false;
  private fallbacks = 0;
  private lastFallback: string | null = null;

  constructor(private readonly opts: ReceiptServiceOptions) {
    super();
  }

  start(): void {
    this.opts.link.start();
    this.opts.closings.on('closed', this.onClosed);
    this.stopPolling = repeat(this.opts.timers, this.opts.pollMs, () => void this.drain());
    void this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.closings.off('closed', this.onClosed);
    this.stopPolling?.();
    await this.opts.link.stop();
  }

  /** After an invitation closed: its receipt, if the policy says so. */
  private readonly onClosed = (record: StoredInvitation): void => {
    const { policy } = this.opts;
    if (policy !== 'always' && (policy !== 'not_rated' || record.outcome === 'rated')) return;
    // Off the rating path: the terminal's acknowledgement never waits on a receipt's commit.
    this.opts.timers.setTimeout(() => {
      if (!this.stopped) this.queue(record, false);
    }, 0);
  };

  /** Queues a receipt for the invitation; returns the receipt id. */
  queue(record: StoredInvitation, reprint: boolean): string {
    const claims = { terminalId: record.terminalId, invitationId: record.id, caseNos: record.services.map((s) => s.caseNo) };
    const first = record.services[0];
    const subject = first && { caseNo: first.caseNo, itemCode: first.itemCode, areaCode: record.areaCode, hallCode: record.hallCode, windowNo: record.windowNo };
    return this.enqueue(claims, subject, (evaluationUrl) => ({
      hallName: this.opts.hallName,
      windowNo: record.windowNo,
      staffId: record.staffId,
      services: record.services,
      printedAt: new Date(record.closedAt),
      rated: record.outcome === 'rated',
      evaluationUrl,
      test: record.test,
      reprint,
    })).receiptId;
  }

  /** Queues a self-test receipt (marked 测试), with a QR signed like any other. */
  queueTest(terminalId: string, windowNo: string, testId: string): { receiptId: string; url: string } {
    const caseNo = `SELFTEST-${testId.slice(-8)}`;
    return this.enqueue({ terminalId, invitationId: testId, caseNos: [caseNo] }, { caseNo, itemCode: 'SELFTEST', ...this.opts.place, windowNo }, (evaluationUrl) => ({
      hallName: this.opts.hallName,
      windowNo,
      staffId: 'selftest',
      services: [{ itemCode: 'SELFTEST', itemName: '终端自检 terminal self-test', caseNo }],
      printedAt: this.opts.clock.now(),
      rated: false,
      evaluationUrl,
      test: true,
      reprint: false,
    }));
  }

  /** Makes the QR code's URL for the claims (the page in effect, signed), lays out the receipt around it, and queues it. */
  private enqueue(claims: Omit<ReceiptClaims, 'issuedAt'>, subject: ReceiptSubject | undefined, content: (evaluationUrl: string) => ReceiptContent): { receiptId: string; url: string } {
    const receiptId = this.opts.newId();
    const issuedAt = this.opts.clock.now();
    const { url, fallback } = receiptQrUrl({
      page: this.opts.receiptPage?.() ?? null,
      ownUrl: this.opts.evaluationUrl,
      claims: { ...claims, issuedAt: Math.floor(issuedAt.getTime() / 1000) },
      sign: signerOf(this.opts.signingKey),
      subject,
      misfit: (candidate) => this.misfit(candidate),
    });
    if (fallback) {
      this.fallbacks += 1;
      this.lastFallback = `${fallback.from}: ${fallback.problem}`;
      this.opts.logger.warn({ receipt: receiptId, invitationId: claims.invitationId, page: fallback.from, problem: fallback.problem }, 'receipt QR: the page the gateway sent cannot be used for this receipt; it leads to printer.evaluationUrl');
    }
    this.opts.queue.add(receiptId, claims.invitationId, content(url), issuedAt);
    this.emit('queued', { receiptId, invitationId: claims.invitationId, url });
    void this.drain();
    return { receiptId, url };
  }

  status(): ReceiptStatus {
    const qrPage = { from: pageSource(this.opts.receiptPage?.() ?? null), fallbacks: this.fallbacks, lastFallback: this.lastFallback };
    return { ...this.opts.link.state, ...this.opts.queue.stats(), qrPage };
  }

  /** Why a URL would not fit this printer's QR code, or undefined when it fits. */
  private misfit(url: string): string | undefined {
    try {
      fittingQrCellSize(url, this.opts.profile);
      return undefined;
    } catch (err) {
      return `${(err as Error).message} (${url.length} characters)`;
    }
  }

  /** For the retention feature: receipts made before `before` are deleted. */
  prune(before: Date): number {
    return this.opts.queue.prune(before);
  }

  private async drain(): Promise<void> {
    if (this.draining || this.stopped) return;
    this.draining = true;
    try {
      let state = await this.check();
      for (let next = this.opts.queue.next(); next && canPrint(state.condition) && !this.stopped; next = this.opts.queue.next()) {
        this.opts.queue.countAttempt(next.id);
        await this.opts.link.write(layoutReceipt(next.content, this.opts.profile));
        state = await this.check();
        if (!canPrint(state.condition)) {
          this.opts.logger.warn({ receipt: next.id, condition: state.condition }, 'printer failed during a receipt; it will be printed again');
          break;
        }
        this.opts.queue.markPrinted(next.id, this.opts.clock.now());
        this.emit('printed', { id: next.id, invitationId: next.invitationId, attempts: next.attempts + 1 });
      }
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'receipt printing failed');
    } finally {
      this.draining = false;
    }
  }

  private async check(): Promise<PrinterState> {
    const before = this.opts.link.state.condition;
    const state = await this.opts.link.check();
    if (state.condition !== before) {
      this.opts.logger.info({ condition: state.condition }, 'printer state');
      this.emit('state', state);
    }
    return state;
  }
}

export interface QueuedReceiptInfo {
  id: string;
  invitationId: string;
  attempts: number;
}
