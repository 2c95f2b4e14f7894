/**
 * The alarms that catch a silent stall read metrics the code publishes: these tests prove the
 * functions and the job publish exactly what lib/monitoring.ts alarms on (namespace, `service`
 * dimension, name, and the cases the alarms count on), so a renamed metric or log line fails here
 * instead of leaving an alarm that never fires.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { powertoolsTelemetry } from '../../lambdas/indexer/telemetry';
import { createIngestHandler, dependenciesFromEnv } from '../../lambdas/ingest/batch';
import { GLUE_NO_INPUT_LOG_LINE, PIPELINE_METRIC_NAMES } from '../../lib/monitoring';
import { METRICS_NAMESPACE } from '../../lib/secure-defaults';
import { clickEvent, mskEvent } from '../ingest/fixtures';

type Emf = { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> } } & Record<string, unknown>;

function metricsOf(service: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
}

/** The value of `name` in the EMF document, after checking it is declared under the namespace with the `service` dimension. */
function emfValue(emf: Emf, name: string): unknown {
  const directive = emf._aws.CloudWatchMetrics.find((d) => d.Metrics.some((m) => m.Name === name));
  expect(directive).toBeDefined();
  expect(directive!.Namespace).toBe(METRICS_NAMESPACE);
  expect(directive!.Dimensions).toEqual([['service']]);
  return emf[name];
}

describe('IngestHeartbeat and IngestQuarantineRatio read what the ingest function publishes', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
  });
  afterAll(() => s3.restore());

  async function invoke(values: unknown[]): Promise<Emf> {
    const metrics = metricsOf('ingest');
    const base = dependenciesFromEnv({ RAW_BUCKET: 'raw', POWERTOOLS_SERVICE_NAME: 'ingest' });
    const handler = createIngestHandler({ ...base, s3: new S3Client({ region: 'eu-west-1' }), metrics, logger: new Logger({ logLevel: 'SILENT' }) });
    await handler(mskEvent(values.map((value, offset) => ({ offset, value }))));
    const emf = metrics.serializeMetrics() as unknown as Emf;
    expect(emf.service).toBe('ingest');
    return emf;
  }

  test('a batch whose records are all quarantined still publishes RecordsStored = 0 (the heartbeat breaches)', async () => {
    const emf = await invoke(['not json', '{"also": "not a click"}']);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsStored)).toBe(0);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsIn)).toBe(2);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsQuarantined)).toBe(2);
  });

  test('a healthy batch publishes the records stored, received and quarantined the ratio is made of', async () => {
    const emf = await invoke([clickEvent(), clickEvent({ event_id: 'e-2' }), 'not json']);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsIn)).toBe(3);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsStored)).toBe(2);
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.recordsQuarantined)).toBe(1);
  });
});

describe('IndexFreshness reads what the indexer publishes', () => {
  test('the Powertools adapter publishes the age of an indexed computation in seconds', () => {
    const metrics = metricsOf('indexer');
    const now = Date.UTC(2026, 10, 2, 12, 0, 0);
    powertoolsTelemetry(new Logger({ logLevel: 'SILENT' }), metrics, () => now).indexedComputation!(now - 90 * 60_000);
    const emf = metrics.serializeMetrics() as unknown as Emf;
    expect(emfValue(emf, PIPELINE_METRIC_NAMES.indexedComputationAge)).toBe(5400);
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: PIPELINE_METRIC_NAMES.indexedComputationAge, Unit: 'Seconds' });
  });
});

describe('GlueRunsWithoutInput reads what the Glue job logs', () => {
  test('the job logs the exact line the metric filter counts, when a run finds no changed input', () => {
    const root = resolve(__dirname, '../../glue-scripts');
    const python = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.py')).map((f) => readFileSync(join(root, f), 'utf8'));
    const lines = python.flatMap((source) => source.split('\n')).filter((l) => l.includes(GLUE_NO_INPUT_LOG_LINE));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/LOG\.(info|warning)\(/);
  });
});
