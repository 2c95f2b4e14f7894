/**
 * The indexer's core: SQS messages carrying S3 notifications of new aggregate part files (and
 * empty markers) of the five tables in, OpenSearch documents in each table's index out. Clients, configuration and telemetry are arguments; `handler.ts` only
 * wires them up. Design and failure handling: docs/serving.md.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DEFAULT_RETRY_POLICY, describeError, RetryPolicy } from '../shared/opensearch-client';
import { BulkIndexer, BulkOptions, BulkStats, FailedDocument } from './bulk';
import { DEFAULT_AGGREGATES_PREFIX, DEFAULT_ERRORS_PREFIX, parseAggregateKey, parseAggregateRow, parseEmptyMarker } from './documents';
import { claimComputation, computationsAlias, deleteComputedBefore, newestComputation, refresh } from './freshness';
import { DEFAULT_MAX_LINE_BYTES, readLines } from './lines';
import { DEFAULT_ALIAS_PREFIX, TABLE_ALIASES, tableAlias, TableName } from './tables';

export { DEFAULT_ALIAS_PREFIX, TABLE_ALIASES };
/** The pages table's (`url_country_daily`) alias of a default deployment. */
export const DEFAULT_ALIAS = TABLE_ALIASES.url_country_daily;
export { DEFAULT_ERRORS_PREFIX };

export interface IndexerConfig {
  /** Prefix of the aliases: a table's documents go to `<prefix>-<table>` (tables.ts), the
   *  computations ledger is `<prefix>-computations`. @default DEFAULT_ALIAS_PREFIX */
  readonly aliasPrefix?: string;
  /** Prefix of the tables' folders (`<prefix><table>/event_date=D/`). @default DEFAULT_AGGREGATES_PREFIX */
  readonly aggregatesPrefix?: string;
  /** Prefix (same bucket) of malformed-row reports. @default DEFAULT_ERRORS_PREFIX */
  readonly errorsPrefix?: string;
  /** Chunking and concurrency of bulk requests. @default see BulkOptions */
  readonly bulk?: Pick<BulkOptions, 'maxChunkBytes' | 'maxChunkDocs' | 'concurrency' | 'requestTimeoutMs' | 'sleep' | 'random'>;
  /** Retries of OpenSearch requests and bulk items. @default DEFAULT_RETRY_POLICY */
  readonly retry?: RetryPolicy;
  /** Longest accepted line. @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
  /** Messages of a batch processed at once (the next object's rows flow while one object's
   *  cleanup runs). Safe for objects of the same date: see docs/serving.md.
   *  @default DEFAULT_MESSAGE_CONCURRENCY */
  readonly messageConcurrency?: number;
}

export const DEFAULT_MESSAGE_CONCURRENCY = 2;

export type IndexerMetric =
  | 'DocumentsIndexed'
  | 'DocumentsUnchanged'
  | 'DocumentsRetried'
  | 'DocumentsFailed'
  | 'StaleDocumentsDeleted'
  | 'MalformedRows'
  | 'ObjectsIndexed'
  | 'ObjectsSuperseded'
  | 'ObjectsIgnored'
  | 'ObjectsFailed'
  | 'MessagesFailed';

export interface IndexerLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/**
 * The log key that follows one aggregate object through the indexer (docs/operations.md, "Logs and
 * correlation ids"): the same `correlation_id` key the ingest function appends to its lines.
 */
export const CORRELATION_ID_KEY = 'correlation_id';

/**
 * The correlation id of an aggregate object: its S3 key (decoded, as `aws s3 ls` shows it). The
 * key is the one name the object has at every step: the S3 notification names it (so does a
 * dead-letter message, whose body is that notification), every log line about the object's bulk
 * requests, retries, malformed rows and outcome carries it, and its malformed-row report names it
 * (`source_key`). It stays the same however often the object is notified: redeliveries, a DLQ
 * redrive, a notification sent again by hand (a new SQS message id).
 */
export function objectCorrelationId(ref: S3ObjectRef): string {
  return ref.key;
}

/** Several ids in one line (work shared by several objects): distinct, sorted, comma-separated. */
export function joinCorrelationIds(ids: Iterable<string>): string {
  return [...new Set(ids)].sort().join(',');
}

