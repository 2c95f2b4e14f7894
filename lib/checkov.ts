/**
 * checkov (Bridgecrew/Prisma Cloud's IaC scanner, pinned in local-stack/checkov-requirements.txt)
 * over the synthesized templates, and the one list of its findings we accept on purpose, each
 * with the check, the resources and the reason. test/ops/checkov.test.ts runs checkov on the dev,
 * prod and prod-with-VPC templates and fails on a finding this list does not cover, and on an
 * entry that no longer covers any finding.
 *
 * An acknowledgement becomes checkov's own suppression in the template
 * (`Metadata: { checkov: { skip: [{ id, comment }] } }` on each matching resource), so the
 * template a deployer synthesizes passes a plain `checkov -f <template>` with the same reasons.
 * Resources are named by construct path below the stack (logical ids carry hashes), and by
 * CloudFormation type, so an entry never suppresses a check on a resource of another kind.
 */
import { CfnResource, Stack } from 'aws-cdk-lib';
import { PipelineConfig } from './config';

export interface CheckovAcknowledgement {
  /** checkov check id, e.g. `CKV_AWS_116`. */
  readonly check: string;
  /** CloudFormation type of the resources, e.g. `AWS::Lambda::Function`. */
  readonly type: string;
  /** Construct path below the stack of the resources (tested against `<path>`, e.g. `Ingest/IngestFunction/Resource`). */
  readonly path: RegExp;
  /** Why this finding is acceptable here (written into the template as checkov's suppression comment). */
  readonly reason: string;
}

/** The pipeline's own functions (lib/secure-defaults.ts PipelineFunction). */
const PIPELINE_FUNCTIONS = /^(Ingest\/IngestFunction|Ingest\/TopicFunction|Indexing\/Indexer|SearchDomain\/Provisioner)\/Resource$/;
/** Functions aws-cdk-lib adds that run only while CloudFormation deploys (custom resources). */
const DEPLOY_TIME_FUNCTIONS =
  /^(AWS679f53fac002430cb0da5b7982bd2287\/Resource|BucketNotificationsHandler050a0587b7544547bf325f094a3db834\/Resource|Custom::VpcRestrictDefaultSGCustomResourceProvider\/Handler|(Ingest\/TopicProvider|SearchDomain\/ProvisionerProvider)\/framework-onEvent\/Resource)$/;
const ALL_FUNCTIONS = new RegExp(`${PIPELINE_FUNCTIONS.source}|${DEPLOY_TIME_FUNCTIONS.source}`);

