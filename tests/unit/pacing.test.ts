import { describe, expect, it } from 'vitest';
import { Backoff } from '../../bridge/uplink/backoff.js';
import { TokenBucket } from '../../bridge/uplink/token-bucket.js';

describe('TokenBucket', () => {
  it('grants the configured rate, a second of burst at most, and refunds unused tokens', () => {
    let now = 0;
    const bucket = new TokenBucket(10, () => now);
    expect(bucket.take(100)).toBe(10);
    expect(bucket.take(1)).toBe(0);
    expect(bucket.msUntilNext()).toBe(100);
    now += 500;
    expect(bucket.take(100)).toBe(5);
    bucket.refund(3);
    expect(bucket.take(100)).toBe(3);
    now += 60_000;
    expect(bucket.take(100)).toBe(10);
  });

  it('is unlimited at rate 0', () => {
    const bucket = new TokenBucket(0, () => 0);
    expect(bucket.take(5000)).toBe(5000);
    expect(bucket.msUntilNext()).toBe(0);
  });
});

describe('Backoff', () => {
  it('doubles up to the maximum, with half of each delay random', () => {
    const low = new Backoff(1000, 8000, () => 0);
    expect([low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([500, 1000, 2000, 4000, 4000]);
    const high = new Backoff(1000, 8000, () => 1);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    high.reset();
    expect(high.next()).toBe(1000);
  });
});
