/**
 * The indexer's core: SQS messages carrying S3 notifications of new aggregate part files in,
 * OpenSearch documents out. Clients, configuration and telemetry are arguments; `handler.ts` only
 * wires them up. Design and failure handling: docs/serving.md.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DEFAULT_ALIAS } from '../../opensearch/index-template';
import { DEFAULT_RETRY_POLICY, describeError, RetryPolicy } from '../shared/opensearch-client';
import { BulkIndexer, BulkOptions, BulkStats, FailedDocument } from './bulk';
import { DEFAULT_AGGREGATES_PREFIX, DEFAULT_ERRORS_PREFIX, documentId, parseAggregateKey, parseAggregateRow } from './documents';
import { deleteComputedBefore, newestComputedAt, refresh } from './freshness';
import { DEFAULT_MAX_LINE_BYTES, readLines } from './lines';

export { DEFAULT_ALIAS };
export { DEFAULT_ERRORS_PREFIX };

export interface IndexerConfig {
  /** Alias the documents are written through. @default DEFAULT_ALIAS */
  readonly alias?: string;
  /** Prefix of aggregate part files. @default DEFAULT_AGGREGATES_PREFIX */
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
  /** Documents indexed (or already current) and older computations of the date removed. */
  | 'indexed'
  /** Not an aggregate part file (`_SUCCESS`, staging files): nothing to do. */
  | 'ignored'
  /** The object is gone (a newer run replaced the date) or the index holds a newer computation. */
  | 'superseded'
  /** Some documents could not be indexed: the message must be retried. */
  | 'failed';

export interface ObjectOutcome {
  readonly bucket: string;
  readonly key: string;
  readonly status: ObjectStatus;
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
  alias: config.alias ?? DEFAULT_ALIAS,
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
  readonly eventDate: string;
  /** The object's bytes (an S3 body stream, or any async iterable of chunks). */
  readonly source: AsyncIterable<Uint8Array | string>;
}

/**
 * Indexes the rows of one aggregate part file and removes the date's older computations.
 *
 * 1. Rows are validated; malformed ones are collected (key, line, reason) and skipped.
 * 2. At the first valid row, if the index already holds a newer computation of the date, the
 *    object is superseded and nothing is written.
 * 3. Every valid row is bulk-indexed with version = computed_at (external versioning).
 * 4. If no document failed: the cleanup of `cleanUpAfter` (refresh, newest computed_at of the
 *    date, delete the date's documents computed before it). If some failed, nothing is deleted
 *    (the message is retried and does it then). With `cleanup: false` the caller does step 4 for
 *    several objects at once (processBatch: one refresh per batch instead of one per object).
 * 5. Malformed rows are written to `<errorsPrefix>event_date=D/<file>.malformed.ndjson`.
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
  const freshness = { alias: config.alias, retry: config.retry, hooks: retryHooks };
  const bulk = new BulkIndexer(deps.openSearch, {
    ...config.bulk,
    index: config.alias,
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
    const parsed = parseAggregateRow(line.text, input.eventDate);
    if (!parsed.ok) {
      reject(line.number, parsed.reason, line.text);
      continue;
    }
    if (runMs === undefined) {
      runMs = parsed.computedAtMs;
      const newest = await newestComputedAt(deps.openSearch, input.eventDate, freshness);
      if (newest !== undefined && newest > runMs) {
        return {
          ...emptyCounts,
          bucket: input.bucket,
          key: input.key,
          status: 'superseded',
          eventDate: input.eventDate,
          computedAtMs: runMs,
          reason: `the index already holds a newer computation of ${input.eventDate} (${new Date(newest).toISOString()})`,
        };
      }
    } else if (parsed.computedAtMs !== runMs) {
      // One run stamps all its rows alike; a mixed file would make "older computation" ambiguous.
      reject(line.number, `computed_at ${parsed.row.computed_at} differs from the object's ${new Date(runMs).toISOString()}`, line.text);
      continue;
    }
    rows++;
    const { row } = parsed;
    await bulk.add({ id: documentId(row.event_date, row.page_url, row.country), version: runMs, source: JSON.stringify(row) });
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
  if (options.cleanup === false) return outcome;
  const cleanup = await cleanUpAfter(deps, [outcome]);
  const failure = cleanup.failed.get(input.eventDate);
  if (failure !== undefined) throw failure;
  return { ...outcome, staleDeleted: cleanup.deleted.get(input.eventDate) ?? 0 };
}

export interface CleanupResult {
  /** Documents of older computations deleted, per date. */
  readonly deleted: Map<string, number>;
  /** Dates whose cleanup failed past the retries, with the error. */
  readonly failed: Map<string, unknown>;
}

