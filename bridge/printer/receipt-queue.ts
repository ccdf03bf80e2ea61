import type { Db } from '../store/database.js';
import type { ReceiptContent } from './receipt-layout.js';

export interface QueuedReceipt {
  id: string;
  invitationId: string;
  content: ReceiptContent;
  attempts: number;
}

/** Receipts kept in SQLite until printed: a printer fault loses none, a restart forgets none. */
export class ReceiptQueue {
  private readonly insert;
  private readonly oldest;
  private readonly attempt;
  private readonly done;
  private readonly counts;
  private readonly prunePast;

  constructor(db: Db) {
    this.insert = db.prepare(`INSERT INTO receipts (id, invitation_id, content, created_at) VALUES (?, ?, ?, ?)`);
    this.oldest = db.prepare(`SELECT id, invitation_id, content, attempts FROM receipts WHERE state = 'pending' ORDER BY seq LIMIT 1`);
    this.attempt = db.prepare(`UPDATE receipts SET attempts = attempts + 1 WHERE id = ?`);
    this.done = db.prepare(`UPDATE receipts SET state = 'printed', printed_at = ? WHERE id = ?`);
    this.counts = db.prepare(`SELECT SUM(state = 'pending') AS pending, SUM(state = 'printed') AS printed FROM receipts`);
    this.prunePast = db.prepare(`DELETE FROM receipts WHERE created_at < ?`);
  }

  add(id: string, invitationId: string, content: ReceiptContent, at: Date): void {
    this.insert.run(id, invitationId, JSON.stringify(content), at.toISOString());
  }

  next(): QueuedReceipt | undefined {
    const row = this.oldest.get() as { id: string; invitation_id: string; content: string; attempts: number } | undefined;
    if (!row) return undefined;
    const content = JSON.parse(row.content) as ReceiptContent & { printedAt: string };
    return { id: row.id, invitationId: row.invitation_id, attempts: row.attempts, content: { ...content, printedAt: new Date(content.printedAt) } };
  }

  countAttempt(id: string): void {
    this.attempt.run(id);
  }

  markPrinted(id: string, at: Date): void {
    this.done.run(at.toISOString(), id);
  }

  /**
   * Deletes receipts made before `before`, printed or not: a reprint is made again from the
   * record, and a receipt still unprinted that late is of no use to a citizen long gone.
   */
  prune(before: Date): number {
    return this.prunePast.run(before.toISOString()).changes;
  }

  stats(): { pending: number; printed: number } {
    const row = this.counts.get() as { pending: number | null; printed: number | null };
    return { pending: row.pending ?? 0, printed: row.printed ?? 0 };
  }
}
