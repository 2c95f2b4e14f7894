/**
 * `npm run smoke` reads a deployment through the stack's outputs (scripts/deploy/smoke-aws.ts
 * REQUIRED_OUTPUTS) and its default stack name: both must be what the app synthesizes, with a new
 * MSK cluster and with an existing one.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { REQUIRED_OUTPUTS, STACK_NAME } from '../../scripts/deploy/smoke-aws';
import { pipelineApp } from '../ops/pipeline-app';

const EXISTING_CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/web-clicks/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab-2';

describe('the outputs the smoke test reads', () => {
  it.each([
    ['a new MSK cluster', {}],
    ['an existing MSK cluster', { mskClusterArn: EXISTING_CLUSTER_ARN }],
  ])('exist in the stack with %s', (_name, context) => {
    const { stack } = pipelineApp(context);
    expect(stack.stackName).toBe(STACK_NAME);
    const outputs = Object.keys(Template.fromStack(stack).toJSON().Outputs);
    expect(REQUIRED_OUTPUTS.filter((key) => !outputs.includes(key))).toEqual([]);
  });
});
