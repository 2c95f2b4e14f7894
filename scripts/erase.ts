/**
 * Erases users' data (SPEC §6, docs/privacy.md §3): `npm run erase -- --user-id ID [--user-id ID ...] | --file F`.
 *
 *   npm run erase -- --user-id alice --user-id bob          # AWS: a Glue run of the job in erasure mode
 *   npm run erase -- --file ids.txt --stack MyStack         # one ID per line
 *   npm run erase -- --local --user-id alice                # the local stack, on local Spark
 *
 * Options: --user-id (repeatable), --file, --local, --stack (default $CLICKSTREAM_STACK, else
 * ClickstreamPipelineStack: its outputs name the raw bucket, the job and the secret), --raw-bucket,
 * --job-name, --secret-id (each overrides its output), --region, --wait-minutes (default 180),
 * --settle-seconds (default 60, AWS only: the ingest function's erasure record cache).
 * Exit codes: 0 done (IDs not found included); 1 the run failed or could not start (run the same
 * command again: it finishes the job); 2 bad arguments; 3 still running after --wait-minutes.
 *
 * The clear IDs stay in this process: what leaves it is HMAC-SHA-256 of each ID under the privacy
 * key (under the current and, when there is one, the previous version of the secret), written to
 * the erasure record and to the request the job reads. The job run is started and followed with
 * `startJobRun` from scripts/job-start.ts.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GlueClient } from '@aws-sdk/client-glue';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { readErasureRecord } from '../lambdas/ingest/privacy-source';
import { checkedKey, DEFAULT_ERASURE_RECORD_KEY, MIN_KEY_CHARS, userIdHash, withErasures } from '../lambdas/ingest/pseudonymize';
import { DEFAULT_ERASURE_RECORD_TTL_SECONDS } from '../lambdas/ingest/privacy-source';
import { startJobRun, UsageError, type GlueSender } from './job-start';

export const DEFAULT_STACK = 'ClickstreamPipelineStack';
export const REQUESTS_PREFIX = 'erasure/requests/';
export const REPORTS_PREFIX = 'erasure/reports/';
/** SPEC §1: a user ID is a non-empty string of at most 256 characters. */
const MAX_USER_ID_CHARS = 256;

const USAGE = 'usage: npm run erase -- (--user-id ID [--user-id ID ...] | --file FILE) [--local] [--stack NAME] ' +
  '[--raw-bucket NAME] [--job-name NAME] [--secret-id ARN] [--region REGION] [--wait-minutes N] [--settle-seconds N]';

export interface EraseOptions {
  /** Distinct IDs, in the order given. */
  readonly userIds: readonly string[];
  readonly local: boolean;
  readonly stack: string;
  readonly rawBucket?: string;
  readonly jobName?: string;
  readonly secretId?: string;
  readonly region?: string;
  readonly waitMinutes: number;
  readonly settleSeconds: number;
}

/** The request the job reads (`erasure/requests/<id>.json`): keyed hashes only. */
export interface ErasureRequest {
  readonly request_id: string;
  readonly requested_at: string;
  readonly hashes: readonly string[];
}

/** What the job writes when it finished (`erasure/reports/<id>.json`; erasure.py). */
export interface ErasureReport {
  readonly request_id: string;
  readonly objects_scanned: number;
  readonly objects_rewritten: number;
  /** Their names (object keys only): older versions to remove in a versioned bucket (docs/privacy.md §5). */
  readonly rewritten?: readonly string[];
  readonly events_removed: number;
  readonly quarantine_lines_removed: number;
  readonly dates_recomputed: readonly string[];
  readonly by_hash: Readonly<Record<string, { readonly events: number; readonly quarantine_lines: number }>>;
  readonly completed_at: string;
}

