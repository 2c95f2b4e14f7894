import { readFileSync } from 'fs';
import { resolve } from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { PipelineMonitoring, PipelineMonitoringProps } from '../../lib/monitoring';
import { opsTestApp as testApp } from './pipeline-app';

/** A stack with stand-ins for the resources the monitoring watches. */
function monitoredStack(overrides: Partial<PipelineMonitoringProps> = {}, deadLetterQueueCount = 1) {
  const stack = new Stack(testApp(), 'MonitoringTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = (id: string) => new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  const monitoring = new PipelineMonitoring(stack, 'Monitoring', {
    ingestFunction: fn('IngestFn'),
    ingestFailureQueue: new sqs.Queue(stack, 'IngestFailures'),
    indexerFunction: fn('IndexerFn'),
    indexerQueue: new sqs.Queue(stack, 'IndexerQueue'),
    deadLetterQueues: Array.from({ length: deadLetterQueueCount }, (_, i) => new sqs.Queue(stack, i === 0 ? 'IndexerDlq' : `OtherDlq${i}`)),
    glueJobName: 'aggregate-clicks',
    searchDomain: opensearch.Domain.fromDomainAttributes(stack, 'Domain', {
      domainArn: 'arn:aws:es:eu-west-1:123456789012:domain/clickstream',
      domainEndpoint: 'https://vpc-clickstream-abc.eu-west-1.es.amazonaws.com',
    }),
    searchVolumeSizeGiB: 100,
    ...overrides,
  });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

