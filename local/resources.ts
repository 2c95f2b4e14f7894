/**
 * The local pipeline's resources and its plain I/O with the engines: the topic, the buckets, the
 * producer, reading the raw zone back, and reading the served aggregates from OpenSearch.
 * Stage code (ingest, Spark, indexing) is not here: it is the production code, run by
 * `local/pipeline.ts` through the other local stand-ins.
 */
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { gunzipSync } from 'zlib';
import { DEFAULT_ALIAS_PREFIX, tableAlias, type TableName } from '../lambdas/indexer/tables';
import type { ProducedMessage } from './expected';
import type { ClickMessage } from './generator';
import { quietKafkaLogCreator } from './kafka-log';

export { recentKafkaLogLines } from './kafka-log';
import type { AggregateRow, CountryTopPages } from './report';

/** Names and endpoints of one local pipeline. */
export interface PipelineSettings {
  readonly brokers: readonly string[];
  readonly s3Endpoint: string;
  readonly openSearchEndpoint: string;
  readonly topic: string;
  readonly partitions: number;
  readonly consumerGroup: string;
  readonly rawBucket: string;
  readonly aggregatesBucket: string;
  /** Prefix of the OpenSearch aliases: `<prefix>-<table>` per table (lambdas/indexer/tables.ts). */
  readonly aliasPrefix: string;
}

/** The alias a table is served from (by default the page table, `<prefix>-url-country-daily`). */
export function aliasOf(settings: Pick<PipelineSettings, 'aliasPrefix'>, table: TableName = 'url_country_daily'): string {
  return tableAlias(table, settings.aliasPrefix);
}

/** Settings from the environment that `local-stack/env.sh` sets (same defaults as there). */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  return {
    brokers: (env.KAFKA_BROKERS ?? `127.0.0.1:${env.KAFKA_PORT ?? '9092'}`).split(',').map((b) => b.trim()).filter(Boolean),
    s3Endpoint: env.S3_ENDPOINT ?? `http://127.0.0.1:${env.S3_PORT ?? '9000'}`,
    openSearchEndpoint: env.OPENSEARCH_ENDPOINT ?? `http://127.0.0.1:${env.OPENSEARCH_PORT ?? '9200'}`,
    topic: env.CLICKSTREAM_TOPIC ?? 'clickstream',
    partitions: Number(env.CLICKSTREAM_PARTITIONS ?? 3),
    consumerGroup: env.CLICKSTREAM_CONSUMER_GROUP ?? 'clickstream-ingest-local',
    rawBucket: env.RAW_BUCKET ?? 'clickstream-raw',
    aggregatesBucket: env.AGGREGATES_BUCKET ?? 'clickstream-aggregates',
    aliasPrefix: env.OPENSEARCH_ALIAS_PREFIX ?? DEFAULT_ALIAS_PREFIX,
  };
}