/**
 * `logger` with `correlation_id` on every line. A field of each line rather than a logger-wide key
 * (`appendKeys`, as the ingest function does): a batch's messages run concurrently, so lines of
 * different objects interleave.
 */
export function withCorrelationId(logger: IndexerLogger, correlationId: string): IndexerLogger {
  const tagged = (attributes?: Record<string, unknown>) => ({ ...attributes, [CORRELATION_ID_KEY]: correlationId });
  return {
    info: (message, attributes) => logger.info(message, tagged(attributes)),
    warn: (message, attributes) => logger.warn(message, tagged(attributes)),
    error: (message, attributes) => logger.error(message, tagged(attributes)),
  };
}

export interface IndexerTelemetry {
  readonly logger: IndexerLogger;
  count(metric: IndexerMetric, value: number): void;
  bulkLatency(ms: number): void;
  /** An object of the computation at `computedAtMs` (epoch ms) was indexed: the index-freshness metric. */
  indexedComputation?(computedAtMs: number): void;
}

export interface IndexerDeps {
  readonly s3: S3Client;
  readonly openSearch: Client;
  readonly config?: IndexerConfig;
  readonly telemetry: IndexerTelemetry;
}

export interface MalformedRow {
  readonly line: number;
  readonly reason: string;
  readonly raw: string;
}

export type ObjectStatus =
  /** Documents indexed (or already current; none for an empty marker) and older computations of the table's date removed. */
  | 'indexed'
  /** Not an aggregate part file nor an empty marker (`_SUCCESS`, staging files): nothing to do. */
  | 'ignored'
  /** The object is gone (a newer run replaced the date) or a newer computation of the table's
   *  date was announced; older computations of the date are still removed (docs/serving.md). */
  | 'superseded'
  /** Some documents could not be indexed: the message must be retried. */
  | 'failed';

export interface ObjectOutcome {
  readonly bucket: string;
  readonly key: string;
  readonly status: ObjectStatus;
  /** The table the key names, and the alias its documents go to. */
  readonly table?: TableName;
  readonly alias?: string;
  readonly eventDate?: string;
  /** The computation's `computed_at` (epoch ms) when the object had a valid row. */
  readonly computedAtMs?: number;
  readonly rows: number;
  readonly indexed: number;
  readonly unchanged: number;
  readonly retried: number;
  readonly failed: number;
  readonly staleDeleted: number;
  readonly malformed: number;
  /** Where the malformed rows were written, if any. */
  readonly errorReportKey?: string;
  readonly reason?: string;
  readonly failures?: readonly FailedDocument[];
}

/** Malformed rows kept for the report, and bytes of each raw line kept. Beyond: counted only. */
const MAX_REPORTED_ROWS = 1000;
const MAX_RAW_CHARS = 10 * 1024;
const MAX_LOGGED_ROWS = 10;

const resolved = (config: IndexerConfig = {}) => ({
  aliasPrefix: config.aliasPrefix ?? DEFAULT_ALIAS_PREFIX,
  aggregatesPrefix: config.aggregatesPrefix ?? DEFAULT_AGGREGATES_PREFIX,
  errorsPrefix: config.errorsPrefix ?? DEFAULT_ERRORS_PREFIX,
  retry: config.retry ?? DEFAULT_RETRY_POLICY,
  maxLineBytes: config.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
  bulk: config.bulk ?? {},
  messageConcurrency: Math.max(1, config.messageConcurrency ?? DEFAULT_MESSAGE_CONCURRENCY),
});

const emptyCounts = { rows: 0, indexed: 0, unchanged: 0, retried: 0, failed: 0, staleDeleted: 0, malformed: 0 };

export interface IndexLinesInput {
  readonly bucket: string;
  readonly key: string;
  readonly table: TableName;
  readonly eventDate: string;
  /** The object's bytes (an S3 body stream, or any async iterable of chunks). */
  readonly source: AsyncIterable<Uint8Array | string>;
}

