/**
 * Data safety in the infrastructure (docs/operations.md, "Data safety"): the maximum event age the
 * settings allow and the ingest function receives, the change log's prefix, permission and
 * lifecycle, and the topic the stack creates with LogAppendTime.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadPipelineConfig, MAX_EVENT_AGE_MARGIN_DAYS as CONFIG_MARGIN, PipelineConfigError } from '../../lib/config';
import { IngestStage, IngestStageProps, MAX_EVENT_AGE_MARGIN_DAYS, resolveMaxEventAgeDays } from '../../lib/ingest';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:111122223333:cluster/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-4';

function build(props: Partial<IngestStageProps> = {}) {
  const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  const rawEventsBucket = new SecureBucket(stack, 'RawEventsBucket');
  const stage = new IngestStage(stack, 'Ingest', { rawEventsBucket, existingClusterArn: CLUSTER_ARN, ...props });
  return { stack, stage, rawEventsBucket, template: Template.fromStack(stack) };
}

function envOf(template: Template, stack: Stack, stage: IngestStage): Record<string, unknown> {
  const id = stack.getLogicalId(stage.ingestFunction.node.defaultChild as never);
  return template.findResources('AWS::Lambda::Function')[id].Properties.Environment.Variables;
}

function settingsProblems(context: Record<string, unknown>): string {
  try {
    loadPipelineConfig(new App({ context }));
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineConfigError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(context)}`);
}

describe('maximum event age: settings', () => {
  it('defaults to the raw expiry minus the margin, and to none when raw events are kept', () => {
    expect(CONFIG_MARGIN).toBe(MAX_EVENT_AGE_MARGIN_DAYS);
    expect(loadPipelineConfig(new App({ context: {} })).retention.maxEventAgeDays).toBeUndefined();
    expect(loadPipelineConfig(new App({ context: { rawEventsExpirationDays: 400 } })).retention.maxEventAgeDays).toBe(397);
    expect(loadPipelineConfig(new App({ context: { rawEventsExpirationDays: '400', maxEventAgeDays: '30' } })).retention.maxEventAgeDays).toBe(30);
    expect(loadPipelineConfig(new App({ context: { maxEventAgeDays: 10 } })).retention.maxEventAgeDays).toBe(10);
  });

  it('stops the synthesis when the maximum age does not stay below the raw expiry', () => {
    expect(settingsProblems({ rawEventsExpirationDays: 60, maxEventAgeDays: 58 }))
      .toMatch(/maxEventAgeDays: must be at most rawEventsExpirationDays - 3 \(57\): an older event would make the job recompute a date whose raw data may have partly expired.*\(got 58\)/);
    expect(settingsProblems({ rawEventsExpirationDays: 60, maxEventAgeDays: 60 })).toMatch(/maxEventAgeDays: must be at most/);
    expect(settingsProblems({ maxEventAgeDays: 0 })).toMatch(/maxEventAgeDays: must be a whole number from 1 to 36500/);
    expect(settingsProblems({ maxEventAgDays: 5 })).toMatch(/did you mean "maxEventAgeDays"/);
  });
});

describe('maximum event age: the ingest stage', () => {
  it('passes the maximum age to the function: the expiry minus the margin by default, or the given one', () => {
    let built = build({ rawEventsExpiration: Duration.days(400) });
    expect(envOf(built.template, built.stack, built.stage).MAX_EVENT_AGE_DAYS).toBe('397');
    expect(built.stage.maxEventAgeDays).toBe(397);
    built = build({ rawEventsExpiration: Duration.days(400), maxEventAge: Duration.days(90) });
    expect(envOf(built.template, built.stack, built.stage).MAX_EVENT_AGE_DAYS).toBe('90');
    built = build();
    expect(envOf(built.template, built.stack, built.stage).MAX_EVENT_AGE_DAYS).toBeUndefined();
    built = build({ maxEventAge: Duration.days(7) });
    expect(envOf(built.template, built.stack, built.stage).MAX_EVENT_AGE_DAYS).toBe('7');
  });

  it('refuses a maximum age the raw expiry cannot cover', () => {
    expect(() => build({ rawEventsExpiration: Duration.days(100), maxEventAge: Duration.days(98) }))
      .toThrow('IngestStage: maxEventAge (98 days) must be at most rawEventsExpiration minus 3 (97 days)');
    expect(() => resolveMaxEventAgeDays(3, undefined)).toThrow('leaves no room for a maximum event age');
    expect(() => resolveMaxEventAgeDays(undefined, 0)).toThrow('whole number of days from 1');
    expect(resolveMaxEventAgeDays(4, undefined)).toBe(1);
  });
});

describe('partition change log: the ingest stage', () => {
  it('tells the function its prefix and lets it put objects there, next to events and quarantine', () => {
    const { stack, stage, rawEventsBucket, template } = build();
    expect(envOf(template, stack, stage).CHANGE_LOG_PREFIX).toBe('changes/');
    expect(stage.changeLogPrefix).toBe('changes/');
    const rawArn = { 'Fn::GetAtt': [stack.getLogicalId(rawEventsBucket.node.defaultChild as never), 'Arn'] };
    const policies = Object.values<any>(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const write = policies.find((s) => s.Sid === 'WriteRawZone');
    expect(write).toEqual({
      Sid: 'WriteRawZone',
      Effect: 'Allow',
      Action: 's3:PutObject',
      // CDK sorts the resources of a statement.
      Resource: ['changes/*', 'events/*', 'quarantine/*'].map((p) => ({ 'Fn::Join': ['', [rawArn, `/${p}`]] })),
    });
  });

  it('expires entries nobody consumed after 90 days (or the given age)', () => {
    const rulesOf = (built: ReturnType<typeof build>) =>
      built.template.findResources('AWS::S3::Bucket')[built.stack.getLogicalId(built.rawEventsBucket.node.defaultChild as never)]
        .Properties.LifecycleConfiguration.Rules as any[];
    expect(rulesOf(build()).find((r) => r.Id === 'ChangeLogRetention')).toEqual({
      Id: 'ChangeLogRetention', Prefix: 'changes/', Status: 'Enabled', ExpirationInDays: 90,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
    expect(rulesOf(build({ changeLogPrefix: 'log', changeLogExpiration: Duration.days(14) })).find((r) => r.Id === 'ChangeLogRetention'))
      .toMatchObject({ Prefix: 'log/', ExpirationInDays: 14 });
  });

  it('keeps the change log apart from the events and the quarantine', () => {
    expect(() => build({ changeLogPrefix: 'events/changes/' })).toThrow(/must not contain each other/);
    expect(() => build({ rawEventsPrefix: 'changes/events/' })).toThrow(/must not contain each other/);
  });
});

describe('the topic the stack creates', () => {
  it('uses LogAppendTime, so record timestamps are the broker\'s clock', () => {
    const stack = new Stack(testApp(), 'NewCluster', { env: { account: '111122223333', region: 'eu-west-1' } });
    new IngestStage(stack, 'Ingest', { rawEventsBucket: new SecureBucket(stack, 'Raw') });
    Template.fromStack(stack).hasResourceProperties('Custom::KafkaTopic', {
      Configs: { 'retention.ms': String(7 * 24 * 3600 * 1000), 'message.timestamp.type': 'LogAppendTime' },
    });
  });
});