/**
 * Step 4 for objects indexed before (docs/serving.md, "No stale rows"): one refresh, which makes
 * every write of these objects searchable, then per date of a fully indexed object: the newest
 * computed_at of the date, and the deletion of the date's documents computed before it.
 */
export async function cleanUpAfter(deps: IndexerDeps, outcomes: readonly ObjectOutcome[]): Promise<CleanupResult> {
  const config = resolved(deps.config);
  // The refresh and the per-date queries serve every indexed object of the call.
  const cleaned = outcomes.filter((outcome) => outcome.status === 'indexed').map(objectCorrelationId);
  const logger = withCorrelationId(deps.telemetry.logger, joinCorrelationIds(cleaned));
  const freshness = {
    alias: config.alias,
    retry: config.retry,
    hooks: {
      onRetry: (error: unknown, attempt: number, delayMs: number) =>
        logger.warn('OpenSearch request failed, retrying', { step: 'cleanup', attempt, delayMs, error: describeError(error) }),
      sleep: config.bulk.sleep,
      random: config.bulk.random,
    },
  };
  const runs = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.status !== 'indexed' || outcome.eventDate === undefined || outcome.computedAtMs === undefined) continue;
    runs.set(outcome.eventDate, Math.max(runs.get(outcome.eventDate) ?? 0, outcome.computedAtMs));
  }
  const result: CleanupResult = { deleted: new Map(), failed: new Map() };
  if (runs.size === 0) return result;
  try {
    await refresh(deps.openSearch, freshness);
  } catch (error) {
    for (const date of runs.keys()) result.failed.set(date, error);
    return result;
  }
  for (const [date, runMs] of runs) {
    try {
      const newest = (await newestComputedAt(deps.openSearch, date, freshness)) ?? runMs;
      result.deleted.set(date, await deleteComputedBefore(deps.openSearch, date, Math.max(newest, runMs), freshness));
    } catch (error) {
      result.failed.set(date, error);
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

/** Indexes one S3 object named by a notification. */
export async function indexObject(deps: IndexerDeps, bucket: string, key: string, options: { cleanup?: boolean } = {}): Promise<ObjectOutcome> {
  const config = resolved(deps.config);
  const parsedKey = parseAggregateKey(key, config.aggregatesPrefix);
  if (!parsedKey) return { ...emptyCounts, bucket, key, status: 'ignored', reason: 'not an aggregate part file' };

  let body: (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = object.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void };
  } catch (error) {
    if (isMissingObject(error)) {
      // Spark's dynamic partition overwrite deleted it: a newer run replaced this date, and that
      // run's own notifications bring its files.
      return { ...emptyCounts, bucket, key, status: 'superseded', eventDate: parsedKey.eventDate, reason: 'object no longer exists' };
    }
    throw error;
  }
  if (!body) throw new Error(`s3://${bucket}/${key} has no body`);
  try {
    return await indexLines(deps, { bucket, key, eventDate: parsedKey.eventDate, source: body }, options);
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
  for (const [date, error] of cleanup.failed) {
    const ofDate = allOutcomes.filter((outcome) => outcome.status === 'indexed' && outcome.eventDate === date);
    withCorrelationId(logger, joinCorrelationIds(ofDate.map(objectCorrelationId))).error(
      'removing older computations failed; the messages of the date will be retried',
      { eventDate: date, error: describeError(error) },
    );
  }
  const attributed = new Set<string>();
  const outcomes = outcomesOf.flatMap((list, index) =>
    list.map((outcome) => {
      if (outcome.status !== 'indexed' || outcome.eventDate === undefined) return outcome;
      if (cleanup.failed.has(outcome.eventDate)) {
        failedMessages.add(index);
        return outcome;
      }
      // A date's deletions are reported once, on its first indexed object.
      if (attributed.has(outcome.eventDate)) return outcome;
      attributed.add(outcome.eventDate);
      return { ...outcome, staleDeleted: cleanup.deleted.get(outcome.eventDate) ?? 0 };
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
