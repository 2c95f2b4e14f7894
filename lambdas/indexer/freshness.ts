/**
 * Keeping each table's dates to their latest computation (SPEC section 4: no stale rows).
 *
 * The computations ledger (one small index, alias `<prefix>-computations`) holds, per table and
 * date, the `computed_at` of the newest computation any object has announced, with that instant
 * as its external version: it only ever moves forward. It is what decides "superseded", and the
 * stale-row cleanup deletes what is older than it. Because it outlives the rows, a date whose
 * newest output is empty (the job's `_empty.json` marker) still supersedes a late message of an
 * older computation. The reasoning behind the order of these calls is in docs/serving.md
 * ("No stale rows").
 */
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, withRetries } from '../shared/opensearch-client';
import type { TableName } from './tables';

export { computationsAlias } from './tables';

export interface FreshnessOptions {
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
}

/** The ledger entry's id: `<table>.<date>` (both are plain ASCII: nothing to escape). */
export const computationId = (table: TableName, eventDate: string): string => `${table}.${eventDate}`;

export type Claim = { readonly current: true } | { readonly current: false; readonly newestMs: number | undefined };

/**
 * Announces a computation of a table's date: records `computedAtMs` unless the ledger holds a
 * newer one (`version_type=external_gte`: the same computation again, from another part file or a
 * redelivery, is accepted). Refused (409) means a newer computation exists: the caller is superseded.
 */
export async function claimComputation(
  client: Client,
  ledger: string,
  entry: { table: TableName; eventDate: string; computedAtMs: number; rows?: number },
  options: FreshnessOptions,
): Promise<Claim> {
  const id = computationId(entry.table, entry.eventDate);
  const response = await withRetries(
    () =>
      client.transport.request(
        {
          // POST, like every other request of the indexer: its IAM policy allows ESHttpPost only.
          method: 'POST',
          path: `/${encodeURIComponent(ledger)}/_doc/${id}`,
          // require_alias: a missing ledger fails loudly instead of auto-creating an index.
          querystring: { version: entry.computedAtMs, version_type: 'external_gte', require_alias: true },
          body: {
            table: entry.table,
            event_date: entry.eventDate,
            computed_at: new Date(entry.computedAtMs).toISOString(),
            ...(entry.rows === undefined ? {} : { rows: entry.rows }),
          },
        },
        { ignore: [409] },
      ),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  if (response.statusCode !== 409) return { current: true };
  return { current: false, newestMs: await newestComputation(client, ledger, entry.table, entry.eventDate, options) };
}

/**
 * The newest announced computation of a table's date (epoch ms), if any. A multi-get by id is
 * real-time (it needs no refresh), and is a POST.
 */
export async function newestComputation(client: Client, ledger: string, table: TableName, eventDate: string, options: FreshnessOptions): Promise<number | undefined> {
  const response = await withRetries(
    () =>
      client.transport.request({
        method: 'POST',
        path: `/${encodeURIComponent(ledger)}/_mget`,
        querystring: { _source: 'false' },
        body: { ids: [computationId(table, eventDate)] },
      }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  const doc = (response.body as { docs?: Array<{ found?: boolean; _version?: number; error?: unknown }> }).docs?.[0];
  if (doc?.error !== undefined) throw new Error(`reading the computations ledger failed: ${JSON.stringify(doc.error)}`);
  return doc?.found && typeof doc._version === 'number' ? doc._version : undefined;
}

/** Makes every acknowledged write of these indices searchable (the cleanup's correctness depends on it). */
export async function refresh(client: Client, aliases: readonly string[], options: FreshnessOptions): Promise<void> {
  // One request per alias: a path naming several (`/a,b/_refresh`) is one IAM resource, which the
  // indexer's per-alias grants do not match.
  await Promise.all(aliases.map((alias) => withRetries(
    () => client.transport.request({ method: 'POST', path: `/${encodeURIComponent(alias)}/_refresh` }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  )));
}

/**
 * Deletes the date's documents of a table computed before `newerThanMs`, and refreshes when it
 * deleted any, so that readers see the date's new output alone as soon as the message is done
 * (without waiting for the index's refresh interval). Version conflicts mean a document changed
 * while the query ran (it was just re-indexed by a newer computation): it is left alone
 * (`conflicts=proceed`), which is what we want. Bulk failures inside the query are retried.
 * Returns how many documents were deleted.
 */
export async function deleteComputedBefore(
  client: Client,
  alias: string,
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
          path: `/${encodeURIComponent(alias)}/_delete_by_query`,
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
  if (deleted > 0) await refresh(client, [alias], options);
  return deleted;
}
