/**
 * How jest tests reach the real local engines (local-stack/).
 *
 *   beforeAll(() => ensureEngines(['kafka', 's3']), ENGINE_START_TIMEOUT_MS);
 *
 * `ensureEngines` runs `bash local-stack/stack.sh up <engines>`: it installs what is missing and
 * starts what is not running, and is a quick no-op otherwise. Engines it starts keep running after
 * jest ends (scripts/test-all.sh stops them; `npm run stack:down` by hand). When an engine cannot
 * start, it throws with the script's output, so the tests that need it fail instead of skipping.
 *
 * Endpoints and credentials come from local-stack/env.sh itself (run in bash), so there is one
 * copy of the defaults and any variable set in the environment wins, as for the shell scripts.
 */
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { execFile, execFileSync } from 'child_process';
import * as path from 'path';

export type Engine = 'kafka' | 's3' | 'opensearch' | 'opensearch-secure' | 'spark';

export interface LocalEndpoints {
  /** Kafka bootstrap servers, e.g. ['127.0.0.1:9092'] (KAFKA_BROKERS). */
  kafkaBrokers: string[];
  /** The local S3 server, path-style addressing (S3_ENDPOINT). */
  s3Endpoint: string;
  /** The local OpenSearch node, plain http, unsigned (OPENSEARCH_ENDPOINT). */
  openSearchEndpoint: string;
  /** The security-enabled test node (OpenSearch 2.19.4 + security plugin), plain http with basic
   *  auth (OPENSEARCH_SECURE_ENDPOINT); started only by tests that ask for 'opensearch-secure'. */
  openSearchSecure: { endpoint: string; adminUser: string; adminPassword: string };
  /** AWS_REGION of the local stack. */
  region: string;
  /** The venv's Python (pyspark, boto3, pytest, cfn-lint). */
  python: string;
  /** local-stack/spark/submit.sh: an executable that runs `SCRIPT.py [ARGS...]` on local Spark with s3a set up. */
  sparkSubmit: string;
  /** The repository root. */
  repoRoot: string;
}

/** Long enough for a cold `stack.sh up` (venv, Maven jars, engine start); a warm one takes seconds. */
export const ENGINE_START_TIMEOUT_MS = 15 * 60_000;

const repoRoot = path.resolve(__dirname, '..', '..');
const stackScript = path.join(repoRoot, 'local-stack', 'stack.sh');

let stackEnvCache: Record<string, string> | undefined;

/** The environment as local-stack/env.sh sets it up: process.env plus its defaults. */
export function stackEnv(): Record<string, string> {
  if (!stackEnvCache) {
    const output = execFileSync('bash', ['-c', 'source "$1" >/dev/null && env -0', 'env.sh', path.join(repoRoot, 'local-stack', 'env.sh')], {
      env: process.env,
      encoding: 'utf8',
    });
    const env: Record<string, string> = {};
    for (const entry of output.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    stackEnvCache = env;
  }
  return stackEnvCache;
}

function required(env: Record<string, string>, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`local-stack/env.sh did not set ${name}`);
  return value;
}

/** Endpoints of the local engines (whether or not they are running). */
export function localEndpoints(): LocalEndpoints {
  const env = stackEnv();
  return {
    kafkaBrokers: required(env, 'KAFKA_BROKERS').split(',').map((broker) => broker.trim()).filter(Boolean),
    s3Endpoint: required(env, 'S3_ENDPOINT'),
    openSearchEndpoint: required(env, 'OPENSEARCH_ENDPOINT'),
    openSearchSecure: {
      endpoint: required(env, 'OPENSEARCH_SECURE_ENDPOINT'),
      adminUser: required(env, 'OPENSEARCH_SECURE_ADMIN_USER'),
      adminPassword: required(env, 'OPENSEARCH_SECURE_ADMIN_PASSWORD'),
    },
    region: required(env, 'AWS_REGION'),
    python: path.join(required(env, 'VENV'), 'bin', 'python'),
    sparkSubmit: path.join(repoRoot, 'local-stack', 'spark', 'submit.sh'),
    repoRoot,
  };
}

