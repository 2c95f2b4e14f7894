/**
 * One ingest invocation: MSK batch in, raw-zone objects out (SPEC §2), with logging and metrics.
 * `handler.ts` wraps it in middy; this module has no middy import, so jest (CommonJS) can load it.
 *
 * The work is in `core.ts` (pure) and `writer.ts` (S3). This module reads the environment,
 * measures, logs, and turns a failed write into a thrown error so that the event source mapping
 * retries (then bisects, then sends the batch to its on-failure destination).
 *
 * Environment (set by lib/ingest.ts; docs/ingest.md):
 *   RAW_BUCKET          raw bucket name (required)
 *   RAW_EVENTS_PREFIX   default `events/`
 *   QUARANTINE_PREFIX   default `quarantine/`
 *   S3_ENDPOINT         optional, the local S3 server (path-style addressing)
 *   WRITE_CONCURRENCY   PutObject calls in flight, default 8
 *   GZIP_LEVEL          1..9, default 3 (DEFAULT_GZIP_LEVEL in core.ts)
 *   CHANGE_LOG_PREFIX   the partition change log, `changes/` in the deployed function (docs/operations.md,
 *                       "Data safety"); unset: no change log
 *   MAX_EVENT_AGE_DAYS  optional, 1..36500: events older than this (function clock) are quarantined
 *                       as `timestamp_older_than_max_age`; set by lib/ingest.ts below the raw expiry
 *   ERASURE_RECORD_KEY, PSEUDONYMIZE_USER_IDS, PRIVACY_KEY_SECRET_ARN or PRIVACY_KEY_FILE,
 *   ERASURE_RECORD_TTL_SECONDS: privacy (privacy-source.ts, docs/privacy.md); with neither of the
 *   first two set (tests, benchmarks) user IDs pass through and no erasure record is read.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import type { MSKEvent } from 'aws-lambda';
import { requireEnv, s3ClientFromEnv } from '../shared/s3';
import { buildRawObjects, DEFAULT_GZIP_LEVEL, MAX_EVENT_AGE_DAYS_LIMIT, type IngestCoreConfig } from './core';
import { privacySourceFromEnv, type PrivacySource } from './privacy-source';
import { DEFAULT_WRITE_CONCURRENCY, writeChangeLog, writeRawObjects } from './writer';

/** What one invocation did; also the handler's return value (the event source ignores it). */
export interface IngestSummary {
  readonly recordsIn: number;
  readonly recordsStored: number;
  readonly recordsQuarantined: number;
  /** Messages of erased users dropped (docs/privacy.md). */
  readonly recordsErased: number;
  readonly objectsWritten: number;
  readonly bytesWritten: number;
  /** Change-log entries written (one per Kafka partition and event date that stored events). */
  readonly changeLogEntriesWritten: number;
}

export interface IngestDependencies {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly core: IngestCoreConfig;
  /** Pseudonyms and the erasure rule, per batch. @default none: user IDs stored as received */
  readonly privacy?: PrivacySource;
  readonly writeConcurrency: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Monotonic-enough clock for the batch latency, ms. */
  readonly clock: () => number;
}

function integerFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`environment variable ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The dependencies as the deployed function gets them: from its environment. */
export function dependenciesFromEnv(env: NodeJS.ProcessEnv = process.env): IngestDependencies {
  const s3 = s3ClientFromEnv(env);
  const bucket = requireEnv('RAW_BUCKET', env);
  return {
    s3,
    bucket,
    privacy: env.ERASURE_RECORD_KEY || env.PSEUDONYMIZE_USER_IDS === 'true' ? privacySourceFromEnv(env, s3, bucket) : undefined,
    core: {
      eventsPrefix: env.RAW_EVENTS_PREFIX || 'events/',
      quarantinePrefix: env.QUARANTINE_PREFIX || 'quarantine/',
      gzipLevel: integerFromEnv(env, 'GZIP_LEVEL', DEFAULT_GZIP_LEVEL, 1, 9),
      changeLogPrefix: env.CHANGE_LOG_PREFIX || undefined,
      maxEventAgeDays: env.MAX_EVENT_AGE_DAYS ? integerFromEnv(env, 'MAX_EVENT_AGE_DAYS', 0, 1, MAX_EVENT_AGE_DAYS_LIMIT) : undefined,
      now: Date.now,
    },
    writeConcurrency: integerFromEnv(env, 'WRITE_CONCURRENCY', DEFAULT_WRITE_CONCURRENCY, 1, 64),
    logger: new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'ingest' }),
    metrics: new Metrics({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'ingest' }),
    clock: () => performance.now(),
  };
}

/** The handler body, without middleware: testable with any S3 client, logger and metrics. */
export function createIngestHandler(deps: IngestDependencies): (event: MSKEvent) => Promise<IngestSummary> {
  const { logger, metrics } = deps;
  const warnedCreateTime = new Set<string>();
  return async (event) => {
    const started = deps.clock();
    // Every log line of this invocation carries the batch it belongs to (docs/operations.md).
    logger.appendKeys({ correlation_id: batchCorrelationId(event) });
    for (const topic of createTimeTopics(event)) {
      if (warnedCreateTime.has(topic)) continue;
      warnedCreateTime.add(topic);
      // Once per topic and container: the setting belongs to the topic, not to a batch.
      logger.warn('the topic uses CreateTime: record timestamps are the producers\' clocks, so the quarantine date and the 24 h ' +
        'future bound follow them; set message.timestamp.type=LogAppendTime on the topic (docs/operations.md, "Data safety")', { topic });
    }
    // Before anything is built: a batch is never stored without knowing who was erased.
    const userIds = deps.privacy === undefined ? undefined : await deps.privacy.policy();
    const result = buildRawObjects(event, userIds === undefined ? deps.core : { ...deps.core, userIds });
    const partitions = Object.keys(event.records ?? {});
    metrics.addMetric('RecordsIn', MetricUnit.Count, result.recordsIn);

    let written;
    let changeLogEntriesWritten;
    try {
      written = await writeRawObjects(deps.s3, deps.bucket, result.objects, deps.writeConcurrency);
      // After the objects, never before: an entry must only name objects that exist.
      changeLogEntriesWritten = await writeChangeLog(deps.s3, deps.bucket, result.changes, deps.writeConcurrency);
    } catch (error) {
      metrics.addMetric('BatchWriteFailures', MetricUnit.Count, 1);
      logger.error('writing the batch to S3 failed; throwing so the event source mapping retries it', {
        bucket: deps.bucket,
        partitions,
        recordsIn: result.recordsIn,
        keys: [...result.objects.map((o) => o.key), ...result.changes.map((c) => c.key)],
        error: error as Error,
      });
      throw error;
    }

    const latencyMs = deps.clock() - started;
    metrics.addMetric('RecordsStored', MetricUnit.Count, result.recordsStored);
    metrics.addMetric('RecordsQuarantined', MetricUnit.Count, result.recordsQuarantined);
    if (result.recordsErased > 0) metrics.addMetric('RecordsErased', MetricUnit.Count, result.recordsErased);
    metrics.addMetric('ObjectsWritten', MetricUnit.Count, written.objectsWritten);
    metrics.addMetric('BytesWritten', MetricUnit.Bytes, written.bytesWritten);
    metrics.addMetric('BatchLatency', MetricUnit.Milliseconds, latencyMs);
    // One metric per reason that occurred, with `reason` as its only extra dimension: at most
    // REJECTION_REASONS.length series, so the dimension stays low-cardinality.
    for (const [reason, count] of Object.entries(result.quarantinedByReason)) {
      metrics.singleMetric().addDimension('reason', reason).addMetric('RecordsQuarantinedByReason', MetricUnit.Count, count ?? 0);
    }

    const summary: IngestSummary = {
      recordsIn: result.recordsIn,
      recordsStored: result.recordsStored,
      recordsQuarantined: result.recordsQuarantined,
      recordsErased: result.recordsErased,
      objectsWritten: written.objectsWritten,
      bytesWritten: written.bytesWritten,
      changeLogEntriesWritten,
    };
    if (result.recordsQuarantined > 0) {
      logger.warn('messages quarantined', { quarantinedByReason: result.quarantinedByReason, partitions });
    }
    logger.info('batch ingested', { ...summary, latencyMs: Math.round(latencyMs), partitions });
    return summary;
  };
}

/** `<topic>-<partition>-<firstOffset>-<lastOffset>` of every partition in the batch, comma-separated:
 *  the same names the batch's raw objects carry, so a log line leads to its objects. */
export function batchCorrelationId(event: MSKEvent): string {
  return Object.values(event.records ?? {})
    .filter((records) => records.length > 0)
    .map((records) => {
      const offsets = records.map((r) => Number(r.offset));
      return `${records[0].topic}-${records[0].partition}-${Math.min(...offsets)}-${Math.max(...offsets)}`;
    })
    .join(',');
}

/** Topics of the batch with a record whose timestamp the producer set (`CREATE_TIME`), sorted. */
export function createTimeTopics(event: MSKEvent): string[] {
  const topics = new Set<string>();
  for (const records of Object.values(event.records ?? {})) {
    for (const record of records) {
      if ((record as { timestampType?: string }).timestampType === 'CREATE_TIME') {
        topics.add(record.topic);
        break; // one record tells the topic's setting
      }
    }
  }
  return [...topics].sort();
}