const ref = (logicalIdPrefix: string) => ({ Ref: Match.stringLikeRegexp(`^${logicalIdPrefix}`) });
const getAtt = (logicalIdPrefix: string, attribute: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${logicalIdPrefix}`), attribute] });

describe('PipelineMonitoring alarms', () => {
  const { template, monitoring } = monitoredStack({ alarmEmail: 'ops@example.com' });

  test('creates exactly the alarms the issue lists, each notifying the topic on ALARM and OK', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms).length).toBe(13);
    expect(monitoring.alarms).toHaveLength(13);
    for (const alarm of Object.values(alarms)) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic[0-9A-F]{8}$/) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic[0-9A-F]{8}$/) }]);
      expect(JSON.stringify(alarm.Properties.AlarmDescription)).toMatch(/Runbook: docs\/operations\.md#/);
    }
  });

  test('every runbook link names a section of docs/operations.md, also with several dead-letter queues', () => {
    const headings = new Set(
      [...readFileSync(resolve(__dirname, '../../docs/operations.md'), 'utf8').matchAll(/^#{2,4} +(.+)$/gm)]
        .map((m) => m[1].trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
    );
    const withTwoQueues = monitoredStack({}, 2).template;
    for (const t of [template, withTwoQueues]) {
      const descriptions = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => JSON.stringify(a.Properties.AlarmDescription));
      const anchors = descriptions.map((d) => /docs\/operations\.md#([\w-]+)/.exec(d)?.[1]);
      expect(anchors.filter((a) => a === undefined || !headings.has(a))).toEqual([]);
    }
  });

  test('Kafka offset lag of the ingest function, sustained 15 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda', MetricName: 'OffsetLag', Statistic: 'Maximum',
      Dimensions: [{ Name: 'FunctionName', Value: ref('IngestFn') }],
      Period: 300, EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 50000,
      ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    });
  });

  test.each([['IngestFn'], ['IndexerFn']])('errors and throttles of %s, 2 of 3 five-minute periods', (fn) => {
    for (const metric of ['Errors', 'Throttles']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda', MetricName: metric, Statistic: 'Sum',
        Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }],
        Period: 300, EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  test.each([['IndexerDlq'], ['IngestFailures']])('any message in %s alarms', (queue) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
      Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('age of the oldest message in the indexer queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt('IndexerQueue', 'QueueName') }],
      Threshold: 900, Period: 300, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('OpenSearch red, yellow, free storage (25% of the volume, in MiB) and JVM pressure', () => {
    const domainDimensions = [{ Name: 'ClientId', Value: '123456789012' }, { Name: 'DomainName', Value: 'clickstream' }];
    const expectations: Array<[string, string, number, number, string]> = [
      ['ClusterStatus.red', 'Maximum', 1, 1, 'GreaterThanOrEqualToThreshold'],
      ['ClusterStatus.yellow', 'Maximum', 1, 5, 'GreaterThanOrEqualToThreshold'],
      ['FreeStorageSpace', 'Minimum', 25600, 1, 'LessThanOrEqualToThreshold'],
      ['JVMMemoryPressure', 'Maximum', 95, 3, 'GreaterThanOrEqualToThreshold'],
    ];
    for (const [metric, statistic, threshold, periods, operator] of expectations) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/ES', MetricName: metric, Statistic: statistic, Period: 60,
        Dimensions: Match.arrayWith(domainDimensions), Threshold: threshold, EvaluationPeriods: periods, ComparisonOperator: operator,
      });
    }
  });

  test('no successful Glue run for 3 hours alarms, and so does no data at all', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'ClickstreamPipeline', MetricName: 'GlueJobRunsSucceeded', Statistic: 'Sum',
      Period: 3600, EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    });
  });

  test('thresholds can be changed by props', () => {
    const { template: custom } = monitoredStack({ thresholds: { ingestOffsetLag: 1234, hoursWithoutSuccessfulJobRun: 26, searchFreeStorageFraction: 0.1 } });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OffsetLag', Threshold: 1234 });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'GlueJobRunsSucceeded', Period: 3600, EvaluationPeriods: 26, DatapointsToAlarm: 26 });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FreeStorageSpace', Threshold: 10240 });
  });

  test('impossible thresholds are refused with the prop name', () => {
    expect(() => monitoredStack({ thresholds: { hoursWithoutSuccessfulJobRun: 169 } })).toThrow(/hoursWithoutSuccessfulJobRun must be a whole number from 1 to 168/);
    expect(() => monitoredStack({ thresholds: { searchFreeStorageFraction: 25 } })).toThrow(/searchFreeStorageFraction must be between 0 and 1/);
  });
});

describe('PipelineMonitoring topic', () => {
  test('is encrypted with a rotating customer-managed key that CloudWatch and EventBridge of this account may use', () => {
    const { template } = monitoredStack();
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: getAtt('MonitoringAlarmTopicKey', 'Arn') });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith(['cloudwatch.amazonaws.com', 'events.amazonaws.com'].map((service) => Match.objectLike({
        Effect: 'Allow', Principal: { Service: service }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      }))) },
    });
  });

  test('refuses plain-HTTP publishing', () => {
    const { template } = monitoredStack();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('subscribes the alarm e-mail only when one is given', () => {
    monitoredStack({ alarmEmail: 'ops@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: ref('MonitoringAlarmTopic'),
    });
    monitoredStack().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('PipelineMonitoring Glue job events', () => {
  const { template } = monitoredStack();

  test('failed, timed-out and errored runs of the job go to the topic with a readable message', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.glue'], 'detail-type': ['Glue Job State Change'], detail: { jobName: ['aggregate-clicks'], state: ['FAILED', 'TIMEOUT', 'ERROR'] } },
      State: 'ENABLED',
      Targets: [Match.objectLike({
        Arn: ref('MonitoringAlarmTopic'),
        InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp('Glue job <detail-jobName> run <detail-jobRunId>') }),
      })],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish' })]) },
    });
  });

  test('every state change of the job is kept in a log group that EventBridge may write', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.glue'], 'detail-type': ['Glue Job State Change'], detail: { jobName: ['aggregate-clicks'] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':log-group:'), ref('MonitoringGlueRunHistory')])] } })],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/events/MonitoringTest/glue-job-runs', RetentionInDays: 90 });
    const policy = Object.values(template.findResources('AWS::Logs::ResourcePolicy'))[0];
    const document = JSON.parse(JSON.stringify(policy.Properties.PolicyDocument));
    expect(JSON.stringify(document)).toContain('events.amazonaws.com');
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.detail.state = "SUCCEEDED" }',
      MetricTransformations: [{ MetricNamespace: 'ClickstreamPipeline', MetricName: 'GlueJobRunsSucceeded', MetricValue: '1', Unit: 'Count' }],
    });
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: Match.stringLikeRegexp('"FAILED".*"TIMEOUT".*"ERROR"'),
      MetricTransformations: [Match.objectLike({ MetricName: 'GlueJobRunsFailed' })],
    });
  });
});

describe('PipelineMonitoring dashboard', () => {
  const { template } = monitoredStack();
  const body = () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    // The body is a Fn::Join of literal JSON and tokens; the literal parts carry the metric names.
    return JSON.stringify(dashboard.Properties.DashboardBody);
  };

  test('one dashboard named after the stack', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'MonitoringTest-pipeline-health' });
  });

  test('shows records in, stored and quarantined, documents indexed, lags and the Glue job', () => {
    const text = body();
    for (const expected of [
      'RecordsIn', 'RecordsStored', 'RecordsQuarantined', 'DocumentsIndexed', 'OffsetLag', 'ApproximateAgeOfOldestMessage',
      'glue.driver.aggregate.elapsedTime', 'GlueJobRunsSucceeded', 'GlueJobRunsFailed', 'ClusterStatus.red', 'FreeStorageSpace',
      'JVMMemoryPressure', 'SUCCEEDED',
    ]) {
      expect(text).toContain(expected);
    }
  });

  test('outputs the dashboard URL and the alarm topic for the deployer', () => {
    const outputs = template.toJSON().Outputs;
    const url = Object.entries<any>(outputs).find(([k]) => k.startsWith('MonitoringDashboardUrl'))![1];
    expect(JSON.stringify(url.Value)).toContain('#dashboards/dashboard/');
    expect(JSON.stringify(url.Value)).toContain('MonitoringDashboard');
    const topic = Object.entries<any>(outputs).find(([k]) => k.startsWith('MonitoringAlarmTopicArn'))![1];
    expect(topic.Value).toEqual({ Ref: expect.stringMatching(/^MonitoringAlarmTopic[0-9A-F]{8}$/) });
  });

  test('puts the status of every alarm at the top', () => {
    const text = body();
    const alarmWidget = text.indexOf('\\"type\\":\\"alarm\\"');
    expect(alarmWidget).toBeGreaterThan(-1);
    expect(alarmWidget).toBeLessThan(text.indexOf('RecordsIn'));
    expect(text).toContain('MonitoringIngestOffsetLag');
  });
});
