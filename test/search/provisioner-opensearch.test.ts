/**
 * The search provisioner against the real local OpenSearch node: index templates, write indices,
 * aliases of the five tables and the computations ledger, idempotence, template changes reaching
 * live indices, and the rebuild into a new generation. (Security plugin and Dashboards calls
 * have no local engine: provisioner-payloads.test.ts and security-roles.test.ts check those.)
 */
import type { Client } from '@opensearch-project/opensearch';
import { indexLines } from '../../lambdas/indexer/core';
import { allAliases, computationsAlias, TABLE_NAMES, tableAlias, TableName } from '../../lambdas/indexer/tables';
import { deleteOlderComputations, ensureServingIndices, ensureWriteIndex } from '../../lambdas/search-provisioner/indices';
import { provisionSearch } from '../../lambdas/search-provisioner/core';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';
import { aggregateRows, allDocuments, dropServingIndex, localClient, recordingTelemetry, toNdjson } from '../indexer/fixtures';

let client: Client;
const aliases: string[] = [];
const newAlias = () => {
  const alias = uniqueName('prov-test');
  aliases.push(alias);
  return alias;
};
/** A fresh alias prefix (its six aliases are dropped after the tests). */
const newPrefix = () => {
  const prefix = uniqueName('prov-test');
  aliases.push(...allAliases(prefix));
  return prefix;
};
const URL_TABLE = 'url_country_daily' as const;

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch'])).openSearchEndpoint);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  for (const alias of aliases) {
    await dropServingIndex(client, alias);
    // The clash test's index named like the alias (400: the name is an alias, not an index).
    await client.transport.request({ method: 'DELETE', path: `/${alias}` }, { ignore: [400, 404] });
  }
  await client.close();
});

const get = async (path: string) => (await client.transport.request({ method: 'GET', path }, { ignore: [404] })) as { statusCode: number; body: any };

/** Indexes url_country_daily rows through the indexer core, under `aliasPrefix`. */
async function index(aliasPrefix: string, date: string, computedAt: string, count: number) {
  async function* body() {
    yield Buffer.from(toNdjson(aggregateRows(date, computedAt, count)));
  }
  return indexLines(
    { s3: s3Client(), openSearch: client, telemetry: recordingTelemetry(), config: { aliasPrefix } },
    { bucket: 'unused', key: `aggregates/url_country_daily/event_date=${date}/part-0.json`, table: URL_TABLE, eventDate: date, source: body() },
  );
}

// SPEC sections 3 and 4, written out: grain strings keyword, counts long, times and rates double, dates date.
const KEYWORD = 'keyword';
const LONG = 'long';
const DOUBLE = 'double';
const DATE = 'date';
const SPEC_TYPES: Record<TableName, Record<string, string>> = {
  url_country_daily: {
    event_date: DATE, page_url: KEYWORD, country: KEYWORD, clicks: LONG, unique_users: LONG, timed_views: LONG, total_time_spent_seconds: DOUBLE,
    avg_time_spent_seconds: DOUBLE, entrances: LONG, bounces: LONG, bot_clicks: LONG, computed_at: DATE,
  },
  sessions_daily: {
    event_date: DATE, country: KEYWORD, device_type: KEYWORD, browser: KEYWORD, os: KEYWORD, channel: KEYWORD, sessions: LONG, bounces: LONG,
    pageviews: LONG, users: LONG, total_duration_seconds: DOUBLE, avg_duration_seconds: DOUBLE, bounce_rate: DOUBLE, computed_at: DATE,
  },
  traffic_sources_daily: {
    event_date: DATE, channel: KEYWORD, referrer_host: KEYWORD, utm_source: KEYWORD, utm_medium: KEYWORD, utm_campaign: KEYWORD, country: KEYWORD,
    sessions: LONG, bounces: LONG, pageviews: LONG, users: LONG, computed_at: DATE,
  },
  geo_daily: { event_date: DATE, country: KEYWORD, city: KEYWORD, clicks: LONG, unique_users: LONG, sessions: LONG, bot_clicks: LONG, computed_at: DATE },
  traffic_hourly: {
    event_date: DATE, event_hour: DATE, country: KEYWORD, device_type: KEYWORD, clicks: LONG, unique_users: LONG, sessions: LONG, bot_clicks: LONG, computed_at: DATE,
  },
};

const typesOf = (properties: Record<string, { type: string }>) => Object.fromEntries(Object.entries(properties).map(([field, m]) => [field, m.type]));

