/**
 * A bounded cache for pure, expensive lookups (user-agent parsing, host classification).
 *
 * Two generations of `Map`: lookups read the current one, then the previous one (a hit there is
 * copied forward); when the current generation holds half the capacity it becomes the previous
 * one and the old previous one is dropped. So it never holds more than `capacity` entries, an
 * entry used at least once per half-capacity insertions stays, and every operation is O(1)
 * without the per-hit delete/re-insert of a strict LRU. Hits and misses are counted, so the
 * benchmark and the tests can measure the hit rate.
 */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Entries held now (at most the capacity). */
  readonly size: number;
  readonly capacity: number;
}

export class BoundedCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private readonly generationSize: number;
  private hitCount = 0;
  private missCount = 0;

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
  }

  get(key: string): V {
    let value = this.current.get(key);
    if (value !== undefined) {
      this.hitCount++;
      return value;
    }
    value = this.previous.get(key);
    if (value !== undefined) {
      this.hitCount++;
      this.store(key, value);
      return value;
    }
    this.missCount++;
    value = this.compute(key);
    if (key.length <= this.maxKeyLength) this.store(key, value);
    return value;
  }

  private store(key: string, value: V): void {
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }

  stats(): CacheStats {
    return { hits: this.hitCount, misses: this.missCount, size: this.current.size + this.previous.size, capacity: this.capacity };
  }

  /** Forgets every entry and resets the counters. */
  clear(): void {
    this.current = new Map();
    this.previous = new Map();
    this.hitCount = 0;
    this.missCount = 0;
  }
}
