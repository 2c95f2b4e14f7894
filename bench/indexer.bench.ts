/**
 * Documents/s of the indexer core indexing aggregate rows into the local OpenSearch node, beside
 * the client's own `helpers.bulk` sending the same rows in the same run (goal: ratio
 * >= 1.0, i.e. at least as fast as the helper, with our guarantees).
 *
 *   npx tsx bench/indexer.bench.ts [rows=200000] [rounds=5]      (npm run bench -- indexer)
 *
 * Both sides start from the same NDJSON bytes in memory (one object per date, as Spark writes
 * them) and write into a fresh, empty index of their own with the same mappings:
 * - ours: what `processBatch` does with one SQS batch of the four `url_country_daily` messages:
 *   `indexLines` per object, two at a time (streaming line split, row validation, the
 *   computation's announcement in the ledger, id hashing, bulk requests with external
 *   versioning, item bookkeeping and retries), then `cleanUpAfter` (one refresh, per date the
 *   ledger's newest computation and a delete-by-query of older rows);
 * - the helper: `client.helpers.bulk` over all rows at once (its defaults: 5 MB flushes,
 *   concurrency 5), given parsed rows and the same action (same id, version, version_type), no
 *   validation, no cleanup, and `refreshOnCompletion` so that both clocks stop when the rows are
 *   searchable (the template's refresh interval is 30 s).
 * Rounds alternate which side goes first; the figure is the median of the per-round ratios.
 * S3 is left out (both would read the same bytes from it).
 */
import { Readable } from 'stream';
import { cleanUpAfter, DEFAULT_MESSAGE_CONCURRENCY, forEachConcurrently, indexLines, ObjectOutcome } from '../lambdas/indexer/core';
import { rowDocumentId } from '../lambdas/indexer/documents';
import { allAliases, tableAlias } from '../lambdas/indexer/tables';
import { createOpenSearchClient } from '../lambdas/shared/opensearch-client';
import { ensureServingIndices } from '../lambdas/search-provisioner/indices';

const ROWS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const DATES = 4;
const ENDPOINT = process.env.OPENSEARCH_ENDPOINT ?? 'http://127.0.0.1:9200';
// Exploration knobs (unset: the indexer's defaults, which is what the figure is about).
const BULK = {
  ...(process.env.BENCH_CHUNK_DOCS ? { maxChunkDocs: Number(process.env.BENCH_CHUNK_DOCS) } : {}),
  ...(process.env.BENCH_CHUNK_BYTES ? { maxChunkBytes: Number(process.env.BENCH_CHUNK_BYTES) } : {}),
  ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {}),
};
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'ES', 'IT', 'NL', 'PL', 'SE', 'unknown'];

/** NDJSON per date, shaped like the Spark output (long-tail URLs, a few countries). */
function aggregateObjects(rows: number): Array<{ date: string; ndjson: Buffer; rows: number }> {
  const perDate = Math.ceil(rows / DATES);
  const objects = [];
  for (let d = 0; d < DATES; d++) {
    const date = `2026-05-${String(d + 1).padStart(2, '0')}`;
    const computedAt = `2026-05-${String(d + 2).padStart(2, '0')}T03:00:00.000Z`;
    const count = Math.min(perDate, rows - d * perDate);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const clicks = 1 + ((i * 7919) % 500);
      const timed = Math.floor(clicks * 0.8);
      const total = Math.round(timed * 23.7 * 100) / 100;
      lines.push(
        JSON.stringify({
          event_date: date,
          page_url: `https://shop.example/category-${i % 97}/product-${Math.floor(i / COUNTRIES.length)}?ref=bench`,
          country: COUNTRIES[i % COUNTRIES.length],
          clicks,
          unique_users: Math.max(1, Math.floor(clicks / 3)),
          timed_views: timed,
          total_time_spent_seconds: total,
          avg_time_spent_seconds: timed === 0 ? null : total / timed,
          entrances: Math.floor(clicks / 4),
          bounces: Math.floor(clicks / 9),
          bot_clicks: i % 5,
          computed_at: computedAt,
        }),
      );
    }
    objects.push({ date, ndjson: Buffer.from(lines.join('\n') + '\n'), rows: count });
  }
  return objects;
}

const client = createOpenSearchClient({ endpoint: ENDPOINT, auth: 'none', requestTimeoutMs: 120_000 });

/** A fresh set of serving indices under `prefix`; returns the prefix. */
async function freshAlias(prefix: string): Promise<string> {
  await dropAlias(prefix);
  await ensureServingIndices(client, { aliasPrefix: prefix, generation: 1, replicas: 0 });
  return prefix;
}

async function dropAlias(prefix: string): Promise<void> {
  for (const name of allAliases(prefix)) {
    await client.transport.request({ method: 'DELETE', path: `/${name}-*` }, { ignore: [404] });
    await client.transport.request({ method: 'DELETE', path: `/_index_template/${name}` }, { ignore: [404] });
  }
}

