import { App } from 'aws-cdk-lib';
import { ClickstreamPipelineStack } from '../../lib/clickstream-pipeline-stack';
import { loadPipelineConfig } from '../../lib/config';
import { testApp } from '../support/cdk-app';

/**
 * The real app, built the way bin/clickstream.ts builds it (same stack id, props and
 * environment), with cdk.json's feature flags. Asset bundling is skipped: the checks here read
 * the template, not the bundles.
 */
export function pipelineApp(context: Record<string, unknown> = {}): { app: App; stack: ClickstreamPipelineStack } {
  const app = testApp({ context });
  const stack = new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'Serverless clickstream analytics pipeline: MSK -> Lambda -> S3 -> Glue -> OpenSearch',
    config: loadPipelineConfig(app),
  });
  return { app, stack };
}
