/**
 * `npm run smoke`: the smoke test's steps against a deployed stack. It reads the stack's outputs,
 * produces the marked clicks to the MSK topic (IAM authentication, the topic resource's own token
 * code: lambdas/ingest/topic/msk-iam.ts), waits for them in the raw zone, starts a Glue run for
 * today (scripts/job-start.ts) and waits for it, then waits for the rows of each of the five
 * tables in OpenSearch (SigV4, lambdas/shared/opensearch-client.ts) and compares them with what it
 * sent (scripts/deploy/smoke-core.ts: exactly in the three tables whose rows carry the marker, as
 * lower bounds in the two whose rows it shares with other traffic). On a failure it names the step
 * and the log group to read (the stack's outputs).
 *
 * It removes nothing: its clicks stay in the raw zone and so in the figures of their date (page
 * host `smoke.example.com`, users `<marker>-u<n>`, campaign and city `<marker>`); a recomputation
 * of the date would bring back any row deleted from the index.
 *
 * Where it must run, and with which rights: docs/deploy.md, "Smoke test".
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GlueClient } from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Kafka, logLevel } from 'kafkajs';
import { gunzipSync } from 'zlib';
import { getBootstrapBrokers, mskIamAuthToken } from '../../lambdas/ingest/topic/msk-iam';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';
import { startJobRun } from '../job-start';
import { DEFAULT_ALIAS_PREFIX, TABLE_NAMES, tableAlias } from '../../lambdas/indexer/tables';
import { compareTable, planSmoke, runSmoke, waitFor, type PlanOptions, type SmokePlan, type SmokeReport, type SmokeStep } from './smoke-core';
import { selectionIsExact, servedTableRows, type TableSelection } from './smoke-served';

export const STACK_NAME = 'ClickstreamPipelineStack';

/** The outputs the smoke test reads (lib/clickstream-pipeline-stack.ts). */
export const REQUIRED_OUTPUTS = [
  'MskClusterArn', 'KafkaTopic', 'IngestLogGroupName', 'RawEventsBucketName', 'FailedBatchesBucketName', 'GlueJobName',
  'GlueJobOutputLogGroupName', 'GlueJobErrorLogGroupName', 'OpenSearchDomainEndpoint', 'IndexerLogGroupName', 'IndexerDeadLetterQueueUrl',
] as const;
export type StackOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string>;

export async function readStackOutputs(cloudFormation: CloudFormationClient, stackName = STACK_NAME): Promise<StackOutputs> {
  const stack = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const missing = REQUIRED_OUTPUTS.filter((k) => !outputs[k]);
  if (missing.length > 0) throw new Error(`stack ${stackName} has no output ${missing.join(', ')} (is it deployed from this version?)`);
  return outputs as StackOutputs;
}

export interface AwsSmokeOptions extends PlanOptions {
  readonly region: string;
  readonly stackName?: string;
  /** Prefix of the tables' aliases (lambdas/indexer/tables.ts). @default DEFAULT_ALIAS_PREFIX */
  readonly aliasPrefix?: string;
  /** How long to wait for the raw zone and for the served rows, each. @default 10 minutes */
  readonly waitMinutes?: number;
  readonly log?: (line: string) => void;
}

