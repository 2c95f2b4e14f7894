/**
 * The ingest stage: the MSK-triggered Lambda that writes validated, partitioned, idempotent raw
 * events to S3 (SPEC sections 1 and 2; lambdas/ingest). Decisions: docs/ingest.md.
 *
 * - Source: an existing MSK cluster (ARN) and topic, or a new MSK Serverless cluster (IAM auth)
 *   in a new or given VPC, whose topic a custom resource creates at deploy time.
 * - The function (Node.js 22, ARM64, esbuild) behind an MSK event source mapping in provisioned
 *   mode (needed for retries, bisect and the on-failure destination on Kafka sources): bounded
 *   retries, split batch on error, failed batches (full payload) to an S3 bucket an operator
 *   replays from, each one announced on an SQS queue that monitoring alarms on.
 * - The raw bucket comes from the stack; this stage adds its lifecycle rules and grants the
 *   function `s3:PutObject` under its two prefixes only, and a read of the erasure record.
 * - Privacy (docs/privacy.md): with the privacy key given, the function may read it (pseudonyms
 *   when `pseudonymizeUserIds` is on, and the erasure rule).
 */
import { Arn, ArnFormat, CustomResource, Duration, Fn, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MAX_PARTITIONS as MAX_TOPIC_PARTITIONS } from '../lambdas/ingest/topic/ensure-topic';
import { DEFAULT_ERASURE_RECORD_KEY } from '../lambdas/ingest/pseudonymize';
import { PipelineNetwork } from './network';
import { PrivacyKey } from './privacy';
import { PipelineFunction, SecureBucket, SecureQueue, vpcNetworkInterfaceStatements } from './secure-defaults';

/** Port of MSK brokers for IAM-authenticated clients (TLS). */
export const MSK_IAM_PORT = 9098;
/** S3 Standard-IA and Glacier Instant Retrieval bill at least 128 KiB per object. */
const MIN_BILLABLE_TIERED_OBJECT_BYTES = 128 * 1024;
/** The change log's default prefix (DEFAULT_CHANGE_LOG_PREFIX of lambdas/ingest/core.ts, not
 *  imported: the core would load the enrichment libraries into every synthesis). */
const DEFAULT_CHANGE_LOG_PREFIX = 'changes/';
/**
 * Days the maximum event age must stay below the raw expiry (docs/operations.md, "Data safety"):
 * an object of a date may be written up to a day before it (an event up to 24 h after its record),
 * so its data can start to expire `expiry - 1` days after the date starts; an event accepted at the
 * maximum age belongs to a date that started up to a day earlier; and the job that recomputes
 * the date runs within a day. 3 days keeps every date an accepted event changes complete until the
 * next job run.
 */
export const MAX_EVENT_AGE_MARGIN_DAYS = 3;

/**
 * The maximum event age for a raw expiry: the given one, checked to be at least
 * MAX_EVENT_AGE_MARGIN_DAYS below the expiry, or, when none is given, the expiry minus the margin.
 * Undefined when raw events never expire and no maximum is given. Throws with the rule.
 */
export function resolveMaxEventAgeDays(rawExpirationDays: number | undefined, maxEventAgeDays: number | undefined): number | undefined {
  if (maxEventAgeDays !== undefined && (!Number.isInteger(maxEventAgeDays) || maxEventAgeDays < 1)) {
    throw new Error(`IngestStage: maxEventAge must be a whole number of days from 1, got ${maxEventAgeDays}`);
  }
  if (rawExpirationDays === undefined) return maxEventAgeDays;
  const limit = rawExpirationDays - MAX_EVENT_AGE_MARGIN_DAYS;
  if (limit < 1) {
    throw new Error(`IngestStage: rawEventsExpiration of ${rawExpirationDays} days leaves no room for a maximum event age: ` +
      `it must be at least ${MAX_EVENT_AGE_MARGIN_DAYS + 1} days (the maximum event age stays ${MAX_EVENT_AGE_MARGIN_DAYS} days below it)`);
  }
  if (maxEventAgeDays !== undefined && maxEventAgeDays > limit) {
    throw new Error(`IngestStage: maxEventAge (${maxEventAgeDays} days) must be at most rawEventsExpiration minus ${MAX_EVENT_AGE_MARGIN_DAYS} ` +
      `(${limit} days): an older event could make the job recompute a date whose raw data has partly expired`);
  }
  return maxEventAgeDays ?? limit;
}

