import type { Clock } from '../ports.js';

/** Whether one more request from a client may go on now; when not, how long until it may. */
export interface RateLimiter {
  take(client: string): { ok: true } | { ok: false; retryAfterSeconds: number };
}

export interface TokenBucketOptions {
  /** Requests a client may make at once. */
  burst: number;
  /** Requests per minute it may make after that, steadily. */
  perMinute: number;
  clock: Clock;
  /** Clients remembered at most: beyond it the ones whose buckets are full again are forgotten first. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per client address: a phone that loads the page, picks a grade and submits
 * spends three or four tokens; a script trying receipt after receipt runs dry. In memory, per
 * instance: a rough brake, not an account (the database's UNIQUE key is what keeps one rating per case).
 */
export class TokenBucketLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #maxClients: number;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.burst >= 1) || !(options.perMinute > 0)) throw new RangeError('rate limit: burst must be at least 1 and perMinute above 0');
    this.#perMs = options.perMinute / 60_000;
    this.#maxClients = options.maxClients ?? 10_000;
  }

  take(client: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.options.clock.now().getTime();
    const bucket = this.#buckets.get(client) ?? { tokens: this.options.burst, at: now };
    // A clock stepped back refills nothing and takes nothing away.
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.delete(client); // re-inserted last: the map's order is then least recently seen first
    this.#buckets.set(client, bucket);
    this.#forgetSome(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)) };
  }

  /** Clients remembered now (for tests and status). */
  get size(): number {
    return this.#buckets.size;
  }

  #forgetSome(now: number): void {
    if (this.#buckets.size <= this.#maxClients) return;
    for (const [client, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.options.burst) this.#buckets.delete(client);
    }
    // Still too many (a flood of addresses): the least recently seen go.
    for (const client of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxClients) break;
      this.#buckets.delete(client);
    }
  }
}
