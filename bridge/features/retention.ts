import { repeat } from '../../protocol/timers.js';
import { StorageFailure } from '../store/commits.js';
import type { Feature, FeatureContext } from './feature.js';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Prunes acknowledged records past database.retainAckedDays: at start, then hourly. */
export class Retention implements Feature {
  private stopRepeating: (() => void) | undefined;

  constructor(private readonly ctx: Pick<FeatureContext, 'outbox' | 'clock' | 'timers' | 'config' | 'logger'>) {}

  start(): void {
    this.prune();
    this.stopRepeating = repeat(this.ctx.timers, PRUNE_EVERY_MS, () => this.prune());
  }

  stop(): void {
    this.stopRepeating?.();
  }

  private prune(): void {
    const days = this.ctx.config.database.retainAckedDays;
    let pruned: number;
    try {
      pruned = this.ctx.outbox.prune(new Date(this.ctx.clock.now().getTime() - days * DAY_MS));
    } catch (err) {
      // Logged and alarmed by the commits; the next hour tries again.
      if (err instanceof StorageFailure) return;
      throw err;
    }
    if (pruned) this.ctx.logger.info({ pruned, days }, 'pruned acknowledged records past retention');
  }
}