export function kafkaClient(settings: PipelineSettings, clientId = 'clickstream-local'): Kafka {
  return new Kafka({
    clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.WARN,
    logCreator: quietKafkaLogCreator,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
}

export function s3Client(settings: PipelineSettings): S3Client {
  return new S3Client({
    endpoint: settings.s3Endpoint,
    forcePathStyle: true,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test' },
    maxAttempts: 5,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` with exponential backoff until it succeeds or `timeoutMs` passes. */
async function retryUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() + delay > deadline) throw new Error(`${what}: gave up after ${timeoutMs} ms: ${(e as Error).message}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Kafka

/**
 * Creates the topic with the wanted partition count, or checks the existing one. With `reset`,
 * deletes the topic and the consumer group first (Kafka deletes a topic asynchronously, so the
 * creation is retried until the old one is gone).
 */
export async function prepareTopic(admin: Admin, settings: PipelineSettings, reset: boolean): Promise<'created' | 'existing' | 'recreated'> {
  const exists = async () => (await admin.listTopics()).includes(settings.topic);
  if (reset) {
    const groups = await admin.listGroups();
    if (groups.groups.some((g) => g.groupId === settings.consumerGroup)) {
      await retryUntil(`deleting consumer group ${settings.consumerGroup}`, 30_000, () => admin.deleteGroups([settings.consumerGroup]));
    }
    if (await exists()) {
      await admin.deleteTopics({ topics: [settings.topic], timeout: 30_000 });
      await retryUntil(`waiting for topic ${settings.topic} to be deleted`, 60_000, async () => {
        if (await exists()) throw new Error('still listed');
      });
    }
  } else if (await exists()) {
    const meta = await admin.fetchTopicMetadata({ topics: [settings.topic] });
    const n = meta.topics[0].partitions.length;
    if (n !== settings.partitions) {
      throw new Error(`topic ${settings.topic} exists with ${n} partitions, not ${settings.partitions}; run with --reset to recreate it`);
    }
    return 'existing';
  }
  await retryUntil(`creating topic ${settings.topic}`, 60_000, async () => {
    const created = await admin.createTopics({ topics: [{ topic: settings.topic, numPartitions: settings.partitions, replicationFactor: 1 }], waitForLeaders: true });
    if (!created && !(await exists())) throw new Error('not created');
  });
  return reset ? 'recreated' : 'created';
}

/** The end offset (next offset to be written) of each partition. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

/**
 * Where the consumer group goes on from, per partition: its committed offset, or the partition's
 * first offset (TRIM_HORIZON) when it has committed nothing there. Also the current end offsets.
 */
export async function consumerStart(admin: Admin, topic: string, groupId: string): Promise<{ start: Map<number, number>; end: Map<number, number>; committed: Map<number, number> }> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = new Map<number, number>();
  for (const { partition, offset } of entry?.partitions ?? []) if (Number(offset) >= 0) committed.set(partition, Number(offset));
  const start = new Map<number, number>();
  const end = new Map<number, number>();
  for (const o of offsets) {
    start.set(o.partition, Math.max(committed.get(o.partition) ?? Number(o.low), Number(o.low)));
    end.set(o.partition, Number(o.high));
  }
  return { start, end, committed };
}

/** Messages between two offset maps (sum over partitions of `to - from`). */
export function offsetSpan(from: ReadonlyMap<number, number>, to: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const [partition, end] of to) n += Math.max(0, end - (from.get(partition) ?? 0));
  return n;
}

export interface ProduceProgress {
  (produced: number, total: number): void;
}

/**
 * Produces the messages, each to its own partition, keeping their order within each partition,
 * and returns them with the offset Kafka gave each one (the base offset of each batch plus the
 * position in it), so every message can be traced through the pipeline. Partitions are sent
 * concurrently (a partition's batches one after another); a batch stays under the broker's
 * default 1 MB limit for messages of usual size.
 */
export async function produceMessages(
  producer: Producer,
  topic: string,
  messages: readonly ClickMessage[],
  onProgress?: ProduceProgress,
  chunkSize = 2000,
): Promise<ProducedMessage[]> {
  const out: ProducedMessage[] = new Array(messages.length);
  const byPartition = new Map<number, number[]>();
  messages.forEach((m, i) => {
    const list = byPartition.get(m.partition);
    if (list) list.push(i); else byPartition.set(m.partition, [i]);
  });
  let done = 0;
  await Promise.all([...byPartition].map(async ([partition, indexes]) => {
    for (let start = 0; start < indexes.length; start += chunkSize) {
      const chunk = indexes.slice(start, start + chunkSize);
      const metadata = await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((i) => {
          const m = messages[i];
          return { partition, key: m.key, value: m.value, timestamp: String(m.timestamp) };
        }),
      });
      const md = metadata.find((x) => x.partition === partition);
      if (!md) throw new Error(`no base offset returned for partition ${partition}`);
      const base = Number(md.baseOffset);
      chunk.forEach((i, k) => {
        const m = messages[i];
        out[i] = { topic, partition, offset: base + k, timestamp: m.timestamp, value: m.value };
      });
      done += chunk.length;
      onProgress?.(done, messages.length);
    }
  }));
  return out;
}

// ------------------------------------------------------------------------------------------------
// S3

/** Creates the bucket if it is missing; with `reset`, deletes every object in it. */
export async function prepareBucket(s3: S3Client, bucket: string, reset: boolean): Promise<'created' | 'existing' | 'emptied'> {
  let exists = true;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    exists = false;
  }
  if (!exists) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return 'created';
  }
  if (!reset) return 'existing';
  await deletePrefix(s3, bucket, '');
  return 'emptied';
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number; lastModified?: Date; etag?: string }>> {
  const out: Array<{ key: string; size: number; lastModified?: Date; etag?: string }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified, etag: o.ETag });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Whether the bucket exists, and whether anything is stored under the prefix. */
