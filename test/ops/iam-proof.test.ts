/**
 * IAM proven by the code's own calls. The ingest, indexer and search-provisioner code and the
 * Spark job run on a small generated stream against the real local engines (Kafka, the S3
 * server, the security-enabled OpenSearch node, local Spark), configured as the synthesized
 * stack configures them in AWS: the functions' environment, the provisioner's properties and the
 * job's arguments come from the template. Every AWS call they make is recorded
 * (test/support/aws-call-recorder.ts): an SDK middleware on the S3 clients their cores are given,
 * the OpenSearch clients' request events (each request is an `es:ESHttp*` call), and a recording
 * proxy in front of the S3 server for the job's s3a connector. Each call becomes the IAM
 * authorizations AWS makes for it, is given to the role that makes it in AWS (the function's
 * execution role, the Glue job role), and is evaluated by @cloud-copilot/iam-simulate against the
 * role's synthesized identity policies and the resource's policy (bucket policy, key policy,
 * domain access policy), resources resolved to the ARNs of a deployment (test/support/iam-template.ts),
 * in the dev and the prod template. Any denied call fails; granted actions no call exercised are
 * printed. docs/operations.md, "IAM proof", says what this covers and what it cannot.
 */
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'ClickstreamPipelineTest';

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Client } from '@opensearch-project/opensearch';
import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { IndexerConfig, processBatch } from '../../lambdas/indexer/core';
import { allAliases, tableAliases } from '../../lambdas/indexer/tables';
import { createIngestHandler, dependenciesFromEnv } from '../../lambdas/ingest/batch';
import { AUDIT_CONFIG_PATH } from '../../lambdas/search-provisioner/audit';
import { configFromProperties, provisionSearch } from '../../lambdas/search-provisioner/core';
import { s3ClientFromEnv } from '../../lambdas/shared/s3';
import { provisionDashboards } from '../../lambdas/search-provisioner/dashboards';
import { runAggregateJob } from '../../local/glue-job';
import { generateClicks } from '../../local/generator';
import { MskPoller } from '../../local/msk-poller';
import { LocalS3Notifier } from '../../local/s3-notifier';
import { savedObjectsNdjson } from '../../opensearch/saved-objects';
import { hashesByUser, newRequestId, recordAndRequest, REPORTS_PREFIX, REQUESTS_PREFIX } from '../../scripts/erase';
import { recordingTelemetry } from '../indexer/fixtures';
import { closeKafka, connectKafka, createTopic, produce, type KafkaKit } from '../ingest/engines';
import { dashboardsStub, type DashboardsStub } from '../search/dashboards-stub';
import {
  openSearchAuthorization,
  RecordingS3Proxy,
  recordOpenSearchClient,
  recordS3Client,
  s3Authorizations,
  type AuthorizationRequest,
  type AwsCall,
  type S3Call,
} from '../support/aws-call-recorder';
import { ensureDashboardsUserRole } from '../support/opensearch-secure';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, stackEnv, uniqueName, type LocalEndpoints } from '../support/engines';
import { ConcreteTemplate, evaluate, exercises, grantsOf, type Evaluation, type Grant } from '../support/iam-template';
import { pipelineApp } from './pipeline-app';

/** The code that makes AWS calls, each run by one role in AWS. */
type Caller = 'ingest' | 'indexer' | 'provisioner' | 'job';
const CALLERS: readonly Caller[] = ['ingest', 'indexer', 'provisioner', 'job'];
const STAGES = ['dev', 'prod'] as const;
type Stage = (typeof STAGES)[number];

const ACCOUNT = '123456789012';

interface Deployment {
  readonly template: ConcreteTemplate;
  /** Logical id of the role each caller runs as. */
  readonly roles: Record<Caller, string>;
  readonly domainArn: string;
  readonly aliasPrefix: string;
  /** The functions' environment variables, resolved. */
  readonly ingestEnv: Record<string, string>;
  readonly indexerEnv: Record<string, string>;
  readonly provisionerProperties: Record<string, unknown>;
  readonly jobArguments: Record<string, string>;
}

