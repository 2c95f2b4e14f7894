#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ClickstreamPipelineStack } from '../lib/clickstream-pipeline-stack';
import { loadPipelineConfig } from '../lib/config';

const app = new App();
new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless clickstream analytics pipeline: MSK -> Lambda -> S3 -> Glue -> OpenSearch',
  config: loadPipelineConfig(app),
});
