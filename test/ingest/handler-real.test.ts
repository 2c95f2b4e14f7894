/**
 * The deployed entry point itself, `lambdas/ingest/handler.ts` (middy + Powertools logger and
 * metrics), under the local MSK poller against the real local Kafka and S3. It runs in a child
 * process with tsx (test/ingest/run-handler.ts) because middy 6 is an ES module that jest's
 * CommonJS runtime cannot load; the child gets the environment Lambda would give the function.
 */
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, stackEnv, uniqueName } from '../support/engines';
import { closeKafka, connectKafka, createTopic, produce, readBucket, type KafkaKit } from './engines';
import { clickEvent } from './fixtures';

const repoRoot = resolve(__dirname, '..', '..');
let kit: KafkaKit;
let dir: string;
const buckets: string[] = [];

beforeAll(async () => {
  kit = await connectKafka((await ensureEngines(['kafka', 's3'])).kafkaBrokers);
  dir = mkdtempSync(join(tmpdir(), 'ingest-real-'));
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await closeKafka(kit);
  await Promise.all(buckets.map((b) => emptyBucket(b).catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Output lines that are JSON: Powertools logs (errors and warnings on stderr) and EMF metrics. */
  readonly json: Record<string, unknown>[];
  readonly stats: Record<string, unknown>;
}

function runHandler(topic: string, bucket: string, failureFile: string, retries = 2): Promise<Run> {
  const env = stackEnv();
  return new Promise((done) => {
    execFile(
      'npx',
      ['tsx', 'test/ingest/run-handler.ts', topic, `${topic}-group`, failureFile, String(retries)],
      {
        cwd: repoRoot,
        timeout: 150_000,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...env,
          RAW_BUCKET: bucket,
          RAW_EVENTS_PREFIX: 'events/',
          QUARANTINE_PREFIX: 'quarantine/',
          POWERTOOLS_SERVICE_NAME: 'ingest',
          POWERTOOLS_METRICS_NAMESPACE: 'ClickstreamPipeline',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          // Set by Lambda itself; Powertools reads it to tell a cold start.
          AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        },
      },
      (error, stdout, stderr) => {
        const json = `${stdout}\n${stderr}`
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const m = /POLLER_STATS (\{.*\})/.exec(stderr);
        done({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          json,
          stats: m ? (JSON.parse(m[1]) as Record<string, unknown>) : {},
        });
      },
    );
  });
}

const metric = (run: Run, name: string) => run.json.filter((l) => '_aws' in l && typeof l[name] === 'number').reduce((n, l) => n + (l[name] as number), 0);

describe('lambdas/ingest/handler.ts (middy + Powertools) under the local MSK poller', () => {
  it('ingests a topic into the raw bucket, logging with the Lambda context and publishing EMF metrics', async () => {
    const topic = uniqueName('ingest-real');
    await createTopic(kit, topic);
    const bucket = uniqueName('ingest-real');
    buckets.push(bucket);
    await createBucket(bucket);
    const now = Date.now();
    await produce(kit, topic, [
      ...Array.from({ length: 60 }, (_, i) => ({ partition: i % 3, value: clickEvent({ event_id: `r${i}`, timestamp: now - i * 60_000 }) })),
      { partition: 1, value: '{"truncated": ' },
      { partition: 2, value: clickEvent({ event_id: 'no-user', user_id: undefined }) },
    ]);

    const run = await runHandler(topic, bucket, join(dir, 'ok-failures.ndjson'));
    expect(run.stderr).not.toMatch(/run-handler failed/);
    expect(run.code).toBe(0);

    const objects = await readBucket(s3Client(), bucket);
    const ids = objects.filter((o) => o.key.startsWith('events/')).flatMap((o) => o.lines.map((l) => l.event_id));
    expect(ids.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `r${i}`).sort());
    const reasons = objects.filter((o) => o.key.startsWith('quarantine/')).flatMap((o) => o.lines.map((l) => l.reason));
    expect(reasons.sort()).toEqual(['invalid_json', 'missing_user_id']);

    expect([metric(run, 'RecordsIn'), metric(run, 'RecordsStored'), metric(run, 'RecordsQuarantined')]).toEqual([62, 60, 2]);
    expect(metric(run, 'ColdStart')).toBe(1);
    expect(metric(run, 'BytesWritten')).toBeGreaterThan(0);
    const emf = run.json.find((l) => typeof l.RecordsIn === 'number')!;
    expect(emf._aws).toMatchObject({ CloudWatchMetrics: [expect.objectContaining({ Namespace: 'ClickstreamPipeline' })] });
    const ingested = run.json.filter((l) => l.message === 'batch ingested');
    expect(ingested.length).toBe(run.stats.invocations);
    expect(ingested[0]).toMatchObject({ service: 'ingest', function_name: 'clickstream-ingest-local', cold_start: true });
    expect(typeof ingested[0].function_request_id).toBe('string');
  });

  it('throws on a failed write, so the poller retries and finally parks the batch in its on-failure file', async () => {
    const topic = uniqueName('ingest-real-fail');
    await createTopic(kit, topic, 1);
    const bucket = uniqueName('ingest-real-missing'); // never created
    await produce(kit, topic, [{ partition: 0, value: clickEvent({ event_id: 'lost-1' }) }, { partition: 0, value: clickEvent({ event_id: 'lost-2' }) }]);
    const failureFile = join(dir, 'fail-failures.ndjson');

    const run = await runHandler(topic, bucket, failureFile, 1);
    expect(run.code).toBe(0);
    expect(run.stats).toMatchObject({ invocations: 2, failedInvocations: 2, batchesSentToFailureDestination: 1, recordsSentToFailureDestination: 2 });
    expect(metric(run, 'BatchWriteFailures')).toBe(2);
    const errors = run.json.filter((l) => l.level === 'ERROR');
    expect(errors[0].message).toMatch(/writing the batch to S3 failed/);
    const parked = readFileSync(failureFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { payload: { records: Record<string, unknown[]> } });
    expect(Object.values(parked[0].payload.records).flat()).toHaveLength(2);
  });
});
