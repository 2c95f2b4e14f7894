/**
 * Reading a smoke run's rows back from the served `url_country_daily` alias (both the deployed
 * domain, SigV4-signed, and the local node): the rows of the run's date whose page carries the
 * run's marker, and nothing else of the index.
 */
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_ALIAS } from '../../lambdas/indexer/core';
import type { ServedRow, SmokePlan } from './smoke-core';

/** The alias the indexer writes `url_country_daily` rows through (the indexer's own export). */
export const SMOKE_ALIAS = DEFAULT_ALIAS;

export async function servedRows(os: Client, alias: string, plan: SmokePlan): Promise<ServedRow[]> {
  await os.indices.refresh({ index: alias });
  const res = await os.search({
    index: alias,
    body: {
      size: 1000,
      query: { bool: { filter: [{ term: { event_date: plan.date } }, { wildcard: { page_url: { value: `*/${plan.marker}/*` } } }] } },
    },
  });
  const hits = (res.body as { hits: { hits: Array<{ _source: ServedRow }> } }).hits.hits;
  return hits.map((h) => h._source);
}

/** Deletes the run's rows (the smoke test leaves nothing of itself in the index). */
export async function deleteServedRows(os: Client, alias: string, plan: SmokePlan): Promise<void> {
  await os.deleteByQuery({
    index: alias,
    refresh: true,
    conflicts: 'proceed',
    body: { query: { wildcard: { page_url: { value: `*/${plan.marker}/*` } } } },
  });
}
