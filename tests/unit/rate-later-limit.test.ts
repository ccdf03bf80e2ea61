import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../../gateway/rate-later/rate-limit.js';

/** The rate-later page's brake: a token bucket per client, on an injected clock. */
describe('token bucket per client', () => {
  const at = (ms: number) => ({ now: () => new Date(Date.UTC(2026, 10, 30) + ms) });

  it('lets a burst through, then one request per refill interval, and says how long to wait', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ burst: 3, perMinute: 6, clock: { now: () => at(now).now() } });
    expect([1, 2, 3].map(() => limiter.take('10.0.0.1').ok)).toEqual([true, true, true]);
    expect(limiter.take('10.0.0.1')).toEqual({ ok: false, retryAfterSeconds: 10 });
    expect(limiter.take('10.0.0.2').ok).toBe(true); // another client has its own bucket
    now = 5_000;
    expect(limiter.take('10.0.0.1')).toEqual({ ok: false, retryAfterSeconds: 5 });
    now = 10_000;
    expect(limiter.take('10.0.0.1').ok).toBe(true);
    expect(limiter.take('10.0.0.1').ok).toBe(false);
    now = 10_000 + 60 * 60_000; // an hour later: full again, never beyond the burst
    expect([1, 2, 3, 4].map(() => limiter.take('10.0.0.1').ok)).toEqual([true, true, true, false]);
  });

  it('a clock stepped back refills nothing', () => {
    let now = 100_000;
    const limiter = new TokenBucketLimiter({ burst: 1, perMinute: 1, clock: { now: () => at(now).now() } });
    expect(limiter.take('a').ok).toBe(true);
    now = 0;
    expect(limiter.take('a').ok).toBe(false);
  });

  it('remembers a bounded number of clients: full buckets are forgotten first, then the least recently seen', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ burst: 2, perMinute: 60, clock: { now: () => at(now).now() }, maxClients: 3 });
    for (const c of ['a', 'b', 'c']) limiter.take(c);
    limiter.take('a');
    expect(limiter.take('a').ok).toBe(false); // a is dry
    now = 500; // b and c not yet full again (one token back after 1 s)
    limiter.take('d');
    expect(limiter.size).toBe(3); // b, the least recently seen, went
    expect(limiter.take('a').ok).toBe(false); // a is still remembered as dry
    now = 60_000; // every bucket full again: all but the newest are forgotten when one more comes
    limiter.take('e');
    expect(limiter.size).toBeLessThanOrEqual(3);
  });

  it('refuses settings that would let nothing through', () => {
    expect(() => new TokenBucketLimiter({ burst: 0, perMinute: 1, clock: at(0) })).toThrow(/burst/);
    expect(() => new TokenBucketLimiter({ burst: 1, perMinute: 0, clock: at(0) })).toThrow(/perMinute/);
  });
});
