import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';
import { IndexingStage } from './indexing';
import { IngestStage } from './ingest';
import { PipelineMonitoring } from './monitoring';
import { PipelineNetwork } from './network';
import { ProcessingStage } from './processing';
import { SearchDomain } from './search-domain';
import { SecureBucket } from './secure-defaults';

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
  public readonly ingest: IngestStage;
  public readonly processing: ProcessingStage;
  public readonly searchDomain: SearchDomain;
  public readonly indexing: IndexingStage;
  public readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: ClickstreamPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const days = (n: number | undefined) => (n === undefined ? undefined : Duration.days(n));

    // S3 server access logs of every data bucket land here.
    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket', { removalPolicy: config.removalPolicy });
    this.rawEventsBucket = new SecureBucket(this, 'RawEventsBucket', {
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: config.removalPolicy,
    });
    this.aggregatesBucket = new SecureBucket(this, 'AggregatesBucket', {
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: config.removalPolicy,
    });

    this.network = new PipelineNetwork(this, 'Network', {
      existingVpcId: config.vpcId,
      flowLogRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });

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
      quarantineExpiration: days(config.retention.quarantineExpirationDays),
      serverAccessLogsBucket: this.accessLogsBucket,
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });

    this.processing = new ProcessingStage(this, 'Processing', {
      rawEventsBucket: this.rawEventsBucket,
      aggregatesBucket: this.aggregatesBucket,
      schedule: config.processing.schedule,
      sessionGapMinutes: config.processing.sessionGapMinutes,
      workerType: config.processing.workerType,
      numberOfWorkers: config.processing.numberOfWorkers,
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
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });
    this.indexing = new IndexingStage(this, 'Indexing', {
      aggregatesBucket: this.aggregatesBucket,
      searchDomain: this.searchDomain,
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
      alarmEmail: config.alarmEmail,
      runHistoryRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });
  }
}
