/**
 * The local pipeline, stage by stage, with the production code paths:
 *
 *   generator/file -> Kafka topic -> local MSK poller -> ingest handler -> raw bucket
 *   -> local Spark running glue-scripts/aggregate_clicks.py -> aggregates bucket
 *   -> local S3 notifier (SQS events of S3 notifications) -> indexer handler -> OpenSearch
 *
 * `runLocalPipeline` is what `npm run local` runs. The stage functions are exported on their own
 * so the end-to-end test and the benchmark drive the same code with their own names and faults.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import { readFileSync } from 'fs';
import type { Kafka } from 'kafkajs';
import type { CliOptions } from './cli';
import type { ProducedMessage } from './expected';
import { ensureLocalPrivacyKey } from './privacy-key';
import { generateClicks, kindCounts, messagesFromFile, type ClickMessage } from './generator';
import { formatStages, formatTopPages, writeHtmlReport, writeNdjson, type StageSummary } from './report';
import {
  deleteAliasIndices,
  endOffsets,
  fetchAllRows,
  getBytes,
  kafkaClient,
  listKeys,
  prepareBucket,
  prepareTopic,
  produceMessages,
  queryTopPagesByCountry,
  readNdjsonGz,
  s3Client,
  settingsFromEnv,
  type PipelineSettings,
} from './resources';
import { runAggregateStage, runIndexStage, runIngestStage, type IngestFaults, type IndexFaults } from './stages';

export const AGGREGATES_PREFIX = 'aggregates/url_country_daily/';

export interface PipelineClients {
  readonly kafka: Kafka;
  readonly s3: S3Client;
  readonly openSearch: Client;
}

export type Log = (line: string) => void;

export function createClients(settings: PipelineSettings): PipelineClients {
  // Loaded lazily: the shared client module reads the environment the stages set up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createOpenSearchClient } = require('../lambdas/shared/opensearch-client') as typeof import('../lambdas/shared/opensearch-client');
  return {
    kafka: kafkaClient(settings),
    s3: s3Client(settings),
    openSearch: createOpenSearchClient({ endpoint: settings.openSearchEndpoint, auth: 'none' }),
  };
}

/**
 * Sets the environment the production handlers read at module load (they are imported after
 * this): bucket, endpoints, alias. Must run before the first stage.
 */
export function exportHandlerEnvironment(settings: PipelineSettings): void {
  process.env.RAW_BUCKET = settings.rawBucket;
  process.env.S3_ENDPOINT = settings.s3Endpoint;
  process.env.OPENSEARCH_ENDPOINT = settings.openSearchEndpoint;
  process.env.OPENSEARCH_AUTH = 'none';
  process.env.OPENSEARCH_ALIAS = settings.alias;
  process.env.AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID ?? 'test';
  process.env.AWS_SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY ?? 'test';
  // Privacy (docs/privacy.md): the erasure rule on, with the local stack's generated key file;
  // PSEUDONYMIZE_USER_IDS=true in the environment turns pseudonyms on, as the setting does in AWS.
  process.env.ERASURE_RECORD_KEY = process.env.ERASURE_RECORD_KEY ?? 'erasure/erased-users.json';
  process.env.PRIVACY_KEY_FILE = process.env.PRIVACY_KEY_FILE ?? ensureLocalPrivacyKey();
  // Powertools: only errors on the console (the pipeline prints its own progress and the quarantine reasons); metrics off.
  process.env.POWERTOOLS_LOG_LEVEL = process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR';
  process.env.POWERTOOLS_METRICS_NAMESPACE = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ClickstreamLocal';
  process.env.POWERTOOLS_METRICS_DISABLED = process.env.POWERTOOLS_METRICS_DISABLED ?? 'true';
}

// ------------------------------------------------------------------------------------------------
// Setup

export interface SetupResult {
  readonly topic: string;
  readonly buckets: Record<string, string>;
  readonly index: string;
}

/** Topic, buckets, index template and alias; with `reset`, all of them from scratch. */
export async function setupResources(clients: PipelineClients, settings: PipelineSettings, reset: boolean): Promise<SetupResult> {
  const admin = clients.kafka.admin();
  await admin.connect();
  let topic: string;
  try {
    topic = await prepareTopic(admin, settings, reset);
  } finally {
    await admin.disconnect();
  }
  const buckets: Record<string, string> = {};
  for (const bucket of [settings.rawBucket, settings.aggregatesBucket]) buckets[bucket] = await prepareBucket(clients.s3, bucket, reset);
  if (reset) await deleteAliasIndices(clients.openSearch, settings.alias);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { provisionSearch } = require('../lambdas/search-provisioner/core') as typeof import('../lambdas/search-provisioner/core');
  const provisioned = await provisionSearch(clients.openSearch, {
    alias: settings.alias,
    generation: 1,
    replicas: 0,
    configureSecurity: false,
    importDashboards: false,
    indexerRoleArns: [],
    analystRoleArns: [],
  });
  return { topic, buckets, index: JSON.stringify(provisioned.index) };
}

// ------------------------------------------------------------------------------------------------
// Produce

