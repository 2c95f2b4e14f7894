import { readFileSync } from 'fs';
import { resolve } from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { PipelineMonitoring, PipelineMonitoringProps } from '../../lib/monitoring';
import { opsTestApp as testApp } from './pipeline-app';

/** A stack with stand-ins for the resources the monitoring watches. */
function monitoredStack(overrides: Partial<PipelineMonitoringProps> = {}, deadLetterQueueCount = 1, glueOutputLog = false) {
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
    ...(glueOutputLog ? { glueOutputLogGroup: new logs.LogGroup(stack, 'GlueOutput') } : {}),
    ...overrides,
  });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

/** Everything on: several queues, dedicated masters and the Glue job's output log group. */
function fullStack() {
  return monitoredStack({ searchDedicatedMasterNodes: true }, 2, true);
}

const ref = (logicalIdPrefix: string) => ({ Ref: Match.stringLikeRegexp(`^${logicalIdPrefix}`) });
const getAtt = (logicalIdPrefix: string, attribute: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${logicalIdPrefix}`), attribute] });

describe('PipelineMonitoring alarms', () => {
  const { template, monitoring } = monitoredStack({ alarmEmail: 'ops@example.com' });

  test('creates exactly the operational alarms, each notifying the topic on ALARM and OK', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms).length).toBe(20);
    expect(monitoring.alarms).toHaveLength(20);
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
    for (const t of [template, withTwoQueues, fullStack().template]) {
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

  test('a failed Kafka batch alarms on each notice sent, not on queue depth', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS', MetricName: 'NumberOfMessagesSent', Statistic: 'Sum', Period: 300,
      Dimensions: [{ Name: 'QueueName', Value: getAtt('IngestFailures', 'QueueName') }],
      Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    });
    const depthAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')
      .map((a) => JSON.stringify(a.Properties.Dimensions));
    expect(depthAlarms.some((d) => d.includes('IngestFailures'))).toBe(false);
  });

  test('no record stored for 60 minutes alarms, and so does no invocation at all (missing data breaches)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'ClickstreamPipeline', MetricName: 'RecordsStored', Statistic: 'Sum', Dimensions: [{ Name: 'service', Value: 'ingest' }],
      Period: 300, EvaluationPeriods: 12, DatapointsToAlarm: 12, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    });
  });

  test('more than 5% of an hour\'s records quarantined alarms (metric math on the ingest counts)', () => {
    const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .find((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('quarantined / received'));
    expect(alarm).toBeDefined();
    expect(alarm!.Properties).toMatchObject({ Threshold: 5, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
    const metrics = alarm!.Properties.Metrics as Array<{ Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: any }>;
    expect(metrics.find((m) => m.Expression)).toMatchObject({ Expression: '100 * quarantined / received' });
    const stat = (id: string) => metrics.find((m) => m.Id === id)!.MetricStat;
    expect(stat('quarantined')).toMatchObject({ Metric: { Namespace: 'ClickstreamPipeline', MetricName: 'RecordsQuarantined', Dimensions: [{ Name: 'service', Value: 'ingest' }] }, Period: 3600, Stat: 'Sum' });
    expect(stat('received')).toMatchObject({ Metric: { MetricName: 'RecordsIn' }, Period: 3600, Stat: 'Sum' });
  });

  test('no computation younger than 6 hours indexed in 6 hours alarms, and so does nothing indexed at all', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'ClickstreamPipeline', MetricName: 'IndexedComputationAge', Statistic: 'Minimum', Dimensions: [{ Name: 'service', Value: 'indexer' }],
      Period: 3600, EvaluationPeriods: 6, DatapointsToAlarm: 6, Threshold: 21600,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'breaching',
    });
  });

  test.each([['IndexerDlq']])('any message in %s alarms', (queue) => {
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

  test('the OpenSearch Service recommended alarms: writes blocked, snapshot failure, 5xx share, CPU', () => {
    const domainDimensions = [{ Name: 'ClientId', Value: '123456789012' }, { Name: 'DomainName', Value: 'clickstream' }];
    const expectations: Array<[string, number, number, number, string]> = [
      ['ClusterIndexWritesBlocked', 300, 1, 1, 'GreaterThanOrEqualToThreshold'],
      ['AutomatedSnapshotFailure', 60, 1, 1, 'GreaterThanOrEqualToThreshold'],
      ['CPUUtilization', 900, 80, 3, 'GreaterThanOrEqualToThreshold'],
    ];
    for (const [metric, period, threshold, periods, operator] of expectations) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/ES', MetricName: metric, Statistic: 'Maximum', Period: period,
        Dimensions: Match.arrayWith(domainDimensions), Threshold: threshold, EvaluationPeriods: periods, ComparisonOperator: operator,
      });
    }
    const fiveXx = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .find((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('100 * errors / requests'));
    expect(fiveXx!.Properties).toMatchObject({ Threshold: 10, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const names = (fiveXx!.Properties.Metrics as Array<{ MetricStat?: { Metric: { MetricName: string; Namespace: string } } }>)
      .filter((m) => m.MetricStat).map((m) => `${m.MetricStat!.Metric.Namespace}/${m.MetricStat!.Metric.MetricName}`).sort();
    expect(names).toEqual(['AWS/ES/5xx', 'AWS/ES/OpenSearchRequests']);
    // Master metrics only exist with dedicated masters.
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('MasterCPUUtilization');
  });

  test('with dedicated masters: master CPU, master JVM pressure and master reachability', () => {
    const { template: withMasters, monitoring: m } = monitoredStack({ searchDedicatedMasterNodes: true });
    expect(m.alarms).toHaveLength(23);
    const expectations: Array<[string, number, number, number, string]> = [
      ['MasterCPUUtilization', 900, 50, 3, 'GreaterThanOrEqualToThreshold'],
      ['MasterJVMMemoryPressure', 60, 95, 3, 'GreaterThanOrEqualToThreshold'],
      ['MasterReachableFromNode', 86400, 1, 1, 'LessThanThreshold'],
    ];
    for (const [metric, period, threshold, periods, operator] of expectations) {
      withMasters.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/ES', MetricName: metric, Statistic: 'Maximum', Period: period, Threshold: threshold, EvaluationPeriods: periods, ComparisonOperator: operator,
      });
    }
  });

  test('Glue runs that keep finding no input while ingest stores records alarm (with the job\'s log group)', () => {
    const { stack, monitoring: m, template: t } = (() => {
      const built = monitoredStack({}, 1, true);
      return built;
    })();
    expect(stack).toBeDefined();
    expect(m.alarms).toHaveLength(21);
    t.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: ref('GlueOutput'),
      FilterPattern: '"no raw input changed since the last successful run"',
      MetricTransformations: [{ MetricNamespace: 'ClickstreamPipeline', MetricName: 'GlueRunsWithoutInput', MetricValue: '1', Unit: 'Count' }],
    });
    const alarm = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
      .find((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('GlueRunsWithoutInput'));
    expect(alarm!.Properties).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1, TreatMissingData: 'notBreaching' });
    const metrics = alarm!.Properties.Metrics as Array<{ Id: string; Expression?: string; MetricStat?: any }>;
    expect(metrics.find((x) => x.Expression)!.Expression).toBe('IF(FILL(noInput, 0) > 0 AND FILL(stored, 0) > 0, 1, 0)');
    expect(metrics.find((x) => x.Id === 'stored')!.MetricStat).toMatchObject({ Metric: { MetricName: 'RecordsStored' }, Period: 3600, Stat: 'Sum' });
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

  test('new windows and shares can be changed by props', () => {
    const { template: custom } = monitoredStack({ thresholds: { ingestHeartbeatMinutes: 30, indexFreshnessHours: 26, quarantinePercent: 20 } });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RecordsStored', Period: 300, EvaluationPeriods: 6, DatapointsToAlarm: 6 });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IndexedComputationAge', EvaluationPeriods: 26, Threshold: 26 * 3600 });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 20, Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * quarantined / received' })]) });
  });

  test('impossible thresholds are refused with the prop name', () => {
    expect(() => monitoredStack({ thresholds: { ingestHeartbeatMinutes: 12 } })).toThrow(/ingestHeartbeatMinutes must be a whole number from 10 to 1440 that is a multiple of 5/);
    expect(() => monitoredStack({ thresholds: { indexFreshnessHours: 1 } })).toThrow(/indexFreshnessHours must be a whole number from 2 to 168/);
    expect(() => monitoredStack({ thresholds: { quarantinePercent: 0 } })).toThrow(/quarantinePercent must be a whole number from 1 to 100/);
    expect(() => monitoredStack({ thresholds: { hoursWithoutSuccessfulJobRun: 169 } })).toThrow(/hoursWithoutSuccessfulJobRun must be a whole number from 1 to 168/);
    expect(() => monitoredStack({ thresholds: { searchFreeStorageFraction: 25 } })).toThrow(/searchFreeStorageFraction must be between 0 and 1/);
  });
});

describe('PipelineMonitoring topic', () => {
  const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });
  const alarmArns = partitionArn(':cloudwatch:eu-west-1:123456789012:alarm:*');

  test('is encrypted with a rotating customer-managed key that only this account\'s alarms and the Glue failure rule may use', () => {
    const { template } = monitoredStack();
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: getAtt('MonitoringAlarmTopicKey', 'Arn') });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([
        Match.objectLike({
          Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': alarmArns } },
        }),
        Match.objectLike({
          // The rules of this account and region: the key cannot name the rule, which depends on the topic and so on the key.
          Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': partitionArn(':events:eu-west-1:123456789012:rule/*') } },
        }),
      ]) },
    });
  });

  test('CloudWatch alarms of this account and region may publish to the topic (its policy replaces the SNS default)', () => {
    const { template } = monitoredStack();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref('MonitoringAlarmTopic')],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: ref('MonitoringAlarmTopic'),
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': alarmArns } },
      })]) },
    });
  });

  test('no service may publish or use the key without a source condition', () => {
    const { template } = monitoredStack();
    const statements = [
      ...Object.values(template.findResources('AWS::SNS::TopicPolicy')).flatMap((p) => p.Properties.PolicyDocument.Statement),
      ...Object.values(template.findResources('AWS::KMS::Key')).flatMap((k) => k.Properties.KeyPolicy.Statement),
    ].filter((st: any) => st.Effect === 'Allow' && st.Principal?.Service);
    expect(statements.length).toBe(4);
    for (const st of statements) {
      expect(st.Condition?.StringEquals?.['aws:SourceAccount']).toBe('123456789012');
      expect(st.Condition?.ArnLike?.['aws:SourceArn'] ?? st.Condition?.ArnEquals?.['aws:SourceArn']).toBeDefined();
    }
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
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish',
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnEquals: { 'aws:SourceArn': getAtt('MonitoringGlueJobFailedRule', 'Arn') } },
      })]) },
    });
  });

  test('every state change of the job is kept in a log group that EventBridge may write', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.glue'], 'detail-type': ['Glue Job State Change'], detail: { jobName: ['aggregate-clicks'] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':log-group:'), ref('MonitoringGlueRunHistory')])] } })],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/events/MonitoringTest/glue-job-runs', RetentionInDays: 90 });
    // The policy document is a JSON string with tokens (Fn::Join); its literal parts are checked.
    const policy = Object.values(template.findResources('AWS::Logs::ResourcePolicy'))[0];
    const document = JSON.stringify(policy.Properties.PolicyDocument);
    expect(document).toContain('events.amazonaws.com');
    expect(document).toMatch(/\\"Action\\":\\"logs:PutLogEvents\\".*\\"ArnEquals\\":\{\\"aws:SourceArn\\":\\"",\{"Fn::GetAtt":\["MonitoringGlueRunHistoryRule[0-9A-F]{8}","Arn"\]\}/);
    expect(document).toMatch(/\\"Action\\":\\"logs:CreateLogStream\\".*\\"aws:SourceAccount\\":\\"123456789012\\"/);
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