export interface IngestStageProps {
  /** The raw bucket (SPEC §2). This stage adds lifecycle rules to it and grants writes under its prefixes. */
  readonly rawEventsBucket: s3.Bucket;
  /** ARN of an existing MSK cluster with IAM authentication to consume from.
   *  @default a new MSK Serverless cluster (IAM authentication) in `vpc`, and the topic created at deploy time */
  readonly existingClusterArn?: string;
  /** VPC of a new cluster (ignored with `existingClusterArn`).
   *  @default a new PipelineNetwork VPC (2 AZs, private subnets with NAT egress, S3 gateway endpoint, flow logs) */
  readonly vpc?: ec2.IVpc;
  /** Subnets of a new cluster, in at least two Availability Zones; they need a route to AWS APIs
   *  (NAT or VPC endpoints for Lambda, STS and S3) for the event source mapping.
   *  @default the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Kafka topic with the click events.
   *  @default 'clickstream' */
  readonly topic?: string;
  /** Partitions of the topic created on a new cluster (1-1000; the cluster's partition quota applies too).
   *  @default 6 */
  readonly topicPartitions?: number;
  /** Retention of the topic created on a new cluster. It bounds how long a failed batch can be
   *  re-read from Kafka; failed batches are also kept in full in `failedBatchesBucket`.
   *  @default Duration.days(7) */
  readonly topicRetention?: Duration;
  /** Consumer group of the event source mapping (unique per event source; changing it replaces
   *  the mapping, which then starts at `startingPosition`).
   *  @default `<stack name>-ingest`: a known name keeps the group's IAM permission exact */
  readonly consumerGroupId?: string;
  /** Records per invocation (1-10000).
   *  @default 1000 */
  readonly batchSize?: number;
  /** How long the event source mapping gathers records before invoking (at most 5 minutes).
   *  @default Duration.seconds(5) */
  readonly maxBatchingWindow?: Duration;
  /** Where a new consumer group starts reading.
   *  @default lambda.StartingPosition.TRIM_HORIZON (nothing already in the topic is skipped) */
  readonly startingPosition?: lambda.StartingPosition;
  /** Retries of a failed batch before it goes to the on-failure destination (0-10000).
   *  @default 5 */
  readonly retryAttempts?: number;
  /** Split a failed batch in two and retry the halves (safe: keys are a function of the records).
   *  @default true */
  readonly bisectBatchOnError?: boolean;
  /** Records older than this go to the on-failure destination unprocessed (60 s to 7 days).
   *  @default no limit */
  readonly maxRecordAge?: Duration;
  /** Provisioned-mode pollers of the event source mapping (provisioned mode is what enables
   *  retries, bisect and the on-failure destination for Kafka sources).
   *  @default { minimumPollers: 1, maximumPollers: 10 } */
  readonly pollers?: { readonly minimumPollers: number; readonly maximumPollers: number };
  /** Key prefix of canonical events in the raw bucket.
   *  @default 'events/' */
  readonly rawEventsPrefix?: string;
  /** Key prefix of quarantined messages in the raw bucket.
   *  @default 'quarantine/' */
  readonly quarantinePrefix?: string;
  /** Age at which raw event objects of at least 128 KiB move to S3 Standard-IA (at least 30 days).
   *  @default Duration.days(30) */
  readonly rawEventsInfrequentAccessAfter?: Duration;
  /** Age at which raw event objects of at least 128 KiB move to Glacier Instant Retrieval.
   *  @default never */
  readonly rawEventsGlacierInstantRetrievalAfter?: Duration;
  /** Age at which raw event objects are deleted.
   *  @default never (the raw zone is the source of every recomputation) */
  readonly rawEventsExpiration?: Duration;
  /** Age at which quarantined messages are deleted.
   *  @default Duration.days(90) */
  readonly quarantineExpiration?: Duration;
  /** Events older than this (by the function's clock) are quarantined as `timestamp_older_than_max_age`
   *  (whole days; at most `rawEventsExpiration` minus MAX_EVENT_AGE_MARGIN_DAYS).
   *  @default `rawEventsExpiration` minus MAX_EVENT_AGE_MARGIN_DAYS days; none when raw events never expire */
  readonly maxEventAge?: Duration;
  /** Key prefix of the partition change log in the raw bucket (the job lists it to find changed dates).
   *  @default 'changes/' */
  readonly changeLogPrefix?: string;
  /** Age at which change-log entries the job has not removed are deleted (a safety net: the job
   *  removes the entries it consumed).
   *  @default Duration.days(90) */
  readonly changeLogExpiration?: Duration;
  /** Bucket for the S3 server access logs of the failed-batches bucket.
   *  @default no access logging */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Function memory, MiB (CPU grows with it; gzip and JSON are CPU-bound).
   *  @default 1024 */
  readonly memorySize?: number;
  /** Function timeout.
   *  @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** Parallel PutObject calls per invocation.
   *  @default 8 */
  readonly writeConcurrency?: number;
  /** Days the function's logs are kept.
   *  @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Removal policy of the failed-batches bucket, of a new MSK cluster and of the functions' log groups.
   *  @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** The privacy key (lib/privacy.ts): the function reads it for pseudonyms and for the erasure
   *  rule (docs/privacy.md).
   *  @default no key: user IDs stored as received, and an erasure record with entries fails the batch */
  readonly privacyKey?: PrivacyKey;
  /** Store `user_id` as its HMAC-SHA-256 under `privacyKey` (SPEC §6).
   *  @default false */
  readonly pseudonymizeUserIds?: boolean;
}

