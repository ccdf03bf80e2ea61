/**
 * Counts failures per key (a staff id) in a sliding window and says when a key has had too many:
 * what slows down guessing a PIN. Bounded without forgetting anyone early: past `maxKeys` keys with
 * recent failures, keys it does not know are held too until some go stale, so that a flood of
 * made-up ids can neither grow it without end nor push a guessed id's failures out.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly rules: { maxFailures: number; windowMs: number; maxKeys: number },
    private readonly now: () => number,
  ) {}

  /** Milliseconds until the key may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length === 0 && this.full()) return this.untilOneIsStale();
    if (recent.length < this.rules.maxFailures) return 0;
    return recent[recent.length - this.rules.maxFailures]! + this.rules.windowMs - this.now();
  }

  /** Counts a failure; one for a key it has no room for is not kept (that key is held meanwhile). */
  fail(key: string): void {
    const recent = [...this.recent(key), this.now()];
    if (recent.length === 1 && this.full()) return;
    this.failures.set(key, recent);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.rules.windowMs;
    return (this.failures.get(key) ?? []).filter((at) => at > since);
  }

  /** Whether every slot holds a key with recent failures (stale ones are dropped on the way). */
  private full(): boolean {
    if (this.failures.size < this.rules.maxKeys) return false;
    for (const key of [...this.failures.keys()]) if (this.recent(key).length === 0) this.failures.delete(key);
    return this.failures.size >= this.rules.maxKeys;
  }

  private untilOneIsStale(): number {
    const latest = [...this.failures.values()].map((times) => times[times.length - 1]!);
    return Math.min(...latest) + this.rules.windowMs - this.now();
  }
}
