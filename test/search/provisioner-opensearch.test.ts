/**
 * The search provisioner against the real local OpenSearch node: index template, write index,
 * alias, idempotence and the rebuild into a new generation. (Security plugin and Dashboards calls
 * have no local engine: provisioner-payloads.test.ts checks those.)
 */
import type { Client } from '@opensearch-project/opensearch';
import { indexLines } from '../../lambdas/indexer/core';
import { deleteOlderComputations, ensureWriteIndex } from '../../lambdas/search-provisioner/indices';
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

async function index(alias: string, date: string, computedAt: string, count: number) {
  async function* body() {
    yield Buffer.from(toNdjson(aggregateRows(date, computedAt, count)));
  }
  return indexLines(
    { s3: s3Client(), openSearch: client, telemetry: recordingTelemetry(), config: { alias } },
    { bucket: 'unused', key: `aggregates/url_country_daily/event_date=${date}/part-0.json`, eventDate: date, source: body() },
  );
}

const SPEC_TYPES = {
  event_date: 'date',
  computed_at: 'date',
  page_url: 'keyword',
  country: 'keyword',
  clicks: 'long',
  unique_users: 'long',
  timed_views: 'long',
  total_time_spent_seconds: 'double',
  avg_time_spent_seconds: 'double',
};

it('creates the template, the first generation and the write alias, with the SPEC mappings', async () => {
  const alias = newAlias();

  const result = await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });

  expect(result).toEqual({ template: alias, writeIndex: `${alias}-v1`, alias: 'created' });
  const template = (await get(`/_index_template/${alias}`)).body.index_templates[0].index_template;
  expect(template.index_patterns).toEqual([`${alias}-v*`]);
  const aliasInfo = (await get(`/_alias/${alias}`)).body;
  expect(aliasInfo).toEqual({ [`${alias}-v1`]: { aliases: { [alias]: { is_write_index: true } } } });
  const mapping = (await get(`/${alias}-v1/_mapping`)).body[`${alias}-v1`].mappings;
  expect(mapping.dynamic).toBe('strict');
  expect(Object.fromEntries(Object.entries(mapping.properties).map(([field, m]) => [field, (m as { type: string }).type]))).toEqual(SPEC_TYPES);
  const settings = (await get(`/${alias}-v1/_settings`)).body[`${alias}-v1`].settings.index;
  expect(settings.number_of_replicas).toBe('0');
  expect(settings.search.slowlog.threshold.query.warn).toBe('5s');
});

it('is idempotent: a second run changes nothing and keeps the documents', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });
  await index(alias, '2026-09-01', '2026-09-02T00:00:00.000Z', 5);
  const before = await allDocuments(client, alias);

  const again = await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });

  expect(again.alias).toBe('existing');
  expect(Object.keys((await get(`/${alias}-*`)).body)).toEqual([`${alias}-v1`]);
  expect(await allDocuments(client, alias)).toEqual(before);
});

it('the strict mapping refuses a document with a field the SPEC does not have', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });
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
  await expect(ensureWriteIndex(client, { alias, generation: 1, replicas: 0 })).rejects.toThrow(`an index named "${alias}" exists`);
});

it('rebuilds into the next generation: alias moved atomically, documents and versions kept, stale rows dropped', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });
  await index(alias, '2026-09-01', '2026-09-02T00:00:00.000Z', 8);
  await index(alias, '2026-09-02', '2026-09-03T00:00:00.000Z', 4);
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

  const result = await ensureWriteIndex(client, { alias, generation: 2, replicas: 0 });

  expect(result.alias).toBe('rebuilt');
  expect(result.rebuild).toMatchObject({ from: `${alias}-v1`, to: `${alias}-v2`, copied: 13, staleDeleted: 1 });
  expect((await get(`/_alias/${alias}`)).body).toEqual({ [`${alias}-v2`]: { aliases: { [alias]: { is_write_index: true } } } });
  expect(await allDocuments(client, alias)).toEqual(before);
  // The old generation stays for the operator to check, out of the alias.
  expect((await get(`/${alias}-v1`)).statusCode).toBe(200);
  // New writes go to the new generation.
  await index(alias, '2026-09-03', '2026-09-04T00:00:00.000Z', 2);
  const v2Count = (await client.transport.request({ method: 'GET', path: `/${alias}-v2/_count` })).body as { count: number };
  expect(v2Count.count).toBe(14);

  await expect(ensureWriteIndex(client, { alias, generation: 1, replicas: 0 })).rejects.toThrow(/refusing to move it back/);
});

it('deleteOlderComputations keeps only the newest computation of each date', async () => {
  const alias = newAlias();
  await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });
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
  const alias = newAlias();
  const logs: string[] = [];
  const result = await provisionSearch(client, {
    alias,
    generation: 1,
    replicas: 0,
    configureSecurity: false,
    importDashboards: false,
    indexerRoleArns: [],
    analystRoleArns: [],
    log: (message) => logs.push(message),
  });
  expect(result.index.writeIndex).toBe(`${alias}-v1`);
  expect(result.securityRoles).toBeUndefined();
  expect(result.savedObjects).toBeUndefined();
  expect(logs).toEqual(['created the write index and its alias', 'index template and alias in place']);
});
