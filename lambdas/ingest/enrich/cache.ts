/**
 * A bounded cache for pure, expensive lookups (user-agent parsing, host classification).
 *
 * Two generations of `Map`: lookups read the current one, then the previous one (a hit there is
 * copied forward); when the current generation holds half the capacity it becomes the previous
 * one and the old previous one is dropped. So it never holds more than `capacity` entries, an
 * entry used at least once per half-capacity insertions stays, and every operation is O(1)
 * without the per-hit delete/re-insert of a strict LRU. Hits and misses are counted, so the
 * benchmark and the tests can measure the hit rate.
 *
 * In front of the two maps, a small direct-mapped table of recent keys (`recentSlot`): a key is
 * found there by one `===` with the key last seen in its slot, without the `Map` lookup. Every key
 * arrives as a new string (from `JSON.parse`), and a `Map` lookup first hashes all of its
 * characters (user agents are about 125); the slot reads about one character in six. The table
 * only holds keys that are also in one of the two maps (it is emptied when a generation is
 * dropped), so it adds no entries to the bound; its hits count as hits.
 */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Entries held now (at most the capacity). */
  readonly size: number;
  readonly capacity: number;
}

/** Most slots of the table of recent keys. */
export const MAX_RECENT_SLOTS = 1024;

/** The slot of `key` in a table of `mask + 1` (a power of two) slots: its length and about one
 *  character in six after the first 16 (where user agents begin to differ). Exported for tests. */
export function recentSlot(key: string, mask: number): number {
  const n = key.length;
  let h = Math.imul(n, 0x9e3779b1);
  for (let i = n > 24 ? 16 : 0; i < n; i += 6) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16)) & mask;
}

export class BoundedCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private readonly generationSize: number;
  private hitCount = 0;
  private missCount = 0;
  private readonly recentMask: number;
  private readonly recentKeys: (string | undefined)[];
  private readonly recentValues: (V | undefined)[];

  /**
   * @param capacity most entries held at once (at least 2)
   * @param compute the function being cached; called only on a miss
   * @param maxKeyLength longer keys are computed every time and never stored, so a few huge
   *   values cannot fill the memory the cache is meant to bound
   */
  constructor(
    readonly capacity: number,
    private readonly compute: (key: string) => V,
    private readonly maxKeyLength = 1024,
  ) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be an integer >= 2, got ${capacity}`);
    this.generationSize = Math.floor(capacity / 2);
    let slots = 1;
    while (slots * 2 <= Math.min(MAX_RECENT_SLOTS, this.generationSize)) slots *= 2;
    this.recentMask = slots - 1;
    this.recentKeys = new Array<string | undefined>(slots).fill(undefined);
    this.recentValues = new Array<V | undefined>(slots).fill(undefined);
  }

  get(key: string): V {
    const slot = recentSlot(key, this.recentMask);
    if (this.recentKeys[slot] === key) {
      this.hitCount++;
      return this.recentValues[slot] as V;
    }
    let value = this.current.get(key);
    if (value !== undefined) {
      this.hitCount++;
      this.recentKeys[slot] = key;
      this.recentValues[slot] = value;
      return value;
    }
    value = this.previous.get(key);
    if (value !== undefined) {
      this.hitCount++;
      this.store(key, value, slot);
      return value;
    }
    this.missCount++;
    value = this.compute(key);
    if (key.length <= this.maxKeyLength) this.store(key, value, slot);
    return value;
  }

  private store(key: string, value: V, slot: number): void {
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
      // The dropped generation's keys may sit in the recent table: forget them all.
      this.recentKeys.fill(undefined);
      this.recentValues.fill(undefined);
    }
    this.current.set(key, value);
    this.recentKeys[slot] = key;
    this.recentValues[slot] = value;
  }

  stats(): CacheStats {
    return { hits: this.hitCount, misses: this.missCount, size: this.current.size + this.previous.size, capacity: this.capacity };
  }

  /** Forgets every entry and resets the counters. */
  clear(): void {
    this.current = new Map();
    this.previous = new Map();
    this.recentKeys.fill(undefined);
    this.recentValues.fill(undefined);
    this.hitCount = 0;
    this.missCount = 0;
  }
}