let endpoints: LocalEndpoints;
let kit: KafkaKit | undefined;
let proxy: RecordingS3Proxy | undefined;
let dashboards: DashboardsStub | undefined;
const openSearchClients: Client[] = [];
const names = {
  raw: uniqueName('iam-raw'),
  aggregates: uniqueName('iam-agg'),
  topic: uniqueName('iam-proof'),
  aliasPrefix: uniqueName('iam-proof'),
};
const deployments = new Map<Stage, Deployment>();
const calls: Record<Caller, AwsCall[]> = { ingest: [], indexer: [], provisioner: [], job: [] };
const evaluations = new Map<Stage, Record<Caller, Evaluation[]>>();
let auditConfigBefore: unknown;
let erasedUser = '';
let keyFile: string | undefined;
let sparkConfDir: string | undefined;
/** How long each part of the run took, printed for whoever wonders why the file takes minutes. */
const phases: string[] = [];
async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await run();
  } finally {
    phases.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
let admin: Client | undefined;

/** The stack as `cdk synth` makes it for a stage, made concrete with the local buckets' names. */
function deploymentOf(stage: Stage): Deployment {
  const { stack } = pipelineApp({ stage });
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.resolve((construct.node.defaultChild as CfnRole).logicalId) as string;
  const roleId = (role: IRole | undefined) => {
    if (!role) throw new Error('a caller has no role');
    return logicalId(role as unknown as { node: { defaultChild?: unknown } });
  };
  const bucketId = (bucket: { node: { defaultChild?: unknown } }) => logicalId(bucket);
  const template = new ConcreteTemplate(Template.fromStack(stack).toJSON(), {
    account: ACCOUNT,
    region: endpoints.region,
    stackName: stack.stackName,
    physicalNames: { [bucketId(stack.rawEventsBucket)]: names.raw, [bucketId(stack.aggregatesBucket)]: names.aggregates },
  });
  const functionEnv = (fn: { node: { defaultChild?: unknown } }) =>
    (template.properties(logicalId(fn)).Environment?.Variables ?? {}) as Record<string, string>;
  const provisioning = template.logicalIds('Custom::OpenSearchServing');
  const jobs = template.logicalIds('AWS::Glue::Job');
  if (provisioning.length !== 1 || jobs.length !== 1) throw new Error('expected one provisioning resource and one Glue job');
  return {
    template,
    roles: {
      ingest: roleId(stack.ingest.ingestFunction.role),
      indexer: roleId(stack.indexing.indexerFunction.role),
      provisioner: roleId(stack.searchDomain.provisionerFunction.role),
      job: roleId(stack.processing.jobRole),
    },
    domainArn: template.resolve(stack.resolve(stack.searchDomain.domain.domainArn)),
    aliasPrefix: stack.searchDomain.aliasPrefix,
    ingestEnv: functionEnv(stack.ingest.ingestFunction),
    indexerEnv: functionEnv(stack.indexing.indexerFunction),
    provisionerProperties: template.properties(provisioning[0]),
    jobArguments: template.properties(jobs[0]).DefaultArguments,
  };
}

/** The local stand-in of a deployed S3 URI (s3a:// for local Spark). */
const localUri = (uri: string) => uri.replace(/^s3:\/\//, 's3a://');

/** Requests under the local alias prefix are made under the deployed one in AWS. */
function deployedPath(path: string, deployment: Deployment): string {
  return path.split(names.aliasPrefix).join(deployment.aliasPrefix);
}

function authorizationsOf(call: AwsCall, deployment: Deployment): AuthorizationRequest[] {
  const requests = call.service === 's3'
    ? s3Authorizations(call, deployment.template.partition)
    : [openSearchAuthorization({ ...call, path: deployedPath(call.path, deployment) }, deployment.domainArn)];
  return requests.flatMap((request) => [request, ...deployment.template.keyRequestsFor(request)]);
}

const describe_ = (e: Evaluation) => `${e.result}: ${e.request.action} on ${e.request.resource} (${e.request.because})${
  Object.keys(e.request.context).length ? ` context ${JSON.stringify(e.request.context)}` : ''}`;

/** Distinct authorization requests (the same action, resource and context evaluate alike). */
function distinct(requests: AuthorizationRequest[]): AuthorizationRequest[] {
  const seen = new Map<string, AuthorizationRequest>();
  for (const r of requests) {
    const key = `${r.action} ${r.resource} ${JSON.stringify(r.context)}`;
    if (!seen.has(key)) seen.set(key, r);
  }
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------------------
// The pipeline, recorded

async function provision(deployment: Deployment): Promise<void> {
  const secure = endpoints.openSearchSecure;
  // The domain's master user (the provisioner's role) is all_access and security_manager, as the node's admin.
  admin = new Client({ node: secure.endpoint, auth: { username: secure.adminUser, password: secure.adminPassword }, maxRetries: 0, requestTimeout: 60_000 });
  openSearchClients.push(admin);
  // The node is shared: the audit configuration is put back afterwards.
  auditConfigBefore = ((await admin.transport.request({ method: 'GET', path: '/_plugins/_security/api/audit' })).body as { config: unknown }).config;
  // A fresh node lacks AWS's predefined role that the provisioner maps.
  await ensureDashboardsUserRole(admin);

  const client = new Client({ node: secure.endpoint, auth: { username: secure.adminUser, password: secure.adminPassword }, maxRetries: 0, requestTimeout: 60_000 });
  openSearchClients.push(client);
  recordOpenSearchClient(client, (call) => calls.provisioner.push(call));
  const properties = { ...deployment.provisionerProperties, AliasPrefix: names.aliasPrefix, Replicas: '0' };
  const config = configFromProperties(properties);
  expect(config).toMatchObject({ configureSecurity: true, importDashboards: true, auditLogs: true });
  const retry = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 1000 };
  // Dashboards has no local engine: its API calls go to the Dashboards stand-in below.
  await provisionSearch(client, { ...config, importDashboards: false, retry });

  dashboards = await dashboardsStub();
  const dashboardsClient = new Client({ node: dashboards.url, maxRetries: 0 });
  openSearchClients.push(dashboardsClient);
  recordOpenSearchClient(dashboardsClient, (call) => calls.provisioner.push(call));
  await provisionDashboards(dashboardsClient, savedObjectsNdjson(tableAliases(names.aliasPrefix)), { retry });
}

async function ingest(deployment: Deployment): Promise<void> {
  kit = await connectKafka(endpoints.kafkaBrokers);
  await createTopic(kit, names.topic, 2);
  const messages = generateClicks({ count: 300, seed: 'iam-proof', days: 2, partitions: 2, malformedRate: 0.03 });
  erasedUser = (JSON.parse(messages.find((m) => m.kind === 'valid')!.value.toString('utf8')) as { user_id: string }).user_id;
  const until = await produce(kit, names.topic, messages.map((m) => ({ partition: m.partition, key: m.key ?? undefined, value: m.value })));

  // The function's environment as deployed, with the local bucket and S3 server.
  const env = { ...deployment.ingestEnv, RAW_BUCKET: names.raw, S3_ENDPOINT: endpoints.s3Endpoint, AWS_REGION: endpoints.region };
  const deps = dependenciesFromEnv(env);
  recordS3Client(deps.s3, (call) => calls.ingest.push(call));
  const handler = createIngestHandler({ ...deps, logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics() });
  const poller = new MskPoller({
    brokers: endpoints.kafkaBrokers,
    topic: names.topic,
    groupId: `${names.topic}-ingest`,
    handler: (event) => handler(event),
    batchSize: 100,
    maximumBatchingWindowMs: 200,
    retryAttempts: 0,
    onFailure: (record) => {
      throw new Error(`an ingest batch failed: ${JSON.stringify(record).slice(0, 500)}`);
    },
  });
  await poller.start();
  try {
    const stats = await poller.waitUntil(until, 120_000);
    expect(stats.recordsHandled).toBe(messages.length);
  } finally {
    await poller.stop();
    deps.s3.destroy();
  }
}

/**
 * Runs the Glue script on local Spark with the job's arguments as deployed, recording its S3
 * requests. The s3a connector keeps directory markers (`fs.s3a.directory.marker.retention=keep`,
 * through a spark-defaults.conf of its own): by default it deletes the empty-folder objects of the
 * parents of every file it writes (`events/`, `state/`, ...), housekeeping of s3a that Glue's own
 * connector does not do, and that the job role is not granted (docs/operations.md, "IAM proof").
 */
async function runJob(deployment: Deployment, extraArguments: string[] = []) {
  proxy ??= await RecordingS3Proxy.start(endpoints.s3Endpoint);
  if (!sparkConfDir) {
    sparkConfDir = mkdtempSync(join(tmpdir(), 'iam-proof-spark-'));
    writeFileSync(join(sparkConfDir, 'spark-defaults.conf'), 'spark.hadoop.fs.s3a.directory.marker.retention keep\n');
  }
  const args = deployment.jobArguments;
  const before = proxy.calls.length;
  const summary = await runAggregateJob({
    rawUri: localUri(args['--raw_uri']),
    outputUri: localUri(args['--output_uri']),
    stateUri: localUri(args['--state_uri']),
    sessionGapMinutes: Number(args['--session_gap_minutes']),
    lookbackDays: args['--lookback_days'] === undefined ? undefined : Number(args['--lookback_days']),
    jobArguments: extraArguments,
    env: { S3_ENDPOINT: proxy.endpoint, SPARK_CONF_DIR: sparkConfDir },
    timeoutMs: 10 * 60_000,
  });
  expect(proxy.unknown).toEqual([]);
  calls.job.push(...proxy.calls.slice(before));
  return summary;
}

async function aggregate(deployment: Deployment): Promise<void> {
  const summary = await runJob(deployment);
  expect(summary.datesWritten.length).toBeGreaterThan(0);
}

/**
 * The job's erasure mode, as `npm run erase` starts it in AWS (scripts/erase.ts): the operator
 * writes the erasure record and request (not recorded: the operator's own permissions), then the
 * job rewrites the raw zone and the quarantine without the user and recomputes the user's dates.
 * Locally the key comes from a file instead of `--privacy_key_secret_id`.
 */
async function erase(deployment: Deployment, userId: string): Promise<void> {
  const key = randomBytes(32).toString('hex');
  keyFile = join(mkdtempSync(join(tmpdir(), 'iam-proof-')), 'privacy-key');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const now = new Date();
  const requestId = newRequestId(now);
  await recordAndRequest({ s3: s3Client(), bucket: names.raw }, hashesByUser([userId], [key]), now, requestId);
  await runJob(deployment, [
    '--mode', 'erase',
    '--erase_request', `s3a://${names.raw}/${REQUESTS_PREFIX}${requestId}.json`,
    '--quarantine_uri', `s3a://${names.raw}/quarantine`,
    '--privacy_key_file', keyFile,
  ]);
  const report = await s3Client().send(new GetObjectCommand({ Bucket: names.raw, Key: `${REPORTS_PREFIX}${requestId}.json` }));
  expect(JSON.parse(await report.Body!.transformToString()).request_id).toBe(requestId);
}

async function index(deployment: Deployment): Promise<void> {
  const env = deployment.indexerEnv;
  const test = s3Client();
  const listed = await test.send(new ListObjectsV2Command({ Bucket: names.aggregates, Prefix: env.AGGREGATES_PREFIX }));
  const parts = (listed.Contents ?? []).map((o) => o.Key!).filter((key) => key.endsWith('.json'));
  expect(parts.length).toBeGreaterThan(0);
  // Two notifications the indexer meets in AWS too: an object a newer run already replaced (gone,
  // S3 answers 404) and an object with a malformed row (reported under the errors prefix).
  const someDate = /event_date=([0-9-]+)\//.exec(parts[0])![1];
  const replaced = `${env.AGGREGATES_PREFIX}url_country_daily/event_date=${someDate}/part-00000-replaced-by-a-newer-run.json`;
  const malformed = `${env.AGGREGATES_PREFIX}url_country_daily/event_date=${someDate}/part-99999-malformed.json`;
  const good = (await test.send(new ListObjectsV2Command({ Bucket: names.aggregates, Prefix: `${env.AGGREGATES_PREFIX}url_country_daily/event_date=${someDate}/` })))
    .Contents!.map((o) => o.Key!).find((key) => key.endsWith('.json') && key !== malformed)!;
  const firstLine = (await (await test.send(new GetObjectCommand({ Bucket: names.aggregates, Key: good }))).Body!.transformToString()).split('\n')[0];
  await test.send(new PutObjectCommand({ Bucket: names.aggregates, Key: malformed, Body: `${firstLine}\n{"page_url": 42}\n` }));

  const deps = {
    s3: s3ClientFromEnv({ S3_ENDPOINT: endpoints.s3Endpoint, AWS_REGION: endpoints.region }),
    openSearch: new Client({
      node: endpoints.openSearchSecure.endpoint,
      auth: { username: endpoints.openSearchSecure.adminUser, password: endpoints.openSearchSecure.adminPassword },
      maxRetries: 0,
      requestTimeout: 60_000,
    }),
    // As lambdas/indexer/handler.ts reads it from the function's environment.
    config: {
      aliasPrefix: names.aliasPrefix,
      aggregatesPrefix: env.AGGREGATES_PREFIX,
      errorsPrefix: env.ERRORS_PREFIX,
      bulk: env.BULK_CONCURRENCY ? { concurrency: Number(env.BULK_CONCURRENCY) } : undefined,
    } satisfies IndexerConfig,
    telemetry: recordingTelemetry(),
  };
  expect(env.OPENSEARCH_ALIAS_PREFIX).toBe(deployment.aliasPrefix);
  openSearchClients.push(deps.openSearch);
  recordS3Client(deps.s3, (call) => calls.indexer.push(call));
  recordOpenSearchClient(deps.openSearch, (call) => calls.indexer.push(call));
  const notifier = new LocalS3Notifier({
    handler: async (event) => processBatch(deps, event),
    bucket: names.aggregates,
    region: endpoints.region,
    maxReceiveCount: 1,
  });
  const result = await notifier.notify([...parts, replaced, malformed]);
  deps.s3.destroy();
  expect(result.deadLettered).toEqual([]);
}

beforeAll(async () => {
  endpoints = await phase('engines', () => ensureEngines(['kafka', 's3', 'opensearch-secure', 'spark']));
  // The SDK's default credential chain (the functions' clients) finds the local stack's keys.
  const env = stackEnv();
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  for (const stage of STAGES) deployments.set(stage, deploymentOf(stage));
  await createBucket(names.raw);
  await createBucket(names.aggregates);

  // The provisioner runs with the prod settings (audit logging on); the others' settings do not differ by stage.
  const prod = deployments.get('prod')!;
  await phase('provisioner', () => provision(prod));
  await phase('ingest', () => ingest(prod));
  await phase('Spark job', () => aggregate(prod));
  await phase('indexer', () => index(prod));
  await phase('Spark job, erasure mode', () => erase(prod, erasedUser));
  // eslint-disable-next-line no-console
  console.log(`IAM proof run: ${phases.join(', ')}`);

  for (const [stage, deployment] of deployments) {
    const byCaller = {} as Record<Caller, Evaluation[]>;
    for (const caller of CALLERS) {
      const requests = distinct(calls[caller].flatMap((call) => authorizationsOf(call, deployment)));
      byCaller[caller] = await Promise.all(requests.map((request) => evaluate(deployment.template, deployment.roles[caller], request)));
    }
    evaluations.set(stage, byCaller);
  }
}, ENGINE_START_TIMEOUT_MS + 15 * 60_000);

afterAll(async () => {
  await proxy?.stop();
  await dashboards?.close();
  await closeKafka(kit);
  if (keyFile) rmSync(dirname(keyFile), { recursive: true, force: true });
  if (sparkConfDir) rmSync(sparkConfDir, { recursive: true, force: true });
  if (admin && auditConfigBefore) {
    await admin.transport.request({ method: 'PUT', path: AUDIT_CONFIG_PATH, body: auditConfigBefore as Record<string, unknown> }).catch(() => undefined);
  }
  if (admin) {
    for (const alias of allAliases(names.aliasPrefix)) {
      await admin.transport.request({ method: 'DELETE', path: `/${alias}-v*` }, { ignore: [404] }).catch(() => undefined);
      await admin.transport.request({ method: 'DELETE', path: `/_index_template/${alias}` }, { ignore: [404] }).catch(() => undefined);
    }
  }
  await Promise.all(openSearchClients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([names.raw, names.aggregates].map((b) => emptyBucket(b).catch(() => undefined)));
});

describe.each(STAGES)('the %s template', (stage) => {
  test.each(CALLERS)('allows every call the %s code made to the role that makes it in AWS', (caller) => {
    const results = evaluations.get(stage)![caller];
    const denied = results.filter((e) => e.result !== 'Allowed');
    if (denied.length > 0) {
      throw new Error(`${denied.length} of ${results.length} ${caller} authorizations are not allowed to ${deployments.get(stage)!.roles[caller]}:\n${denied.map(describe_).join('\n')}`);
    }
    expect(results.length).toBeGreaterThan(0);
  });

  test('prints the granted actions no call exercised', () => {
    const deployment = deployments.get(stage)!;
    const lines: string[] = [];
    for (const caller of CALLERS) {
      const allowed = evaluations.get(stage)![caller].filter((e) => e.result === 'Allowed').map((e) => e.request);
      const unused = grantsOf(deployment.template, deployment.roles[caller]).filter((grant: Grant) => !allowed.some((request) => exercises(grant, request)));
      lines.push(`${caller} (${deployment.roles[caller]}): ${allowed.length} distinct authorizations allowed; granted, not exercised here:`);
      for (const grant of unused) lines.push(`  ${grant.action} on ${grant.resource}${grant.sid ? ` [${grant.sid}]` : ''}`);
    }
    // eslint-disable-next-line no-console
    console.log(`IAM proof, ${stage} template:\n${lines.join('\n')}`);
    expect(lines.length).toBeGreaterThan(CALLERS.length);
  });
});

describe('the recording', () => {
  const s3 = (caller: Caller) => calls[caller].filter((c): c is S3Call => c.service === 's3');
  const es = (caller: Caller) => calls[caller].flatMap((c) => (c.service === 'es' ? [`${c.method} ${c.path}`] : []));

  test('saw the calls each part of the pipeline is known to make', () => {
    const ops = (caller: Caller) => new Set(s3(caller).map((c) => c.operation));
    expect(s3('ingest').some((c) => c.operation === 'PutObject' && c.key!.startsWith('events/'))).toBe(true);
    expect(s3('ingest').some((c) => c.operation === 'PutObject' && c.key!.startsWith('quarantine/'))).toBe(true);
    // The erasure record is read before each batch; none exists here, so S3 answered 404.
    expect(s3('ingest').some((c) => c.operation === 'GetObject' && c.status === 404)).toBe(true);
    expect([...ops('job')]).toEqual(expect.arrayContaining(['ListObjectsV2', 'GetObject', 'PutObject']));
    expect(s3('job').some((c) => c.bucket === names.raw && c.operation === 'GetObject' && c.key!.startsWith('events/'))).toBe(true);
    // The erasure mode rewrites raw objects in place and writes its report.
    expect(s3('job').some((c) => c.bucket === names.raw && c.operation === 'PutObject' && c.key!.startsWith('events/'))).toBe(true);
    expect(s3('job').some((c) => c.bucket === names.raw && c.operation === 'PutObject' && c.key!.startsWith(REPORTS_PREFIX))).toBe(true);
    expect(s3('indexer').some((c) => c.operation === 'GetObject' && c.status === 404)).toBe(true);
    expect(s3('indexer').some((c) => c.operation === 'PutObject' && c.key!.startsWith(deployments.get('prod')!.indexerEnv.ERRORS_PREFIX))).toBe(true);
    expect(es('indexer').some((line) => / \/[^/]+\/_bulk$/.test(line))).toBe(true);
    expect(es('provisioner').some((line) => line.startsWith('PUT /_plugins/_security/api/roles/'))).toBe(true);
    expect(es('provisioner')).toContain(`PUT ${AUDIT_CONFIG_PATH}`);
    expect(es('provisioner')).toContain('POST /_dashboards/api/saved_objects/_import');
  });

  test('the evaluation denies what the roles are not granted (a check that can fail)', async () => {
    const deployment = deployments.get('prod')!;
    const { template, roles } = deployment;
    const denied = async (caller: Caller, request: AuthorizationRequest) => (await evaluate(template, roles[caller], request)).result;
    const rawKey = s3('ingest').find((c) => c.operation === 'PutObject')!.key!;
    // The ingest function writes the raw zone but never deletes from it nor reads it.
    expect(await denied('ingest', s3Authorizations({ service: 's3', operation: 'DeleteObject', bucket: names.raw, key: rawKey, status: 204 })[0])).toBe('ImplicitlyDenied');
    expect(await denied('ingest', s3Authorizations({ service: 's3', operation: 'GetObject', bucket: names.raw, key: rawKey, status: 200 })[0])).toBe('ImplicitlyDenied');
    // The indexer only posts to its aliases.
    expect(await denied('indexer', openSearchAuthorization({ service: 'es', method: 'PUT', path: `/${deployment.aliasPrefix}-url-country-daily/_settings` }, deployment.domainArn))).toBe('ImplicitlyDenied');
    expect(await denied('indexer', openSearchAuthorization({ service: 'es', method: 'POST', path: '/_plugins/_security/api/roles/x' }, deployment.domainArn))).toBe('ImplicitlyDenied');
    // The bucket policy refuses plain HTTP whatever the role may do.
    const plain = { ...s3Authorizations({ service: 's3', operation: 'PutObject', bucket: names.raw, key: rawKey, status: 200 })[0] };
    expect(await denied('ingest', { ...plain, context: { ...plain.context, 'aws:SecureTransport': 'false' } })).toBe('ExplicitlyDenied');
    // The job lists the raw zone only under its events prefix.
    expect(await denied('job', s3Authorizations({ service: 's3', operation: 'ListObjectsV2', bucket: names.raw, prefix: 'erasure/', status: 200 })[0])).toBe('ImplicitlyDenied');
  });
});