export async function bucketHolds(s3: S3Client, bucket: string, prefix: string): Promise<'missing' | 'empty' | 'data'> {
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0 ? 'data' : 'empty';
  } catch (e) {
    if ((e as { name?: string }).name === 'NoSuchBucket') return 'missing';
    throw e;
  }
}

export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const keys = await listKeys(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((k) => ({ Key: k.key })), Quiet: true } }));
  }
  return keys.length;
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Every line of every gzip NDJSON object under the prefix, with its object key. */
export async function readNdjsonGz(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; line: Record<string, unknown> }>> {
  const keys = (await listKeys(s3, bucket, prefix)).filter((k) => k.key.endsWith('.ndjson.gz'));
  const out: Array<{ key: string; line: Record<string, unknown> }> = [];
  const concurrency = 8;
  for (let i = 0; i < keys.length; i += concurrency) {
    const bodies = await Promise.all(keys.slice(i, i + concurrency).map((k) => getBytes(s3, bucket, k.key)));
    bodies.forEach((body, j) => {
      for (const text of gunzipSync(body).toString('utf8').split('\n')) {
        if (text !== '') out.push({ key: keys[i + j].key, line: JSON.parse(text) as Record<string, unknown> });
      }
    });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// OpenSearch

/** Deletes the indices behind the alias (and the alias with them). */
export async function deleteAliasIndices(os: Client, alias: string): Promise<string[]> {
  const exists = await os.indices.existsAlias({ name: alias });
  if (!exists.body) return [];
  const res = await os.indices.getAlias({ name: alias });
  const indices = Object.keys(res.body as Record<string, unknown>);
  if (indices.length > 0) await os.indices.delete({ index: indices.join(',') });
  return indices;
}

/** Documents behind the alias; 0 when the alias does not exist. */
export async function countDocuments(os: Client, alias: string): Promise<number> {
  const exists = await os.indices.existsAlias({ name: alias });
  if (!exists.body) return 0;
  await os.indices.refresh({ index: alias });
  const res = await os.count({ index: alias });
  return Number((res.body as { count: number }).count);
}

/**
 * Every document behind the alias as it is stored (any table), read with a scroll and sorted by
 * its string and date fields in field order (the grain comes first in every table), so the file
 * is the same whatever order OpenSearch returns. An alias that does not exist gives undefined.
 */
export async function fetchAllDocuments(os: Client, alias: string, pageSize = 5000): Promise<Array<Record<string, unknown>> | undefined> {
  const exists = await os.indices.existsAlias({ name: alias });
  if (!exists.body) return undefined;
  await os.indices.refresh({ index: alias });
  const docs: Array<Record<string, unknown>> = [];
  let res = await os.search({ index: alias, scroll: '1m', body: { size: pageSize, sort: ['_doc'] } });
  let scrollId = (res.body as { _scroll_id?: string })._scroll_id;
  try {
    for (;;) {
      const hits = (res.body as unknown as { hits: { hits: Array<{ _source: Record<string, unknown> }> } }).hits.hits;
      for (const h of hits) docs.push(h._source);
      if (hits.length < pageSize || !scrollId) break;
      res = await os.scroll({ scroll_id: scrollId, scroll: '1m' });
      scrollId = (res.body as { _scroll_id?: string })._scroll_id ?? scrollId;
    }
  } finally {
    if (scrollId) await os.clearScroll({ scroll_id: scrollId }).catch(() => undefined);
  }
  const sortKey = (d: Record<string, unknown>) => Object.values(d).filter((v) => typeof v === 'string' || v === null).map((v) => String(v ?? '')).join('\u0000');
  return docs.map((d) => [sortKey(d), d] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, d]) => d);
}

