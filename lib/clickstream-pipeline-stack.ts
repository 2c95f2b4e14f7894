import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';
import { IndexingStage } from './indexing';
import { PipelineNetwork } from './network';
import { SearchDomain } from './search-domain';
import { SecureBucket } from './secure-defaults';

export interface ClickstreamPipelineStackProps extends StackProps {
  /** The validated deployment settings (see lib/config.ts and docs/deploy.md). */
  readonly config: PipelineConfig;
}

/** The whole pipeline in one stack. It only wires the stages together. */
export class ClickstreamPipelineStack extends Stack {
  public readonly accessLogsBucket: SecureBucket;
  public readonly rawEventsBucket: SecureBucket;
  public readonly aggregatesBucket: SecureBucket;
  public readonly network: PipelineNetwork;
  public readonly searchDomain: SearchDomain;
  public readonly indexing: IndexingStage;

  constructor(scope: Construct, id: string, props: ClickstreamPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;

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
      removalPolicy: config.removalPolicy,
    });

    this.searchDomain = new SearchDomain(this, 'SearchDomain', {
      vpc: this.network.vpc,
      dataNodeInstanceType: config.openSearch.instanceType,
      dataNodes: config.openSearch.instanceCount,
      volumeSizeGiB: config.openSearch.volumeSizeGiB,
      availabilityZoneCount: config.openSearch.zoneAwareness ? 2 : 1,
      logRetention: config.retention.logRetentionDays,
      removalPolicy: config.removalPolicy,
    });
    this.indexing = new IndexingStage(this, 'Indexing', {
      aggregatesBucket: this.aggregatesBucket,
      searchDomain: this.searchDomain,
    });
  }
}
