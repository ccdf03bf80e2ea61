import { DeskError } from '../desk/invitation-desk.js';
import type { Outbox } from '../store/outbox.js';
import type { ReceiptService } from './receipt-service.js';

/** Staff at the window, or the province, asked for an invitation's receipt again (补打). */
export function reprintReceipt(
  parts: { receipts: Pick<ReceiptService, 'queue'> | undefined; outbox: Pick<Outbox, 'get'> },
  invitationId: string,
): { receiptId: string } {
  if (!parts.receipts) throw new DeskError(409, 'no_printer', 'this terminal has no receipt printer configured');
  const stored = parts.outbox.get(invitationId);
  if (stored?.record.kind !== 'invitation') throw new DeskError(404, 'not_found', `no closed invitation ${invitationId} at this window`);
  return { receiptId: parts.receipts.queue(stored.record, true) };
}
