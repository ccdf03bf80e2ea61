import { repeat } from '../../protocol/timers.js';
import type { ReceiptService } from '../printer/receipt-service.js';
import { AUDIT_RETENTION_DAYS } from '../store/audit.js';
import { StorageFailure } from '../store/commits.js';
import type { Feature, FeatureContext } from './feature.js';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

type RetentionContext = Pick<FeatureContext, 'outbox' | 'clock' | 'timers' | 'config' | 'logger'> & {
  audit: Pick<FeatureContext['audit'], 'prune'>;
  receipts?: Pick<ReceiptService, 'prune'> | undefined;
};

/**
 * Every table that grows with use, and how it is pruned: rows older than
 * database.retainAckedDays. The tables that do not grow (settings: a fixed set of keys;
 * open_invitation: at most one row; chain_head: one row) need none. Pending and quarantined
 * records are never pruned (invariant 1): the storage cap bounds them. docs/technician.md
 * ("What the database keeps, and for how long") lists each table with its reason.
 */
const PRUNES: ReadonlyArray<{ what: string; prune: (ctx: RetentionContext, before: Date) => number }> = [
  { what: 'acknowledged records and invited case numbers', prune: (ctx, before) => ctx.outbox.prune(before) },
  { what: 'receipts', prune: (ctx, before) => ctx.receipts?.prune(before) ?? 0 },
  { what: `audit entries past ${AUDIT_RETENTION_DAYS} days (not retainAckedDays)`, prune: (ctx) => ctx.audit.prune(ctx.clock.now()) },
];

/** Prunes every growing table past its retention: at start, then hourly. */
export class Retention implements Feature {
  private stopRepeating: (() => void) | undefined;

  constructor(private readonly ctx: RetentionContext) {}

  start(): void {
    this.prune();
    this.stopRepeating = repeat(this.ctx.timers, PRUNE_EVERY_MS, () => this.prune());
  }

  stop(): void {
    this.stopRepeating?.();
  }

  private prune(): void {
    const days = this.ctx.config.database.retainAckedDays;
    const before = new Date(this.ctx.clock.now().getTime() - days * DAY_MS);
    for (const { what, prune } of PRUNES) {
      let pruned: number;
      try {
        pruned = prune(this.ctx, before);
      } catch (err) {
        // A storage fault is logged and alarmed by the commits; anything else is logged here.
        // Either way the next hour tries again, and the other tables are still pruned.
        if (!(err instanceof StorageFailure)) this.ctx.logger.error({ err, what }, 'pruning failed');
        continue;
      }
      if (pruned) this.ctx.logger.info({ pruned, what, days }, 'pruned past retention');
    }
  }
}