it('creates a template, the first generation and a write alias for every table and the ledger, with the SPEC mappings', async () => {
  const prefix = newPrefix();

  const results = await ensureServingIndices(client, { aliasPrefix: prefix, generation: 1, replicas: 0 });

  expect(Object.keys(results).sort()).toEqual(allAliases(prefix).sort());
  for (const table of TABLE_NAMES) {
    const alias = tableAlias(table, prefix);
    expect(results[alias]).toEqual({ template: alias, writeIndex: `${alias}-v1`, alias: 'created' });
    const template = (await get(`/_index_template/${alias}`)).body.index_templates[0].index_template;
    expect(template.index_patterns).toEqual([`${alias}-v*`]);
    expect((await get(`/_alias/${alias}`)).body).toEqual({ [`${alias}-v1`]: { aliases: { [alias]: { is_write_index: true } } } });
    const mapping = (await get(`/${alias}-v1/_mapping`)).body[`${alias}-v1`].mappings;
    expect(mapping.dynamic).toBe('strict');
    expect(typesOf(mapping.properties)).toEqual(SPEC_TYPES[table]);
    // Every keyword takes any value: longer than Lucene's term limit it is kept, not refused.
    for (const [field, m] of Object.entries(mapping.properties as Record<string, { type: string; ignore_above?: number }>)) {
      if (m.type === KEYWORD) expect([field, m.ignore_above]).toEqual([field, 10_922]);
    }
    const settings = (await get(`/${alias}-v1/_settings`)).body[`${alias}-v1`].settings.index;
    expect(settings.number_of_replicas).toBe('0');
    expect(settings.search.slowlog.threshold.query.warn).toBe('5s');
  }
  const ledger = computationsAlias(prefix);
  expect(typesOf((await get(`/${ledger}-v1/_mapping`)).body[`${ledger}-v1`].mappings.properties)).toEqual({ table: KEYWORD, event_date: DATE, computed_at: DATE, rows: LONG });
});

it('takes event_hour as a date: a date histogram by hour over traffic_hourly', async () => {
  const prefix = newPrefix();
  await ensureServingIndices(client, { aliasPrefix: prefix, generation: 1, replicas: 0 });
  const alias = tableAlias('traffic_hourly', prefix);
  for (const [i, hour] of ['2026-09-01T05:00:00.000Z', '2026-09-01T05:00:00.000Z', '2026-09-01T07:00:00.000Z'].entries()) {
    const doc = { event_date: '2026-09-01', event_hour: hour, country: 'DE', device_type: ['desktop', 'mobile', 'desktop'][i], clicks: i + 1, unique_users: 1, sessions: 1, bot_clicks: 0, computed_at: '2026-09-02T00:00:00.000Z' };
    await client.transport.request({ method: 'PUT', path: `/${alias}/_doc/${i}`, querystring: { refresh: 'true' }, body: doc });
  }
  const response = await client.transport.request({
    method: 'POST',
    path: `/${alias}/_search`,
    body: { size: 0, aggs: { hours: { date_histogram: { field: 'event_hour', fixed_interval: '1h', min_doc_count: 1 }, aggs: { clicks: { sum: { field: 'clicks' } } } } } },
  });
  const buckets = (response.body as any).aggregations.hours.buckets.map((b: any) => [b.key_as_string, b.clicks.value]);
  expect(buckets).toEqual([
    ['2026-09-01T05:00:00.000Z', 3],
    ['2026-09-01T07:00:00.000Z', 3],
  ]);
});

it('a field added to a template reaches the live index of the same generation', async () => {
  const prefix = newPrefix();
  const alias = tableAlias(URL_TABLE, prefix);
  // The index as the single-table product created it: no entrances, bounces, bot_clicks, no ignore_above.
  const old = { dynamic: 'strict', properties: { event_date: { type: 'date', format: 'strict_date' }, page_url: { type: 'keyword' }, country: { type: 'keyword' }, computed_at: { type: 'date' } } };
  await client.transport.request({ method: 'PUT', path: `/${alias}-v1`, body: { mappings: old, aliases: { [alias]: { is_write_index: true } } } });

  const result = await ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 });

  expect(result.alias).toBe('existing');
  const mapping = (await get(`/${alias}-v1/_mapping`)).body[`${alias}-v1`].mappings;
  expect(typesOf(mapping.properties)).toEqual(SPEC_TYPES.url_country_daily);
  expect(mapping.properties.page_url.ignore_above).toBe(10_922);
});

it('is idempotent: a second run changes nothing and keeps the documents', async () => {
  const prefix = newPrefix();
  const alias = tableAlias(URL_TABLE, prefix);
  await ensureServingIndices(client, { aliasPrefix: prefix, generation: 1, replicas: 0 });
  await index(prefix, '2026-09-01', '2026-09-02T00:00:00.000Z', 5);
  const before = await allDocuments(client, alias);

  const again = await ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 });

  expect(again.alias).toBe('existing');
  expect(Object.keys((await get(`/${alias}-*`)).body)).toEqual([`${alias}-v1`]);
  expect(await allDocuments(client, alias)).toEqual(before);
});

it('the strict mapping refuses a document with a field the SPEC does not have', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 });
  const response = await client.transport.request(
    { method: 'POST', path: `/${alias}/_doc`, body: { ...aggregateRows('2026-09-01', '2026-09-02T00:00:00.000Z', 1)[0], surprise: 1 } },
    { ignore: [400] },
  );
  expect(response.statusCode).toBe(400);
  expect((response.body as any).error.type).toBe('strict_dynamic_mapping_exception');
});

