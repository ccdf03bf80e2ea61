import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, Pacer, Sleeper } from '../../gateway/delivery/backoff.js';
import { storableJson, storableText } from '../../gateway/delivery/storable.js';
import { ManualTimers } from '../support/manual-timers.js';

describe('backoffDelay', () => {
  it('doubles from baseMs, capped at maxMs, with equal jitter', () => {
    const settings = { baseMs: 1000, maxMs: 60_000 };
    expect([1, 2, 3, 7, 8, 50].map((a) => backoffDelay(a, settings, () => 0))).toEqual([500, 1000, 2000, 30_000, 30_000, 30_000]);
    expect([1, 2, 3, 7].map((a) => backoffDelay(a, settings, () => 0.999_999))).toEqual([1000, 2000, 4000, 60_000]);
  });

  it('is within [half, all] of the capped exponential for any attempt, settings and random', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 10_000 }), fc.integer({ min: 10, max: 86_400_000 }), fc.integer({ min: 0, max: 7 * 86_400_000 }), fc.double(), (attempt, baseMs, extra, r) => {
        const settings = { baseMs, maxMs: baseMs + extra };
        const capped = Math.min(settings.maxMs, baseMs * 2 ** (Math.max(attempt, 1) - 1));
        const delay = backoffDelay(attempt, settings, () => r);
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(capped / 2));
        expect(delay).toBeLessThanOrEqual(Math.ceil(capped));
      }),
    );
  });
});

describe('Pacer and Sleeper', () => {
  it('spaces calls 1000/perSecond apart in monotonic time', () => {
    const timers = new ManualTimers();
    const pacer = new Pacer(timers, 4);
    expect(pacer.waitMs()).toBe(0);
    pacer.mark();
    expect(pacer.waitMs()).toBe(250);
    timers.advance(100);
    expect(pacer.waitMs()).toBe(150);
    timers.advance(200);
    expect(pacer.waitMs()).toBe(0);
  });

  it('a sleep ends when its time comes, or at once when woken', async () => {
    const timers = new ManualTimers();
    const sleeper = new Sleeper(timers);
    let done = false;
    const sleeping = sleeper.sleep(1000).then(() => (done = true));
    timers.advance(999);
    await Promise.resolve();
    expect(done).toBe(false);
    timers.advance(1);
    await sleeping;
    const woken = sleeper.sleep(1_000_000);
    sleeper.wake();
    await woken;
  });

  it('once closed, the wait in progress and every later one end at once (a worker stopped mid-call never then sleeps a poll)', async () => {
    const timers = new ManualTimers();
    const sleeper = new Sleeper(timers);
    const sleeping = sleeper.sleep(60_000);
    sleeper.close();
    await sleeping;
    await sleeper.sleep(3_600_000);
    expect(timers.now()).toBe(0);
  });
});

describe('storable text and JSON (what the province says, kept in the table)', () => {
  it('control characters become spaces, lone surrogates U+FFFD, long text is cut', () => {
    expect(storableText('a\u0000b\nc\ud800d')).toBe('a b c\ufffdd');
    expect(storableText('x'.repeat(2000))).toHaveLength(1001);
    expect(storableText('😀'.repeat(600), 1001)).toMatch(/\ufffd…$/);
    expect(storableText(undefined)).toBe('');
    expect(storableText(42)).toBe('42');
  });

  it('JSON keeps its shape within bounds', () => {
    expect(storableJson({ code: '0', n: 1, ok: true, nothing: null, gone: undefined, inf: Infinity, list: [1, 'a\u0000'] })).toEqual({ code: '0', n: 1, ok: true, nothing: null, inf: null, list: [1, 'a '] });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20; i++) deep = { deep };
    expect(JSON.stringify(storableJson(deep))).toContain('"…"');
    expect((storableJson(Array.from({ length: 500 }, (_, i) => i)) as unknown[]).length).toBe(50);
  });
});
