/**
 * A first-in first-out queue that takes from its head without moving what follows (a few hundred
 * thousand entries). Items carry their arrival number (`order`): what is put back goes where it
 * came from, even when batches taken by two lanes are put back in another order.
 */
export class MessageQueue<T> {
  #items: T[] = [];
  #head = 0;

  constructor(private readonly order: (item: T) => number) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Up to `n` of the oldest, removed. */
  take(n: number): T[] {
    const taken = this.#items.slice(this.#head, this.#head + n);
    this.#head += taken.length;
    this.#compact();
    return taken;
  }

  /**
   * The oldest item whose order is above `order`, among the oldest `within` (undefined: none).
   * The queue is in arrival order (push appends, putBack merges), so it is found by halving.
   */
  firstAfter(order: number, within: number): T | undefined {
    let low = this.#head;
    let high = Math.min(this.#items.length, this.#head + Math.max(0, within));
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.order(this.#items[mid] as T) <= order) low = mid + 1;
      else high = mid;
    }
    return low < Math.min(this.#items.length, this.#head + Math.max(0, within)) ? this.#items[low] : undefined;
  }

  /** Items taken and not settled go back, in arrival order among those queued (both runs are in that order: merged). */
  putBack(items: readonly T[]): void {
    if (items.length === 0) return;
    const rest = this.#items.slice(this.#head);
    const merged: T[] = [];
    let i = 0;
    let j = 0;
    while (i < items.length && j < rest.length) merged.push(this.order(items[i] as T) <= this.order(rest[j] as T) ? (items[i++] as T) : (rest[j++] as T));
    while (i < items.length) merged.push(items[i++] as T);
    while (j < rest.length) merged.push(rest[j++] as T);
    this.#items = merged;
    this.#head = 0;
  }

  /** The oldest, removed. */
  dropOldest(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.#items[this.#head] as T;
    this.#head += 1;
    this.#compact();
    return item;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