function toRow(source: Record<string, unknown>): AggregateRow {
  return {
    event_date: String(source.event_date),
    page_url: String(source.page_url),
    country: String(source.country),
    clicks: Number(source.clicks),
    unique_users: Number(source.unique_users),
    timed_views: Number(source.timed_views),
    total_time_spent_seconds: Number(source.total_time_spent_seconds),
    avg_time_spent_seconds: source.avg_time_spent_seconds === null || source.avg_time_spent_seconds === undefined ? null : Number(source.avg_time_spent_seconds),
    computed_at: source.computed_at === undefined ? undefined : String(source.computed_at),
  };
}

/** Every document behind the alias, in (event_date, page_url, country) order (search_after paging). */
export async function fetchAllRows(os: Client, alias: string, pageSize = 5000): Promise<AggregateRow[]> {
  await os.indices.refresh({ index: alias });
  const rows: AggregateRow[] = [];
  let after: Array<string | number> | undefined;
  for (;;) {
    const res = await os.search({
      index: alias,
      body: {
        size: pageSize,
        sort: [{ event_date: 'asc' }, { page_url: 'asc' }, { country: 'asc' }],
        track_total_hits: false,
        ...(after ? { search_after: after } : {}),
      },
    });
    const hits = (res.body as unknown as { hits: { hits: Array<{ _source: Record<string, unknown>; sort: Array<string | number> }> } }).hits.hits;
    for (const h of hits) rows.push(toRow(h._source));
    if (hits.length < pageSize) return rows;
    after = hits[hits.length - 1].sort;
  }
}

interface Bucket<T> { key: string; doc_count: number; [agg: string]: unknown; sub?: T }

/**
 * The top pages by clicks per country, over all dates, as one OpenSearch aggregation query.
 * The index has one shard (opensearch/index-template.json), so the terms ordering is exact.
 */
export async function queryTopPagesByCountry(os: Client, alias: string, perCountry: number, maxCountries = 50): Promise<CountryTopPages[]> {
  const sums = {
    clicks: { sum: { field: 'clicks' } },
    user_days: { sum: { field: 'unique_users' } },
    timed_views: { sum: { field: 'timed_views' } },
    total_time: { sum: { field: 'total_time_spent_seconds' } },
  };
  const res = await os.transport.request({
    method: 'POST',
    path: `/${encodeURIComponent(alias)}/_search`,
    body: {
      size: 0,
      aggs: {
        countries: {
          terms: { field: 'country', size: maxCountries, order: { clicks: 'desc' } },
          aggs: {
            clicks: { sum: { field: 'clicks' } },
            pages: { terms: { field: 'page_url', size: perCountry, order: [{ clicks: 'desc' }, { _key: 'asc' }] }, aggs: sums },
          },
        },
      },
    },
  });
  type Sum = { value: number };
  const countries = (res.body as unknown as { aggregations: { countries: { buckets: Array<Bucket<never> & { clicks: Sum; pages: { buckets: Array<Bucket<never> & { clicks: Sum; user_days: Sum; timed_views: Sum; total_time: Sum }> } }> } } })
    .aggregations.countries.buckets;
  return countries.map((c) => ({
    country: c.key,
    clicks: c.clicks.value,
    pages: c.pages.buckets.map((p) => ({
      page_url: p.key,
      clicks: p.clicks.value,
      user_days: p.user_days.value,
      timed_views: p.timed_views.value,
      total_time_spent_seconds: p.total_time.value,
      avg_time_spent_seconds: p.timed_views.value === 0 ? null : p.total_time.value / p.timed_views.value,
    })),
  }));
}
