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
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import type { Kafka } from 'kafkajs';
import type { CliOptions } from './cli';
import { allAliases, TABLE_NAMES, type TableName } from '../lambdas/indexer/tables';
import type { ProducedMessage } from './expected';
import { ensureLocalPrivacyKey } from './privacy-key';
import { generateClicks, kindCounts, messagesFromFile, type ClickMessage } from './generator';
import {
  acquisitionSummary,
  audienceSummary,
  formatAcquisitionSummary,
  formatAudienceSummary,
  formatStages,
  formatTopPages,
  readReportTables,
  writeHtmlReport,
  writeNdjson,
  type StageSummary,
} from './report';
import {
  aliasOf,
  bucketHolds,
  consumerStart,
  countDocuments,
  deleteAliasIndices,
  endOffsets,
  fetchAllDocuments,
  fetchAllRows,
  getBytes,
  kafkaClient,
  listKeys,
  offsetSpan,
  prepareBucket,
  prepareTopic,
  produceMessages,
  queryTopPagesByCountry,
  readNdjsonGz,
  s3Client,
  settingsFromEnv,
  type PipelineSettings,
} from './resources';
import { formatJobSummary } from './glue-job';
import { runAggregateStage, runIndexStage, runIngestStage, type IngestFaults, type IndexFaults } from './stages';

/** Every table's output (the job writes `aggregates/<table>/event_date=.../part-*.json`). */
export const ALL_AGGREGATES_PREFIX = 'aggregates/';
/**
 * What the local notifier has delivered to the indexer: `{ "<key>": "<etag>" }` of the aggregate
 * objects. In AWS the S3 notifications wait durably in SQS; here this object plays that part, so a
 * run stopped between the Spark job and the indexer delivers the missed notifications next time.
 */
export const DELIVERED_KEY = 'local-notifier/delivered.json';

/** The aggregate tables (SPEC §3) and the OpenSearch alias each is served from. */
export interface ServedTable {
  readonly table: TableName;
  readonly alias: string;
}

/** Every table with its alias under the pipeline's alias prefix (lambdas/indexer/tables.ts). */
export function servedTables(settings: PipelineSettings): ServedTable[] {
  return TABLE_NAMES.map((table) => ({ table, alias: aliasOf(settings, table) }));
}

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
  process.env.OPENSEARCH_ALIAS_PREFIX = settings.aliasPrefix;
  process.env.AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID ?? 'test';
  process.env.AWS_SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY ?? 'test';
  // Privacy (docs/privacy.md): the erasure rule on, with the local stack's generated key file;
  // PSEUDONYMIZE_USER_IDS=true in the environment turns pseudonyms on, as the setting does in AWS.
  process.env.ERASURE_RECORD_KEY = process.env.ERASURE_RECORD_KEY ?? 'erasure/erased-users.json';
  // The partition change log the job reads, as the stack sets it (docs/operations.md, "Data safety").
  process.env.CHANGE_LOG_PREFIX = process.env.CHANGE_LOG_PREFIX ?? 'changes/';
  process.env.PRIVACY_KEY_FILE = process.env.PRIVACY_KEY_FILE ?? ensureLocalPrivacyKey();
  // Powertools: only errors on the console (the pipeline prints its own progress and the quarantine reasons); metrics off.
  process.env.POWERTOOLS_LOG_LEVEL = process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR';
  process.env.POWERTOOLS_METRICS_NAMESPACE = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ClickstreamLocal';
  process.env.POWERTOOLS_METRICS_DISABLED = process.env.POWERTOOLS_METRICS_DISABLED ?? 'true';
}

// ------------------------------------------------------------------------------------------------
// What the engines hold, and whether it fits together