export interface ProduceResult {
  readonly produced: ProducedMessage[];
  /** End offsets per partition before and after producing. */
  readonly before: Map<number, number>;
  readonly after: Map<number, number>;
  readonly seconds: number;
}

export async function produceStage(clients: PipelineClients, settings: PipelineSettings, messages: readonly ClickMessage[], log: Log = () => undefined): Promise<ProduceResult> {
  const started = Date.now();
  const admin = clients.kafka.admin();
  const producer = clients.kafka.producer({ allowAutoTopicCreation: false });
  await admin.connect();
  await producer.connect();
  try {
    const before = await endOffsets(admin, settings.topic);
    let lastTenth = -1;
    const produced = await produceMessages(producer, settings.topic, messages, (done, total) => {
      const tenth = Math.floor((done / total) * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        log(`  produced ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
      }
    });
    const after = await endOffsets(admin, settings.topic);
    return { produced, before, after, seconds: (Date.now() - started) / 1000 };
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------
// Reading the raw zone back (what the ingest stage wrote for a range of offsets)

/** `<prefix>.../<topic>-<partition>-<first>-<last>.ndjson.gz` → its coordinates. */
export function rawObjectRange(key: string, topic: string): { partition: number; first: number; last: number } | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (!name.startsWith(`${topic}-`) || !name.endsWith('.ndjson.gz')) return undefined;
  const m = /^(\d+)-(\d+)-(\d+)\.ndjson\.gz$/.exec(name.slice(topic.length + 1));
  if (!m) return undefined;
  return { partition: Number(m[1]), first: Number(m[2]), last: Number(m[3]) };
}

export interface RawZoneContents {
  /** Canonical records of the topic whose offsets are in [from, to) of their partition. */
  readonly events: Array<{ key: string; record: Record<string, unknown> }>;
  readonly quarantined: Array<{ key: string; record: Record<string, unknown> }>;
}

/** Reads the raw bucket's events and quarantine objects for the given offset ranges. */
export async function readRawZone(s3: S3Client, settings: PipelineSettings, from: Map<number, number>, to: Map<number, number>, parts: Array<'events' | 'quarantine'> = ['events', 'quarantine']): Promise<RawZoneContents> {
  const inRange = (partition: number, offset: number) => offset >= (from.get(partition) ?? 0) && offset < (to.get(partition) ?? 0);
  const read = async (prefix: string) => {
    const lines = await readNdjsonGz(s3, settings.rawBucket, prefix);
    return lines.filter(({ key, line }) => {
      const range = rawObjectRange(key, settings.topic);
      if (!range) return false;
      const partition = Number(line.partition ?? (line.kafka as { partition?: number } | undefined)?.partition);
      const offset = Number(line.offset ?? (line.kafka as { offset?: number } | undefined)?.offset);
      return inRange(partition, offset);
    }).map(({ key, line }) => ({ key, record: line }));
  };
  return {
    events: parts.includes('events') ? await read('events/') : [],
    quarantined: parts.includes('quarantine') ? await read('quarantine/') : [],
  };
}

/** Lines in the given objects (the rows the indexer was handed). */
export async function countLines(s3: S3Client, bucket: string, keys: readonly string[]): Promise<number> {
  let n = 0;
  for (const key of keys) {
    const text = (await getBytes(s3, bucket, key)).toString('utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') n++;
  }
  return n;
}

// ------------------------------------------------------------------------------------------------
// The whole run (npm run local)

function secondsSince(start: number): number {
  return (Date.now() - start) / 1000;
}

/** Messages to produce for the CLI's source option. */
export function messagesFor(options: CliOptions, partitions: number): ClickMessage[] {
  if (options.source.kind === 'file') return messagesFromFile(readFileSync(options.source.path), partitions);
  return generateClicks({ count: options.source.count, seed: options.source.seed, days: options.source.days, partitions });
}

export interface RunOptions {
  readonly settings?: PipelineSettings;
  readonly log?: Log;
  readonly ingestFaults?: IngestFaults;
  readonly indexFaults?: IndexFaults;
}

export async function runLocalPipeline(options: CliOptions, run: RunOptions = {}): Promise<void> {
  const log = run.log ?? ((line: string) => console.log(line));
  const settings = run.settings ?? settingsFromEnv();
  exportHandlerEnvironment(settings);
  const clients = createClients(settings);
  const stages: StageSummary[] = [];

  log(`\n[setup] topic ${settings.topic} (${settings.partitions} partitions), buckets ${settings.rawBucket} and ${settings.aggregatesBucket}, alias ${settings.alias}${options.reset ? ' — reset' : ''}`);
  let t = Date.now();
  const setup = await setupResources(clients, settings, options.reset);
  stages.push({ stage: 'setup', seconds: secondsSince(t), figures: [['topic', setup.topic], ...Object.entries(setup.buckets)] });

  const messages = messagesFor(options, settings.partitions);
  const source = options.source.kind === 'file'
    ? `${messages.length} lines of ${options.source.path}`
    : `${messages.length} generated messages (seed ${options.source.seed}, ${options.source.days} days)`;
  log(`\n[produce] ${source}`);
  const produced = await produceStage(clients, settings, messages, log);
  const kinds = options.source.kind === 'generate' ? Object.entries(kindCounts(messages)) : [];
  stages.push({ stage: 'produce', seconds: produced.seconds, figures: [['produced', messages.length], ...kinds.map(([k, v]) => [`of which ${k}`, v] as [string, number])] });
  log(`  ${messages.length} messages in ${produced.seconds.toFixed(1)}s`);

  log('\n[ingest] local MSK event source mapping -> ingest handler -> raw bucket');
  t = Date.now();
  const ingest = await runIngestStage({ settings, until: produced.after, log, faults: run.ingestFaults });
  // Counted from what is in the raw bucket for this run's offsets, not from what the handler said.
  const raw = await readRawZone(clients.s3, settings, produced.before, produced.after);
  const byReason = new Map<string, number>();
  for (const q of raw.quarantined) byReason.set(String(q.record.reason), (byReason.get(String(q.record.reason)) ?? 0) + 1);
  const quarantined = raw.quarantined.length;
  const stored = raw.events.length;
  if (stored + quarantined !== messages.length) {
    log(`  WARNING: ${messages.length} produced but ${stored} stored + ${quarantined} quarantined`);
  }
  stages.push({ stage: 'ingest', seconds: secondsSince(t), figures: [
    ['batches', ingest.batches], ['redelivered', ingest.redeliveries], ['stored', stored], ['quarantined', quarantined],
    ...[...byReason].sort((a, b) => b[1] - a[1]).map(([r, n]) => [`  ${r}`, n] as [string, number]),
  ] });
  log(`  stored ${stored}, quarantined ${quarantined}${byReason.size ? ` (${[...byReason].map(([r, n]) => `${r}: ${n}`).join(', ')})` : ''} in ${secondsSince(t).toFixed(1)}s`);

  log('\n[aggregate] glue-scripts/aggregate_clicks.py on local Spark');
  t = Date.now();
  const before = await listKeys(clients.s3, settings.aggregatesBucket, AGGREGATES_PREFIX);
  const aggregate = await runAggregateStage({ settings, log });
  const after = await listKeys(clients.s3, settings.aggregatesBucket, AGGREGATES_PREFIX);
  const known = new Map(before.map((k) => [k.key, k.etag]));
  const newKeys = after.filter((k) => known.get(k.key) !== k.etag).map((k) => k.key);
  stages.push({ stage: 'aggregate', seconds: secondsSince(t), figures: [
    ['dates recomputed', aggregate.dates.length ? aggregate.dates.join(' ') : 'none'], ['dates written', aggregate.datesWritten.length], ['rows', aggregate.rowsWritten], ['new objects', newKeys.length],
  ] });
  log(`  dates recomputed: ${aggregate.dates.length ? aggregate.dates.join(', ') : 'none (no new input)'}; ${aggregate.rowsWritten} rows in ${newKeys.length} new objects (${secondsSince(t).toFixed(1)}s)`);

  log('\n[index] S3 notifications -> indexer handler -> OpenSearch');
  t = Date.now();
  const index = await runIndexStage({ settings, bucket: settings.aggregatesBucket, keys: newKeys, log, faults: run.indexFaults });
  const delivered = await countLines(clients.s3, settings.aggregatesBucket, newKeys);
  const rows = await fetchAllRows(clients.openSearch, settings.alias);
  stages.push({ stage: 'index', seconds: secondsSince(t), figures: [
    ['notifications', index.notifications], ['redelivered', index.redeliveries], ['rows indexed', delivered], ['documents in the index', rows.length],
  ] });
  log(`  ${delivered} rows of ${index.notifications} objects indexed; the index holds ${rows.length} documents (${secondsSince(t).toFixed(1)}s)`);

  t = Date.now();
  const top = await queryTopPagesByCountry(clients.openSearch, settings.alias, options.top);
  stages.push({ stage: 'query', seconds: secondsSince(t), figures: [['countries', top.length]] });

  log('\n[summary]');
  log(formatStages(stages));
  log(`\nTop pages by clicks per country (from OpenSearch alias ${settings.alias}, all dates)`);
  log(formatTopPages(top));
  writeNdjson(options.out, rows);
  const endpoints: Array<[string, string]> = options.keepRunning ? [
    ['Kafka', settings.brokers.join(',')], ['S3', settings.s3Endpoint], ['OpenSearch', settings.openSearchEndpoint],
  ] : [];
  writeHtmlReport(options.report, { title: 'Clickstream — local pipeline run', generatedAt: new Date().toISOString(), stages, rows, topPagesByCountry: top, endpoints });
  log(`\nAggregates (NDJSON): ${options.out}\nHTML report:        ${options.report}`);
  if (options.keepRunning) {
    log('\nEndpoints (the engines keep running):');
    for (const [k, v] of endpoints) log(`  ${k.padEnd(11)} ${v}`);
    log(`  raw zone    aws --endpoint-url ${settings.s3Endpoint} s3 ls s3://${settings.rawBucket}/ --recursive`);
    log(`  documents   curl '${settings.openSearchEndpoint}/${settings.alias}/_search?size=5&sort=clicks:desc'`);
  }
}
