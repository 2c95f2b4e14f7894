import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PipelineConfig } from './config';
import { PipelineNetwork } from './network';
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
  }
}