/** ARNs of the Kafka resources of a cluster, for `kafka-cluster:*` IAM statements. */
export function mskDataPlaneArns(scope: Construct, clusterArn: string, topic: string, consumerGroupId?: string) {
  const stack = Stack.of(scope);
  let partition: string, region: string, account: string, clusterName: string, clusterUuid: string;
  if (Token.isUnresolved(clusterArn)) {
    // arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>
    const parts = Fn.split(':', clusterArn);
    const resource = Fn.split('/', Fn.select(5, parts));
    [partition, region, account] = [Fn.select(1, parts), Fn.select(3, parts), Fn.select(4, parts)];
    [clusterName, clusterUuid] = [Fn.select(1, resource), Fn.select(2, resource)];
  } else {
    const parsed = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
    const [name, uuid] = (parsed.resourceName ?? '').split('/');
    if (parsed.service !== 'kafka' || parsed.resource !== 'cluster' || !name || !uuid) {
      throw new Error(`not an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>): ${clusterArn}`);
    }
    [partition, region, account, clusterName, clusterUuid] = [parsed.partition ?? stack.partition, parsed.region ?? stack.region, parsed.account ?? stack.account, name, uuid];
  }
  const base = (type: string) => `arn:${partition}:kafka:${region}:${account}:${type}/${clusterName}/${clusterUuid}`;
  return {
    cluster: clusterArn,
    topic: `${base('topic')}/${topic}`,
    // Without a consumer group id, Lambda names the group after the mapping's UUID, unknown here.
    group: `${base('group')}/${consumerGroupId ?? '*'}`,
  };
}