/** What each engine holds for this pipeline's names, before a run touches anything. */
export interface EngineState {
  readonly topicExists: boolean;
  /** Messages the consumer group has committed, summed over partitions (0: none). */
  readonly consumedMessages: number;
  /** Partitions whose committed offset lies beyond the topic's end (the topic was recreated). */
  readonly offsetsBeyondEnd: number[];
  /**
   * Partitions of which the raw bucket holds offsets at or beyond the topic's end: the topic lost
   * its messages (Kafka's data deleted, or the topic deleted and created again).
   */
  readonly rawBeyondEnd: number[];
  readonly raw: 'missing' | 'empty' | 'data';
  readonly aggregates: 'missing' | 'empty' | 'data';
  /** Whether the Spark job's state object exists. */
  readonly jobState: boolean;
  /** Documents behind the url_country_daily alias (0 when it does not exist). */
  readonly documents: number;
}

export async function inspectEngines(clients: PipelineClients, settings: PipelineSettings): Promise<EngineState> {
  const admin = clients.kafka.admin();
  await admin.connect();
  let topicExists = false;
  let consumedMessages = 0;
  const offsetsBeyondEnd: number[] = [];
  let topicEnd = new Map<number, number>();
  try {
    topicExists = (await admin.listTopics()).includes(settings.topic);
    if (topicExists) {
      const { committed, end } = await consumerStart(admin, settings.topic, settings.consumerGroup);
      topicEnd = end;
      for (const [partition, offset] of committed) {
        consumedMessages += offset;
        if (offset > (end.get(partition) ?? 0)) offsetsBeyondEnd.push(partition);
      }
    } else {
      const [entry] = await admin.fetchOffsets({ groupId: settings.consumerGroup, topics: [settings.topic] }).catch(() => []);
      for (const { offset } of entry?.partitions ?? []) if (Number(offset) > 0) consumedMessages += Number(offset);
    }
  } finally {
    await admin.disconnect();
  }
  const rawEvents = await bucketHolds(clients.s3, settings.rawBucket, 'events/');
  const raw = rawEvents === 'data' ? 'data' : (await bucketHolds(clients.s3, settings.rawBucket, 'quarantine/')) === 'data' ? 'data' : rawEvents;
  const rawBeyondEnd: number[] = [];
  if (topicExists && raw === 'data') {
    // The object names carry the offsets they hold (<topic>-<partition>-<first>-<last>.ndjson.gz).
    const last = new Map<number, number>();
    for (const prefix of ['events/', 'quarantine/']) {
      for (const { key } of await listKeys(clients.s3, settings.rawBucket, prefix)) {
        const range = rawObjectRange(key, settings.topic);
        if (range && range.last > (last.get(range.partition) ?? -1)) last.set(range.partition, range.last);
      }
    }
    for (const [partition, offset] of [...last].sort((a, b) => a[0] - b[0])) if (offset >= (topicEnd.get(partition) ?? 0)) rawBeyondEnd.push(partition);
  }
  const aggregates = await bucketHolds(clients.s3, settings.aggregatesBucket, ALL_AGGREGATES_PREFIX);
  const jobState = aggregates !== 'missing' && (await bucketHolds(clients.s3, settings.aggregatesBucket, 'state/')) === 'data';
  const documents = await countDocuments(clients.openSearch, aliasOf(settings));
  return { topicExists, consumedMessages, offsetsBeyondEnd, rawBeyondEnd, raw, aggregates, jobState, documents };
}

/**
 * The ways the engines' data can fail to fit together (one engine lost its data, or was reset on
 * its own). Each item says what was found; an empty list means the state is consistent. A state
 * a crash can leave (raw data not yet aggregated, aggregates not yet indexed, a batch written and
 * not committed) is consistent: the next run finishes it.
 */
