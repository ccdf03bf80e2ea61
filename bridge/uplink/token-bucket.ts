/** Paces the backlog drain: `ratePerSecond` tokens a second, up to one second's worth saved. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = Math.max(1, ratePerSecond);
    this.lastMs = now();
  }

  /** Takes up to `wanted` whole tokens; returns how many it got. Rate 0 means unlimited. */
  take(wanted: number): number {
    if (this.ratePerSecond === 0) return wanted;
    const now = this.now();
    this.tokens = Math.min(Math.max(1, this.ratePerSecond), this.tokens + ((now - this.lastMs) / 1000) * this.ratePerSecond);
    this.lastMs = now;
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** Returns tokens taken but not used. */
  refund(unused: number): void {
    if (this.ratePerSecond > 0 && unused > 0) this.tokens = Math.min(Math.max(1, this.ratePerSecond), this.tokens + unused);
  }

  /** Milliseconds until the next whole token. */
  msUntilNext(): number {
    if (this.ratePerSecond === 0 || this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