function wholeNumber(flag: string, v: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} must be a whole number >= ${min} (got ${v})`);
  return Number(v);
}

/** Parses the command line (without `node script`). Throws UsageError with a clear message. */
export function parseEraseArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): EraseOptions {
  const ids: string[] = [];
  let local = false;
  let stack = env.CLICKSTREAM_STACK || DEFAULT_STACK;
  let rawBucket: string | undefined, jobName: string | undefined, secretId: string | undefined, region: string | undefined;
  let waitMinutes = 180;
  let settleSeconds = DEFAULT_ERASURE_RECORD_TTL_SECONDS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--user-id': ids.push(value()); break;
      case '--file': {
        const path = value();
        let text: string;
        try {
          text = readFile(path);
        } catch (error) {
          throw new UsageError(`--file: cannot read ${path}: ${(error as Error).message}`);
        }
        // One ID per line; the line break (\n or \r\n) is not part of it; blank lines are skipped.
        ids.push(...text.split(/\r?\n/).filter((line) => line.trim() !== ''));
        break;
      }
      case '--local': local = true; break;
      case '--stack': stack = value(); break;
      case '--raw-bucket': rawBucket = value(); break;
      case '--job-name': jobName = value(); break;
      case '--secret-id': secretId = value(); break;
      case '--region': region = value(); break;
      case '--wait-minutes': waitMinutes = wholeNumber(flag, value(), 1); break;
      case '--settle-seconds': settleSeconds = wholeNumber(flag, value(), 0); break;
      case '--help': case '-h': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (ids.length === 0) throw new UsageError(`no user ID given\n${USAGE}`);
  ids.forEach((id, n) => {
    // The ID itself is not echoed: it is personal data, and the terminal may be logged.
    if (id === '' || id.length > MAX_USER_ID_CHARS) throw new UsageError(`user ID number ${n + 1} is empty or longer than ${MAX_USER_ID_CHARS} characters`);
  });
  return { userIds: [...new Set(ids)], local, stack, rawBucket, jobName, secretId, region, waitMinutes, settleSeconds };
}

/** HMAC of every ID under every key: the hashes the job and the erasure record get. */
export function hashesByUser(userIds: readonly string[], keys: readonly string[]): Map<string, string[]> {
  return new Map(userIds.map((id) => [id, [...new Set(keys.map((key) => userIdHash(key, id)))]]));
}

/** A request id that sorts by time: `20261201T113000Z-<8 hex>`. */
export function newRequestId(now: Date, random: () => string = () => randomBytes(4).toString('hex')): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${random()}`;
}

/** The report, one line per ID (IDs with nothing stored are "not found", not an error). */
export function formatReport(report: ErasureReport, hashes: ReadonlyMap<string, readonly string[]>): string[] {
  const lines = [
    `erasure ${report.request_id} completed ${report.completed_at}`,
    `  objects scanned ${report.objects_scanned}, rewritten ${report.objects_rewritten}` +
      (report.objects_rewritten > 0 ? ` (listed under "rewritten" in ${REPORTS_PREFIX}${report.request_id}.json)` : ''),
    `  events removed ${report.events_removed}, quarantine lines removed ${report.quarantine_lines_removed}`,
    `  dates recomputed (${report.dates_recomputed.length}): ${report.dates_recomputed.join(', ') || 'none'}`,
  ];
  for (const [id, userHashes] of hashes) {
    let events = 0;
    let quarantined = 0;
    for (const h of userHashes) {
      events += report.by_hash[h]?.events ?? 0;
      quarantined += report.by_hash[h]?.quarantine_lines ?? 0;
    }
    lines.push(events + quarantined === 0 ? `  ${id}: not found (nothing stored)` : `  ${id}: ${events} events, ${quarantined} quarantine lines removed`);
  }
  return lines;
}

/** What both modes share: storage of the record, the request and the report. */
export interface ErasureStore {
  readonly s3: S3Client;
  readonly bucket: string;
}