export function findInconsistencies(state: EngineState, settings: PipelineSettings): string[] {
  const problems: string[] = [];
  const where = (s: 'missing' | 'empty' | 'data') => (s === 'missing' ? 'does not exist' : 'is empty');
  if (state.consumedMessages > 0 && state.raw !== 'data') {
    problems.push(`Kafka: consumer group ${settings.consumerGroup} has consumed ${state.consumedMessages.toLocaleString('en-US')} messages of topic ${settings.topic}, but the raw bucket ${settings.rawBucket} ${where(state.raw)}: those messages will not be read again`);
  }
  if (state.offsetsBeyondEnd.length > 0) {
    problems.push(`Kafka: consumer group ${settings.consumerGroup} has committed offsets beyond the end of topic ${settings.topic} (partitions ${state.offsetsBeyondEnd.join(', ')}): the topic was deleted and created again, and new messages there would be skipped`);
  }
  if (state.rawBeyondEnd.length > 0) {
    problems.push(`Kafka: the raw bucket ${settings.rawBucket} holds messages of topic ${settings.topic} (partitions ${state.rawBeyondEnd.join(', ')}) at offsets the topic does not have: the topic lost its messages (its data was deleted, or it was created again), and new messages would be taken for old ones`);
  }
  if (state.raw === 'data' && !state.topicExists) {
    problems.push(`S3: the raw bucket ${settings.rawBucket} holds events, but the topic ${settings.topic} does not exist any more`);
  }
  if ((state.jobState || state.aggregates === 'data') && state.raw !== 'data') {
    problems.push(`S3: the aggregates bucket ${settings.aggregatesBucket} holds ${state.jobState ? "the Spark job's state" : 'aggregates'}, but the raw bucket ${settings.rawBucket} ${where(state.raw)}`);
  }
  if (state.documents > 0 && state.aggregates !== 'data') {
    problems.push(`OpenSearch: the alias ${aliasOf(settings)} holds ${state.documents.toLocaleString('en-US')} documents, but the aggregates bucket ${settings.aggregatesBucket} ${where(state.aggregates)}`);
  }
  return problems;
}

/** A run refused because the engines' data does not fit together. */
export class InconsistentStateError extends Error {
  constructor(readonly problems: readonly string[]) {
    super([
      'The local engines hold data that does not fit together:',
      ...problems.map((p) => `  - ${p}`),
      'A run now would mix old and new data and show wrong numbers, so it stops here.',
      'Start over with:  npm run local -- --reset   (deletes the topic and its consumer group, both buckets',
      'with the Spark job\'s state, and the index; every engine is then empty together)',
    ].join('\n'));
    this.name = 'InconsistentStateError';
  }
}