/**
 * Indexes the rows of one aggregate part file into its table's alias and removes the table's
 * older computations of the date.
 *
 * 1. Rows are validated; malformed ones are collected (key, line, reason) and skipped.
 * 2. At the first valid row, the computation is announced in the ledger (`claimComputation`);
 *    if a newer computation of the table's date was announced, the object is superseded and
 *    nothing is written.
 * 3. Every valid row is bulk-indexed with version = computed_at (external versioning).
 * 4. If no document failed, or the object is superseded: the cleanup of `cleanUpAfter` (refresh,
 *    delete the table's documents of the date computed before the ledger's newest). If some
 *    failed, nothing is deleted (the message is retried and does it then). With `cleanup: false`
 *    the caller does step 4 for several objects at once (processBatch: one refresh per batch).
 * 5. Malformed rows are written to `<errorsPrefix><table>/event_date=D/<file>.malformed.ndjson`.
 */
export async function indexLines(deps: IndexerDeps, input: IndexLinesInput, options: { cleanup?: boolean } = {}): Promise<ObjectOutcome> {
  const config = resolved(deps.config);
  const logger = withCorrelationId(deps.telemetry.logger, objectCorrelationId(input));
  const retryHooks = {
    onRetry: (error: unknown, attempt: number, delayMs: number) =>
      logger.warn('OpenSearch request failed, retrying', { key: input.key, attempt, delayMs, error: describeError(error) }),
    sleep: config.bulk.sleep,
    random: config.bulk.random,
  };
  const freshness = { retry: config.retry, hooks: retryHooks };
  const alias = tableAlias(input.table, config.aliasPrefix);
  const ledger = computationsAlias(config.aliasPrefix);
  const bulk = new BulkIndexer(deps.openSearch, {
    ...config.bulk,
    index: alias,
    retry: config.retry,
    onLatency: (ms) => deps.telemetry.bulkLatency(ms),
    onRetry: (documents, reason, attempt) =>
      logger.warn('bulk documents failed, retrying', { key: input.key, documents, attempt, reason }),
  });

  const malformed: MalformedRow[] = [];
  let malformedCount = 0;
  const reject = (line: number, reason: string, raw: string) => {
    malformedCount++;
    if (malformed.length < MAX_REPORTED_ROWS) malformed.push({ line, reason, raw: raw.slice(0, MAX_RAW_CHARS) });
  };

  let runMs: number | undefined;
  let rows = 0;
  for await (const line of readLines(input.source, config.maxLineBytes)) {
    if (line.tooLong) {
      reject(line.number, `line longer than ${config.maxLineBytes} bytes`, line.text);
      continue;
    }
    if (line.text.trim() === '') continue;
    const parsed = parseAggregateRow(input.table, line.text, input.eventDate);
    if (!parsed.ok) {
      reject(line.number, parsed.reason, line.text);
      continue;
    }
    if (runMs === undefined) {
      runMs = parsed.computedAtMs;
      const claim = await claimComputation(deps.openSearch, ledger, { table: input.table, eventDate: input.eventDate, computedAtMs: runMs }, freshness);
      if (!claim.current) return supersededOutcome(input, alias, runMs, claim.newestMs, options.cleanup, deps);
    } else if (parsed.computedAtMs !== runMs) {
      // One run stamps all its rows alike; a mixed file would make "older computation" ambiguous.
      reject(line.number, `computed_at ${parsed.row.computed_at} differs from the object's ${new Date(runMs).toISOString()}`, line.text);
      continue;
    }
    rows++;
    await bulk.add({ id: parsed.id, version: runMs, source: JSON.stringify(parsed.row) });
  }
  const stats: BulkStats = await bulk.flush();

  let errorReportKey: string | undefined;
  if (malformedCount > 0) {
    errorReportKey = await writeMalformedReport(deps.s3, config.errorsPrefix, config.aggregatesPrefix, input, malformed, malformedCount);
    malformed.slice(0, MAX_LOGGED_ROWS).forEach((row) =>
      logger.warn('malformed aggregate row skipped', { bucket: input.bucket, key: input.key, line: row.line, reason: row.reason }),
    );
  }

  const outcome: ObjectOutcome = {
    bucket: input.bucket,
    key: input.key,
    status: stats.failed > 0 ? 'failed' : 'indexed',
    table: input.table,
    alias,
    eventDate: input.eventDate,
    computedAtMs: runMs,
    rows,
    indexed: stats.indexed,
    unchanged: stats.unchanged,
    retried: stats.retried,
    failed: stats.failed,
    staleDeleted: 0,
    malformed: malformedCount,
    errorReportKey,
    reason: stats.failed > 0 ? `${stats.failed} documents could not be indexed: ${stats.failures[0]?.reason}` : undefined,
    failures: stats.failures,
  };
  return finishObject(deps, outcome, options.cleanup);
}