export async function runAwsSmoke(options: AwsSmokeOptions): Promise<{ plan: SmokePlan; report: SmokeReport }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const plan = planSmoke(options);
  const region = options.region;
  const credentials = defaultProvider();
  const waitMs = (options.waitMinutes ?? 10) * 60_000;
  const aliasPrefix = options.aliasPrefix ?? DEFAULT_ALIAS_PREFIX;
  const since = Date.now() - 60_000;
  // Rows of the tables no click can mark count only when computed after the job run began (less a
  // margin for the clocks of this machine and of Glue).
  let jobStarted = Date.now();
  let outputs: StackOutputs | undefined;
  const out = () => outputs as StackOutputs;
  log(`smoke test of ${options.stackName ?? STACK_NAME} in ${region}: ${plan.clicks.length} clicks marked ${plan.marker}, event date ${plan.date}`);

  const s3 = new S3Client({ region });
  const os = () => createOpenSearchClient({ endpoint: out().OpenSearchDomainEndpoint, auth: 'sigv4', region });
  const steps: SmokeStep[] = [
    {
      name: 'stack outputs',
      logs: `aws cloudformation describe-stacks --stack-name ${options.stackName ?? STACK_NAME}`,
      run: async () => {
        outputs = await readStackOutputs(new CloudFormationClient({ region }), options.stackName);
        return `topic ${out().KafkaTopic}, job ${out().GlueJobName}, domain ${out().OpenSearchDomainEndpoint}`;
      },
    },
    {
      name: 'produce',
      logs: 'this command\'s output: the producer must run inside the VPC, in a security group the cluster admits on 9098, with kafka-cluster:Connect/DescribeTopic/WriteData',
      run: async () => {
        const brokers = await getBootstrapBrokers({ region, clusterArn: out().MskClusterArn, credentials: await credentials() });
        const kafka = new Kafka({
          clientId: `clickstream-smoke-${plan.marker}`,
          brokers,
          ssl: true,
          sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await mskIamAuthToken({ region, credentials: await credentials() })).token }) },
          logLevel: logLevel.ERROR,
          retry: { retries: 5, initialRetryTime: 500, maxRetryTime: 10_000 },
        });
        const producer = kafka.producer({ allowAutoTopicCreation: false });
        await producer.connect();
        try {
          await producer.send({
            topic: out().KafkaTopic,
            acks: -1,
            messages: plan.clicks.map((c) => ({ key: c.key, value: c.value, timestamp: String(c.timestamp) })),
          });
        } finally {
          await producer.disconnect();
        }
        return `${plan.clicks.length} clicks to ${out().KafkaTopic} (${brokers.length} bootstrap brokers)`;
      },
    },
    {
      name: 'raw zone',
      logs: 'log group ${IngestLogGroupName}; failed batches in s3://${FailedBatchesBucketName}',
      run: async () => {
        let seen = 0;
        await waitFor(`all ${plan.clicks.length} clicks in s3://${out().RawEventsBucketName}/events/dt=${plan.date}/`, waitMs, async () => {
          seen = await markedRawEvents(s3, out().RawEventsBucketName, plan, since);
          return seen >= plan.clicks.length ? seen : undefined;
        }).catch((error: Error) => { throw new Error(`${error.message}; ${seen} found`); });
        if (seen !== plan.clicks.length) throw new Error(`${seen} events stored for ${plan.clicks.length} clicks sent`);
        return `${seen} events in s3://${out().RawEventsBucketName}/events/dt=${plan.date}/`;
      },
    },
    {
      name: 'aggregate',
      logs: 'log groups ${GlueJobOutputLogGroupName} and ${GlueJobErrorLogGroupName}, streams named after the run id',
      run: async () => {
        jobStarted = Date.now();
        const lines: string[] = [];
        const code = await startJobRun(
          { jobName: out().GlueJobName, dates: plan.date, region, wait: true, waitMinutes: 60 },
          { glue: new GlueClient({ region }), log: (line) => { lines.push(line); log(`  ${line}`); }, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), now: Date.now },
        );
        if (code !== 0) throw new Error(lines.filter((l) => /ERROR|still/.test(l)).join('; ') || `job:start ended with ${code}`);
        return `run of ${out().GlueJobName} for ${plan.date} succeeded`;
      },
    },
    ...TABLE_NAMES.map((table): SmokeStep => {
      const alias = tableAlias(table, aliasPrefix);
      return {
        name: `served ${table}`,
        logs: 'log group ${IndexerLogGroupName}; messages that failed every retry in ${IndexerDeadLetterQueueUrl}',
        run: async () => {
          const client = os();
          const selection: TableSelection = { table, shared: true, computedSince: new Date(jobStarted - 5 * 60_000).toISOString() };
          const exact = selectionIsExact(selection);
          let problems: string[] = ['no rows yet'];
          const rows = await waitFor(`the run's rows in alias ${alias}`, waitMs, async () => {
            const found = await servedTableRows(client, alias, plan, selection);
            problems = compareTable(plan, table, found, exact);
            return problems.length === 0 ? found : undefined;
          }).catch((error: Error) => { throw new Error(`${error.message}; ${problems.length} rows differ from the plan: ${problems.slice(0, 5).join('; ')}`); });
          return `${rows.length} rows in ${alias}, ${exact ? 'as planned' : 'at least the planned counts (rows shared with other traffic)'}`;
        },
      };
    }),
  ];
  // Log group names come from the outputs, known after the first step.
  const named = steps.map((s) => ({ ...s, get logs() { return outputs ? fillOutputs(s.logs, outputs) : s.logs; } }));
  return { plan, report: await runSmoke(named, log) };
}

/** `${OutputKey}` in a hint → the output's value. */
export function fillOutputs(text: string, outputs: Partial<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}/g, (whole, key: string) => outputs[key] ?? whole);
}

/** Canonical events of the run's date, in objects written since the run began, whose URL carries the marker. */
async function markedRawEvents(s3: S3Client, bucket: string, plan: SmokePlan, since: number): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `events/dt=${plan.date}/`, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (!object.Key?.endsWith('.ndjson.gz') || (object.LastModified?.getTime() ?? 0) < since) continue;
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      const text = gunzipSync(Buffer.from(await body.Body!.transformToByteArray())).toString('utf8');
      for (const line of text.split('\n')) if (line.includes(`/${plan.marker}/`)) n++;
    }
    token = page.NextContinuationToken;
  } while (token);
  return n;
}
