import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { SecureBucket } from './secure-defaults';

/** The whole pipeline in one stack. It only wires the stages together. */
export class ClickstreamPipelineStack extends Stack {
  public readonly accessLogsBucket: SecureBucket;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // S3 server access logs of every data bucket land here.
    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket');
  }
}
