/**
 * The ingest Lambda's entry point: `batch.ts` wrapped in middy with the Powertools logger
 * (Lambda context in every line) and metrics (flushed as EMF after each invocation, cold starts
 * counted). Environment: see `batch.ts` and docs/ingest.md.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createIngestHandler, dependenciesFromEnv } from './batch';

const deps = dependenciesFromEnv();

/** The Lambda entry point (lib/ingest.ts points the function's `handler` here). */
export const handler = middy(createIngestHandler(deps))
  .use(injectLambdaContext(deps.logger))
  .use(logMetrics(deps.metrics, { captureColdStartMetric: true }));