async function count(prefix: string): Promise<number> {
  const alias = tableAlias('url_country_daily', prefix);
  await client.transport.request({ method: 'POST', path: `/${alias}/_refresh` });
  return ((await client.transport.request({ method: 'GET', path: `/${alias}/_count` })).body as { count: number }).count;
}

const quiet = { info: () => undefined, warn: () => undefined, error: (m: string, a?: unknown) => console.error(m, a) };

async function ours(prefix: string, objects: ReturnType<typeof aggregateObjects>): Promise<number> {
  // S3 is not touched: indexLines only needs it for malformed-row reports, and there are none.
  const deps = { s3: undefined as never, openSearch: client, config: { aliasPrefix: prefix, bulk: BULK }, telemetry: { logger: quiet, count: () => undefined, bulkLatency: () => undefined } };
  const outcomes: ObjectOutcome[] = [];
  // As processBatch does with the four messages of one SQS batch.
  await forEachConcurrently(objects, DEFAULT_MESSAGE_CONCURRENCY, async (object) => {
    const outcome = await indexLines(
      deps,
      {
        bucket: 'bench',
        key: `aggregates/url_country_daily/event_date=${object.date}/part-00000.json`,
        table: 'url_country_daily',
        eventDate: object.date,
        source: Readable.from([object.ndjson], { objectMode: false }),
      },
      { cleanup: false },
    );
    if (outcome.status !== 'indexed' || outcome.failed > 0 || outcome.malformed > 0) throw new Error(`indexer: ${JSON.stringify(outcome)}`);
    outcomes.push(outcome);
  });
  const cleanup = await cleanUpAfter(deps, outcomes);
  if (cleanup.failed.size > 0 || cleanup.deleted.size !== objects.length) throw new Error(`cleanup: ${[...cleanup.failed.values()].join(', ')}`);
  return outcomes.reduce((n, outcome) => n + outcome.indexed, 0);
}

async function helper(prefix: string, objects: ReturnType<typeof aggregateObjects>): Promise<number> {
  const alias = tableAlias('url_country_daily', prefix);
  async function* rows() {
    for (const object of objects) {
      for (const line of object.ndjson.toString('utf8').split('\n')) if (line !== '') yield JSON.parse(line) as Record<string, string>;
    }
  }
  const stats = await client.helpers.bulk({
    datasource: rows(),
    onDocument: (row) => ({
      index: {
        _index: alias,
        _id: rowDocumentId('url_country_daily', row),
        version: Date.parse(row.computed_at),
        version_type: 'external',
      },
    }),
    refreshOnCompletion: true,
    onDrop: (dropped) => {
      throw new Error(`helper dropped a document: ${JSON.stringify(dropped.error)}`);
    },
  });
  if (stats.failed > 0) throw new Error(`helper: ${stats.failed} failed`);
  return stats.successful;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timed(run: () => Promise<number>): Promise<{ ms: number; docs: number }> {
  const start = process.hrtime.bigint();
  const docs = await run();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, docs };
}

async function main(): Promise<void> {
  const objects = aggregateObjects(ROWS);
  const mb = objects.reduce((n, o) => n + o.ndjson.length, 0) / (1024 * 1024);
  console.log(`indexer benchmark: ${ROWS} aggregate rows in ${objects.length} objects (${mb.toFixed(1)} MB NDJSON) into ${ENDPOINT}, ${ROUNDS} rounds`);

  const oursMs: number[] = [];
  const helperMs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const sides = [
      { name: 'ours', run: (alias: string) => ours(alias, objects), into: oursMs },
      { name: 'helper', run: (alias: string) => helper(alias, objects), into: helperMs },
    ];
    if (round % 2 === 1) sides.reverse();
    const took: Record<string, number> = {};
    for (const side of sides) {
      const alias = await freshAlias(`bench-indexer-${side.name}`);
      const result = await timed(() => side.run(alias));
      const stored = await count(alias);
      if (result.docs !== ROWS || stored !== ROWS) throw new Error(`${side.name}: ${result.docs} indexed, ${stored} stored, expected ${ROWS}`);
      side.into.push(result.ms);
      took[side.name] = result.ms;
      await dropAlias(alias);
    }
    ratios.push(took.helper / took.ours);
    console.log(`  round ${round + 1}: ours ${(took.ours / 1000).toFixed(2)} s, helpers.bulk ${(took.helper / 1000).toFixed(2)} s, ratio ${(took.helper / took.ours).toFixed(2)}`);
  }

  const row = (name: string, ms: number) => `${name.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${((ROWS / ms) * 1000).toFixed(0).padStart(8)} docs/s`;
  console.log(row('baseline: client.helpers.bulk (median)', median(helperMs)));
  console.log(row('indexer core: batch + cleanup (median)', median(oursMs)));
  console.log(`ratio (helper time / our time, median of rounds): ${median(ratios).toFixed(2)}  (goal >= 1.00)`);
  await client.close();
}

main().catch(async (error) => {
  console.error(error);
  await client.close();
  process.exit(1);
});
