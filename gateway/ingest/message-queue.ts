/** A first-in first-out queue that takes from its head without moving what follows (a few hundred thousand entries). */
export class MessageQueue<T> {
  #items: T[] = [];
  #head = 0;

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

  /** Up to `n` of the oldest, left in place. */
  peek(n: number): T[] {
    return this.#items.slice(this.#head, this.#head + n);
  }

  /** Items taken and not settled go back to the head, in their order. */
  putBack(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
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
