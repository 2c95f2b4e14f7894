import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import * as fs from 'fs';
import * as path from 'path';
import { pipelineApp } from './pipeline-app';

/**
 * The stack outputs an operator works with after `cdk deploy` (ClickstreamPipelineStack
 * addOperatorOutputs, docs/deploy.md "What the deployment outputs"): each one exists under its
 * exact key, has a description, and references the resource it names, not a copy of its name.
 */
const EXISTING_CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/web-clicks/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab-2';

function logicalId(stack: Stack, construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : (construct.node.defaultChild as CfnElement);
  return stack.getLogicalId(element);
}

describe('the stack outputs what the operator docs name', () => {
  const { stack } = pipelineApp();
  const template = Template.fromStack(stack);
  const outputs: Record<string, { Value: unknown; Description?: string; Export?: unknown }> = template.toJSON().Outputs;
  const ref = (construct: IConstruct) => ({ Ref: logicalId(stack, construct) });
  const getAtt = (construct: IConstruct, attribute: string) => ({ 'Fn::GetAtt': [logicalId(stack, construct), attribute] });
  const expectOutput = (key: string, value: unknown) =>
    template.hasOutput(key, { Value: value, Description: Match.stringLikeRegexp('\\S') });

  test('source and ingest: the cluster, the topic, the function, its log group, the failed-batch bucket and queue', () => {
    expectOutput('MskClusterArn', getAtt(stack.ingest.serverlessCluster!, 'Arn'));
    expectOutput('KafkaTopic', 'clickstream');
    expectOutput('IngestFunctionName', ref(stack.ingest.ingestFunction));
    expectOutput('IngestLogGroupName', ref(stack.ingest.ingestFunction.logGroup));
    expectOutput('FailedBatchesBucketName', ref(stack.ingest.failedBatchesBucket));
    expectOutput('FailedBatchQueueUrl', ref(stack.ingest.failedBatchNotifications));
  });

  test('storage and processing: both buckets, the Glue job and its log groups, the catalog database, the Athena workgroup', () => {
    expectOutput('RawEventsBucketName', ref(stack.rawEventsBucket));
    expectOutput('AggregatesBucketName', ref(stack.aggregatesBucket));
    expectOutput('GlueJobName', ref(stack.processing.job));
    expectOutput('GlueJobOutputLogGroupName', ref(stack.processing.outputLogGroup));
    expectOutput('GlueJobErrorLogGroupName', ref(stack.processing.errorLogGroup));
    expectOutput('GlueDatabaseName', ref(stack.processing.database));
    expectOutput('AthenaWorkGroupName', ref(stack.processing.workGroup));
    expectOutput('AccessLogsBucketName', ref(stack.accessLogsBucket));
  });

  test('serving: the domain endpoint, the Dashboards URL, the analysts pool and bastion, the indexer, its queue and dead-letter queue', () => {
    const endpoint = getAtt(stack.searchDomain.domain, 'DomainEndpoint');
    expectOutput('OpenSearchDomainEndpoint', endpoint);
    expectOutput('OpenSearchDashboardsUrl', { 'Fn::Join': ['', ['https://', endpoint, '/_dashboards']] });
    expectOutput('OpenSearchDomainName', ref(stack.searchDomain.domain));
    expectOutput('AnalystUserPoolId', ref(stack.searchDomain.userPool));
    expectOutput('AnalystBastionInstanceId', ref(stack.searchDomain.bastion!.instance));
    expectOutput('IndexerFunctionName', ref(stack.indexing.indexerFunction));
    expectOutput('IndexerLogGroupName', ref(stack.indexing.indexerFunction.logGroup));
    expectOutput('IndexerQueueArn', getAtt(stack.indexing.queue, 'Arn'));
    expectOutput('IndexerDeadLetterQueueUrl', ref(stack.indexing.deadLetterQueue));
    expectOutput('IndexerDeadLetterQueueArn', getAtt(stack.indexing.deadLetterQueue, 'Arn'));
  });

  test('operations: the alarm topic\'s key, which prod retains after a teardown', () => {
    expectOutput('AlarmTopicKeyId', ref(stack.monitoring.alarmTopicKey));
  });

  test('the log group outputs are the functions\' own log groups: no LogRetention custom resource appears', () => {
    expect(template.findResources('Custom::LogRetention')).toEqual({});
    for (const key of ['IngestLogGroupName', 'IndexerLogGroupName']) {
      const { Ref } = outputs[key].Value as { Ref: string };
      expect(template.toJSON().Resources[Ref].Type).toBe('AWS::Logs::LogGroup');
    }
  });

  test('every output has a description and none is exported', () => {
    const entries = Object.entries(outputs);
    expect(entries.filter(([, o]) => (o.Description ?? '').trim().length < 20).map(([k]) => k)).toEqual([]);
    expect(entries.filter(([, o]) => o.Export !== undefined).map(([k]) => k)).toEqual([]);
  });

  test('the monitoring outputs are still there, under their construct keys', () => {
    expect(Object.keys(outputs).filter((k) => /^Monitoring(DashboardUrl|AlarmTopicArn)/.test(k))).toHaveLength(2);
  });

  test('docs/deploy.md lists every output key', () => {
    const deployDoc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'deploy.md'), 'utf8');
    // The stack's own outputs; those of constructs (monitoring, the CDK bastion) end in a hash.
    const stackKeys = Object.keys(outputs).filter((k) => !/[0-9A-F]{8}$/.test(k));
    expect(stackKeys).toContain('GlueJobName');
    expect(stackKeys.filter((k) => !deployDoc.includes(`\`${k}\``))).toEqual([]);
  });
});

describe('the stack outputs with an existing MSK cluster', () => {
  const { stack } = pipelineApp({ mskClusterArn: EXISTING_CLUSTER_ARN, kafkaTopic: 'web-clicks' });
  const template = Template.fromStack(stack);

  test('MskClusterArn and KafkaTopic are the given cluster and topic', () => {
    template.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    template.hasOutput('MskClusterArn', { Value: EXISTING_CLUSTER_ARN });
    template.hasOutput('KafkaTopic', { Value: 'web-clicks' });
  });
});
