/**
 * Reading a smoke run's rows back from the served aliases, one per table (both the deployed domain,
 * SigV4-signed, and the local node).
 *
 * - `shared: true` (a deployment: the aliases hold all traffic): the marked tables' rows carrying
 *   the run's marker (scripts/deploy/smoke-core.ts, MARKED_BY); for the two tables no click can
 *   mark, the rows of the run's date and grain values (country, device, channel) computed since the
 *   run's job started.
 * - `shared: false` (a local run with aliases of its own): every row of the run's date.
 */
import type { Client } from '@opensearch-project/opensearch';
import type { TableName } from '../../lambdas/indexer/tables';
import { MARKED_BY, SMOKE_CHANNEL, SMOKE_COUNTRIES, SMOKE_DEVICE, SMOKE_HOST, type SmokePlan } from './smoke-core';

export interface TableSelection {
  readonly table: TableName;
  readonly shared: boolean;
  /** Shared aliases, unmarked tables: only rows computed at or after this time (ISO-8601). */
  readonly computedSince?: string;
}

/** Whether the selected rows hold the run's clicks alone (then they must match the plan exactly). */
export function selectionIsExact(selection: TableSelection): boolean {
  return !selection.shared || MARKED_BY[selection.table] !== undefined;
}

/** The OpenSearch query that selects a table's rows of the run. */
export function tableQuery(plan: SmokePlan, selection: TableSelection): Record<string, unknown> {
  const filter: Array<Record<string, unknown>> = [{ term: { event_date: plan.date } }];
  if (selection.shared) {
    const marked = MARKED_BY[selection.table];
    if (marked === 'page_url') filter.push({ prefix: { page_url: `https://${SMOKE_HOST}/${plan.marker}/` } });
    else if (marked) filter.push({ term: { [marked]: plan.marker } });
    else {
      filter.push({ term: { device_type: SMOKE_DEVICE } }, { terms: { country: [...SMOKE_COUNTRIES] } });
      if (selection.table === 'sessions_daily') filter.push({ term: { channel: SMOKE_CHANNEL } });
      if (selection.computedSince) filter.push({ range: { computed_at: { gte: selection.computedSince } } });
    }
  }
  return { bool: { filter } };
}

/**
 * The selected rows of a table's alias (at most 10,000: a run's rows are a few dozen). A search
 * only, which the read-only `clickstream_analyst` role allows (no refresh: the indexer refreshes
 * the aliases it wrote before it reports an object done, lambdas/indexer/core.ts).
 */
export async function servedTableRows(os: Client, alias: string, plan: SmokePlan, selection: TableSelection): Promise<Array<Record<string, unknown>>> {
  const res = await os.search({ index: alias, body: { size: 10_000, query: tableQuery(plan, selection) } });
  const hits = (res.body as { hits: { hits: Array<{ _source: Record<string, unknown> }> } }).hits.hits;
  return hits.map((h) => h._source);
}
