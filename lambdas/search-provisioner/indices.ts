/**
 * Index templates, write indices and aliases of the serving indices (one per table, and the
 * computations ledger), and their rebuild.
 * All of it runs against the local node in tests (no security plugin needed).
 */
import type { Client } from '@opensearch-project/opensearch';
import { buildIndexTemplate, generationIndex, IndexKind, indexNames, tableMappings } from '../../opensearch/index-template';
import { computationsAlias, TABLE_NAMES, tableAlias } from '../indexer/tables';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, sleep, withRetries } from '../shared/opensearch-client';

export interface IndexSetupOptions {
  /** What the index holds: its mappings. */
  readonly table: IndexKind;
  readonly alias: string;
  /** Generation of the index the alias should point at (`<alias>-v<generation>`). */
  readonly generation: number;
  readonly replicas: number;
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
  readonly log?: (message: string, attributes?: Record<string, unknown>) => void;
}

export interface IndexSetupResult {
  readonly template: string;
  readonly writeIndex: string;
  /** What happened to the alias: created with a new index, left alone, or moved by a rebuild. */
  readonly alias: 'created' | 'existing' | 'rebuilt';
  readonly rebuild?: RebuildResult;
}

type Req = Parameters<Client['transport']['request']>[0];

async function call(client: Client, request: Req, options: { retry?: RetryPolicy; hooks?: RetryHooks; ignore?: number[] }): Promise<{ statusCode: number; body: any }> {
  const response = await withRetries(
    () => client.transport.request(request, { ignore: options.ignore, requestTimeout: 120_000 }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  return { statusCode: response.statusCode ?? 0, body: response.body };
}

/** PUT of the index template: idempotent, and an updated template applies to future generations. */
export async function putIndexTemplate(client: Client, options: IndexSetupOptions): Promise<string> {
  const names = indexNames(options.alias);
  await call(
    client,
    { method: 'PUT', path: `/_index_template/${names.templateName}`, body: buildIndexTemplate(options.table, options.alias, { replicas: options.replicas }) },
    options,
  );
  return names.templateName;
}

/** The indices the alias points at and which of them takes writes; undefined when it does not exist. */
export async function aliasTargets(client: Client, alias: string, options: Pick<IndexSetupOptions, 'retry' | 'hooks'> = {}): Promise<{ indices: string[]; writeIndex?: string } | undefined> {
  const response = await call(client, { method: 'GET', path: `/_alias/${alias}` }, { ...options, ignore: [404] });
  if (response.statusCode === 404) return undefined;
  const entries = Object.entries(response.body as Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>);
  const indices = entries.map(([index]) => index).sort();
  const explicit = entries.find(([, value]) => value.aliases?.[alias]?.is_write_index === true)?.[0];
  return { indices, writeIndex: explicit ?? (indices.length === 1 ? indices[0] : undefined) };
}

async function indexExists(client: Client, index: string, options: IndexSetupOptions): Promise<boolean> {
  const response = await call(client, { method: 'HEAD', path: `/${index}` }, { ...options, ignore: [404] });
  return response.statusCode === 200;
}

/**
 * Makes sure the alias exists and takes writes into `<alias>-v<generation>`:
 * - no alias: creates the index (the template gives it its mappings) with the alias as its write
 *   alias; when the index exists already (a previous attempt), only adds the alias;
 * - alias on the wanted generation: nothing to do;
 * - alias on an older generation: rebuilds into the wanted one (see `rebuildIndex`);
 * - alias on a newer generation: refused (a rollback would lose the newer index's writes).
 */
export async function ensureWriteIndex(client: Client, options: IndexSetupOptions): Promise<IndexSetupResult> {
  const { alias } = indexNames(options.alias);
  const template = await putIndexTemplate(client, options);
  const wanted = generationIndex(alias, options.generation);

  // An index named like the alias (auto-created by a write before provisioning) blocks the alias.
  const clash = await call(client, { method: 'GET', path: `/${alias}` }, { ...options, ignore: [404] });
  if (clash.statusCode === 200 && Object.keys(clash.body).includes(alias)) {
    throw new Error(`an index named "${alias}" exists, so no alias of that name can be created; reindex it into ${wanted} and delete it`);
  }

  const current = await aliasTargets(client, alias, options);
  if (current) {
    if (!current.writeIndex) throw new Error(`alias ${alias} points at ${current.indices.join(', ')} without a write index`);
    if (current.writeIndex === wanted) {
      // Fields added to the template since the index was created (additive changes, and
      // updatable parameters such as ignore_above) reach the live index too; a conflicting
      // change fails here, loudly, and needs a new generation.
      await call(client, { method: 'PUT', path: `/${wanted}/_mapping`, body: tableMappings(options.table) }, options);
      return { template, writeIndex: wanted, alias: 'existing' };
    }
    const currentGeneration = Number(/-v(\d+)$/.exec(current.writeIndex)?.[1] ?? NaN);
    if (!(currentGeneration < options.generation)) {
      throw new Error(`alias ${alias} writes to ${current.writeIndex}; refusing to move it back to ${wanted}`);
    }
    const rebuild = await rebuildIndex(client, { ...options, from: current.writeIndex, to: wanted });
    return { template, writeIndex: wanted, alias: 'rebuilt', rebuild };
  }

  if (await indexExists(client, wanted, options)) {
    await call(client, { method: 'POST', path: '/_aliases', body: { actions: [{ add: { index: wanted, alias, is_write_index: true } }] } }, options);
  } else {
    const created = await call(
      client,
      { method: 'PUT', path: `/${wanted}`, body: { aliases: { [alias]: { is_write_index: true } } } },
      { ...options, ignore: [400] },
    );
    if (created.statusCode === 400) {
      // Another run created it between our check and our PUT; anything else is a real error.
      if (created.body?.error?.type !== 'resource_already_exists_exception') {
        throw new Error(`creating ${wanted} failed: ${JSON.stringify(created.body?.error ?? created.body)}`);
      }
      await call(client, { method: 'POST', path: '/_aliases', body: { actions: [{ add: { index: wanted, alias, is_write_index: true } }] } }, options);
    }
  }
  options.log?.('created the write index and its alias', { alias, index: wanted });
  return { template, writeIndex: wanted, alias: 'created' };
}

export interface ServingSetupOptions extends Omit<IndexSetupOptions, 'table' | 'alias'> {
  /** Prefix of every alias (lambdas/indexer/tables.ts). */
  readonly aliasPrefix: string;
}

/** The template, write index and alias of every table and of the computations ledger, by alias. */
export async function ensureServingIndices(client: Client, options: ServingSetupOptions): Promise<Record<string, IndexSetupResult>> {
  const kinds: Array<[IndexKind, string]> = [
    // The ledger first: the indexer announces a computation there before writing its rows.
    ['computations', computationsAlias(options.aliasPrefix)],
    ...TABLE_NAMES.map((table): [IndexKind, string] => [table, tableAlias(table, options.aliasPrefix)]),
  ];
  const results: Record<string, IndexSetupResult> = {};
  for (const [table, alias] of kinds) results[alias] = await ensureWriteIndex(client, { ...options, table, alias });
  return results;
}

export interface RebuildResult {
  readonly from: string;
  readonly to: string;
  /** Documents copied before the alias moved. */
  readonly copied: number;
  /** Documents copied after it moved (written to the old index during the first copy). */
  readonly caughtUp: number;
  /** Stale documents removed afterwards. */
  readonly staleDeleted: number;
}

/** Runs a reindex as a task and waits for it, so a long copy is not bound to one HTTP request. */
async function reindex(client: Client, from: string, to: string, options: IndexSetupOptions): Promise<number> {
  // The copy reads through a scroll, which sees refreshed documents only; the ledger is never
  // refreshed by its writer (it is read by id), and a table's last writes may not be yet.
  await call(client, { method: 'POST', path: `/${from}/_refresh` }, options);
  const started = await call(
    client,
    {
      method: 'POST',
      path: '/_reindex',
      querystring: { wait_for_completion: 'false', refresh: 'true' },
      // External versioning carries each document's version (its computed_at) over, so the copy
      // can never put an older computation over a newer one written meanwhile.
      body: { conflicts: 'proceed', source: { index: from }, dest: { index: to, version_type: 'external' } },
    },
    options,
  );
  const task = started.body.task as string;
  for (;;) {
    const status = await call(client, { method: 'GET', path: `/_tasks/${task}`, querystring: { wait_for_completion: 'true', timeout: '60s' } }, { ...options, ignore: [408] });
    if (status.body?.completed) {
      const result = status.body.response ?? {};
      if (status.body.error || (result.failures && result.failures.length > 0)) {
        throw new Error(`reindex ${from} -> ${to} failed: ${JSON.stringify(status.body.error ?? result.failures[0])}`);
      }
      return (result.created ?? 0) + (result.updated ?? 0);
    }
    await sleep(1000);
  }
}

/**
 * Moves the alias to a new generation of the index without analysts noticing:
 * 1. create `to` (the template gives it the current mappings) and copy `from` into it;
 * 2. in one atomic `_aliases` call, make `to` the alias's write index and drop `from` from it;
 * 3. copy `from` again, for documents the indexer wrote there during step 1 (external versions:
 *    only newer ones land);
 * 4. remove documents of older computations (a date's cleanup that ran on `from` during step 1
 *    did not reach the copy).
 * `from` is kept for the operator to check and delete.
 */
export async function rebuildIndex(client: Client, options: IndexSetupOptions & { from: string; to: string }): Promise<RebuildResult> {
  const { alias } = indexNames(options.alias);
  const { from, to } = options;
  options.log?.('rebuilding the index behind the alias', { alias, from, to });
  if (!(await indexExists(client, to, options))) {
    await call(client, { method: 'PUT', path: `/${to}` }, options);
  }
  const copied = await reindex(client, from, to, options);
  await call(
    client,
    {
      method: 'POST',
      path: '/_aliases',
      body: { actions: [{ add: { index: to, alias, is_write_index: true } }, { remove: { index: from, alias } }] },
    },
    options,
  );
  const caughtUp = await reindex(client, from, to, options);
  // The ledger has one entry per table and date (external versions): nothing of it goes stale.
  const staleDeleted = options.table === 'computations' ? 0 : await deleteOlderComputations(client, alias, options);
  options.log?.('rebuild done', { alias, from, to, copied, caughtUp, staleDeleted });
  return { from, to, copied, caughtUp, staleDeleted };
}

/**
 * Enforces "a date holds only its newest computation" over the whole index: finds the dates that
 * hold more than one `computed_at` and deletes, per date, the documents older than the newest.
 */
export async function deleteOlderComputations(client: Client, alias: string, options: Pick<IndexSetupOptions, 'retry' | 'hooks'> = {}): Promise<number> {
  await call(client, { method: 'POST', path: `/${alias}/_refresh` }, options);
  const mixed: Array<{ date: string; newest: number }> = [];
  let after: Record<string, unknown> | undefined;
  do {
    const response = await call(
      client,
      {
        method: 'POST',
        path: `/${alias}/_search`,
        body: {
          size: 0,
          aggs: {
            dates: {
              composite: {
                size: 500,
                sources: [{ date: { date_histogram: { field: 'event_date', calendar_interval: '1d', format: 'yyyy-MM-dd' } } }],
                ...(after ? { after } : {}),
              },
              aggs: { oldest: { min: { field: 'computed_at' } }, newest: { max: { field: 'computed_at' } } },
            },
          },
        },
      },
      options,
    );
    const agg = response.body.aggregations?.dates;
    for (const bucket of agg?.buckets ?? []) {
      if (bucket.oldest.value < bucket.newest.value) mixed.push({ date: bucket.key.date, newest: bucket.newest.value });
    }
    after = agg?.buckets?.length ? agg.after_key : undefined;
  } while (after);

  let deleted = 0;
  for (let i = 0; i < mixed.length; i += 200) {
    const dates = mixed.slice(i, i + 200);
    const response = await call(
      client,
      {
        method: 'POST',
        path: `/${alias}/_delete_by_query`,
        querystring: { conflicts: 'proceed', refresh: 'true' },
        body: {
          query: {
            bool: {
              should: dates.map(({ date, newest }) => ({
                bool: { filter: [{ term: { event_date: date } }, { range: { computed_at: { lt: newest, format: 'epoch_millis' } } }] },
              })),
              minimum_should_match: 1,
            },
          },
        },
      },
      options,
    );
    deleted += response.body.deleted ?? 0;
  }
  return deleted;
}