it('refuses to put the alias over an index that has its name (an early auto-created index)', async () => {
  const alias = newAlias();
  await client.transport.request({ method: 'PUT', path: `/${alias}` });
  await expect(ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 })).rejects.toThrow(`an index named "${alias}" exists`);
});

it('rebuilds into the next generation: alias moved atomically, documents and versions kept, stale rows dropped', async () => {
  const prefix = newPrefix();
  const alias = tableAlias(URL_TABLE, prefix);
  await ensureServingIndices(client, { aliasPrefix: prefix, generation: 1, replicas: 0 });
  await index(prefix, '2026-09-01', '2026-09-02T00:00:00.000Z', 8);
  await index(prefix, '2026-09-02', '2026-09-03T00:00:00.000Z', 4);
  // A stale document the cleanup never saw (say, written to v1 during a rebuild's first copy).
  const stale = { ...aggregateRows('2026-09-01', '2026-09-01T12:00:00.000Z', 1, 'https://shop.example/old/')[0] };
  await client.transport.request({
    method: 'PUT',
    path: `/${alias}/_doc/stale-doc`,
    querystring: { version: String(Date.parse(stale.computed_at)), version_type: 'external', refresh: 'true' },
    body: stale,
  });
  const before = await allDocuments(client, alias);
  before.delete('stale-doc');

  const results = await ensureServingIndices(client, { aliasPrefix: prefix, generation: 2, replicas: 0 });
  const result = results[alias];

  expect(result.alias).toBe('rebuilt');
  // The ledger moves along, its entries kept (nothing of it is "stale").
  expect(results[computationsAlias(prefix)].rebuild).toMatchObject({ copied: 2, staleDeleted: 0 });
  expect(result.rebuild).toMatchObject({ from: `${alias}-v1`, to: `${alias}-v2`, copied: 13, staleDeleted: 1 });
  expect((await get(`/_alias/${alias}`)).body).toEqual({ [`${alias}-v2`]: { aliases: { [alias]: { is_write_index: true } } } });
  expect(await allDocuments(client, alias)).toEqual(before);
  // The old generation stays for the operator to check, out of the alias.
  expect((await get(`/${alias}-v1`)).statusCode).toBe(200);
  // New writes go to the new generation.
  await index(prefix, '2026-09-03', '2026-09-04T00:00:00.000Z', 2);
  const v2Count = (await client.transport.request({ method: 'GET', path: `/${alias}-v2/_count` })).body as { count: number };
  expect(v2Count.count).toBe(14);

  await expect(ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 })).rejects.toThrow(/refusing to move it back/);
});

it('deleteOlderComputations keeps only the newest computation of each date', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { table: URL_TABLE, alias, generation: 1, replicas: 0 });
  for (const [date, computedAt, n] of [
    ['2026-08-01', '2026-08-02T00:00:00.000Z', 3],
    ['2026-08-02', '2026-08-03T00:00:00.000Z', 2],
  ] as const) {
    const rows = aggregateRows(date, computedAt, n);
    for (const [i, row] of rows.entries()) {
      await client.transport.request({
        method: 'PUT',
        path: `/${alias}/_doc/${date}-new-${i}`,
        querystring: { version: String(Date.parse(computedAt)), version_type: 'external' },
        body: row,
      });
    }
  }
  await client.transport.request({
    method: 'PUT',
    path: `/${alias}/_doc/old-1`,
    body: aggregateRows('2026-08-01', '2026-08-01T00:00:00.000Z', 1, 'https://shop.example/gone/')[0],
  });

  expect(await deleteOlderComputations(client, alias)).toBe(1);
  const ids = [...(await allDocuments(client, alias)).keys()].sort();
  expect(ids).toEqual(['2026-08-01-new-0', '2026-08-01-new-1', '2026-08-01-new-2', '2026-08-02-new-0', '2026-08-02-new-1']);
});

it('provisionSearch without the AWS-only parts runs against the local node', async () => {
  const prefix = newPrefix();
  const logs: string[] = [];
  const result = await provisionSearch(client, {
    aliasPrefix: prefix,
    generation: 1,
    replicas: 0,
    configureSecurity: false,
    importDashboards: false,
    indexerRoleArns: [],
    analystRoleArns: [],
    log: (message) => logs.push(message),
  });
  expect(Object.fromEntries(Object.entries(result.indices).map(([alias, index]) => [alias, index.writeIndex]))).toEqual(
    Object.fromEntries(allAliases(prefix).map((alias) => [alias, `${alias}-v1`])),
  );
  expect(result.securityRoles).toBeUndefined();
  expect(result.savedObjects).toBeUndefined();
  expect(logs).toEqual([...Array(6).fill('created the write index and its alias'), 'index templates and aliases in place']);
});