/** Step 4 for one object, unless the caller cleans up for a whole batch. */
async function finishObject(deps: IndexerDeps, outcome: ObjectOutcome, cleanup: boolean | undefined): Promise<ObjectOutcome> {
  if (cleanup === false || !needsCleanup(outcome)) return outcome;
  const result = await cleanUpAfter(deps, [outcome]);
  const key = cleanupKey(outcome);
  const failure = result.failed.get(key);
  if (failure !== undefined) throw failure;
  return { ...outcome, staleDeleted: result.deleted.get(key) ?? 0 };
}

/**
 * A newer computation of the table's date was announced. Nothing of this object is written, but
 * the date is still cleaned up: rows this computation wrote on an earlier attempt (one that lost
 * the race to the newer computation, then failed) must not outlive it (docs/serving.md).
 */
async function supersededOutcome(
  input: { bucket: string; key: string; table: TableName; eventDate: string },
  alias: string,
  runMs: number,
  newestMs: number | undefined,
  cleanup: boolean | undefined,
  deps: IndexerDeps,
): Promise<ObjectOutcome> {
  const newest = newestMs === undefined ? 'a newer one' : new Date(newestMs).toISOString();
  return finishObject(
    deps,
    {
      ...emptyCounts,
      bucket: input.bucket,
      key: input.key,
      status: 'superseded',
      table: input.table,
      alias,
      eventDate: input.eventDate,
      computedAtMs: runMs,
      reason: `a newer computation of ${input.table} ${input.eventDate} was announced (${newest})`,
    },
    cleanup,
  );
}

/** Indexed and superseded objects lead to a cleanup of their table's date; failed ones do not (their retry does). */
const needsCleanup = (outcome: ObjectOutcome): boolean =>
  (outcome.status === 'indexed' || outcome.status === 'superseded') && outcome.table !== undefined && outcome.eventDate !== undefined;

/** What a cleanup is per: a table's date, `<table>/<date>`. */
export const cleanupKey = (outcome: { table?: TableName; eventDate?: string }): string => `${outcome.table}/${outcome.eventDate}`;

export interface CleanupResult {
  /** Documents of older computations deleted, per table's date (`cleanupKey`). */
  readonly deleted: Map<string, number>;
  /** Tables' dates whose cleanup failed past the retries, with the error. */
  readonly failed: Map<string, unknown>;
}

/**
 * Step 4 for objects processed before (docs/serving.md, "No stale rows"): one refresh of the
 * aliases involved, which makes every write of these objects searchable, then per table's date
 * of an indexed or superseded object: the newest computation the ledger holds, and the deletion
 * of the table's documents of that date computed before it.
 */
export async function cleanUpAfter(deps: IndexerDeps, outcomes: readonly ObjectOutcome[]): Promise<CleanupResult> {
  const config = resolved(deps.config);
  // The refresh and the per-date queries serve every object of the call.
  const toClean = outcomes.filter(needsCleanup);
  const logger = withCorrelationId(deps.telemetry.logger, joinCorrelationIds(toClean.map(objectCorrelationId)));
  const freshness = {
    retry: config.retry,
    hooks: {
      onRetry: (error: unknown, attempt: number, delayMs: number) =>
        logger.warn('OpenSearch request failed, retrying', { step: 'cleanup', attempt, delayMs, error: describeError(error) }),
      sleep: config.bulk.sleep,
      random: config.bulk.random,
    },
  };
  const runs = new Map<string, { table: TableName; eventDate: string; alias: string; runMs: number }>();
  for (const outcome of toClean) {
    const key = cleanupKey(outcome);
    const runMs = Math.max(runs.get(key)?.runMs ?? 0, outcome.computedAtMs ?? 0);
    runs.set(key, { table: outcome.table!, eventDate: outcome.eventDate!, alias: tableAlias(outcome.table!, config.aliasPrefix), runMs });
  }
  const result: CleanupResult = { deleted: new Map(), failed: new Map() };
  if (runs.size === 0) return result;
  try {
    await refresh(deps.openSearch, [...new Set([...runs.values()].map((run) => run.alias))].sort(), freshness);
  } catch (error) {
    for (const key of runs.keys()) result.failed.set(key, error);
    return result;
  }
  const ledger = computationsAlias(config.aliasPrefix);
  for (const [key, run] of runs) {
    try {
      // The ledger never holds less than an announced computation: this is the date's newest.
      const newest = Math.max((await newestComputation(deps.openSearch, ledger, run.table, run.eventDate, freshness)) ?? 0, run.runMs);
      result.deleted.set(key, newest > 0 ? await deleteComputedBefore(deps.openSearch, run.alias, run.eventDate, newest, freshness) : 0);
    } catch (error) {
      result.failed.set(key, error);
    }
  }
  return result;
}

