import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { loadPipelineConfig, PipelineConfigError } from '../../lib/config';

function load(context: Record<string, unknown> = {}) {
  return loadPipelineConfig(new App({ context }));
}

/** The error message `load` throws for `context`, or fails the test when nothing is thrown. */
function problemsOf(context: Record<string, unknown>): string {
  try {
    load(context);
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineConfigError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(context)}`);
}

describe('loadPipelineConfig defaults', () => {
  test('a context with no settings gives a cheap, disposable dev deployment', () => {
    const config = load();
    expect(config.stage).toBe('dev');
    expect(config.removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(config.kafka).toEqual({
      existingClusterArn: undefined, topic: 'clickstream', consumerGroupId: undefined,
      batchSize: 1000, batchingWindowSeconds: 5, startingPosition: 'TRIM_HORIZON',
    });
    expect(config.vpcId).toBeUndefined();
    expect(config.processing).toEqual({ schedule: 'cron(15 * * * ? *)', sessionGapMinutes: 30, workerType: 'G.1X', numberOfWorkers: 2, lookbackDays: undefined });
    expect(config.retention).toEqual({
      rawEventsTransitionDays: 30, rawEventsExpirationDays: undefined, quarantineExpirationDays: 90, logRetentionDays: 30,
    });
    expect(config.openSearch).toEqual({ instanceType: 't3.small.search', instanceCount: 1, volumeSizeGiB: 10, zoneAwareness: false, dedicatedMasterNodes: 0, auditLogs: false });
    expect(config.alarmEmail).toBeUndefined();
    expect(config.alarms).toEqual({ ingestHeartbeatMinutes: 60, quarantineAlarmPercent: 5, indexFreshnessHours: 6 });
  });

  test('stage=prod retains data and uses the production search profile', () => {
    const config = load({ stage: 'prod' });
    expect(config.removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(config.openSearch).toEqual({ instanceType: 'r6g.large.search', instanceCount: 2, volumeSizeGiB: 100, zoneAwareness: true, dedicatedMasterNodes: 3, auditLogs: true });
    expect(load({ stage: 'prod', openSearchAuditLogs: 'false' }).openSearch.auditLogs).toBe(false);
  });

  test('alarm windows and shares are read as typed settings', () => {
    expect(load({ ingestHeartbeatMinutes: '120', quarantineAlarmPercent: 20, indexFreshnessHours: '30' }).alarms)
      .toEqual({ ingestHeartbeatMinutes: 120, quarantineAlarmPercent: 20, indexFreshnessHours: 30 });
  });

  test('an explicit removalPolicy wins over the stage default', () => {
    expect(load({ stage: 'prod', removalPolicy: 'destroy' }).removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(load({ stage: 'dev', removalPolicy: 'retain' }).removalPolicy).toBe(RemovalPolicy.RETAIN);
  });

  test('reads from any construct of the app, not only the app itself', () => {
    const app = new App({ context: { kafkaTopic: 'clicks.v2' } });
    expect(loadPipelineConfig(new Stack(app, 'S')).kafka.topic).toBe('clicks.v2');
  });
});

describe('loadPipelineConfig parses command-line strings', () => {
  test('numbers and booleans given as strings (-c key=value) are typed', () => {
    const config = load({
      ingestBatchSize: '500', openSearchInstanceCount: '4', openSearchDedicatedMasterNodes: '5', openSearchZoneAwareness: 'true', logRetentionDays: '90',
      rawEventsTransitionDays: '60', rawEventsExpirationDays: '400',
    });
    expect(config.kafka.batchSize).toBe(500);
    expect(config.openSearch.instanceCount).toBe(4);
    expect(config.openSearch.zoneAwareness).toBe(true);
    expect(config.openSearch.dedicatedMasterNodes).toBe(5);
    expect(config.retention).toMatchObject({ logRetentionDays: 90, rawEventsTransitionDays: 60, rawEventsExpirationDays: 400 });
  });

  test('an existing cluster, VPC and e-mail are taken as given', () => {
    const arn = 'arn:aws:kafka:eu-west-1:123456789012:cluster/web-clicks/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab-2';
    const config = load({ mskClusterArn: arn, vpcId: 'vpc-0123456789abcdef0', alarmEmail: 'ops@example.com', kafkaConsumerGroupId: 'clickstream-ingest' });
    expect(config.kafka.existingClusterArn).toBe(arn);
    expect(config.kafka.consumerGroupId).toBe('clickstream-ingest');
    expect(config.vpcId).toBe('vpc-0123456789abcdef0');
    expect(config.alarmEmail).toBe('ops@example.com');
  });

  test('an empty value means the default', () => {
    expect(load({ alarmEmail: '', kafkaTopic: '' }).kafka.topic).toBe('clickstream');
  });

  test('a daily schedule with day-of-week "?" is accepted', () => {
    expect(load({ glueSchedule: 'cron(0 2 * * ? *)' }).processing.schedule).toBe('cron(0 2 * * ? *)');
    expect(load({ glueSchedule: 'cron(0 3 ? * MON-FRI *)' }).processing.schedule).toBe('cron(0 3 ? * MON-FRI *)');
  });
});

describe('loadPipelineConfig rejects wrong values, naming the setting', () => {
  test.each([
    ['stage', 'production', /stage: must be one of "dev", "prod" \(got "production"\)/],
    ['removalPolicy', 'snapshot', /removalPolicy: must be one of "destroy", "retain"/],
    ['mskClusterArn', 'arn:aws:s3:::my-bucket', /mskClusterArn: must be an MSK cluster ARN/],
    ['kafkaTopic', 'click stream', /kafkaTopic: must be a Kafka topic name/],
    ['kafkaTopic', '..', /kafkaTopic: must not be "\." or "\.\."/],
    ['ingestBatchSize', '20000', /ingestBatchSize: must be a whole number from 1 to 10000 \(got "20000"\)/],
    ['ingestBatchSize', 2.5, /ingestBatchSize: must be a whole number/],
    ['ingestBatchingWindowSeconds', 301, /ingestBatchingWindowSeconds: must be a whole number from 0 to 300/],
    ['ingestStartingPosition', 'AT_TIMESTAMP', /ingestStartingPosition: must be one of "LATEST", "TRIM_HORIZON"/],
    ['vpcId', 'subnet-12345678', /vpcId: must be a VPC id/],
    ['glueSchedule', 'rate(1 hour)', /glueSchedule: must be a Glue cron schedule/],
    ['glueSchedule', 'cron(0 * * * *)', /glueSchedule: must be a Glue cron schedule/],
    ['glueSchedule', 'cron(0 2 * * * *)', /glueSchedule: .*exactly one of day-of-month and day-of-week/],
    ['sessionGapMinutes', 0, /sessionGapMinutes: must be a whole number from 1 to 1440/],
    ['glueWorkerType', 'Standard', /glueWorkerType: must be one of "G.1X", "G.2X", "G.4X", "G.8X"/],
    ['glueNumberOfWorkers', 1, /glueNumberOfWorkers: must be a whole number from 2 to 299/],
    ['glueLookbackDays', 0, /glueLookbackDays: must be a whole number from 1 to 36600/],
    ['rawEventsTransitionDays', 7, /rawEventsTransitionDays: must be a whole number from 30/],
    ['quarantineExpirationDays', 'forever', /quarantineExpirationDays: must be a whole number/],
    ['logRetentionDays', 31, /logRetentionDays: must be one of the CloudWatch Logs retention values/],
    ['openSearchInstanceType', 'm5.large', /openSearchInstanceType: must be an OpenSearch instance type/],
    ['openSearchInstanceType', 't2.small.search', /openSearchInstanceType: must not be a T2 type/],
    ['openSearchInstanceCount', 0, /openSearchInstanceCount: must be a whole number from 1 to 80/],
    ['openSearchVolumeSizeGiB', 5, /openSearchVolumeSizeGiB: must be a whole number from 10/],
    ['openSearchZoneAwareness', 'yes', /openSearchZoneAwareness: must be true or false \(got "yes"\)/],
    ['openSearchDedicatedMasterNodes', 2, /openSearchDedicatedMasterNodes: must be 0, 3 or 5/],
    ['alarmEmail', 'ops at example.com', /alarmEmail: must be an e-mail address/],
    ['openSearchAuditLogs', 'on', /openSearchAuditLogs: must be true or false/],
    ['ingestHeartbeatMinutes', 5, /ingestHeartbeatMinutes: must be a whole number from 10 to 1440/],
    ['ingestHeartbeatMinutes', 62, /ingestHeartbeatMinutes: must be a multiple of 5/],
    ['quarantineAlarmPercent', 0, /quarantineAlarmPercent: must be a whole number from 1 to 100/],
    ['indexFreshnessHours', 1, /indexFreshnessHours: must be a whole number from 2 to 168/],
  ])('%s = %j', (name, value, message) => {
    expect(problemsOf({ [name]: value })).toMatch(message);
  });

  test('rules across settings name the setting to change', () => {
    expect(problemsOf({ rawEventsTransitionDays: 60, rawEventsExpirationDays: 45 }))
      .toMatch(/rawEventsExpirationDays: must be greater than rawEventsTransitionDays \(60\)/);
    expect(problemsOf({ openSearchZoneAwareness: true, openSearchInstanceCount: 3 }))
      .toMatch(/openSearchInstanceCount: must be even when openSearchZoneAwareness is true/);
  });

  test('a misspelled setting is rejected instead of silently deploying the default', () => {
    expect(problemsOf({ alarmEmial: 'ops@example.com' })).toMatch(/alarmEmial: is not a setting; did you mean "alarmEmail"\?/);
  });

  test('unrelated context keys (CDK feature flags, other tools) are left alone', () => {
    expect(() => load({ '@aws-cdk/core:target-partitions': ['aws'], 'aws:cdk:bundling-stacks': [], somethingElse: 1 })).not.toThrow();
  });

  test('every wrong setting is reported at once', () => {
    const error = problemsOf({ stage: 'qa', ingestBatchSize: 0, alarmEmail: 'nobody' });
    expect(error).toMatch(/stage:/);
    expect(error).toMatch(/ingestBatchSize:/);
    expect(error).toMatch(/alarmEmail:/);
    expect(error).toMatch(/docs\/deploy\.md/);
  });
});