// One `stack.sh up` per engine per module registry (jest: per test file); in flight calls are shared.
const ensured = new Map<Engine, Promise<void>>();

function runStackUp(engines: Engine[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [stackScript, 'up', ...engines],
      { cwd: repoRoot, env: process.env, timeout: ENGINE_START_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const why = error.killed ? `timed out after ${ENGINE_START_TIMEOUT_MS / 1000}s` : `exit code ${String(error.code)}`;
          reject(new Error(`bash local-stack/stack.sh up ${engines.join(' ')} failed (${why}):\n${stdout}${stderr}`));
        } else {
          resolve();
        }
      },
    );
  });
}

/** Installs and starts the given engines when needed; resolves with their endpoints. */
export async function ensureEngines(engines: Engine[]): Promise<LocalEndpoints> {
  const missing = [...new Set(engines)].filter((engine) => !ensured.has(engine));
  if (missing.length > 0) {
    const run = runStackUp(missing);
    for (const engine of missing) ensured.set(engine, run);
    // A failed start is not remembered: the next caller tries again and gets its own error.
    run.catch(() => missing.forEach((engine) => ensured.get(engine) === run && ensured.delete(engine)));
  }
  await Promise.all(engines.map((engine) => ensured.get(engine)));
  return localEndpoints();
}

let s3ClientCache: S3Client | undefined;

/** An S3 client for the local server: path-style addressing, local test credentials. */
export function s3Client(): S3Client {
  if (!s3ClientCache) {
    const env = stackEnv();
    s3ClientCache = new S3Client({
      endpoint: required(env, 'S3_ENDPOINT'),
      forcePathStyle: true,
      region: required(env, 'AWS_REGION'),
      credentials: {
        accessKeyId: required(env, 'AWS_ACCESS_KEY_ID'),
        secretAccessKey: required(env, 'AWS_SECRET_ACCESS_KEY'),
      },
      // A test against a stopped server should fail at once, not after the SDK's backoff.
      maxAttempts: 2,
    });
  }
  return s3ClientCache;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error ? String((error as { name: unknown }).name) : undefined;
}

/** Creates the bucket unless it exists already. */
export async function createBucket(name: string): Promise<void> {
  const s3 = s3Client();
  try {
    await s3.send(new HeadBucketCommand({ Bucket: name }));
    return;
  } catch (error) {
    if (errorName(error) !== 'NotFound' && errorName(error) !== 'NoSuchBucket') throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    // Created by someone else between the two calls: fine.
    if (errorName(error) !== 'BucketAlreadyOwnedByYou' && errorName(error) !== 'BucketAlreadyExists') throw error;
  }
}

/** Deletes every object of the bucket (the bucket stays). A missing bucket is already empty. */
export async function emptyBucket(name: string): Promise<void> {
  const s3 = s3Client();
  for (;;) {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await s3.send(new ListObjectsV2Command({ Bucket: name, MaxKeys: 1000 }));
    } catch (error) {
      if (errorName(error) === 'NoSuchBucket') return;
      throw error;
    }
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
    if (keys.length === 0) return;
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys, Quiet: true } }));
    if (result.Errors && result.Errors.length > 0) {
      const first = result.Errors[0];
      throw new Error(`emptyBucket(${name}): ${result.Errors.length} objects not deleted, e.g. ${first.Key}: ${first.Code} ${first.Message}`);
    }
  }
}

let uniqueCounter = 0;

/**
 * A name no earlier test run used: `<prefix>-<time>-<counter><random>`, lower-case letters,
 * digits and hyphens, at most 63 characters, so it is valid as an S3 bucket, a Kafka topic and
 * an OpenSearch index alike.
 */
export function uniqueName(prefix: string): string {
  const cleanPrefix = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
  uniqueCounter += 1;
  const suffix = `${Date.now().toString(36)}-${uniqueCounter.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return `${cleanPrefix.slice(0, 63 - suffix.length - 1)}-${suffix}`;
}
