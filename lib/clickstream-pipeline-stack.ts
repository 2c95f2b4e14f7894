import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';
import { IndexingStage } from './indexing';
import { IngestStage } from './ingest';
import { PipelineMonitoring } from './monitoring';
import { PipelineNetwork } from './network';
import { PrivacyKey } from './privacy';
import { ProcessingStage } from './processing';
import { SearchDomain } from './search-domain';
import { SecureBucket } from './secure-defaults';

/** Days S3 server access logs are kept (an audit trail of the data buckets). */
export const ACCESS_LOGS_RETENTION_DAYS = 365;

export interface ClickstreamPipelineStackProps extends StackProps {
  /** The validated deployment settings (see lib/config.ts and docs/deploy.md). */
  readonly config: PipelineConfig;
}

/**
 * The whole pipeline in one stack: MSK -> ingest -> raw bucket -> Glue job -> aggregates bucket
 * -> indexing -> OpenSearch, watched by the monitoring construct. It only wires stages together;
 * each stage's settings come from the validated `PipelineConfig`.
 */
export class ClickstreamPipelineStack extends Stack {
  public readonly accessLogsBucket: SecureBucket;
  public readonly rawEventsBucket: SecureBucket;
  public readonly aggregatesBucket: SecureBucket;
  public readonly network: PipelineNetwork;
  public readonly privacyKey: PrivacyKey;
  public readonly ingest: IngestStage;
  public readonly processing: ProcessingStage;
  public readonly searchDomain: SearchDomain;
  public readonly indexing: IndexingStage;
  public readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: ClickstreamPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const days = (n: number | undefined) => (n === undefined ? undefined : Duration.days(n));

    const prod = config.stage === 'prod';
    // S3 server access logs of every data bucket land here, for a year (docs/operations.md, "Data retention").
    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket', {
      removalPolicy: config.removalPolicy,
      lifecycleRules: [{ id: 'AccessLogsRetention', expiration: Duration.days(ACCESS_LOGS_RETENTION_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    // The raw zone is the source of every recomputation: in prod an overwritten or deleted object
    // can be recovered from its noncurrent version (kept 7 days under the ingest prefixes, 30 elsewhere).
    this.rawEventsBucket = new SecureBucket(this, 'RawEventsBucket', {
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: config.removalPolicy,
      versioned: prod,
    });
    this.aggregatesBucket = new SecureBucket(this, 'AggregatesBucket', {
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: config.removalPolicy,
    });

    this.network = new PipelineNetwork(this, 'Network', {
      existingVpcId: config.vpcId,
      flowLogRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
      // One NAT gateway per AZ in prod: losing one AZ must not cut the other's subnets off AWS APIs.
      natGateways: prod ? 2 : 1,
    });

    // Always created: the erasure record's keyed hashes need it even without pseudonyms (docs/privacy.md).
    this.privacyKey = new PrivacyKey(this, 'PrivacyKey', { removalPolicy: config.removalPolicy });

    this.ingest = new IngestStage(this, 'Ingest', {
      rawEventsBucket: this.rawEventsBucket,
      existingClusterArn: config.kafka.existingClusterArn,
      vpc: this.network.vpc,
      vpcSubnets: this.network.privateSubnets,
      topic: config.kafka.topic,
      consumerGroupId: config.kafka.consumerGroupId,
      batchSize: config.kafka.batchSize,
      maxBatchingWindow: Duration.seconds(config.kafka.batchingWindowSeconds),
      startingPosition: lambda.StartingPosition[config.kafka.startingPosition],
      rawEventsInfrequentAccessAfter: days(config.retention.rawEventsTransitionDays),
      rawEventsExpiration: days(config.retention.rawEventsExpirationDays),
      maxEventAge: days(config.retention.maxEventAgeDays),
      quarantineExpiration: days(config.retention.quarantineExpirationDays),
      serverAccessLogsBucket: this.accessLogsBucket,
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
      privacyKey: this.privacyKey,
      pseudonymizeUserIds: config.privacy.pseudonymizeUserIds,
    });

    this.processing = new ProcessingStage(this, 'Processing', {
      rawEventsBucket: this.rawEventsBucket,
      aggregatesBucket: this.aggregatesBucket,
      schedule: config.processing.schedule,
      sessionGapMinutes: config.processing.sessionGapMinutes,
      workerType: config.processing.workerType,
      numberOfWorkers: config.processing.numberOfWorkers,
      lookbackDays: config.processing.lookbackDays,
      rawExpirationDays: config.retention.rawEventsExpirationDays,
      changeLogPrefix: this.ingest.changeLogPrefix,
      privacyKey: this.privacyKey,
      serverAccessLogsBucket: this.accessLogsBucket,
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });

    this.searchDomain = new SearchDomain(this, 'SearchDomain', {
      vpc: this.network.vpc,
      dataNodeInstanceType: config.openSearch.instanceType,
      dataNodes: config.openSearch.instanceCount,
      masterNodes: config.openSearch.dedicatedMasterNodes,
      volumeSizeGiB: config.openSearch.volumeSizeGiB,
      availabilityZoneCount: config.openSearch.zoneAwareness ? 2 : 1,
      auditLogs: config.openSearch.auditLogs,
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });
    this.indexing = new IndexingStage(this, 'Indexing', {
      aggregatesBucket: this.aggregatesBucket,
      searchDomain: this.searchDomain,
      logRemovalPolicy: config.removalPolicy,
    });
    // The indexer's malformed-row reports are rejected input, kept as long as quarantined messages.
    this.aggregatesBucket.addLifecycleRule({
      id: 'MalformedRowReports',
      prefix: this.indexing.errorsPrefix,
      expiration: Duration.days(config.retention.quarantineExpirationDays),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    });

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      ingestFunction: this.ingest.ingestFunction,
      ingestFailureQueue: this.ingest.failedBatchNotifications,
      indexerFunction: this.indexing.indexerFunction,
      indexerQueue: this.indexing.queue,
      deadLetterQueues: [this.indexing.deadLetterQueue, this.ingest.failedBatchQueues.deadLetterQueue],
      glueJobName: this.processing.jobName,
      searchDomain: this.searchDomain.domain,
      searchVolumeSizeGiB: config.openSearch.volumeSizeGiB,
      searchDedicatedMasterNodes: config.openSearch.dedicatedMasterNodes > 0,
      glueOutputLogGroup: this.processing.outputLogGroup,
      thresholds: {
        ingestHeartbeatMinutes: config.alarms.ingestHeartbeatMinutes,
        quarantinePercent: config.alarms.quarantineAlarmPercent,
        indexFreshnessHours: config.alarms.indexFreshnessHours,
      },
      alarmEmail: config.alarmEmail,
      runHistoryRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });

    this.addOperatorOutputs();
  }

