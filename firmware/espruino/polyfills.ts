/**
 * Map for stock Espruino, which has no Map, Set, Symbol or iterators
 * (https://www.espruino.com/Features). Imported first by main.ts, before any module body runs.
 *
 * Only what the bundle uses, since every method costs the board variables (docs/espruino.md,
 * "Memory"): the link and the core use Maps through get/has/set/delete/clear/forEach/size and the
 * oldest key (keys().next()), and never iterate them with for…of or spread (ES5 lowers those to
 * iterator helpers); nothing uses a Set.
 *
 * Why not core-js: its Map, Set, Symbol and Array.from come to ~41 KB minified, more than the
 * terminal itself and most of a Pico's 48 KB of saved code, and it assumes ES5 built-ins Espruino
 * lacks (it calls Object.prototype.propertyIsEnumerable while loading). This Map is two arrays:
 * lookups are linear, and these maps hold tens of entries (unacknowledged reports, the last bridge
 * frames handled). Keys compare with ===, not SameValueZero (no NaN keys here).
 */

export class EspruinoMap<K, V> {
  private readonly keyList: K[] = [];
  private readonly valueList: V[] = [];

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

  /** Over the entries as they are now: changing the map meanwhile neither skips nor repeats one. */
  forEach(fn: (value: V, key: K, map: this) => void): void {
    const values = this.valueList.slice();
    this.keyList.slice().forEach((key, i) => fn(values[i] as V, key, this));
  }

  /** Keys in insertion order, from a copy taken now (only next(): nothing iterates it further). */
  keys(): { next(): { done: boolean; value: K | undefined } } {
    const keys = this.keyList.slice();
    let index = 0;
    return { next: () => (index < keys.length ? { done: false, value: keys[index++] } : { done: true, value: undefined }) };
  }
}

/** Espruino's global object (`global`, as in Node); the code is bundled for nothing else. */
declare const global: Record<string, unknown>;

if (typeof global.Map === 'undefined') global.Map = EspruinoMap;