/** Adds the hashes to the erasure record (read, merge, write) and writes the request. */
export async function recordAndRequest(store: ErasureStore, hashes: ReadonlyMap<string, readonly string[]>, now: Date, requestId: string): Promise<ErasureRequest> {
  const all = [...new Set([...hashes.values()].flat())].sort();
  const record = withErasures(await readErasureRecord(store.s3, store.bucket, DEFAULT_ERASURE_RECORD_KEY), all, now);
  await store.s3.send(new PutObjectCommand({
    Bucket: store.bucket, Key: DEFAULT_ERASURE_RECORD_KEY, Body: `${JSON.stringify(record)}\n`, ContentType: 'application/json',
  }));
  const request: ErasureRequest = { request_id: requestId, requested_at: now.toISOString(), hashes: all };
  await store.s3.send(new PutObjectCommand({
    Bucket: store.bucket, Key: `${REQUESTS_PREFIX}${requestId}.json`, Body: `${JSON.stringify(request)}\n`, ContentType: 'application/json',
  }));
  return request;
}

export async function readReport(store: ErasureStore, requestId: string): Promise<ErasureReport> {
  const response = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${REPORTS_PREFIX}${requestId}.json` }));
  return JSON.parse(await response.Body!.transformToString('utf8')) as ErasureReport;
}

/** The privacy key's current value and, when the secret has one, its previous value. */
export async function loadSecretKeys(secrets: Pick<SecretsManagerClient, 'send'>, secretId: string): Promise<string[]> {
  const current = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (typeof current.SecretString !== 'string') throw new Error(`the secret ${secretId} has no SecretString`);
  const keys = [checkedKey(current.SecretString, `the secret ${secretId}`)];
  try {
    const previous = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }));
    if (typeof previous.SecretString === 'string' && previous.SecretString.trim().length >= MIN_KEY_CHARS) keys.push(previous.SecretString.trim());
  } catch (error: any) {
    if (error?.name !== 'ResourceNotFoundException') throw error;
  }
  return keys;
}

/** Raw bucket, job and secret: from the stack's outputs, unless given. */
export async function resolveTargets(options: EraseOptions, cfn: Pick<CloudFormationClient, 'send'>): Promise<{ rawBucket: string; jobName: string; secretId: string }> {
  let outputs: Record<string, string> = {};
  if (!options.rawBucket || !options.jobName || !options.secretId) {
    const described = await cfn.send(new DescribeStacksCommand({ StackName: options.stack }));
    outputs = Object.fromEntries((described.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  }
  const pick = (given: string | undefined, output: string, flag: string): string => {
    const value = given ?? outputs[output];
    if (!value) throw new UsageError(`the stack ${options.stack} has no output ${output}; pass ${flag}`);
    return value;
  };
  return {
    rawBucket: pick(options.rawBucket, 'RawEventsBucketName', '--raw-bucket'),
    jobName: pick(options.jobName, 'GlueJobName', '--job-name'),
    secretId: pick(options.secretId, 'PrivacyKeySecretArn', '--secret-id'),
  };
}

export interface AwsEraseDeps {
  readonly s3: S3Client;
  readonly glue: GlueSender;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly cfn: Pick<CloudFormationClient, 'send'>;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** @default 8 random hex digits */
  readonly random?: () => string;
}

/** The AWS erasure: record, request, a Glue run in erasure mode, the report. Returns the exit code. */
export async function eraseInAws(options: EraseOptions, deps: AwsEraseDeps): Promise<number> {
  const targets = await resolveTargets(options, deps.cfn);
  const keys = await loadSecretKeys(deps.secrets, targets.secretId);
  const hashes = hashesByUser(options.userIds, keys);
  const now = new Date(deps.now());
  const requestId = newRequestId(now, deps.random);
  const store = { s3: deps.s3, bucket: targets.rawBucket };
  await recordAndRequest(store, hashes, now, requestId);
  deps.log(`erasure ${requestId}: ${options.userIds.length} user IDs (${keys.length} key version${keys.length > 1 ? 's' : ''}) in the erasure record`);
  if (options.settleSeconds > 0) {
    // The ingest function re-reads the record at most this often: after it, nothing old of these users is stored again.
    deps.log(`waiting ${options.settleSeconds} s for the ingest function to see the erasure record`);
    await deps.sleep(options.settleSeconds * 1000);
  }
  const code = await startJobRun({
    jobName: targets.jobName,
    region: options.region,
    wait: true,
    waitMinutes: options.waitMinutes,
    description: `erasure ${requestId}`,
    jobArguments: {
      '--mode': 'erase',
      '--erase_request': `s3://${targets.rawBucket}/${REQUESTS_PREFIX}${requestId}.json`,
      '--quarantine_uri': `s3://${targets.rawBucket}/quarantine`,
      '--privacy_key_secret_id': targets.secretId,
    },
  }, { glue: deps.glue, log: deps.log, sleep: deps.sleep, now: deps.now });
  if (code !== 0) {
    if (code === 1) deps.log('the erasure did not finish: run the same command again (it finishes the job; nothing is erased twice)');
    return code;
  }
  formatReport(await readReport(store, requestId), hashes).forEach((line) => deps.log(line));
  return 0;
}

