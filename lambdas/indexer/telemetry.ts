/** Powertools logger and metrics behind the core's small telemetry interface. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { IndexerTelemetry } from './core';

export function powertoolsTelemetry(logger: Logger, metrics: Metrics, now: () => number = Date.now): IndexerTelemetry {
  return {
    logger: {
      info: (message, attributes) => logger.info(message, { ...attributes }),
      warn: (message, attributes) => logger.warn(message, { ...attributes }),
      error: (message, attributes) => logger.error(message, { ...attributes }),
    },
    count: (metric, value) => metrics.addMetric(metric, MetricUnit.Count, value),
    bulkLatency: (ms) => metrics.addMetric('BulkLatency', MetricUnit.Milliseconds, Math.round(ms)),
    // How old the computation was when indexed; its hourly minimum is the IndexFreshness alarm's metric (lib/monitoring.ts).
    indexedComputation: (computedAtMs) =>
      metrics.addMetric('IndexedComputationAge', MetricUnit.Seconds, Math.max(0, Math.round((now() - computedAtMs) / 1000))),
  };
}
