import { BoundedMapError, mapBounded } from '../../lambdas/shared/bounded-map';

const tick = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('mapBounded', () => {
  it('returns the results in item order with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const results = await mapBounded(items, 3, async (item) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick((item * 7) % 5); // finish out of order
      inFlight--;
      return item * 10;
    });
    expect(results).toEqual(items.map((i) => i * 10));
    expect(peak).toBe(3);
  });

  it('starts no new call after a failure, waits for the calls in flight, and names every failure', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const promise = mapBounded(Array.from({ length: 10 }, (_, i) => i), 2, async (item) => {
      started.push(item);
      await tick(item === 1 ? 5 : 20);
      finished.push(item);
      if (item === 1) throw new Error('item 1 failed');
      return item;
    });
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BoundedMapError);
    const failure = error as BoundedMapError<number>;
    expect(failure.failures.map((f) => f.item)).toEqual([1]);
    expect(failure.message).toBe('1 of the calls failed (8 more not started); first: item 1 failed');
    expect((failure.cause as Error).message).toBe('item 1 failed');
    // Items 0 and 1 ran; item 0 was in flight when 1 failed and was awaited; nothing else started.
    expect(started).toEqual([0, 1]);
    expect(finished.sort()).toEqual([0, 1]);
  });

  it('handles an empty list and refuses a limit below 1', async () => {
    await expect(mapBounded([], 4, async () => 1)).resolves.toEqual([]);
    await expect(mapBounded([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});
