/**
 * The indexer core against the real local engines: S3 (s3proxy) and OpenSearch 2.19. Its
 * scenarios: index a file, index it again, a newer output with fewer rows, malformed lines, and
 * an OpenSearch that answers 429/503 for a while (a proxy that injects failures).
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import type { SQSEvent } from 'aws-lambda';
import { IndexerConfig, IndexerDeps, indexLines, processBatch } from '../../lambdas/indexer/core';
import { rowDocumentId } from '../../lambdas/indexer/documents';
import { tableAlias } from '../../lambdas/indexer/tables';
import { ensureServingIndices } from '../../lambdas/search-provisioner/indices';
import { s3EventNotification } from '../../local/s3-notifier';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';
import {
  aggregateRows,
  AggregateRowInput,
  allDocuments,
  dropServingIndices,
  faultyProxy,
  localClient,
  recordingTelemetry,
  RecordedTelemetry,
  toNdjson,
} from './fixtures';

const PREFIX = 'aggregates/url_country_daily/';
const FAST_RETRY = { maxAttempts: 6, baseDelayMs: 5, maxDelayMs: 50 };

let endpoint: string;
let client: Client;
let bucket: string;
let aliasPrefix: string;
let alias: string;

beforeAll(async () => {
  endpoint = (await ensureEngines(['opensearch', 's3'])).openSearchEndpoint;
  client = localClient(endpoint);
  bucket = uniqueName('indexer');
  aliasPrefix = uniqueName('idx-test');
  alias = tableAlias('url_country_daily', aliasPrefix);
  await createBucket(bucket);
  await ensureServingIndices(client, { aliasPrefix, generation: 1, replicas: 0 });
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropServingIndices(client, aliasPrefix);
  await emptyBucket(bucket);
  await client.close();
});

let messageCounter = 0;
function event(keys: string[], bodies: string[] = []): SQSEvent {
  const records = [...keys.map((key) => s3EventNotification(bucket, key, 'us-east-1')), ...bodies].map((body) => ({
    messageId: `m-${++messageCounter}`,
    receiptHandle: 'r',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
    awsRegion: 'us-east-1',
  }));
  return { Records: records };
}

function deps(telemetry: RecordedTelemetry, overrides: Partial<IndexerConfig> = {}, openSearch: Client = client): IndexerDeps {
  return { s3: s3Client(), openSearch, telemetry, config: { aliasPrefix, retry: FAST_RETRY, bulk: { sleep: async () => undefined }, ...overrides } };
}

async function put(key: string, body: string): Promise<void> {
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

const partKey = (date: string, part: string) => `${PREFIX}event_date=${date}/part-${part}.c000.json`;
const idOf = (row: AggregateRowInput) => rowDocumentId('url_country_daily', row);

async function docsOfDate(date: string) {
  const all = await allDocuments(client, alias);
  return new Map([...all].filter(([, doc]) => doc.source.event_date === date));
}

it('indexes every row of an aggregate file as one document with a deterministic id and computed_at as version', async () => {
  const rows = aggregateRows('2026-10-01', '2026-10-02T03:00:00.000Z', 12);
  const key = partKey('2026-10-01', '00000-a');
  await put(key, toNdjson(rows));
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), event([key]));

  expect(result.batchItemFailures).toEqual([]);
  const docs = await docsOfDate('2026-10-01');
  expect(docs.size).toBe(12);
  for (const row of rows) {
    expect(docs.get(idOf(row))).toEqual({ source: row, version: Date.parse(row.computed_at) });
  }
  expect(telemetry.total('DocumentsIndexed')).toBe(12);
  expect(telemetry.total('ObjectsIndexed')).toBe(1);
  expect(telemetry.latencies.length).toBeGreaterThan(0);
});

it('indexing the same output again changes nothing', async () => {
  const key = partKey('2026-10-01', '00000-a');
  const before = await docsOfDate('2026-10-01');
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), event([key, key]));

  expect(result.batchItemFailures).toEqual([]);
  expect(await docsOfDate('2026-10-01')).toEqual(before);
  expect(telemetry.total('DocumentsUnchanged')).toBe(24);
  expect(telemetry.total('DocumentsIndexed')).toBe(0);
  expect(telemetry.total('StaleDocumentsDeleted')).toBe(0);
});

it('a newer output of a date with fewer rows leaves exactly its rows, and other dates alone', async () => {
  const otherDate = aggregateRows('2026-10-02', '2026-10-03T03:00:00.000Z', 6);
  await put(partKey('2026-10-02', '00000-b'), toNdjson(otherDate));
  await processBatch(deps(recordingTelemetry()), event([partKey('2026-10-02', '00000-b')]));

  // A new run recomputed 2026-10-01: five rows (four old keys with new values, one new key).
  const newer = aggregateRows('2026-10-01', '2026-10-05T03:00:00.000Z', 4).map((row) => ({ ...row, clicks: row.clicks + 100 }));
  newer.push(aggregateRows('2026-10-01', '2026-10-05T03:00:00.000Z', 1, 'https://shop.example/new/')[0]);
  // Spark's dynamic partition overwrite deletes the old files of the date, then writes the new.
  await s3Client().send(new DeleteObjectCommand({ Bucket: bucket, Key: partKey('2026-10-01', '00000-a') }));
  await put(partKey('2026-10-01', '00000-c'), toNdjson(newer));
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), event([partKey('2026-10-01', '00000-c')]));

  expect(result.batchItemFailures).toEqual([]);
  const docs = await docsOfDate('2026-10-01');
  expect([...docs.keys()].sort()).toEqual(newer.map(idOf).sort());
  for (const row of newer) expect(docs.get(idOf(row))?.source).toEqual(row);
  expect(telemetry.total('StaleDocumentsDeleted')).toBe(12 - 4);
  const untouched = await docsOfDate('2026-10-02');
  expect([...untouched.keys()].sort()).toEqual(otherDate.map(idOf).sort());
});

it('several parts of two runs of one date, delivered in any order, end with exactly the newer run', async () => {
  const date = '2026-10-03';
  const older = aggregateRows(date, '2026-10-04T01:00:00.000Z', 10);
  const newer = aggregateRows(date, '2026-10-04T02:00:00.000Z', 7).map((row) => ({ ...row, clicks: row.clicks * 2 }));
  const keys = {
    olderA: partKey(date, '00000-old'),
    olderB: partKey(date, '00001-old'),
    newerA: partKey(date, '00000-new'),
    newerB: partKey(date, '00001-new'),
  };
  // Late notifications of the older run whose files still exist (the worst case: they are readable).
  await put(keys.olderA, toNdjson(older.slice(0, 5)));
  await put(keys.olderB, toNdjson(older.slice(5)));
  await put(keys.newerA, toNdjson(newer.slice(0, 4)));
  await put(keys.newerB, toNdjson(newer.slice(4)));
  const telemetry = recordingTelemetry();

  // One message after the other, so which objects are found superseded is known.
  await processBatch(deps(telemetry, { messageConcurrency: 1 }), event([keys.newerA, keys.olderA]));
  await processBatch(deps(telemetry, { messageConcurrency: 1 }), event([keys.olderB, keys.newerB]));

  const docs = await docsOfDate(date);
  expect([...docs.keys()].sort()).toEqual(newer.map(idOf).sort());
  for (const row of newer) expect(docs.get(idOf(row))).toEqual({ source: row, version: Date.parse(row.computed_at) });
  // The newer run's first part announces it in the computations ledger (read by id, in real
  // time): both older parts are skipped up front and never write a row.
  expect(telemetry.total('ObjectsSuperseded')).toBe(2);
  expect(telemetry.total('DocumentsIndexed')).toBe(newer.length);
  expect(telemetry.total('StaleDocumentsDeleted')).toBe(0);
});

it('parts of three runs of one date processed concurrently in a shuffled batch end with exactly the newest run', async () => {
  const date = '2026-10-14';
  const runs = ['2026-10-15T01:00:00.000Z', '2026-10-15T02:00:00.000Z', '2026-10-15T03:00:00.000Z'].map((computedAt, r) =>
    aggregateRows(date, computedAt, 12 - r * 3).map((row) => ({ ...row, clicks: row.clicks + r })),
  );
  const keys: string[] = [];
  for (const [r, rows] of runs.entries()) {
    for (let part = 0; part < 3; part++) {
      const key = partKey(date, `0000${part}-run${r}`);
      await put(key, toNdjson(rows.filter((_, i) => i % 3 === part)));
      keys.push(key);
    }
  }
  // A fixed shuffle (older parts last, newest in the middle) so a failure can be reproduced.
  const order = [8, 0, 4, 6, 2, 7, 1, 5, 3].map((i) => keys[i]);

  const result = await processBatch(deps(recordingTelemetry(), { messageConcurrency: 3 }), event(order));

  expect(result.batchItemFailures).toEqual([]);
  const newest = runs[2];
  const docs = await docsOfDate(date);
  expect([...docs.keys()].sort()).toEqual(newest.map(idOf).sort());
  for (const row of newest) expect(docs.get(idOf(row))).toEqual({ source: row, version: Date.parse(row.computed_at) });
});

it('an older computation whose writes land after the newer one cleaned up removes them itself', async () => {
  const date = '2026-10-04';
  const older = aggregateRows(date, '2026-10-05T01:00:00.000Z', 9);
  const newer = aggregateRows(date, '2026-10-05T02:00:00.000Z', 3);
  const lines = toNdjson(older).split('\n');

  // The older object is read slowly: its first row (and the staleness check) happens before the
  // newer run is indexed, the rest after the newer run's cleanup.
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
  const olderTelemetry = recordingTelemetry();
  const olderRun = indexLines(deps(olderTelemetry), { bucket, key: partKey(date, '00000-old'), table: 'url_country_daily', eventDate: date, source: slowObject() });
  await atGate;

  await put(partKey(date, '00000-new'), toNdjson(newer));
  await processBatch(deps(recordingTelemetry()), event([partKey(date, '00000-new')]));
  openGate();
  const outcome = await olderRun;

  expect(outcome.status).toBe('indexed');
  // Its rows not in the newer run were written (version of the older run) and then deleted again.
  expect(outcome.indexed).toBe(older.length - newer.length);
  expect(outcome.staleDeleted).toBe(older.length - newer.length);
  const docs = await docsOfDate(date);
  expect([...docs.keys()].sort()).toEqual(newer.map(idOf).sort());
  for (const row of newer) expect(docs.get(idOf(row))?.version).toBe(Date.parse(row.computed_at));
});

it('skips an object that no longer exists (a newer run replaced the date) without failing', async () => {
  const before = await allDocuments(client, alias);
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), event([partKey('2026-10-01', '00000-gone')]));

  expect(result.batchItemFailures).toEqual([]);
  expect(result.outcomes[0]).toMatchObject({ status: 'superseded', reason: 'object no longer exists' });
  expect(telemetry.total('ObjectsSuperseded')).toBe(1);
  expect(await allDocuments(client, alias)).toEqual(before);
});

it('indexes the good rows of a file with malformed lines and reports each bad line with key and line number', async () => {
  const date = '2026-10-06';
  const good = aggregateRows(date, '2026-10-07T03:00:00.000Z', 4);
  const key = partKey(date, '00000-bad');
  const lines = [
    JSON.stringify(good[0]),
    '{"event_date":"2026-10-06","page_url":', // line 2: cut off
    JSON.stringify(good[1]),
    JSON.stringify({ ...good[2], page_url: 'https://shop.example/neg', clicks: -5 }), // line 4
    JSON.stringify(good[2]),
    JSON.stringify({ ...good[3], page_url: 'https://shop.example/other-date', event_date: '2026-10-07' }), // line 6
    '',
    JSON.stringify(good[3]),
  ];
  await put(key, lines.join('\n') + '\n');
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), event([key]));

  expect(result.batchItemFailures).toEqual([]);
  const docs = await docsOfDate(date);
  expect([...docs.keys()].sort()).toEqual(good.map(idOf).sort());
  expect(telemetry.total('MalformedRows')).toBe(3);
  const warned = telemetry.logs.filter((entry) => entry.message === 'malformed aggregate row skipped').map((entry) => [entry.attributes?.key, entry.attributes?.line]);
  expect(warned).toEqual([
    [key, 2],
    [key, 4],
    [key, 6],
  ]);

  const reportKey = `errors/url_country_daily/event_date=${date}/part-00000-bad.c000.json.malformed.ndjson`;
  expect(result.outcomes[0].errorReportKey).toBe(reportKey);
  const report = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
  const entries = (await report.Body!.transformToString()).trim().split('\n').map((line) => JSON.parse(line));
  expect(entries.map((entry) => [entry.source_key, entry.line, entry.raw])).toEqual([
    [key, 2, lines[1]],
    [key, 4, lines[3]],
    [key, 6, lines[5]],
  ]);
  expect(entries.map((entry) => entry.reason)).toEqual([
    expect.stringMatching(/not valid JSON/),
    'clicks must be a non-negative integer',
    "event_date 2026-10-07 does not match the object's partition 2026-10-06",
  ]);
});

it('ignores Spark markers and staging files', async () => {
  const telemetry = recordingTelemetry();
  const result = await processBatch(deps(telemetry), event([`${PREFIX}_SUCCESS`, `${PREFIX}.spark-staging-1/event_date=2026-10-01/part-0.json`]));
  expect(result.batchItemFailures).toEqual([]);
  expect(result.outcomes.map((outcome) => outcome.status)).toEqual(['ignored', 'ignored']);
  expect(telemetry.total('ObjectsIgnored')).toBe(2);
});

it('fails only the messages that cannot be processed', async () => {
  const date = '2026-10-08';
  const rows = aggregateRows(date, '2026-10-09T03:00:00.000Z', 3);
  await put(partKey(date, '00000-ok'), toNdjson(rows));
  const batch = event([partKey(date, '00000-ok')], ['this is not an S3 notification', s3EventNotification(`${bucket}-missing`, partKey(date, '00000-x'), 'us-east-1')]);
  const telemetry = recordingTelemetry();

  const result = await processBatch(deps(telemetry), batch);

  expect(result.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[1].messageId }, { itemIdentifier: batch.Records[2].messageId }]);
  expect((await docsOfDate(date)).size).toBe(3);
  expect(telemetry.total('MessagesFailed')).toBe(2);
});

describe('with an OpenSearch that fails for a while (fault-injecting proxy)', () => {
  it('retries throttling, unavailability and rejected items until every document arrives', async () => {
    const proxy = await faultyProxy(endpoint, { throttleFirst: 3, unavailableBulk: 1, itemRejectionBulks: 3, rejectEvery: 3 });
    const proxied = localClient(proxy.url);
    const date = '2026-10-10';
    const rows = aggregateRows(date, '2026-10-11T03:00:00.000Z', 45);
    await put(partKey(date, '00000-flaky'), toNdjson(rows));
    const telemetry = recordingTelemetry();
    try {
      const result = await processBatch(deps(telemetry, { bulk: { maxChunkDocs: 10, sleep: async () => undefined } }, proxied), event([partKey(date, '00000-flaky')]));

      expect(result.batchItemFailures).toEqual([]);
      expect(proxy.injected.throttled).toBe(3);
      expect(proxy.injected.unavailable).toBe(1);
      expect(proxy.injected.rejectedItems).toBeGreaterThan(0);
      const docs = await docsOfDate(date);
      expect([...docs.keys()].sort()).toEqual(rows.map(idOf).sort());
      expect(telemetry.total('DocumentsIndexed')).toBe(45);
      expect(telemetry.total('DocumentsRetried')).toBeGreaterThanOrEqual(10 + proxy.injected.rejectedItems);
      expect(telemetry.total('DocumentsFailed')).toBe(0);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it('fails the message and deletes nothing when the retries run out', async () => {
    const date = '2026-10-12';
    const first = aggregateRows(date, '2026-10-13T01:00:00.000Z', 6);
    await put(partKey(date, '00000-first'), toNdjson(first));
    await processBatch(deps(recordingTelemetry()), event([partKey(date, '00000-first')]));

    const proxy = await faultyProxy(endpoint, { alwaysThrottleBulk: true });
    const proxied = localClient(proxy.url);
    const second = aggregateRows(date, '2026-10-13T02:00:00.000Z', 2);
    await put(partKey(date, '00000-second'), toNdjson(second));
    const telemetry = recordingTelemetry();
    try {
      const batch = event([partKey(date, '00000-second')]);
      const result = await processBatch(deps(telemetry, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } }, proxied), batch);

      expect(result.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[0].messageId }]);
      expect(result.outcomes[0]).toMatchObject({ status: 'failed', failed: 2, staleDeleted: 0 });
      expect(telemetry.total('DocumentsFailed')).toBe(2);
      expect(telemetry.total('ObjectsFailed')).toBe(1);
      // The date keeps its previous complete output until the message succeeds.
      expect([...(await docsOfDate(date)).keys()].sort()).toEqual(first.map(idOf).sort());
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it('fails the messages of a date whose cleanup fails, after indexing their rows', async () => {
    const date = '2026-10-16';
    const rows = aggregateRows(date, '2026-10-17T01:00:00.000Z', 5);
    await put(partKey(date, '00000-x'), toNdjson(rows));
    const proxy = await faultyProxy(endpoint, { unavailablePaths: /_delete_by_query$/ });
    const proxied = localClient(proxy.url);
    const telemetry = recordingTelemetry();
    try {
      const batch = event([partKey(date, '00000-x'), `${PREFIX}_SUCCESS`]);
      const result = await processBatch(deps(telemetry, { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }, proxied), batch);

      expect(result.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[0].messageId }]);
      expect(proxy.injected.unavailable).toBe(2);
      expect(telemetry.logs.some((entry) => entry.level === 'error' && entry.attributes?.eventDate === date)).toBe(true);
      // The rows are in; the redelivery will re-index them (409s) and clean up.
      expect([...(await docsOfDate(date)).keys()].sort()).toEqual(rows.map(idOf).sort());
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});
