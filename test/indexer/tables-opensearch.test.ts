/**
 * The indexer over the five tables, against the real local engines (s3proxy, OpenSearch 2.19):
 * routing by the key's table to that table's alias, ids from each table's grain (null kept apart
 * from "null" and ""), a date whose newest output is empty, and the two defects found in the
 * indexer of the single table (a page_url longer than 8 KiB, and the race an older computation
 * could win after losing).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import type { SQSEvent } from 'aws-lambda';
import { IndexerConfig, IndexerDeps, indexLines, processBatch } from '../../lambdas/indexer/core';
import { rowDocumentId } from '../../lambdas/indexer/documents';
import { computationsAlias, TABLE_NAMES, tableAlias, TableName } from '../../lambdas/indexer/tables';
import { ensureServingIndices } from '../../lambdas/search-provisioner/indices';
import { KEYWORD_IGNORE_ABOVE } from '../../opensearch/index-template';
import { s3EventNotification } from '../../local/s3-notifier';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';
import {
  aggregateRows,
  allDocuments,
  dropServingIndices,
  faultyProxy,
  localClient,
  recordingTelemetry,
  RecordedTelemetry,
  TableRowInput,
  tableRows,
  toNdjson,
} from './fixtures';

const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

let endpoint: string;
let client: Client;
let bucket: string;
let aliasPrefix: string;

beforeAll(async () => {
  endpoint = (await ensureEngines(['opensearch', 's3'])).openSearchEndpoint;
  client = localClient(endpoint);
  bucket = uniqueName('tables');
  aliasPrefix = uniqueName('tbl-test');
  await createBucket(bucket);
  await ensureServingIndices(client, { aliasPrefix, generation: 1, replicas: 0 });
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropServingIndices(client, aliasPrefix);
  await emptyBucket(bucket);
  await client.close();
});

let messageCounter = 0;
function event(keys: string[]): SQSEvent {
  return {
    Records: keys.map((key) => ({
      messageId: `t-${++messageCounter}`,
      receiptHandle: 'r',
      body: s3EventNotification(bucket, key, 'us-east-1'),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
    })),
  };
}

function deps(telemetry: RecordedTelemetry = recordingTelemetry(), overrides: Partial<IndexerConfig> = {}, openSearch: Client = client): IndexerDeps {
  return { s3: s3Client(), openSearch, telemetry, config: { aliasPrefix, retry: FAST_RETRY, bulk: { sleep: async () => undefined }, ...overrides } };
}

const put = (key: string, body: string) => s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })).then(() => undefined);
const partKey = (table: TableName, date: string, part: string) => `aggregates/${table}/event_date=${date}/part-${part}.c000.json`;
const emptyKey = (table: TableName, date: string) => `aggregates/${table}/event_date=${date}/_empty.json`;
const emptyMarker = (table: TableName, date: string, computedAt: string) => JSON.stringify({ computed_at: computedAt, event_date: date, rows: 0, table }) + '\n';

async function docsOf(table: TableName, date?: string): Promise<Map<string, { source: TableRowInput; version: number }>> {
  const all = await allDocuments<TableRowInput>(client, tableAlias(table, aliasPrefix));
  return new Map([...all].filter(([, doc]) => date === undefined || doc.source.event_date === date));
}
const idsOf = (table: TableName, rows: readonly object[]) => rows.map((row) => rowDocumentId(table, row)).sort();

describe('routing by table', () => {
  it("indexes each table's objects into that table's alias, one document per row of its grain, and nothing elsewhere", async () => {
    const date = '2026-08-01';
    const computedAt = '2026-08-02T00:10:00.000Z';
    const rows = Object.fromEntries(TABLE_NAMES.map((table) => [table, tableRows(table, date, computedAt, 8)])) as Record<TableName, TableRowInput[]>;
    for (const table of TABLE_NAMES) await put(partKey(table, date, '00000'), toNdjson(rows[table]));
    const telemetry = recordingTelemetry();

    const result = await processBatch(deps(telemetry), event(TABLE_NAMES.map((table) => partKey(table, date, '00000'))));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.outcomes.map((outcome) => [outcome.table, outcome.alias, outcome.status, outcome.indexed])).toEqual(
      TABLE_NAMES.map((table) => [table, tableAlias(table, aliasPrefix), 'indexed', 8]),
    );
    for (const table of TABLE_NAMES) {
      const docs = await docsOf(table);
      // Eight rows, eight documents: null, "null" and "" grain values are three different rows.
      expect([...docs.keys()].sort()).toEqual(idsOf(table, rows[table]));
      for (const row of rows[table]) expect(docs.get(rowDocumentId(table, row))).toEqual({ source: row, version: Date.parse(computedAt) });
    }
    expect(telemetry.total('MalformedRows')).toBe(0);
  });

  it('keeps null grain values as null in the document, apart from "null" and ""', async () => {
    const docs = await docsOf('geo_daily', '2026-08-01');
    const cities = [...docs.values()].map((doc) => doc.source.city);
    expect(cities.filter((city) => city === null)).toHaveLength(2);
    expect(cities.filter((city) => city === 'null')).toHaveLength(2);
    expect(cities.filter((city) => city === '')).toHaveLength(2);
    // An exists query tells null (no value) from the two strings.
    const missing = await client.transport.request({
      method: 'POST',
      path: `/${tableAlias('geo_daily', aliasPrefix)}/_count`,
      body: { query: { bool: { must_not: { exists: { field: 'city' } } } } },
    });
    expect((missing.body as { count: number }).count).toBe(2);
  });

  it('refuses a traffic_hourly row whose hour is not a whole hour of the partition date, and takes the rest', async () => {
    const date = '2026-08-03';
    const [good, ...rest] = tableRows('traffic_hourly', date, '2026-08-04T00:00:00.000Z', 3);
    const lines = [good, { ...rest[0], event_hour: '2026-08-03T05:30:00.000Z' }, { ...rest[1], event_hour: '2026-08-04T01:00:00.000Z' }];
    await put(partKey('traffic_hourly', date, 'hours'), toNdjson(lines));

    const result = await processBatch(deps(), event([partKey('traffic_hourly', date, 'hours')]));

    expect(result.outcomes[0]).toMatchObject({ status: 'indexed', indexed: 1, malformed: 2, errorReportKey: `errors/traffic_hourly/event_date=${date}/part-hours.c000.json.malformed.ndjson` });
    expect([...(await docsOf('traffic_hourly', date)).keys()]).toEqual(idsOf('traffic_hourly', [good]));
  });
});

describe('a date whose newest output is empty', () => {
  const date = '2026-08-05';
  const first = '2026-08-06T01:00:00.000Z';
  const emptied = '2026-08-06T02:00:00.000Z';

  beforeAll(async () => {
    for (const table of TABLE_NAMES) await put(partKey(table, date, 'first'), toNdjson(tableRows(table, date, first, 5)));
    for (const table of TABLE_NAMES) await put(partKey(table, '2026-08-06', 'other'), toNdjson(tableRows(table, '2026-08-06', first, 2)));
    const result = await processBatch(deps(), event(TABLE_NAMES.flatMap((table) => [partKey(table, date, 'first'), partKey(table, '2026-08-06', 'other')])));
    expect(result.batchItemFailures).toEqual([]);
  });

  it("removes every document of that table's date, and leaves other tables and dates alone", async () => {
    await put(emptyKey('sessions_daily', date), emptyMarker('sessions_daily', date, emptied));
    const telemetry = recordingTelemetry();

    const result = await processBatch(deps(telemetry), event([emptyKey('sessions_daily', date)]));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.outcomes[0]).toMatchObject({ status: 'indexed', table: 'sessions_daily', rows: 0, staleDeleted: 5 });
    expect((await docsOf('sessions_daily', date)).size).toBe(0);
    expect((await docsOf('sessions_daily', '2026-08-06')).size).toBe(2);
    for (const table of TABLE_NAMES.filter((name) => name !== 'sessions_daily')) expect((await docsOf(table, date)).size).toBe(5);
  });

  it('a late message of the older computation is superseded and brings nothing back', async () => {
    const telemetry = recordingTelemetry();
    const result = await processBatch(deps(telemetry), event([partKey('sessions_daily', date, 'first')]));

    expect(result.outcomes[0]).toMatchObject({ status: 'superseded', indexed: 0 });
    expect((await docsOf('sessions_daily', date)).size).toBe(0);
  });

  it('an older empty marker delivered after a newer output deletes nothing', async () => {
    const newer = tableRows('geo_daily', date, '2026-08-06T03:00:00.000Z', 4);
    await put(partKey('geo_daily', date, 'newer'), toNdjson(newer));
    await processBatch(deps(), event([partKey('geo_daily', date, 'newer')]));
    await put(emptyKey('geo_daily', date), emptyMarker('geo_daily', date, emptied));

    const result = await processBatch(deps(), event([emptyKey('geo_daily', date)]));

    expect(result.outcomes[0]).toMatchObject({ status: 'superseded' });
    expect([...(await docsOf('geo_daily', date)).keys()].sort()).toEqual(idsOf('geo_daily', newer));
  });

  it('a marker that is not what the job writes is reported and deletes nothing', async () => {
    await put(emptyKey('traffic_hourly', date), emptyMarker('geo_daily', date, emptied));

    const result = await processBatch(deps(), event([emptyKey('traffic_hourly', date)]));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.outcomes[0]).toMatchObject({ malformed: 1, errorReportKey: `errors/traffic_hourly/event_date=${date}/_empty.json.malformed.ndjson` });
    expect((await docsOf('traffic_hourly', date)).size).toBe(5);
  });

  it('the ledger records the newest computation of each table and date', async () => {
    const ledger = computationsAlias(aliasPrefix);
    const entry = await client.transport.request({ method: 'GET', path: `/${ledger}/_doc/sessions_daily.${date}` });
    expect(entry.body).toMatchObject({ _version: Date.parse(emptied), _source: { table: 'sessions_daily', event_date: date, computed_at: emptied, rows: 0 } });
  });
});

describe('defect: a page_url longer than 8 KiB', () => {
  const date = '2026-08-10';
  // A non-ASCII path: 1,000 characters become 9,000 bytes of percent-encoding (the ingest limit is on `url`).
  const encoded = encodeURI(`https://shop.example/${'文'.repeat(1000)}`);
  // Longer than ignore_above: still indexed, kept in _source, not a term.
  const longest = encodeURI(`https://shop.example/${'文'.repeat(2500)}`);

  beforeAll(async () => {
    const [a, b, c] = aggregateRows(date, '2026-08-11T00:00:00.000Z', 3);
    await put(partKey('url_country_daily', date, 'long'), toNdjson([{ ...a, page_url: encoded }, { ...b, page_url: longest }, c]));
  });

  it('is indexed, searchable and aggregatable like any page', async () => {
    expect(Buffer.byteLength(encoded)).toBeGreaterThan(8 * 1024);
    expect(encoded.length).toBeLessThanOrEqual(KEYWORD_IGNORE_ABOVE);
    const result = await processBatch(deps(), event([partKey('url_country_daily', date, 'long')]));

    expect(result.outcomes[0]).toMatchObject({ status: 'indexed', indexed: 3, malformed: 0 });
    const alias = tableAlias('url_country_daily', aliasPrefix);
    const found = await client.transport.request({ method: 'POST', path: `/${alias}/_search`, body: { query: { term: { page_url: encoded } } } });
    expect((found.body as { hits: { hits: Array<{ _source: { page_url: string } }> } }).hits.hits.map((hit) => hit._source.page_url)).toEqual([encoded]);
    const pages = await client.transport.request({
      method: 'POST',
      path: `/${alias}/_search`,
      body: { size: 0, query: { term: { event_date: date } }, aggs: { pages: { terms: { field: 'page_url', size: 10 } } } },
    });
    expect((pages.body as { aggregations: { pages: { buckets: Array<{ key: string }> } } }).aggregations.pages.buckets.map((bucket) => bucket.key)).toContain(encoded);
  });

  it('beyond the keyword limit, the row is still indexed and kept whole in _source', async () => {
    expect(longest.length).toBeGreaterThan(KEYWORD_IGNORE_ABOVE);
    const docs = await docsOf('url_country_daily', date);
    expect([...docs.values()].map((doc) => doc.source.page_url)).toContain(longest);
    expect(docs.size).toBe(3);
  });
});

describe('defect: an older computation that lost the race', () => {
  it('failing on one document and then superseded on retry, it leaves none of its rows behind', async () => {
    const date = '2026-08-12';
    const older = aggregateRows(date, '2026-08-13T01:00:00.000Z', 9);
    const newer = aggregateRows(date, '2026-08-13T02:00:00.000Z', 3);
    const lines = toNdjson(older).split('\n');
    // The older object is read slowly: it is announced before the newer run, and writes the rest
    // of its rows after the newer run was indexed and cleaned up.
    let reachedGate!: () => void;
    const atGate = new Promise<void>((resolve) => (reachedGate = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    async function* slowObject() {
      yield Buffer.from(lines[0] + '\n');
      reachedGate();
      await gate;
      yield Buffer.from(lines.slice(1).join('\n'));
    }
    // One of the rows only the older run has is refused by OpenSearch every time.
    const proxy = await faultyProxy(endpoint, { rejectIds: new Set([rowDocumentId('url_country_daily', older[8])]) });
    const proxied = localClient(proxy.url);
    const key = partKey('url_country_daily', date, 'old');
    try {
      const olderRun = indexLines(deps(recordingTelemetry(), {}, proxied), { bucket, key, table: 'url_country_daily', eventDate: date, source: slowObject() });
      await atGate;
      await put(partKey('url_country_daily', date, 'new'), toNdjson(newer));
      await processBatch(deps(), event([partKey('url_country_daily', date, 'new')]));
      openGate();
      const first = await olderRun;
      expect(first).toMatchObject({ status: 'failed', failed: 1, indexed: older.length - newer.length - 1 });
    } finally {
      await proxied.close();
      await proxy.close();
    }
    // The redelivery finds the object (the worst case: its file still readable) and a newer computation.
    await put(key, toNdjson(older));
    const retry = await processBatch(deps(), event([key]));

    expect(retry.batchItemFailures).toEqual([]);
    expect(retry.outcomes[0]).toMatchObject({ status: 'superseded', staleDeleted: older.length - newer.length - 1 });
    const docs = await docsOf('url_country_daily', date);
    expect([...docs.keys()].sort()).toEqual(idsOf('url_country_daily', newer));
    for (const row of newer) expect(docs.get(rowDocumentId('url_country_daily', row))).toEqual({ source: row, version: Date.parse(row.computed_at) });
  });

  it('the same when the retry finds the object gone (the newer run replaced the date folder)', async () => {
    const date = '2026-08-14';
    const older = aggregateRows(date, '2026-08-15T01:00:00.000Z', 6);
    const newer = aggregateRows(date, '2026-08-15T02:00:00.000Z', 2);
    // The older rows that outlived the newer run's cleanup, as the race above leaves them.
    await put(partKey('url_country_daily', date, 'new'), toNdjson(newer));
    await processBatch(deps(), event([partKey('url_country_daily', date, 'new')]));
    const stale = older.slice(newer.length);
    const body = stale.flatMap((row) => [
      JSON.stringify({ index: { _id: rowDocumentId('url_country_daily', row), version: Date.parse(row.computed_at), version_type: 'external' } }),
      JSON.stringify(row),
    ]);
    await client.transport.request({ method: 'POST', path: `/${tableAlias('url_country_daily', aliasPrefix)}/_bulk`, body: body.join('\n') + '\n' });

    const retry = await processBatch(deps(), event([partKey('url_country_daily', date, 'old-gone')]));

    expect(retry.outcomes[0]).toMatchObject({ status: 'superseded', reason: 'object no longer exists', staleDeleted: stale.length });
    expect([...(await docsOf('url_country_daily', date)).keys()].sort()).toEqual(idsOf('url_country_daily', newer));
  });
});