/** Throws InconsistentStateError when the engines' data does not fit together. */
export async function checkConsistency(clients: PipelineClients, settings: PipelineSettings): Promise<EngineState> {
  const state = await inspectEngines(clients, settings);
  const problems = findInconsistencies(state, settings);
  if (problems.length > 0) throw new InconsistentStateError(problems);
  return state;
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
  if (reset) for (const alias of allAliases(settings.aliasPrefix)) await deleteAliasIndices(clients.openSearch, alias);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { provisionSearch } = require('../lambdas/search-provisioner/core') as typeof import('../lambdas/search-provisioner/core');
  const provisioned = await provisionSearch(clients.openSearch, {
    aliasPrefix: settings.aliasPrefix,
    generation: 1,
    replicas: 0,
    configureSecurity: false,
    importDashboards: false,
    indexerRoleArns: [],
    analystRoleArns: [],
  });
  const aliases = Object.values(provisioned.indices).map((i) => i.alias);
  return { topic, buckets, index: aliases.every((a) => a === aliases[0]) ? `${aliases.length} aliases ${aliases[0]}` : aliases.join(' ') };
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
// Notifications of new aggregate objects (the local stand-in for the durable SQS queue)

async function readDelivered(s3: S3Client, bucket: string): Promise<Record<string, string>> {
  try {
    return JSON.parse((await getBytes(s3, bucket, DELIVERED_KEY)).toString('utf8')) as Record<string, string>;
  } catch (e) {
    if ((e as { name?: string }).name === 'NoSuchKey') return {};
    throw e;
  }
}

export interface DeliveryResult {
  /** Aggregate objects new or replaced since the last delivery, one notification each. */
  readonly keys: string[];
  readonly notifications: number;
  readonly redeliveries: number;
  /** Rows (lines) in those objects. */
  readonly rows: number;
}

/**
 * Delivers a notification for every aggregate object (any table) that the indexer has not seen in
 * its current version, then records them as delivered. Objects written by a Spark job whose run
 * stopped before its notifications went out are delivered now, as SQS would deliver them late.
 */
export async function deliverPendingNotifications(clients: PipelineClients, settings: PipelineSettings, log: Log, faults?: IndexFaults): Promise<DeliveryResult> {
  const delivered = await readDelivered(clients.s3, settings.aggregatesBucket);
  const objects = await listKeys(clients.s3, settings.aggregatesBucket, ALL_AGGREGATES_PREFIX);
  const keys = objects.filter((o) => delivered[o.key] !== o.etag).map((o) => o.key);
  if (keys.length === 0) return { keys, notifications: 0, redeliveries: 0, rows: 0 };
  const index = await runIndexStage({ settings, bucket: settings.aggregatesBucket, keys, log, faults });
  const rows = await countLines(clients.s3, settings.aggregatesBucket, keys.filter((k) => !k.endsWith('/_SUCCESS')));
  const now: Record<string, string> = {};
  for (const o of objects) if (o.etag !== undefined) now[o.key] = o.etag;
  await clients.s3.send(new PutObjectCommand({ Bucket: settings.aggregatesBucket, Key: DELIVERED_KEY, Body: JSON.stringify(now), ContentType: 'application/json' }));
  return { keys, notifications: index.notifications, redeliveries: index.redeliveries, rows };
}

// ------------------------------------------------------------------------------------------------
// Read-back: what the raw zone holds for a range of offsets, and every table's documents

export interface ConsumedCounts {
  /** Messages in the offset range (what the event source mapping delivered). */
  readonly consumed: number;
  readonly stored: number;
  readonly quarantined: number;
  readonly byReason: Map<string, number>;
}

/**
 * Stored and quarantined messages in the raw bucket for the offset range, each (partition, offset)
 * counted once (a batch redelivered after a crash may have written some records twice, in objects
 * of another offset range; the Spark job counts them once too).
 */
export async function consumedCounts(s3: S3Client, settings: PipelineSettings, from: Map<number, number>, to: Map<number, number>): Promise<ConsumedCounts> {
  const raw = await readRawZone(s3, settings, from, to);
  const coordinates = (r: Record<string, unknown>) => {
    const kafka = r.kafka as { partition?: number; offset?: number } | undefined;
    return `${String(r.partition ?? kafka?.partition)}:${String(r.offset ?? kafka?.offset)}`;
  };
  const stored = new Set(raw.events.map(({ record }) => coordinates(record)));
  const quarantined = new Map<string, string>();
  for (const { record } of raw.quarantined) quarantined.set(coordinates(record), String(record.reason));
  const byReason = new Map<string, number>();
  for (const reason of quarantined.values()) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  return { consumed: offsetSpan(from, to), stored: stored.size, quarantined: quarantined.size, byReason };
}

/** Writes `<dir>/<table>.ndjson` for every table, read back from its alias. */
export async function writeTableFiles(os: Client, dir: string, tables: readonly ServedTable[]): Promise<Array<{ table: string; file: string; documents: number | 'no alias' }>> {
  mkdirSync(dir, { recursive: true });
  const out: Array<{ table: string; file: string; documents: number | 'no alias' }> = [];
  for (const { table, alias } of tables) {
    const file = join(dir, `${table}.ndjson`);
    const docs = await fetchAllDocuments(os, alias);
    if (docs === undefined) {
      out.push({ table, file, documents: 'no alias' });
      continue;
    }
    writeFileSync(file, docs.map((d) => `${JSON.stringify(d)}\n`).join(''));
    out.push({ table, file, documents: docs.length });
  }
  return out;
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

/** The figures of the consume stage, with the messages other producers wrote beside ours. */
export function consumeFigures(produced: number, counts: ConsumedCounts, ingest: { batches: number; redeliveries: number }): Array<[string, string | number]> {
  const others = counts.consumed - produced;
  return [
    ['consumed', counts.consumed],
    ...(others !== 0 ? [[`  of which not produced by this run`, others] as [string, number]] : []),
    ['batches', ingest.batches],
    ['redelivered', ingest.redeliveries],
    ['stored', counts.stored],
    ['quarantined', counts.quarantined],
    ...[...counts.byReason].sort((a, b) => b[1] - a[1]).map(([r, n]) => [`  ${r}`, n] as [string, number]),
  ];
}

export async function runLocalPipeline(options: CliOptions, run: RunOptions = {}): Promise<void> {
  const log = run.log ?? ((line: string) => console.log(line));
  const settings = run.settings ?? settingsFromEnv();
  exportHandlerEnvironment(settings);
  const clients = createClients(settings);
  try {
    await runOnce(options, run, settings, clients, log);
  } finally {
    clients.s3.destroy();
    await clients.openSearch.close();
  }
}

async function runOnce(options: CliOptions, run: RunOptions, settings: PipelineSettings, clients: PipelineClients, log: Log): Promise<void> {
  const stages: StageSummary[] = [];
  const urlAlias = aliasOf(settings);

  log(`\n[setup] topic ${settings.topic} (${settings.partitions} partitions), buckets ${settings.rawBucket} and ${settings.aggregatesBucket}, aliases ${settings.aliasPrefix}-*${options.reset ? ' — reset' : ''}`);
  let t = Date.now();
  if (!options.reset) await checkConsistency(clients, settings);
  const setup = await setupResources(clients, settings, options.reset);
  stages.push({ stage: 'setup', seconds: secondsSince(t), figures: [['topic', setup.topic], ...Object.entries(setup.buckets), ['index', setup.index]] });
  const admin = clients.kafka.admin();
  await admin.connect();
  let from: Map<number, number>;
  try {
    from = (await consumerStart(admin, settings.topic, settings.consumerGroup)).start;
  } finally {
    await admin.disconnect();
  }

  const messages = messagesFor(options, settings.partitions);
  const source = options.source.kind === 'file'
    ? `${messages.length} lines of ${options.source.path}`
    : `${messages.length} generated messages (seed ${options.source.seed}, ${options.source.days} days)`;
  log(`\n[produce] ${source}`);
  const produced = await produceStage(clients, settings, messages, log);
  const kinds = options.source.kind === 'generate' ? Object.entries(kindCounts(messages)) : [];
  stages.push({ stage: 'produce', seconds: produced.seconds, figures: [['produced', messages.length], ...kinds.map(([k, v]) => [`of which ${k}`, v] as [string, number])] });
  log(`  ${messages.length} messages in ${produced.seconds.toFixed(1)}s`);

  // Everything in the topic now: this run's messages, and what any other producer (kcat, a
  // previous run that stopped early) wrote that the consumer group has not consumed yet.
  const until = produced.after;
  const waiting = offsetSpan(from, until);
  log(`\n[ingest] local MSK event source mapping -> ingest handler -> raw bucket (${waiting.toLocaleString('en-US')} messages to consume)`);
  t = Date.now();
  const ingest = await runIngestStage({ settings, until, log, faults: run.ingestFaults });
  // Counted from what is in the raw bucket for the consumed offsets, not from what the handler said.
  const counts = await consumedCounts(clients.s3, settings, from, until);
  if (counts.stored + counts.quarantined !== counts.consumed) {
    log(`  WARNING: ${counts.consumed} consumed but ${counts.stored} stored + ${counts.quarantined} quarantined`);
  }
  stages.push({ stage: 'ingest', seconds: secondsSince(t), figures: consumeFigures(messages.length, counts, ingest) });
  const others = counts.consumed - messages.length;
  log(`  consumed ${counts.consumed}${others > 0 ? ` (${others} not produced by this run)` : ''}: stored ${counts.stored}, quarantined ${counts.quarantined}${counts.byReason.size ? ` (${[...counts.byReason].map(([r, n]) => `${r}: ${n}`).join(', ')})` : ''} in ${secondsSince(t).toFixed(1)}s`);

  log('\n[aggregate] glue-scripts/aggregate_clicks.py on local Spark');
  t = Date.now();
  const aggregate = await runAggregateStage({ settings, log });
  stages.push({ stage: 'aggregate', seconds: secondsSince(t), figures: [
    ['dates recomputed', aggregate.dates.length ? aggregate.dates.join(' ') : 'none'], ['dates written', aggregate.datesWritten.length], ['rows', aggregate.rowsWritten],
  ] });
  // The job's own summary (what it recomputed, then a line per table), with the stage's time.
  const summary = aggregate.summary ? formatJobSummary(aggregate.summary).split('\n')
    : [`dates recomputed: ${aggregate.dates.length ? aggregate.dates.join(', ') : 'none (no new input)'}; ${aggregate.rowsWritten} rows`];
  summary[0] += ` (${secondsSince(t).toFixed(1)}s)`;
  log(summary.map((line) => `  ${line}`).join('\n'));

  log('\n[index] S3 notifications -> indexer handler -> OpenSearch');
  t = Date.now();
  const delivery = await deliverPendingNotifications(clients, settings, log, run.indexFaults);
  const rows = await fetchAllRows(clients.openSearch, urlAlias);
  stages.push({ stage: 'index', seconds: secondsSince(t), figures: [
    ['notifications', delivery.notifications], ['redelivered', delivery.redeliveries], ['rows indexed', delivery.rows], ['documents in the index', rows.length],
  ] });
  log(`  ${delivery.rows} rows of ${delivery.notifications} objects indexed; ${urlAlias} holds ${rows.length} documents (${secondsSince(t).toFixed(1)}s)`);

  t = Date.now();
  const top = await queryTopPagesByCountry(clients.openSearch, urlAlias, options.top);
  stages.push({ stage: 'query', seconds: secondsSince(t), figures: [['countries', top.length]] });

  log('\n[summary]');
  log(formatStages(stages));
  log(`\nTop pages by clicks per country (from OpenSearch alias ${urlAlias}, all dates)`);
  log(formatTopPages(top));
  // The other tables, read back from their indices: a short summary here, charts in the report.
  const tables = await readReportTables(clients.openSearch, Object.fromEntries(servedTables(settings).map(({ table, alias }) => [table, alias])) as Record<TableName, string>);
  log(`\n${formatAudienceSummary(audienceSummary(tables))}`);
  log(`\n${formatAcquisitionSummary(acquisitionSummary(tables))}`);
  writeNdjson(options.out, rows);
  const endpoints: Array<[string, string]> = options.keepRunning ? [
    ['Kafka', settings.brokers.join(',')], ['S3', settings.s3Endpoint], ['OpenSearch', settings.openSearchEndpoint],
  ] : [];
  writeHtmlReport(options.report, { title: 'Clickstream — local pipeline run', generatedAt: new Date().toISOString(), stages, rows, topPagesByCountry: top, tables, endpoints });
  log(`\nAggregates (NDJSON): ${options.out}\nHTML report:        ${options.report}`);
  if (options.outDir) await logTableFiles(clients, settings, options.outDir, log);
  if (options.keepRunning) {
    log('\nEndpoints (the engines keep running):');
    for (const [k, v] of endpoints) log(`  ${k.padEnd(11)} ${v}`);
    log(`  raw zone    aws --endpoint-url ${settings.s3Endpoint} s3 ls s3://${settings.rawBucket}/ --recursive`);
    log(`  documents   curl '${settings.openSearchEndpoint}/${urlAlias}/_search?size=5&sort=clicks:desc'`);
  }
}

/** `--out-dir`: every table's documents, and a line per file. */
export async function logTableFiles(clients: PipelineClients, settings: PipelineSettings, dir: string, log: Log): Promise<void> {
  const files = await writeTableFiles(clients.openSearch, dir, servedTables(settings));
  log(`Tables (NDJSON):    ${dir}/`);
  for (const f of files) log(`  ${`${f.table}.ndjson`.padEnd(28)} ${f.documents === 'no alias' ? '(not written: the alias does not exist)' : `${f.documents.toLocaleString('en-US')} documents`}`);
}