function assertRange(name: string, value: number, min: number, max: number): void {
  if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max)) {
    throw new Error(`IngestStage: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * An event source mapping reads only a cluster in its own region (the pollers run in the
 * function's region, and its ARN is the mapping's EventSourceArn): fail at synthesis, not at deploy.
 * A stack without an explicit region cannot be checked here.
 */
function assertSameRegion(scope: Construct, clusterArn: string): void {
  const stackRegion = Stack.of(scope).region;
  if (Token.isUnresolved(stackRegion) || Token.isUnresolved(clusterArn)) return;
  const clusterRegion = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME).region;
  if (clusterRegion && clusterRegion !== stackRegion) {
    throw new Error(`IngestStage: mskClusterArn names a cluster in ${clusterRegion}, but the stack deploys to ${stackRegion}; ` +
      `a Lambda event source mapping reads only clusters in its own region. Deploy the stack to ${clusterRegion} ` +
      '(CDK_DEFAULT_REGION or the env of the stack), or give a cluster in the stack\'s region.');
  }
}

function withSlash(prefix: string): string {
  if (prefix === '' || prefix.startsWith('/')) throw new Error(`IngestStage: a key prefix must be non-empty and relative, got "${prefix}"`);
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** The S3 on-failure destination with exactly the permissions the event source mapping needs. */
class FailedBatchesDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'WriteFailedBatches',
      actions: ['s3:PutObject'],
      resources: [this.bucket.arnForObjects('*')],
    }));
    targetHandler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ListFailedBatches',
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
    }));
    return { destination: this.bucket.bucketArn };
  }
}

export class IngestStage extends Construct {
  /** The ingest function (`lambdas/ingest/handler.ts`). */
  public readonly ingestFunction: PipelineFunction;
  /** Its MSK event source mapping. */
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  /** ARN of the cluster consumed (the given one or the new one). */
  public readonly clusterArn: string;
  /** Topic consumed. */
  public readonly topic: string;
  /** Batches that failed every retry, in full (the event source mapping's S3 on-failure records). */
  public readonly failedBatchesBucket: SecureBucket;
  /** One message per failed batch written to `failedBatchesBucket`: what monitoring alarms on. */
  public readonly failedBatchNotifications: sqs.Queue;
  /** The notification queue and its dead-letter queue. */
  public readonly failedBatchQueues: SecureQueue;
  /** The new MSK Serverless cluster, when no cluster ARN was given. */
  public readonly serverlessCluster?: msk.CfnServerlessCluster;
  /** Security group of the new cluster (the event source mapping and the topic function use it too). */
  public readonly clusterSecurityGroup?: ec2.SecurityGroup;
  /** The VPC this stage created for a new cluster, when none was given. */
  public readonly network?: PipelineNetwork;
  /** The deploy-time topic resource of a new cluster. */
  public readonly topicResource?: CustomResource;
  /** Key prefix of the partition change log in the raw bucket (with a trailing `/`). */
  public readonly changeLogPrefix: string;
  /** The maximum event age in days the function enforces, or undefined for none. */
  public readonly maxEventAgeDays?: number;
  /** The function behind `topicResource`. */
  public readonly topicFunction?: PipelineFunction;

  constructor(scope: Construct, id: string, props: IngestStageProps) {
    super(scope, id);
    const topic = props.topic ?? 'clickstream';
    const eventsPrefix = withSlash(props.rawEventsPrefix ?? 'events/');
    const quarantinePrefix = withSlash(props.quarantinePrefix ?? 'quarantine/');
    const changeLogPrefix = withSlash(props.changeLogPrefix ?? DEFAULT_CHANGE_LOG_PREFIX);
    this.changeLogPrefix = changeLogPrefix;
    this.maxEventAgeDays = resolveMaxEventAgeDays(props.rawEventsExpiration?.toDays(), props.maxEventAge?.toDays());
    const batchSize = props.batchSize ?? 1000;
    const retryAttempts = props.retryAttempts ?? 5;
    const pollers = props.pollers ?? { minimumPollers: 1, maximumPollers: 10 };
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const consumerGroupId = props.consumerGroupId ?? `${Stack.of(this).stackName}-ingest`;
    assertRange('batchSize', batchSize, 1, 10_000);
    assertRange('retryAttempts', retryAttempts, 0, 10_000);
    assertRange('pollers.minimumPollers', pollers.minimumPollers, 1, 200);
    assertRange('pollers.maximumPollers', pollers.maximumPollers, pollers.minimumPollers, 2000);
    assertRange('writeConcurrency', props.writeConcurrency ?? 8, 1, 64);
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw new Error(`IngestStage: not a Kafka topic name: "${topic}"`);
    const prefixes = [eventsPrefix, quarantinePrefix, changeLogPrefix];
    if (prefixes.some((a, i) => prefixes.some((b, j) => i !== j && a.startsWith(b)))) {
      throw new Error(`IngestStage: the events, quarantine and change-log prefixes must not contain each other ("${prefixes.join('", "')}")`);
    }
    this.topic = topic;

    this.addLifecycleRules(props.rawEventsBucket, eventsPrefix, quarantinePrefix, changeLogPrefix, props);

    // --- Source: the given cluster, or a new MSK Serverless cluster and its topic -------------------
    let topicReady: CustomResource | undefined;
    if (props.existingClusterArn) {
      assertSameRegion(this, props.existingClusterArn);
      this.clusterArn = props.existingClusterArn;
    } else {
      const vpc = props.vpc ?? (this.network = new PipelineNetwork(this, 'Network', { removalPolicy })).vpc;
      const subnets = vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
      // The event source mapping's pollers and the topic function join the cluster's own
      // security group: brokers accept IAM clients of the group on 9098, the group may reach the
      // brokers and AWS APIs (HTTPS) and nothing else.
      const sg = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
        vpc,
        description: 'MSK Serverless cluster of the clickstream pipeline and its clients',
        allowAllOutbound: false,
      });
      sg.addIngressRule(sg, ec2.Port.tcp(MSK_IAM_PORT), 'Kafka clients of the group (IAM, TLS)');
      sg.addEgressRule(sg, ec2.Port.tcp(MSK_IAM_PORT), 'to the brokers (IAM, TLS)');
      sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs (Lambda, STS, S3, MSK) over HTTPS');
      this.clusterSecurityGroup = sg;
      const cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
        clusterName: Names.uniqueResourceName(this, { maxLength: 64, separator: '-' }),
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [{ subnetIds: subnets.subnetIds, securityGroups: [sg.securityGroupId] }],
      });
      cluster.applyRemovalPolicy(removalPolicy);
      this.serverlessCluster = cluster;
      this.clusterArn = cluster.attrArn;
      const created = this.createTopicResource(vpc, subnets, sg, topic, props);
      this.topicResource = created.resource;
      this.topicFunction = created.fn;
      topicReady = created.resource;
    }

    // --- The function ------------------------------------------------------------------------------------
    this.ingestFunction = new PipelineFunction(this, 'IngestFunction', {
      entry: 'lambdas/ingest/handler.ts',
      serviceName: 'ingest',
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(1),
      logRetention: props.logRetention,
      logRemovalPolicy: removalPolicy,
      environment: {
        RAW_BUCKET: props.rawEventsBucket.bucketName,
        RAW_EVENTS_PREFIX: eventsPrefix,
        QUARANTINE_PREFIX: quarantinePrefix,
        CHANGE_LOG_PREFIX: changeLogPrefix,
        ...(this.maxEventAgeDays === undefined ? {} : { MAX_EVENT_AGE_DAYS: String(this.maxEventAgeDays) }),
        WRITE_CONCURRENCY: String(props.writeConcurrency ?? 8),
        PSEUDONYMIZE_USER_IDS: String(props.pseudonymizeUserIds ?? false),
        ERASURE_RECORD_KEY: DEFAULT_ERASURE_RECORD_KEY,
        ...(props.privacyKey ? { PRIVACY_KEY_SECRET_ARN: props.privacyKey.secret.secretArn } : {}),
      },
    });
    // Least privilege: new objects under the three prefixes, nothing else (no read, no delete).
    this.ingestFunction.addToRolePolicy(new iam.PolicyStatement({
      sid: 'WriteRawZone',
      actions: ['s3:PutObject'],
      resources: [eventsPrefix, quarantinePrefix, changeLogPrefix].map((prefix) => props.rawEventsBucket.arnForObjects(`${prefix}*`)),
    }));
    this.grantPrivacyAccess(props);
    this.grantEventSourceAccess(this.clusterArn, topic, consumerGroupId);

    // --- Failed batches: full payload in S3 for replay, one SQS message each for alarms -----------------
    this.failedBatchesBucket = new SecureBucket(this, 'FailedBatchesBucket', {
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      removalPolicy,
    });
    // Each notice is kept the SQS maximum, like the dead-letter queue: nobody consumes them but the operator.
    this.failedBatchQueues = new SecureQueue(this, 'FailedBatchNotifications', { retentionPeriod: Duration.days(14) });
    this.failedBatchNotifications = this.failedBatchQueues.queue;
    this.failedBatchesBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.failedBatchNotifications));

    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'MskEventSource', {
      target: this.ingestFunction,
      eventSourceArn: this.clusterArn,
      kafkaTopic: topic,
      kafkaConsumerGroupId: consumerGroupId,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(5),
      retryAttempts,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      maxRecordAge: props.maxRecordAge,
      provisionedPollerConfig: pollers,
      onFailure: new FailedBatchesDestination(this.failedBatchesBucket),
      supportS3OnFailureDestination: true,
    });
    if (topicReady) this.eventSourceMapping.node.addDependency(topicReady);
    // Lambda checks the execution role when it creates the mapping: grant first.
    const policy = this.ingestFunction.role?.node.tryFindChild('DefaultPolicy');
    if (policy) this.eventSourceMapping.node.addDependency(policy);
  }

  private addLifecycleRules(bucket: s3.Bucket, eventsPrefix: string, quarantinePrefix: string, changeLogPrefix: string, props: IngestStageProps): void {
    const iaAfter = props.rawEventsInfrequentAccessAfter ?? Duration.days(30);
    if (iaAfter.toDays() < 30) throw new Error('IngestStage: rawEventsInfrequentAccessAfter must be at least 30 days (an S3 rule for Standard-IA)');
    const transitions: s3.Transition[] = [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: iaAfter }];
    if (props.rawEventsGlacierInstantRetrievalAfter) {
      if (props.rawEventsGlacierInstantRetrievalAfter.toDays() < iaAfter.toDays() + 30) {
        throw new Error('IngestStage: rawEventsGlacierInstantRetrievalAfter must be at least 30 days after rawEventsInfrequentAccessAfter');
      }
      transitions.push({ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: props.rawEventsGlacierInstantRetrievalAfter });
    }
    // Smaller objects stay in Standard: IA and Glacier IR bill 128 KiB per object, plus a
    // transition request each, so moving a 20 KiB hourly object would cost more than keeping it.
    bucket.addLifecycleRule({ id: 'RawEventsStorageClass', prefix: eventsPrefix, objectSizeGreaterThan: MIN_BILLABLE_TIERED_OBJECT_BYTES - 1, transitions });
    // A redelivered batch overwrites its objects; if the bucket is ever versioned, the identical
    // older versions must not pile up.
    bucket.addLifecycleRule({
      id: 'RawEventsRetention',
      prefix: eventsPrefix,
      expiration: props.rawEventsExpiration,
      noncurrentVersionExpiration: Duration.days(7),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    });
    bucket.addLifecycleRule({
      id: 'QuarantineRetention',
      prefix: quarantinePrefix,
      expiration: props.quarantineExpiration ?? Duration.days(90),
      noncurrentVersionExpiration: Duration.days(7),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    });
    // The job removes the entries it consumed; this only catches entries nobody consumes (a job
    // without the change log, or one stopped for months: docs/operations.md, "Data safety").
    bucket.addLifecycleRule({
      id: 'ChangeLogRetention',
      prefix: changeLogPrefix,
      expiration: props.changeLogExpiration ?? Duration.days(90),
      noncurrentVersionExpiration: Duration.days(1),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    });
  }

  /**
   * The erasure rule (docs/privacy.md): read the erasure record, and list exactly its key so that
   * a record not yet written reads as 404 (an empty record) instead of 403. The privacy key.
   */
  private grantPrivacyAccess(props: IngestStageProps): void {
    if (props.pseudonymizeUserIds && !props.privacyKey) throw new Error('IngestStage: pseudonymizeUserIds needs privacyKey');
    const bucket = props.rawEventsBucket;
    this.ingestFunction.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReadErasureRecord',
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects(DEFAULT_ERASURE_RECORD_KEY)],
    }));
    this.ingestFunction.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ListErasureRecord',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringEquals: { 's3:prefix': DEFAULT_ERASURE_RECORD_KEY } },
    }));
    props.privacyKey?.grantRead(this.ingestFunction);
  }

  /**
   * What the execution role needs for the MSK event source mapping with IAM authentication
   * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html): describe the
   * cluster, manage the pollers' network interfaces in the cluster's VPC, connect, read the topic,
   * use the consumer group. Scoped to the cluster, the topic and the group.
   */
  private grantEventSourceAccess(clusterArn: string, topic: string, consumerGroupId: string): void {
    const arns = mskDataPlaneArns(this, clusterArn, topic, consumerGroupId);
    const statements = [
      new iam.PolicyStatement({ sid: 'DescribeMskCluster', actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], resources: [clusterArn] }),
      // The pollers' network interfaces in the cluster's VPC (same account and region as the stack).
      ...vpcNetworkInterfaceStatements(this, ['ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups']).map((statement) => {
        statement.sid = `MskPoller${statement.sid}`;
        return statement;
      }),
      new iam.PolicyStatement({ sid: 'ConnectToMskCluster', actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'], resources: [arns.cluster] }),
      new iam.PolicyStatement({ sid: 'ReadClickstreamTopic', actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: [arns.topic] }),
      new iam.PolicyStatement({ sid: 'UseConsumerGroup', actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resources: [arns.group] }),
    ];
    for (const statement of statements) this.ingestFunction.addToRolePolicy(statement);
  }

  /** The topic of a new cluster, created at deploy time by lambdas/ingest/topic/handler.ts. */
  private createTopicResource(
    vpc: ec2.IVpc, subnets: ec2.SelectedSubnets, sg: ec2.SecurityGroup, topic: string, props: IngestStageProps,
  ): { resource: CustomResource; fn: PipelineFunction } {
    const partitions = props.topicPartitions ?? 6;
    assertRange('topicPartitions', partitions, 1, MAX_TOPIC_PARTITIONS);
    const fn = new PipelineFunction(this, 'TopicFunction', {
      entry: 'lambdas/ingest/topic/handler.ts',
      serviceName: 'ingest-topic',
      memorySize: 256,
      timeout: Duration.minutes(5),
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      vpc,
      vpcSubnets: { subnets: subnets.subnets },
      securityGroups: [sg],
    });
    const arns = mskDataPlaneArns(this, this.clusterArn, topic);
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'GetBootstrapBrokers', actions: ['kafka:GetBootstrapBrokers'], resources: [this.clusterArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ConnectToMskCluster', actions: ['kafka-cluster:Connect'], resources: [arns.cluster] }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CreateClickstreamTopic',
      actions: ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic'],
      resources: [arns.topic],
    }));
    const provider = new cr.Provider(this, 'TopicProvider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'TopicProviderLogs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      }),
    });
    const resource = new CustomResource(this, 'Topic', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: {
        ClusterArn: this.clusterArn,
        Topic: topic,
        Partitions: String(partitions),
        // LogAppendTime: a record's timestamp is the broker's clock when it appended it, not the
        // producer's, so the quarantine date and the 24 h future bound follow a clock the pipeline
        // trusts (docs/operations.md, "Data safety").
        Configs: {
          'retention.ms': String((props.topicRetention ?? Duration.days(7)).toMilliseconds()),
          'message.timestamp.type': 'LogAppendTime',
        },
      },
    });
    return { resource, fn };
  }
}
