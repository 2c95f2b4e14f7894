/**
 * Runs an async function over items with at most `limit` calls in flight: enough parallelism to
 * hide S3 / OpenSearch round trips, bounded so one invocation never opens hundreds of sockets.
 * Used by the ingest function (PutObject per raw object) and suitable for the indexer.
 */

/** Thrown when at least one call failed; `cause` is the first failure, `failures` all of them. */
export class BoundedMapError<T> extends Error {
  constructor(
    readonly failures: ReadonlyArray<{ readonly item: T; readonly error: unknown }>,
    readonly notStarted: number,
  ) {
    const first = failures[0].error;
    super(
      `${failures.length} of the calls failed` +
        (notStarted > 0 ? ` (${notStarted} more not started)` : '') +
        `; first: ${first instanceof Error ? first.message : String(first)}`,
      { cause: first },
    );
    this.name = 'BoundedMapError';
  }
}

/**
 * `Promise.all(items.map(fn))` with at most `limit` calls in flight, results in item order.
 * After the first failure no new call starts (the batch is going to be retried anyway); the
 * calls in flight are awaited, then a `BoundedMapError` naming every failure is thrown.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  const failures: { item: T; error: unknown }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        failures.push({ item: items[index], error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw new BoundedMapError(failures, items.length - next);
  return results;
}
