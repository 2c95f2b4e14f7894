/**
 * The three processing stages, each run through its local stand-in with the production code:
 * ingest (local MSK poller + ingest handler), aggregate (local Spark + the Glue script) and index
 * (local S3 notifier + indexer handler). Faults for the end-to-end test are injected here.
 */
import { resolve } from 'path';
import type { PipelineSettings } from './resources';
import type { AggregateJobSummary } from './glue-job';

export interface IngestFaults {
  /**
   * Asked before each handler invocation. When it returns true, that invocation crashes in the
   * middle of its batch: its first S3 write succeeds, every later write of the invocation fails,
   * so the handler fails with part of the batch's objects written (what a timeout or an
   * out-of-memory kill leaves behind). The event source mapping then redelivers the batch.
   */
  readonly crashAfterFirstWrite?: () => boolean;
}

/** The error the injected crash raises (recognisable in logs). */
export class InjectedCrash extends Error {
  constructor() {
    super('injected crash: the ingest handler died in the middle of its batch');
    this.name = 'InjectedCrash';
  }
}

/**
 * Wraps a handler so that `crashAfterFirstWrite` can make an invocation crash mid-batch. The S3
 * client's `send` is intercepted for the duration of that one invocation only (the poller invokes
 * one batch at a time, so no other invocation is affected).
 */
export function withIngestFaults<E, C, R>(handler: (event: E, context: C) => Promise<R>, faults: IngestFaults | undefined): (event: E, context: C) => Promise<R> {
  if (!faults?.crashAfterFirstWrite) return handler;
  const decide = faults.crashAfterFirstWrite;
  return async (event: E, context: C) => {
    if (!decide()) return handler(event, context);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
    const original = S3Client.prototype.send;
    let writes = 0;
    S3Client.prototype.send = function patched(this: unknown, command: { constructor: { name: string } }, ...rest: unknown[]) {
      if (command.constructor.name === 'PutObjectCommand' || command.constructor.name === 'CompleteMultipartUploadCommand') {
        writes++;
        if (writes > 1) return Promise.reject(new InjectedCrash());
      }
      return (original as (...a: unknown[]) => unknown).call(this, command, ...rest);
    } as typeof original;
    try {
      return await handler(event, context);
    } finally {
      S3Client.prototype.send = original;
    }
  };
}

export interface IndexFaults {
  /** Rearranges the notifications before delivery (duplicates, reordering). */
  readonly arrange?: (keys: readonly string[]) => string[];
}

export interface IngestStageResult {
  /** Distinct batches (invocations that were not a retry). */
  readonly batches: number;
  readonly invocations: number;
  readonly redeliveries: number;
  readonly records: number;
}

export interface AggregateStageResult {
  /** Dates the run recomputed (those whose raw input changed, or the backfill's). */
  readonly dates: string[];
  /** Dates whose output partition was written (recomputed dates that have events). */
  readonly datesWritten: string[];
  readonly rowsWritten: number;
  /** The job's whole summary, per table included (`formatJobSummary` prints it). */
  readonly summary?: AggregateJobSummary;
}

export interface IndexStageResult {
  readonly notifications: number;
  readonly invocations: number;
  readonly redeliveries: number;
}

export interface IngestStageArgs {
  readonly settings: PipelineSettings;
  /** End offsets per partition to consume up to (e.g. the end offsets after producing). */
  readonly until: ReadonlyMap<number, number>;
  readonly log: (line: string) => void;
  readonly faults?: IngestFaults;
  /** Records per invocation (ESM BatchSize). @default INGEST_BATCH_SIZE or 1000, as deployed (lib/config.ts) */
  readonly batchSize?: number;
  /** ESM batching window in ms. @default INGEST_BATCHING_WINDOW_MS or 1000 */
  readonly batchingWindowMs?: number;
  /** Give up waiting after this long. @default 60 minutes */
  readonly timeoutMs?: number;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return n;
}

/**
 * Consumes the topic with the local MSK event source mapping and the production ingest handler
 * until every partition reached `until`, then leaves the consumer group.
 */
