/**
 * Lambda entry point: SQS (S3 notifications of new aggregate part files) -> OpenSearch.
 * Only wiring; the behaviour is in core.ts. Returns partial batch failures, so the event source
 * mapping must set `reportBatchItemFailures` (lib/indexing.ts does).
 *
 * Environment: OPENSEARCH_ENDPOINT (required), OPENSEARCH_AUTH (sigv4|none), OPENSEARCH_ALIAS_PREFIX,
 * AGGREGATES_PREFIX, ERRORS_PREFIX, BULK_CONCURRENCY, S3_ENDPOINT (local only).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { openSearchClientFromEnv } from '../shared/opensearch-client';
import { s3ClientFromEnv } from '../shared/s3';
import { IndexerConfig, processBatch } from './core';
import { powertoolsTelemetry } from './telemetry';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'indexer' });
const metrics = new Metrics({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'indexer' });

/** Reads the indexer's configuration from the environment (unset means the core's default). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): IndexerConfig {
  const concurrency = env.BULK_CONCURRENCY ? Number(env.BULK_CONCURRENCY) : undefined;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new Error(`BULK_CONCURRENCY must be a positive integer, got "${env.BULK_CONCURRENCY}"`);
  }
  return {
    aliasPrefix: env.OPENSEARCH_ALIAS_PREFIX || undefined,
    aggregatesPrefix: env.AGGREGATES_PREFIX || undefined,
    errorsPrefix: env.ERRORS_PREFIX || undefined,
    bulk: concurrency ? { concurrency } : undefined,
  };
}

// Clients live across invocations of a warm container (connection reuse, cached credentials).
const deps = {
  s3: s3ClientFromEnv(),
  openSearch: openSearchClientFromEnv(),
  config: configFromEnv(),
  telemetry: powertoolsTelemetry(logger, metrics),
};

async function indexAggregates(event: SQSEvent): Promise<SQSBatchResponse> {
  const { batchItemFailures } = await processBatch(deps, event);
  return { batchItemFailures };
}

export const handler = middy(indexAggregates)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