export interface LocalEraseDeps {
  readonly s3: S3Client;
  readonly rawBucket: string;
  /** Path of the local key file (created when missing). */
  readonly keyFile: string;
  /** Runs the job with these extra arguments on local Spark (local/stages.ts, runAggregateStage). */
  readonly runJob: (jobArguments: readonly string[]) => Promise<void>;
  /** Delivers the notifications of the recomputed dates' aggregate objects to the local indexer. */
  readonly reindex: (dates: readonly string[]) => Promise<void>;
  readonly log: (line: string) => void;
  readonly now: () => number;
  readonly random?: () => string;
}

/** The local erasure: same record, request and job mode, on local Spark against the local S3 server. */
export async function eraseLocally(options: EraseOptions, deps: LocalEraseDeps): Promise<number> {
  const key = checkedKey(readFileSync(deps.keyFile, 'utf8'), deps.keyFile);
  const hashes = hashesByUser(options.userIds, [key]);
  const now = new Date(deps.now());
  const requestId = newRequestId(now, deps.random);
  const store = { s3: deps.s3, bucket: deps.rawBucket };
  await recordAndRequest(store, hashes, now, requestId);
  deps.log(`erasure ${requestId}: ${options.userIds.length} user IDs in the erasure record; running the job on local Spark`);
  try {
    await deps.runJob([
      '--mode', 'erase',
      '--erase_request', `s3a://${deps.rawBucket}/${REQUESTS_PREFIX}${requestId}.json`,
      '--quarantine_uri', `s3a://${deps.rawBucket}/quarantine`,
      '--privacy_key_file', deps.keyFile,
    ]);
  } catch (error) {
    deps.log(`ERROR: ${(error as Error).message}`);
    deps.log('the erasure did not finish: run the same command again (it finishes the job; nothing is erased twice)');
    return 1;
  }
  const report = await readReport(store, requestId);
  await deps.reindex(report.dates_recomputed);
  formatReport(report, hashes).forEach((line) => deps.log(line));
  return 0;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: EraseOptions;
  try {
    options = parseEraseArguments(argv, env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const log = (line: string) => console.log(line);
  if (options.local) {
    const local = await import('./erase-local');
    return eraseLocally(options, await local.localEraseDeps(log));
  }
  const region = options.region ? { region: options.region } : {};
  return eraseInAws(options, {
    s3: new S3Client(region),
    glue: new GlueClient(region),
    secrets: new SecretsManagerClient(region),
    cfn: new CloudFormationClient(region),
    log,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error) => { console.error(error instanceof Error ? error.message : error); process.exitCode = 1; },
  );
}
