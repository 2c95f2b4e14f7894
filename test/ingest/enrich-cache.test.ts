import { BoundedCache, recentSlot } from '../../lambdas/ingest/enrich/cache';

describe('BoundedCache, table of recent keys', () => {
  it('gives each key its own value when keys share a slot', () => {
    // Keys of one length that differ only where recentSlot does not read: the same slot.
    const keys = Array.from({ length: 20 }, (_, i) => `Mozilla/5.0 (X; x${String.fromCharCode(65 + i)}) Gecko/20100101 Firefox/133.0`);
    expect(new Set(keys.map((k) => recentSlot(k, 1023))).size).toBe(1);
    const computed = new Map<string, number>();
    const cache = new BoundedCache(1000, (k) => {
      computed.set(k, (computed.get(k) ?? 0) + 1);
      return `value of ${k}`;
    });
    for (let round = 0; round < 5; round++) {
      for (const k of keys) expect(cache.get(`${k}`)).toBe(`value of ${k}`); // a new string each time
    }
    expect([...computed.values()]).toEqual(keys.map(() => 1));
    expect(cache.stats()).toEqual({ hits: 4 * keys.length, misses: keys.length, size: keys.length, capacity: 1000 });
  });

  it('forgets a key once both generations dropped it, even when it sat in the recent table', () => {
    let computedA = 0;
    const cache = new BoundedCache(4, (k) => {
      if (k === 'a') computedA++;
      return k.toUpperCase();
    });
    expect(cache.get('a')).toBe('A');
    expect(cache.get('a')).toBe('A'); // from the recent table
    // Capacity 4: generations of 2 keys, 2 recent slots. Four other keys, none in the slot of
    // 'a', so only the emptying of the table can take 'a' out of it.
    const others = Array.from({ length: 40 }, (_, i) => `k${i}`).filter((k) => recentSlot(k, 1) !== recentSlot('a', 1)).slice(0, 4);
    expect(others).toHaveLength(4);
    for (const k of others) cache.get(k); // two generations later, 'a' is gone
    expect(cache.stats().size).toBeLessThanOrEqual(4);
    expect(cache.get('a')).toBe('A');
    expect(computedA).toBe(2);
  });

  it('does not keep keys beyond its key-length bound in the recent table either', () => {
    let computed = 0;
    const cache = new BoundedCache(8, (k) => { computed++; return k.length; }, 4);
    for (let i = 0; i < 3; i++) expect(cache.get('12345')).toBe(5);
    expect(computed).toBe(3);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 3, size: 0 });
  });
});
