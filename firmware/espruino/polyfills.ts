/**
 * Map and iteration for stock Espruino, which has no Map, Set, Symbol or iterators
 * (https://www.espruino.com/Features). Imported first by main.ts, before any module body runs.
 * Only what the bundle uses: every method costs the board variables (docs/espruino.md, "Memory");
 * nothing in it uses a Set.
 *
 * Why not core-js: its Map, Set, Symbol and Array.from come to ~41 KB minified, more than the
 * terminal itself and most of a Pico's 48 KB of saved code, and it assumes ES5 built-ins Espruino
 * lacks (it calls Object.prototype.propertyIsEnumerable while loading). This is only what the core,
 * the link and issues.ts use, over arrays: lookups are linear, and these collections hold tens of
 * entries (unacknowledged reports, a window of 256 sequence numbers at most). Keys compare with
 * ===, not SameValueZero (no NaN keys here).
 *
 * Iteration follows the protocol Babel's for…of and spread helpers use where Symbol is missing: an
 * '@@iterator' method. Those helpers copy such an iterable with Array.from, so Array.from learns it.
 */

const ITERATOR = '@@iterator';

interface IteratorResult<T> {
  done: boolean;
  value: T | undefined;
}

interface SymbollessIterator<T> {
  next(): IteratorResult<T>;
  [ITERATOR](): SymbollessIterator<T>;
}

type Iterable<T> = T[] | { [ITERATOR](): SymbollessIterator<T> };

/** Iterates over a copy taken now, so changing the collection meanwhile neither skips nor repeats. */
function iterate<T>(items: T[]): SymbollessIterator<T> {
  let index = 0;
  const iterator: SymbollessIterator<T> = {
    next: () => (index < items.length ? { done: false, value: items[index++] } : { done: true, value: undefined }),
    [ITERATOR]: () => iterator,
  };
  return iterator;
}

function isIterable<T>(value: unknown): value is { [ITERATOR](): SymbollessIterator<T> } {
  return value !== null && value !== undefined && typeof (value as Record<string, unknown>)[ITERATOR] === 'function';
}

function toArray<T>(items: Iterable<T> | undefined | null): T[] {
  if (items === undefined || items === null) return [];
  if (Array.isArray(items)) return items.slice();
  const out: T[] = [];
  const iterator = items[ITERATOR]();
  for (let step = iterator.next(); !step.done; step = iterator.next()) out.push(step.value as T);
  return out;
}

export class EspruinoMap<K, V> {
  private readonly keyList: K[] = [];
  private readonly valueList: V[] = [];

  constructor(entries?: Iterable<[K, V]> | null) {
    toArray(entries).forEach(([key, value]) => this.set(key, value));
  }

  get size(): number {
    return this.keyList.length;
  }

  get(key: K): V | undefined {
    const index = this.keyList.indexOf(key);
    return index < 0 ? undefined : this.valueList[index];
  }

  has(key: K): boolean {
    return this.keyList.indexOf(key) >= 0;
  }

  set(key: K, value: V): this {
    const index = this.keyList.indexOf(key);
    if (index < 0) {
      this.keyList.push(key);
      this.valueList.push(value);
    } else {
      this.valueList[index] = value;
    }
    return this;
  }

  delete(key: K): boolean {
    const index = this.keyList.indexOf(key);
    if (index < 0) return false;
    this.keyList.splice(index, 1);
    this.valueList.splice(index, 1);
    return true;
  }

  clear(): void {
    // splice, not `length = 0`: Espruino throws "Assignment to a constant" on an array's length.
    this.keyList.splice(0, this.keyList.length);
    this.valueList.splice(0, this.valueList.length);
  }

  forEach(fn: (value: V, key: K, map: this) => void): void {
    this.entryList().forEach(([key, value]) => fn(value, key, this));
  }

  keys(): SymbollessIterator<K> {
    return iterate(this.keyList.slice());
  }

  values(): SymbollessIterator<V> {
    return iterate(this.valueList.slice());
  }

  entries(): SymbollessIterator<[K, V]> {
    return iterate(this.entryList());
  }

  [ITERATOR](): SymbollessIterator<[K, V]> {
    return this.entries();
  }

  private entryList(): [K, V][] {
    return this.keyList.map((key, i) => [key, this.valueList[i] as V]);
  }
}

/** Array.from that also copies '@@iterator' iterables; anything else goes to the board's own, if any. */
export function arrayFrom(original: ((items: unknown, ...rest: unknown[]) => unknown[]) | undefined) {
  return function from(items: unknown, ...rest: unknown[]): unknown[] {
    if (isIterable(items) && !Array.isArray(items)) {
      const copy = toArray(items);
      const map = rest[0] as ((value: unknown, index: number) => unknown) | undefined;
      return map ? copy.map((value, index) => map(value, index)) : copy;
    }
    if (original) return original.apply(Array, [items, ...rest]);
    return Array.prototype.slice.call(items) as unknown[];
  };
}

/** Espruino's global object (`global`, as in Node); the code is bundled for nothing else. */
declare const global: Record<string, unknown>;

if (typeof global.Map === 'undefined') global.Map = EspruinoMap;
if (typeof global.Symbol === 'undefined') {
  Array.from = arrayFrom(Array.from as ((items: unknown, ...rest: unknown[]) => unknown[]) | undefined) as typeof Array.from;
}
