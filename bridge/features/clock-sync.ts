import { repeat } from '../../protocol/timers.js';
import type { Feature, FeatureContext } from './feature.js';

/** Asks the OS whether NTP has synced: once before the terminal is served, then every clock.ntpPollSeconds. */
export class ClockSync implements Feature {
  private stopRepeating: (() => void) | undefined;

  constructor(private readonly ctx: Pick<FeatureContext, 'clock' | 'timers' | 'config'>) {}

  async start(): Promise<void> {
    await this.ctx.clock.pollNtp();
    this.stopRepeating = repeat(this.ctx.timers, this.ctx.config.clock.ntpPollSeconds * 1000, () => void this.ctx.clock.pollNtp());
  }

  stop(): void {
    this.stopRepeating?.();
  }
}