/** The report's key: the part file's path below the errors prefix, plus `.malformed.ndjson`. */
export function malformedReportKey(errorsPrefix: string, aggregatesPrefix: string, key: string): string {
  const relative = key.startsWith(aggregatesPrefix) ? key.slice(aggregatesPrefix.length) : key;
  return `${errorsPrefix}${relative}.malformed.ndjson`;
}

async function writeMalformedReport(
  s3: S3Client,
  errorsPrefix: string,
  aggregatesPrefix: string,
  input: IndexLinesInput,
  rows: MalformedRow[],
  total: number,
): Promise<string> {
  const key = malformedReportKey(errorsPrefix, aggregatesPrefix, input.key);
  const lines = rows.map((row) =>
    JSON.stringify({ source_bucket: input.bucket, source_key: input.key, line: row.line, reason: row.reason, raw: row.raw }),
  );
  if (total > rows.length) {
    lines.push(JSON.stringify({ source_bucket: input.bucket, source_key: input.key, omitted: total - rows.length }));
  }
  // Same key for the same object: a redelivered message overwrites its report, never duplicates it.
  await s3.send(
    new PutObjectCommand({ Bucket: input.bucket, Key: key, Body: lines.join('\n') + '\n', ContentType: 'application/x-ndjson' }),
  );
  return key;
}

/**
 * An empty marker: the table has no rows for the date as of this computation. Announcing it
 * makes the cleanup delete every document of the table's date computed before it (all of them,
 * unless a newer computation has begun meanwhile). A marker that is not what the job writes is
 * an error of the object: reported like a malformed row, and nothing is deleted.
 */
async function indexEmptyMarker(deps: IndexerDeps, input: IndexLinesInput, options: { cleanup?: boolean }): Promise<ObjectOutcome> {
  const config = resolved(deps.config);
  const logger = withCorrelationId(deps.telemetry.logger, objectCorrelationId(input));
  const alias = tableAlias(input.table, config.aliasPrefix);
  let text = '';
  for await (const line of readLines(input.source, 64 * 1024)) {
    if (line.text.trim() !== '') {
      text = line.tooLong ? '' : line.text;
      break;
    }
  }
  const marker = parseEmptyMarker(text, input.table, input.eventDate);
  const base = { ...emptyCounts, bucket: input.bucket, key: input.key, table: input.table, alias, eventDate: input.eventDate };
  if (!marker.ok) {
    const errorReportKey = await writeMalformedReport(deps.s3, config.errorsPrefix, config.aggregatesPrefix, input, [{ line: 1, reason: marker.reason, raw: text.slice(0, MAX_RAW_CHARS) }], 1);
    logger.warn('malformed empty marker skipped', { bucket: input.bucket, key: input.key, reason: marker.reason });
    return { ...base, status: 'indexed', malformed: 1, errorReportKey, reason: marker.reason };
  }
  const freshness = {
    retry: config.retry,
    hooks: {
      onRetry: (error: unknown, attempt: number, delayMs: number) =>
        logger.warn('OpenSearch request failed, retrying', { key: input.key, attempt, delayMs, error: describeError(error) }),
      sleep: config.bulk.sleep,
      random: config.bulk.random,
    },
  };
  const claim = await claimComputation(
    deps.openSearch,
    computationsAlias(config.aliasPrefix),
    { table: input.table, eventDate: input.eventDate, computedAtMs: marker.computedAtMs, rows: 0 },
    freshness,
  );
  if (!claim.current) return supersededOutcome(input, alias, marker.computedAtMs, claim.newestMs, options.cleanup, deps);
  return finishObject(deps, { ...base, status: 'indexed', computedAtMs: marker.computedAtMs }, options.cleanup);
}

