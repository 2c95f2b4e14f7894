/**
 * The real Lambda handler (middy + Powertools) through the local S3 notifier, against the local
 * engines. It runs in a child process with tsx, like `npm run local` runs it, because middy 6 is
 * an ES module that jest's CommonJS runtime cannot load; the child gets the environment Lambda
 * would give the function.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { objectsOfMessage } from '../../lambdas/indexer/core';
import { rowDocumentId } from '../../lambdas/indexer/documents';
import { tableAlias } from '../../lambdas/indexer/tables';
import { ensureServingIndices } from '../../lambdas/search-provisioner/indices';
import { readDeadLetterFile } from '../../local/s3-notifier';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, stackEnv, uniqueName } from '../support/engines';
import { aggregateRows, allDocuments, dropServingIndices, localClient, toNdjson } from './fixtures';

const repoRoot = resolve(__dirname, '..', '..');
let client: Client;
let bucket: string;
let aliasPrefix: string;
let alias: string;
let dir: string;

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch', 's3'])).openSearchEndpoint);
  bucket = uniqueName('handler');
  aliasPrefix = uniqueName('handler-idx');
  alias = tableAlias('url_country_daily', aliasPrefix);
  dir = mkdtempSync(join(tmpdir(), 'handler-'));
  await createBucket(bucket);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropServingIndices(client, aliasPrefix);
  await emptyBucket(bucket);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function notifier(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = stackEnv();
  return new Promise((done) => {
    execFile(
      'npx',
      ['tsx', 'local/s3-notifier.ts', ...args],
      {
        cwd: repoRoot,
        timeout: 120_000,
        maxBuffer: 32 * 1024 * 1024,
        env: {
          ...env,
          OPENSEARCH_ENDPOINT: env.OPENSEARCH_ENDPOINT,
          OPENSEARCH_AUTH: 'none',
          OPENSEARCH_ALIAS_PREFIX: aliasPrefix,
          S3_ENDPOINT: env.S3_ENDPOINT,
          POWERTOOLS_SERVICE_NAME: 'indexer',
          POWERTOOLS_METRICS_NAMESPACE: 'ClickstreamPipeline',
        },
      },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The Powertools JSON log lines of a run (stdout and stderr). */
function logLines(run: { stdout: string; stderr: string }): Array<Record<string, unknown>> {
  return `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"level"'))
    .map((line) => JSON.parse(line));
}

it('fails every delivery while the alias is missing, dead-letters the message, and a replay after provisioning indexes it', async () => {
  const rows = aggregateRows('2026-06-01', '2026-06-02T03:00:00.000Z', 20);
  const key = 'aggregates/url_country_daily/event_date=2026-06-01/part-00000-1.c000.json';
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: toNdjson(rows) }));
  const dlq = join(dir, 'dlq.ndjson');

  const first = await notifier(['notify', '--bucket', bucket, '--dlq', dlq, key]);

  expect(first.code).toBe(1);
  expect(JSON.parse(first.stdout.trim().split('\n').at(-1)!)).toMatchObject({ messages: 1, invocations: 5, redeliveries: 4, deadLettered: 1 });
  const letters = readDeadLetterFile(dlq);
  expect(letters).toHaveLength(1);
  expect(letters[0].receiveCount).toBe(5);
  expect(first.stdout + first.stderr).toContain('message failed; it will be retried');
  // One correlation id from the notification to the dead letter: the object's key, on every
  // Powertools line of each delivery, and named by the dead-lettered notification.
  const failed = logLines(first).filter((line) => line.message === 'message failed; it will be retried');
  expect(failed).toHaveLength(5);
  expect(new Set(failed.map((line) => line.correlation_id))).toEqual(new Set([key]));
  expect(objectsOfMessage(letters[0].body)).toEqual([{ bucket, key }]);
  // require_alias: the failed writes did not auto-create an index with guessed mappings.
  expect((await client.transport.request({ method: 'HEAD', path: `/${alias}` }, { ignore: [404] })).statusCode).toBe(404);

  await ensureServingIndices(client, { aliasPrefix, generation: 1, replicas: 0 });
  const replay = await notifier(['replay', '--bucket', bucket, '--dlq', dlq]);

  expect(replay.code).toBe(0);
  expect(readFileSync(dlq, 'utf8')).toBe('');
  const docs = await allDocuments(client, alias);
  expect([...docs.keys()].sort()).toEqual(rows.map((row) => rowDocumentId('url_country_daily', row)).sort());
  // Powertools wrote the metrics as CloudWatch embedded metric format.
  const emf = replay.stdout
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line));
  const names = emf.flatMap((m) => m._aws.CloudWatchMetrics[0].Metrics.map((metric: { Name: string }) => metric.Name));
  expect(names).toEqual(expect.arrayContaining(['DocumentsIndexed', 'ObjectsIndexed', 'BulkLatency']));
  expect(logLines(replay).filter((line) => line.message === 'aggregate object indexed').map((line) => line.correlation_id)).toEqual([key]);
  const indexed = emf.find((m) => m.DocumentsIndexed !== undefined);
  expect(indexed.DocumentsIndexed).toBe(20);
  expect(indexed._aws.CloudWatchMetrics[0].Namespace).toBe('ClickstreamPipeline');
});