/** The findings we accept, for a deployment with `config`. */
export function pipelineCheckovAcknowledgements(config: PipelineConfig): CheckovAcknowledgement[] {
  const acks: CheckovAcknowledgement[] = [
    // --- Lambda -----------------------------------------------------------------------------------
    {
      check: 'CKV_AWS_116', type: 'AWS::Lambda::Function', path: ALL_FUNCTIONS,
      reason: 'A function dead-letter queue catches failed asynchronous invocations only, and none of these functions is ' +
        'invoked asynchronously: ingest is driven by the MSK event source mapping (failed batches go to its S3 on-failure ' +
        'destination), the indexer by the SQS event source (failed messages go to the queue\'s dead-letter queue), the ' +
        'others synchronously by CloudFormation custom resources, which report a failure as a failed deployment.',
    },
    {
      check: 'CKV_AWS_115', type: 'AWS::Lambda::Function', path: ALL_FUNCTIONS,
      reason: 'Reserved concurrency would only cap these functions: the event source mappings already bound them (one ' +
        'concurrent batch per Kafka partition for ingest, maxConcurrency 2 for the indexer), and the deploy-time functions ' +
        'run once per deployment. A reservation would also take capacity from the account\'s unreserved pool.',
    },
    {
      check: 'CKV_AWS_117', type: 'AWS::Lambda::Function',
      path: /^(Ingest\/IngestFunction\/Resource|AWS679f53fac002430cb0da5b7982bd2287\/Resource|BucketNotificationsHandler050a0587b7544547bf325f094a3db834\/Resource|Custom::VpcRestrictDefaultSGCustomResourceProvider\/Handler|(Ingest\/TopicProvider|SearchDomain\/ProvisionerProvider)\/framework-onEvent\/Resource)$/,
      reason: 'These functions reach only AWS APIs over TLS (S3, CloudWatch Logs, EC2, Lambda): ingest receives its records ' +
        'from the event source mapping, whose pollers run in the cluster\'s VPC, and writes to S3; the others are ' +
        'deploy-time custom resources of aws-cdk-lib. Functions that call private endpoints (the indexer, the search ' +
        'provisioner, the topic function) run in the VPC.',
    },
    {
      check: 'CKV_AWS_173', type: 'AWS::Lambda::Function', path: /^(Ingest\/IngestFunction|Ingest\/TopicFunction|Indexing\/Indexer|SearchDomain\/Provisioner|(Ingest\/TopicProvider|SearchDomain\/ProvisionerProvider)\/framework-onEvent)\/Resource$/,
      reason: 'The environment holds no secret (bucket names, prefixes, the domain endpoint, Powertools settings; the privacy ' +
        'key is read from Secrets Manager at run time), and Lambda encrypts it at rest with its AWS managed key; a ' +
        'customer-managed key would protect nothing more.',
    },
    // --- Logs -------------------------------------------------------------------------------------
    {
      check: 'CKV_AWS_158', type: 'AWS::Logs::LogGroup', path: /.*/,
      reason: 'CloudWatch Logs encrypts every log group at rest with service-managed keys. These groups hold operational ' +
        'lines (counts, object keys, errors), the domain\'s slow, error and audit logs, VPC flow records and Glue state ' +
        'changes, not click payloads; who may read them is decided by IAM on the log group, which a customer-managed key ' +
        'would only duplicate. The Glue job\'s own log groups, which can echo data, use the job\'s KMS key.',
    },
    // --- S3 ---------------------------------------------------------------------------------------
    {
      check: 'CKV_AWS_18', type: 'AWS::S3::Bucket', path: /^AccessLogsBucket\/Resource$/,
      reason: 'This is the bucket the other buckets\' server access logs go to; logging it into itself would log its own log ' +
        'deliveries without end.',
    },
    {
      check: 'CKV_AWS_21', type: 'AWS::S3::Bucket', path: /^(AccessLogsBucket|AggregatesBucket|Ingest\/FailedBatchesBucket|Processing\/AthenaResultsBucket)\/Resource$/,
      reason: 'Not versioned on purpose: the aggregates are recomputed from the raw zone by a backfill and replaced per date ' +
        '(old versions would keep stale output), access logs and failed batches are written once under unique keys and ' +
        'never overwritten, Athena results are disposable. The raw zone, the one source of truth, is versioned in prod.',
    },
    // --- SQS --------------------------------------------------------------------------------------
    {
      check: 'CKV_AWS_27', type: 'AWS::SQS::Queue', path: /.*/,
      reason: 'Every queue is encrypted at rest with SSE-SQS (SqsManagedSseEnabled: true, lib/secure-defaults.ts); checkov ' +
        'recognizes only a KMS key. SSE-SQS lets S3 send its notifications without a key policy for s3.amazonaws.com.',
    },
    // --- Glue -------------------------------------------------------------------------------------
    {
      check: 'CKV_AWS_99', type: 'AWS::Glue::SecurityConfiguration', path: /^Processing\/SecurityConfiguration$/,
      reason: 'The job writes S3 with SSE-S3, the buckets\' own default encryption (a decision of lib/secure-defaults.ts: ' +
        'no KMS request on the hot path, no key policy for Glue, Athena and Lambda); its bookmarks are encrypted with the ' +
        'job\'s KMS key. checkov accepts only SSE-KMS for S3.',
    },
    // --- Analyst bastion ---------------------------------------------------------------------------
    {
      check: 'CKV_AWS_111', type: 'AWS::IAM::Policy', path: /^SearchDomain\/DashboardsBastion\/Resource\/InstanceRole\/DefaultPolicy\/Resource$/,
      reason: 'Session Manager permissions of the analyst bastion (aws-cdk-lib BastionHostLinux): no ssmmessages or ' +
        'ec2messages action has resource-level permissions, and ssm:UpdateInstanceInformation can name only the ' +
        'instance, which does not exist before its role.',
    },
  ];
  if (config.stage !== 'prod') {
    acks.push({
      check: 'CKV_AWS_21', type: 'AWS::S3::Bucket', path: /^RawEventsBucket\/Resource$/,
      reason: 'The raw bucket is versioned in prod only (lib/clickstream-pipeline-stack.ts); a dev deployment is disposable ' +
        'and its raw zone holds test traffic that the generator or a producer can send again.',
    });
  }
  if (!config.openSearch.auditLogs) {
    acks.push({
      check: 'CKV_AWS_317', type: 'AWS::OpenSearchService::Domain', path: /^SearchDomain\/Domain\/Resource$/,
      reason: 'Audit logs are off because this deployment chose openSearchAuditLogs=false (the dev profile: a disposable ' +
        'domain without analysts\' data to audit); the prod profile turns them on.',
    });
  }
  return acks;
}

export interface CheckovAcknowledged {
  readonly check: string;
  /** Construct path below the stack. */
  readonly path: string;
  readonly reason: string;
}

/**
 * Writes the acknowledgements as checkov suppressions into the resources they match. Call it after
 * the stack is fully built and before synthesis. Returns what it suppressed, per resource.
 */
export function acknowledgeCheckovFindings(stack: Stack, acknowledgements: readonly CheckovAcknowledgement[]): CheckovAcknowledged[] {
  const prefix = `${stack.node.path}/`;
  const done: CheckovAcknowledged[] = [];
  for (const construct of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const path = construct.node.path.startsWith(prefix) ? construct.node.path.slice(prefix.length) : construct.node.path;
    const matching = acknowledgements.filter((a) => a.type === construct.cfnResourceType && a.path.test(path));
    if (matching.length === 0) continue;
    construct.addMetadata('checkov', { skip: matching.map((a) => ({ id: a.check, comment: a.reason })) });
    done.push(...matching.map((a) => ({ check: a.check, path, reason: a.reason })));
  }
  return done;
}