/** Indexes one S3 object named by a notification. */
export async function indexObject(deps: IndexerDeps, bucket: string, key: string, options: { cleanup?: boolean } = {}): Promise<ObjectOutcome> {
  const config = resolved(deps.config);
  const parsedKey = parseAggregateKey(key, config.aggregatesPrefix);
  if (!parsedKey) return { ...emptyCounts, bucket, key, status: 'ignored', reason: 'not an aggregate part file' };
  const { table, eventDate } = parsedKey;

  let body: (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = object.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void };
  } catch (error) {
    if (isMissingObject(error)) {
      // Spark's dynamic partition overwrite deleted it: a newer run replaced this date, and that
      // run's own notifications bring its files.
      // The date is cleaned up all the same (a no-op unless an earlier attempt left rows behind).
      const alias = tableAlias(table, config.aliasPrefix);
      return finishObject(deps, { ...emptyCounts, bucket, key, status: 'superseded', table, alias, eventDate, reason: 'object no longer exists' }, options.cleanup);
    }
    throw error;
  }
  if (!body) throw new Error(`s3://${bucket}/${key} has no body`);
  try {
    const input = { bucket, key, table, eventDate, source: body };
    return await (parsedKey.kind === 'empty' ? indexEmptyMarker(deps, input, options) : indexLines(deps, input, options));
  } finally {
    // Ends the download when indexing stopped early (superseded) or threw.
    body.destroy?.();
  }
}

/** The object is gone. Not a missing bucket (NoSuchBucket, also a 404): that is a real error. */
function isMissingObject(error: unknown): boolean {
  const e = error as { name?: string; Code?: string };
  return e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey';
}

/** An S3 object named in an SQS message. */
export interface S3ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/**
 * The objects an SQS message body names. S3 sends `{"Records":[...]}` with URL-encoded keys
 * (spaces as `+`); the `s3:TestEvent` it sends when the notification is configured names none.
 * Anything else is not a message this queue should carry: an error (the message fails, and after
 * its retries the dead-letter queue keeps it for an operator).
 */
export function objectsOfMessage(body: string): S3ObjectRef[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error('message body is not JSON');
  }
  const message = parsed as { Event?: string; Records?: unknown };
  if (message?.Event === 's3:TestEvent') return [];
  if (!Array.isArray(message?.Records)) throw new Error('message body is not an S3 event notification (no Records)');
  const refs: S3ObjectRef[] = [];
  for (const record of message.Records as Array<{ eventSource?: string; eventName?: string; s3?: { bucket?: { name?: string }; object?: { key?: string } } }>) {
    if (record?.eventSource !== 'aws:s3') throw new Error(`record from ${String(record?.eventSource)}, expected aws:s3`);
    // Only creations carry new data; a deletion needs no action (the newer run's files follow).
    if (typeof record.eventName !== 'string' || !record.eventName.startsWith('ObjectCreated')) continue;
    const bucket = record.s3?.bucket?.name;
    const key = record.s3?.object?.key;
    if (!bucket || key === undefined) throw new Error('S3 record without bucket name or object key');
    refs.push({ bucket, key: decodeURIComponent(key.replace(/\+/g, ' ')) });
  }
  return refs;
}