  /**
   * The names an operator looks up after `cdk deploy` to act on the pipeline: each one is a
   * placeholder in docs/deploy.md or a runbook in docs/operations.md. They are declared here, on
   * the stack, rather than in each stage, so that their output keys are exactly these ids
   * (`GlueJobName`); an output inside a construct gets the construct path and a hash in its key
   * (`MonitoringDashboardUrl1A2B3C4D`), which a runbook cannot ask for by name. The raw and
   * aggregates buckets are the stack's own resources anyway. Values come from the stages' public
   * fields, so each output references the resource itself (Ref / Fn::GetAtt). No exportName:
   * nothing imports them, and an export would block changing or replacing the resource.
   * The dashboard URL and the alarm topic stay in PipelineMonitoring, under their keys.
   */
  private addOperatorOutputs(): void {
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });

    // Source and ingest
    output('MskClusterArn', this.ingest.clusterArn,
      'MSK cluster the ingest function consumes (given by mskClusterArn, or created); for aws kafka get-bootstrap-brokers (docs/deploy.md, section 5)');
    output('KafkaTopic', this.ingest.topic, 'Kafka topic producers write click events to and the ingest function reads');
    output('IngestFunctionName', this.ingest.ingestFunction.functionName,
      'Ingest Lambda function: list its event source mapping, invoke it to replay a failed batch (runbook IngestFailedBatches)');
    output('IngestLogGroupName', this.ingest.ingestFunction.logGroup.logGroupName,
      'Log group of the ingest function (JSON lines; correlation_id is the batch id)');
    output('FailedBatchesBucketName', this.ingest.failedBatchesBucket.bucketName,
      'S3 bucket the ingest on-failure destination writes each batch that failed every retry to, in full; replay from it (runbook IngestFailedBatches)');
    output('FailedBatchQueueUrl', this.ingest.failedBatchNotifications.queueUrl,
      'SQS queue with one S3 notification per object in the failed-batches bucket; the IngestFailedBatches alarm watches it');

    // Storage and processing
    output('RawEventsBucketName', this.rawEventsBucket.bucketName,
      'S3 bucket of the raw zone: events/dt=YYYY-MM-DD/hr=HH/ and quarantine/dt=YYYY-MM-DD/');
    output('AggregatesBucketName', this.aggregatesBucket.bucketName,
      'S3 bucket of the analytics tables (aggregates/<table>/event_date=YYYY-MM-DD/) and the Glue job state');
    output('GlueJobName', this.processing.job.ref,
      'Glue aggregation job: npm run job:start -- --job-name <this> (or GLUE_JOB_NAME=<this>), aws glue start-job-run / get-job-runs --job-name <this>');
    output('GlueJobOutputLogGroupName', this.processing.outputLogGroup.logGroupName,
      "Log group of the Glue job script's own log lines and Python tracebacks (stdout, stderr), one stream per run id and driver or executor");
    output('GlueJobErrorLogGroupName', this.processing.errorLogGroup.logGroupName,
      'Log group of the Glue job runs\' system and Spark logs, one stream per run id and driver or executor');
    output('GlueDatabaseName', this.processing.database.ref,
      'Glue Data Catalog database with raw_events and the five analytics tables (partition projection) for Athena');
    output('AthenaWorkGroupName', this.processing.workGroup.ref,
      'Athena workgroup for SQL over the raw events and the aggregates (results encrypted and kept by the workgroup)');
    output('PrivacyKeySecretArn', this.privacyKey.secret.secretArn,
      'Secret holding the pseudonymization and erasure key (never print it); npm run erase reads it (docs/privacy.md)');
    output('AccessLogsBucketName', this.accessLogsBucket.bucketName,
      'S3 bucket of the server access logs of the other buckets; retained in prod: delete it by hand after a teardown (docs/deploy.md, section 9)');

    // Serving
    output('OpenSearchDomainEndpoint', this.searchDomain.domain.domainEndpoint,
      'VPC endpoint of the OpenSearch domain, without scheme: the host to port-forward to through the analyst bastion (docs/serving.md)');
    output('OpenSearchDashboardsUrl', `${this.searchDomain.endpointUrl}/_dashboards`,
      'OpenSearch Dashboards; VPC only: open it through the SSM port forward via the analyst bastion and sign in with the Cognito user (docs/serving.md)');
    output('OpenSearchDomainName', this.searchDomain.domain.domainName,
      'Name of the OpenSearch domain (aws opensearch describe-domain / delete-domain --domain-name <this>); retained in prod');
    output('AnalystUserPoolId', this.searchDomain.userPool.userPoolId,
      'Cognito user pool of the analysts who sign in to OpenSearch Dashboards (aws cognito-idp admin-create-user --user-pool-id <this>)');
    if (this.searchDomain.bastion) {
      output('AnalystBastionInstanceId', this.searchDomain.bastion.instanceId,
        'EC2 instance analysts port-forward to OpenSearch Dashboards through (aws ssm start-session --target <this>)');
    }
    output('IndexerFunctionName', this.indexing.indexerFunction.functionName,
      'Indexer Lambda function (aggregate objects to OpenSearch): its event source mapping and logs (runbooks IndexerErrors, IndexerQueueAge)');
    output('IndexerLogGroupName', this.indexing.indexerFunction.logGroup.logGroupName,
      'Log group of the indexer (JSON lines; correlation_id is the aggregate object key)');
    output('IndexerQueueArn', this.indexing.queue.queueArn,
      'SQS queue of S3 notifications the indexer consumes: the destination of a dead-letter redrive (runbook DeadLetterMessages)');
    output('IndexerDeadLetterQueueUrl', this.indexing.deadLetterQueue.queueUrl,
      'Dead-letter queue of the indexer: aggregate objects that could not be indexed; read messages from it (runbook DeadLetterMessages)');
    output('IndexerDeadLetterQueueArn', this.indexing.deadLetterQueue.queueArn,
      'Dead-letter queue of the indexer, as the source of aws sqs start-message-move-task (runbook DeadLetterMessages)');

    // Operations
    output('AlarmTopicKeyId', this.monitoring.alarmTopicKey.keyId,
      'KMS key of the alarm topic; retained in prod: schedule its deletion by hand after a teardown (docs/deploy.md, section 9)');
  }
}
