#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ClickstreamPipelineStack } from '../lib/clickstream-pipeline-stack';
import { loadPipelineConfig, PipelineConfig, PipelineConfigError } from '../lib/config';
import { acknowledgeCheckovFindings, pipelineCheckovAcknowledgements } from '../lib/checkov';
import { acknowledgeNagFindings, addNagChecks, pipelineNagAcknowledgements } from '../lib/nag';

const app = new App();
let config: PipelineConfig;
try {
  config = loadPipelineConfig(app);
} catch (error) {
  // A wrong setting is the deployer's mistake, not a bug: print what to fix, not a stack trace.
  if (error instanceof PipelineConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const stack = new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless clickstream analytics pipeline: MSK -> Lambda -> S3 -> Glue -> OpenSearch',
  config,
});
// cdk-nag's AwsSolutions pack runs at every synthesis: `cdk synth` and `cdk deploy` fail on a
// finding that lib/nag.ts does not acknowledge with a written reason.
addNagChecks(app);
acknowledgeNagFindings(stack, pipelineNagAcknowledgements(config));
// checkov's accepted findings (lib/checkov.ts) go into the template as its own suppressions, so a
// plain `checkov -f <template>` of what is deployed reports the same as test/ops/checkov.test.ts.
acknowledgeCheckovFindings(stack, pipelineCheckovAcknowledgements(config));
