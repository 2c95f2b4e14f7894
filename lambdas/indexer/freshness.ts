/**
 * Keeping a date's documents to its latest computation (SPEC section 4: no stale rows).
 * The reasoning behind the order of these calls is in docs/serving.md ("No stale rows").
 */
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, withRetries } from '../shared/opensearch-client';

export interface FreshnessOptions {
  readonly alias: string;
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
}

/** The newest `computed_at` (epoch ms) of the date's documents that are searchable now, if any. */
export async function newestComputedAt(client: Client, eventDate: string, options: FreshnessOptions): Promise<number | undefined> {
  const response = await withRetries(
    () =>
      client.transport.request({
        method: 'POST',
        path: `/${encodeURIComponent(options.alias)}/_search`,
        querystring: { filter_path: 'aggregations.newest.value' },
        body: {
          size: 0,
          track_total_hits: false,
          query: { term: { event_date: eventDate } },
          aggs: { newest: { max: { field: 'computed_at' } } },
        },
      }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  const value = (response.body as { aggregations?: { newest?: { value?: number | null } } }).aggregations?.newest?.value;
  return typeof value === 'number' ? value : undefined;
}

/** Makes every acknowledged write searchable (the cleanup's correctness depends on it). */
export async function refresh(client: Client, options: FreshnessOptions): Promise<void> {
  await withRetries(
    () => client.transport.request({ method: 'POST', path: `/${encodeURIComponent(options.alias)}/_refresh` }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
}

/**
 * Deletes the date's documents computed before `newerThanMs`, and refreshes when it deleted any,
 * so that readers see the date's new output alone as soon as the message is done (without
 * waiting for the index's refresh interval). Version conflicts mean a document
 * changed while the query ran (it was just re-indexed by a newer computation): it is left alone
 * (`conflicts=proceed`), which is what we want. Bulk failures inside the query are retried.
 * Returns how many documents were deleted.
 */
export async function deleteComputedBefore(
  client: Client,
  eventDate: string,
  newerThanMs: number,
  options: FreshnessOptions,
): Promise<number> {
  let deleted = 0;
  await withRetries(
    async () => {
      const response = await client.transport.request(
        {
          method: 'POST',
          path: `/${encodeURIComponent(options.alias)}/_delete_by_query`,
          querystring: { conflicts: 'proceed', slices: 'auto' },
          body: {
            query: {
              bool: {
                filter: [
                  { term: { event_date: eventDate } },
                  { range: { computed_at: { lt: newerThanMs, format: 'epoch_millis' } } },
                ],
              },
            },
          },
        },
        { requestTimeout: 300_000 },
      );
      const body = response.body as { deleted?: number; failures?: Array<{ status?: number; cause?: { reason?: string } }> };
      deleted += body.deleted ?? 0;
      if (body.failures && body.failures.length > 0) {
        // The query stops at the first bulk failure; what it deleted stays deleted, so repeat it.
        const first = body.failures[0];
        const error = new Error(`delete_by_query failed: ${first.cause?.reason ?? 'unknown cause'}`) as Error & {
          meta: { statusCode: number };
        };
        error.meta = { statusCode: first.status ?? 500 };
        throw error;
      }
    },
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  if (deleted > 0) await refresh(client, options);
  return deleted;
}
