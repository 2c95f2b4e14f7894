import { App } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as path from 'path';
import { ClickstreamPipelineStack } from '../../lib/clickstream-pipeline-stack';
import { loadPipelineConfig } from '../../lib/config';

/**
 * An App with cdk.json's feature flags, like test/support/cdk-app.ts, plus: asset bundling
 * skipped (these checks read the template, not the bundles) and aws-cdk-lib's built-in
 * CloudFormation validation off. That validation takes ~20 s per synthesis of the whole app, and
 * the template is linted by cfn-lint in cfn-lint.test.ts, the deploy-time validation that matters.
 */
export function opsTestApp(context: Record<string, unknown> = {}): App {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return new App({
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
  });
}

/**
 * The real app, built the way bin/clickstream.ts builds it: same stack id, props, environment and
 * settings (loadPipelineConfig on the app's context).
 */
export function pipelineApp(context: Record<string, unknown> = {}): { app: App; stack: ClickstreamPipelineStack } {
  const app = opsTestApp(context);
  const stack = new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'Serverless clickstream analytics pipeline: MSK -> Lambda -> S3 -> Glue -> OpenSearch',
    config: loadPipelineConfig(app),
  });
  return { app, stack };
}
