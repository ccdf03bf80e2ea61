/**
 * Counts failures per key (a staff id) in a sliding window and says when a key has had too many:
 * what slows down guessing a PIN. Bounded: past `maxKeys` keys the stalest is forgotten, so that
 * a flood of made-up ids cannot grow it without end.
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
    if (recent.length < this.rules.maxFailures) return 0;
    return recent[recent.length - this.rules.maxFailures]! + this.rules.windowMs - this.now();
  }

  fail(key: string): void {
    const recent = [...this.recent(key), this.now()];
    this.failures.delete(key);
    this.failures.set(key, recent);
    if (this.failures.size > this.rules.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.rules.windowMs;
    return (this.failures.get(key) ?? []).filter((at) => at > since);
  }
}