function countOutcome(telemetry: IndexerTelemetry, outcome: ObjectOutcome): void {
  const metrics: Array<[IndexerMetric, number]> = [
    ['DocumentsIndexed', outcome.indexed],
    ['DocumentsUnchanged', outcome.unchanged],
    ['DocumentsRetried', outcome.retried],
    ['DocumentsFailed', outcome.failed],
    ['StaleDocumentsDeleted', outcome.staleDeleted],
    ['MalformedRows', outcome.malformed],
  ];
  for (const [name, value] of metrics) if (value > 0) telemetry.count(name, value);
  const objectMetric: Record<ObjectStatus, IndexerMetric> = {
    indexed: 'ObjectsIndexed',
    superseded: 'ObjectsSuperseded',
    ignored: 'ObjectsIgnored',
    failed: 'ObjectsFailed',
  };
  telemetry.count(objectMetric[outcome.status], 1);
  if (outcome.status === 'indexed' && outcome.computedAtMs !== undefined) telemetry.indexedComputation?.(outcome.computedAtMs);
}

export interface BatchResult extends SQSBatchResponse {
  readonly outcomes: ObjectOutcome[];
}

/** Runs `fn` over the items, at most `limit` at a time. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Processes an SQS batch, `messageConcurrency` messages at a time, then cleans up the dates of
 * the objects it indexed with one refresh for the whole batch (`cleanUpAfter`). A message fails
 * (and only it is retried, via `batchItemFailures`) when its body is unusable, an object cannot be
 * read, a document could not be indexed after the retries, or the cleanup of its date failed.
 * Malformed rows do not fail it: they are reported.
 */
export async function processBatch(deps: IndexerDeps, event: SQSEvent): Promise<BatchResult> {
  const { logger } = deps.telemetry;
  const { messageConcurrency } = resolved(deps.config);
  const failedMessages = new Set<number>();
  const outcomesOf: ObjectOutcome[][] = event.Records.map(() => []);
  await forEachConcurrently(event.Records, messageConcurrency, async (record, index) => {
    let current: S3ObjectRef | undefined;
    try {
      for (const ref of objectsOfMessage(record.body)) {
        current = ref;
        const outcome = await indexObject(deps, ref.bucket, ref.key, { cleanup: false });
        outcomesOf[index].push(outcome);
        if (outcome.status === 'failed') failedMessages.add(index);
      }
    } catch (error) {
      failedMessages.add(index);
      // The object being indexed when it failed; a body that names no object has only the SQS
      // message id, which the message keeps when it is moved to the dead-letter queue.
      const correlationId = current ? objectCorrelationId(current) : record.messageId;
      withCorrelationId(logger, correlationId).error('message failed; it will be retried', { messageId: record.messageId, error: describeError(error) });
    }
  });

  const allOutcomes = outcomesOf.flat();
  const cleanup = await cleanUpAfter(deps, allOutcomes);
  for (const [key, error] of cleanup.failed) {
    const ofDate = allOutcomes.filter((outcome) => needsCleanup(outcome) && cleanupKey(outcome) === key);
    withCorrelationId(logger, joinCorrelationIds(ofDate.map(objectCorrelationId))).error(
      'removing older computations failed; the messages of the date will be retried',
      { table: ofDate[0]?.table, eventDate: ofDate[0]?.eventDate, error: describeError(error) },
    );
  }
  const attributed = new Set<string>();
  const outcomes = outcomesOf.flatMap((list, index) =>
    list.map((outcome) => {
      if (!needsCleanup(outcome)) return outcome;
      const key = cleanupKey(outcome);
      if (cleanup.failed.has(key)) {
        failedMessages.add(index);
        return outcome;
      }
      // A table's date's deletions are reported once, on its first object.
      if (attributed.has(key)) return outcome;
      attributed.add(key);
      return { ...outcome, staleDeleted: cleanup.deleted.get(key) ?? 0 };
    }),
  );

  for (const outcome of outcomes) {
    countOutcome(deps.telemetry, outcome);
    const { failures, ...summary } = outcome;
    const objectLogger = withCorrelationId(logger, objectCorrelationId(outcome));
    if (outcome.status === 'failed') objectLogger.error('aggregate object not fully indexed; the message will be retried', { ...summary, failures });
    else objectLogger.info(`aggregate object ${outcome.status}`, summary);
  }
  if (failedMessages.size > 0) deps.telemetry.count('MessagesFailed', failedMessages.size);
  return {
    batchItemFailures: event.Records.filter((_, index) => failedMessages.has(index)).map((record) => ({ itemIdentifier: record.messageId })),
    outcomes,
  };
}
