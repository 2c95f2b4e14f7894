/**
 * The serving stage's indexing: new aggregate part files in the aggregates bucket -> S3
 * notification -> SQS queue (+ dead-letter queue) -> indexer function in the domain's VPC ->
 * OpenSearch alias of each table. Decisions: docs/serving.md.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
// documents.ts has no runtime dependencies: synthesis does not load the Lambda's clients.
import { DEFAULT_AGGREGATES_PREFIX, DEFAULT_ERRORS_PREFIX } from '../lambdas/indexer/documents';
import { SearchDomain } from './search-domain';
import { PipelineFunction, SecureQueue } from './secure-defaults';

export interface IndexingStageProps {
  /** Where the aggregation job writes its output. */
  readonly aggregatesBucket: s3.IBucket;
  /** The domain the documents go to. */
  readonly searchDomain: SearchDomain;
  /** Prefix of the tables' folders (`<prefix><table>/event_date=D/`; the notification's filter).
   *  @default 'aggregates/' */
  readonly aggregatesPrefix?: string;
  /** Prefix, in the same bucket, of the malformed-row reports.
   *  @default 'errors/' */
  readonly errorsPrefix?: string;
  /** Messages (objects) per invocation.
   *  @default 5 */
  readonly batchSize?: number;
  /** How long the event source gathers messages before invoking.
   *  @default Duration.seconds(10) */
  readonly maxBatchingWindow?: Duration;
  /** Concurrent invocations at most, so a large run cannot flood a small domain.
   *  @default 2 */
  readonly maxConcurrency?: number;
  /** Bulk requests in flight per invocation.
   *  @default 2 */
  readonly bulkConcurrency?: number;
  /** Timeout of the function.
   *  @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** Memory of the function, MiB.
   *  @default 1024 */
  readonly memorySize?: number;
  /** Deliveries of a message before it moves to the dead-letter queue.
   *  @default 5 */
  readonly maxReceiveCount?: number;
  /** What happens to the indexer's log group when it leaves the stack.
   *  @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class IndexingStage extends Construct {
  /** S3 notifications of new aggregate part files. */
  public readonly queue: sqs.Queue;
  /** Messages that failed every delivery: an operator inspects and redrives them. */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly indexerFunction: PipelineFunction;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  /** Prefix of the malformed-row reports in the aggregates bucket (the stack gives it a lifecycle rule). */
  public readonly errorsPrefix: string;

  constructor(scope: Construct, id: string, props: IndexingStageProps) {
    super(scope, id);
    const aggregatesPrefix = props.aggregatesPrefix ?? DEFAULT_AGGREGATES_PREFIX;
    const errorsPrefix = props.errorsPrefix ?? DEFAULT_ERRORS_PREFIX;
    if (!aggregatesPrefix.endsWith('/') || !errorsPrefix.endsWith('/')) throw new Error('prefixes must end with "/"');
    if (errorsPrefix.startsWith(aggregatesPrefix)) throw new Error('the errors prefix must lie outside the aggregates prefix (it would notify itself)');
    this.errorsPrefix = errorsPrefix;
    const timeout = props.timeout ?? Duration.minutes(5);
    const { searchDomain } = props;
    const queues = new SecureQueue(this, 'Notifications', {
      // AWS guidance for SQS-triggered functions: six times the function's timeout, so a message
      // is not delivered again while a slow invocation still works on it.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      maxReceiveCount: props.maxReceiveCount ?? 5,
    });
    this.queue = queues.queue;
    this.deadLetterQueue = queues.deadLetterQueue;

    this.securityGroup = new ec2.SecurityGroup(this, 'IndexerSecurityGroup', {
      vpc: searchDomain.vpc,
      description: 'Indexer: HTTPS out only (the OpenSearch domain, S3)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to S3 (gateway endpoint or NAT)');

    this.indexerFunction = new PipelineFunction(this, 'Indexer', {
      entry: 'lambdas/indexer/handler.ts',
      serviceName: 'indexer',
      timeout,
      memorySize: props.memorySize ?? 1024,
      vpc: searchDomain.vpc,
      vpcSubnets: searchDomain.subnetSelection,
      securityGroups: [this.securityGroup],
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        OPENSEARCH_ENDPOINT: searchDomain.endpointUrl,
        OPENSEARCH_AUTH: 'sigv4',
        OPENSEARCH_ALIAS_PREFIX: searchDomain.aliasPrefix,
        AGGREGATES_PREFIX: aggregatesPrefix,
        ERRORS_PREFIX: errorsPrefix,
        BULK_CONCURRENCY: String(props.bulkConcurrency ?? 2),
      },
    });

    // Least privilege: read the aggregate files, write the error reports, nothing else.
    this.indexerFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.aggregatesBucket.arnForObjects(`${aggregatesPrefix}*`)] }),
    );
    // Without ListBucket, S3 answers a missing object with 403 instead of 404, and the indexer
    // could not tell "replaced by a newer run" (skip) from "not allowed" (fail).
    // S3 takes a GetObject's key as the s3:prefix of that check, so the aggregates prefix is enough.
    this.indexerFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [props.aggregatesBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${aggregatesPrefix}*`] } },
    }));
    this.indexerFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.aggregatesBucket.arnForObjects(`${errorsPrefix}*`)] }),
    );
    searchDomain.grantIndexWrite(this.indexerFunction);

    this.queue.grantConsumeMessages(this.indexerFunction);
    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'QueueToIndexer', {
      target: this.indexerFunction,
      eventSourceArn: this.queue.queueArn,
      batchSize: props.batchSize ?? 5,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(10),
      maxConcurrency: props.maxConcurrency ?? 2,
      reportBatchItemFailures: true,
    });
    // No document before the template, alias and security role exist.
    this.eventSourceMapping.node.addDependency(searchDomain.provisioning);

    props.aggregatesBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), {
      prefix: aggregatesPrefix,
      suffix: '.json',
    });
  }
}