export async function runIngestStage(args: IngestStageArgs): Promise<IngestStageResult> {
  const { MskPoller } = await import('./msk-poller');
  const { handler } = await import('../lambdas/ingest/handler');
  const { settings } = args;
  const poller = new MskPoller({
    brokers: settings.brokers,
    topic: settings.topic,
    groupId: settings.consumerGroup,
    handler: withIngestFaults(handler as unknown as (event: unknown, context: unknown) => Promise<unknown>, args.faults),
    batchSize: args.batchSize ?? intFromEnv('INGEST_BATCH_SIZE', 1000),
    maximumBatchingWindowMs: args.batchingWindowMs ?? intFromEnv('INGEST_BATCHING_WINDOW_MS', 1000),
    retryAttempts: 3,
    onFailure: resolve('local-output', `${settings.consumerGroup}-on-failure.ndjson`),
    log: (line) => args.log(`  ${line}`),
  });
  await poller.start();
  let stats;
  try {
    stats = await poller.waitUntil(args.until, args.timeoutMs ?? 60 * 60_000);
  } finally {
    await poller.stop();
  }
  if (stats.batchesSentToFailureDestination > 0) {
    throw new Error(`${stats.recordsSentToFailureDestination} records in ${stats.batchesSentToFailureDestination} batches failed every retry and are in local-output/${settings.consumerGroup}-on-failure.ndjson (replay with replayFailedBatches in local/msk-poller.ts)`);
  }
  return { batches: stats.invocations - stats.redeliveries, invocations: stats.invocations, redeliveries: stats.redeliveries, records: stats.recordsHandled };
}

export interface AggregateStageArgs {
  readonly settings: PipelineSettings;
  readonly log: (line: string) => void;
  /** Backfill of explicit dates instead of the incremental run. */
  readonly dates?: readonly string[];
  /** Further job arguments, e.g. the erasure mode's (scripts/erase.ts). @default none */
  readonly jobArguments?: readonly string[];
  /** Every output line of the Spark job. @default dropped */
  readonly onOutput?: (line: string) => void;
}

/**
 * Runs glue-scripts/aggregate_clicks.py on local Spark against the local S3 server, through
 * local/glue-job.ts (the same script and arguments as the Glue job, `s3a://` URIs).
 */
export async function runAggregateStage(args: AggregateStageArgs): Promise<AggregateStageResult> {
  const { runAggregateJob } = await import('./glue-job');
  const { settings } = args;
  const summary = await runAggregateJob({
    rawUri: `s3a://${settings.rawBucket}/events`,
    // The job writes `<output_uri>/<table>/event_date=D/` (SPEC section 3: aggregates/<table>/...).
    outputUri: `s3a://${settings.aggregatesBucket}/aggregates`,
    // The same locations as the stack gives the Glue job (lib/processing.ts).
    stateUri: `s3a://${settings.aggregatesBucket}/state/aggregate-clicks`,
    changesUri: `s3a://${settings.rawBucket}/changes`,
    dates: args.dates,
    jobArguments: args.jobArguments,
    env: { ...process.env, S3_ENDPOINT: settings.s3Endpoint },
    onOutput: args.onOutput,
  });
  return { dates: summary.dates, datesWritten: summary.datesWritten, rowsWritten: summary.rowsWritten, summary };
}

export interface IndexStageArgs {
  readonly settings: PipelineSettings;
  readonly bucket: string;
  /** Keys of the new aggregate objects, one notification each. */
  readonly keys: readonly string[];
  readonly log: (line: string) => void;
  readonly faults?: IndexFaults;
  /** NDJSON dead-letter file of notifications that failed every delivery. @default local-output/indexer-dlq.ndjson */
  readonly deadLetterFile?: string;
}

/**
 * Delivers one S3 notification per new aggregate object to the production indexer handler
 * through the local SQS stand-in (batches, partial batch failures, redelivery, dead-letter file).
 */
export async function runIndexStage(args: IndexStageArgs): Promise<IndexStageResult> {
  const { LocalS3Notifier, loadIndexerHandler } = await import('./s3-notifier');
  const keys = args.faults?.arrange ? args.faults.arrange(args.keys) : [...args.keys];
  const notifier = new LocalS3Notifier({
    handler: await loadIndexerHandler(),
    bucket: args.bucket,
    deadLetterFile: args.deadLetterFile ?? resolve('local-output', 'indexer-dlq.ndjson'),
    log: (line) => args.log(`  ${line}`),
  });
  const result = await notifier.notify(keys);
  if (result.deadLettered.length > 0) {
    throw new Error(`${result.deadLettered.length} notifications failed every delivery and are in the dead-letter file ${args.deadLetterFile ?? 'local-output/indexer-dlq.ndjson'} (replay: npx tsx local/s3-notifier.ts replay --bucket ${args.bucket} --dlq FILE)`);
  }
  return { notifications: result.messages, invocations: result.invocations, redeliveries: result.redeliveries };
}
