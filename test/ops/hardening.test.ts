/**
 * Security and durability settings of the whole app that a scanner or an audit checks: raw-zone
 * versioning in prod, lifecycle rules of every bucket that grows, log groups that follow the
 * removal policy, NAT per AZ in prod, scoped network-interface and S3 grants, a read-only analyst
 * role, and a clear synthesis error for an MSK cluster in another region.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ClickstreamPipelineStack } from '../../lib/clickstream-pipeline-stack';
import { loadPipelineConfig } from '../../lib/config';
import { opsTestApp, pipelineApp } from './pipeline-app';

const dev = Template.fromStack(pipelineApp().stack);
const prod = Template.fromStack(pipelineApp({ stage: 'prod' }).stack);

/** The bucket whose logical id starts with `prefix` (a stack-level bucket). */
function bucket(template: Template, prefix: string): any {
  const found = Object.entries(template.findResources('AWS::S3::Bucket')).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0][1];
}

const rules = (b: any): any[] => b.Properties.LifecycleConfiguration?.Rules ?? [];

describe('raw zone versioning', () => {
  test('is on in prod, with noncurrent versions expiring (7 days under the ingest prefixes, 30 elsewhere) and expired delete markers removed', () => {
    const raw = bucket(prod, 'RawEventsBucket');
    expect(raw.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(rules(raw)).toEqual(expect.arrayContaining([
      expect.objectContaining({ Id: 'NoncurrentVersions', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, ExpiredObjectDeleteMarker: true }),
      expect.objectContaining({ Id: 'RawEventsRetention', Prefix: 'events/', NoncurrentVersionExpiration: { NoncurrentDays: 7 } }),
    ]));
    expect(rules(raw).find((r) => r.Id === 'NoncurrentVersions').Prefix).toBeUndefined();
  });

  test('is off in dev (a disposable deployment)', () => {
    const raw = bucket(dev, 'RawEventsBucket');
    expect(raw.Properties.VersioningConfiguration).toBeUndefined();
    expect(rules(raw).map((r) => r.Id)).not.toContain('NoncurrentVersions');
  });
});

describe('lifecycle rules', () => {
  test.each([['dev', dev], ['prod', prod]])('%s: the access logs expire after a year', (_name, template) => {
    expect(rules(bucket(template, 'AccessLogsBucket'))).toEqual([
      expect.objectContaining({ Id: 'AccessLogsRetention', Status: 'Enabled', ExpirationInDays: 365, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    ]);
  });

  test('the malformed-row reports under errors/ expire with the quarantine (quarantineExpirationDays)', () => {
    expect(rules(bucket(dev, 'AggregatesBucket'))).toEqual([
      expect.objectContaining({ Id: 'MalformedRowReports', Prefix: 'errors/', ExpirationInDays: 90 }),
    ]);
    const custom = Template.fromStack(pipelineApp({ quarantineExpirationDays: 30 }).stack);
    expect(rules(bucket(custom, 'AggregatesBucket'))[0].ExpirationInDays).toBe(30);
  });
});

describe('the failed-batch notices', () => {
  test('are kept 14 days, the SQS maximum, like their dead-letter queue', () => {
    const queues = Object.entries(dev.findResources('AWS::SQS::Queue')).filter(([id]) => /^IngestFailedBatchNotifications/.test(id));
    expect(queues).toHaveLength(2);
    for (const [, queue] of queues) expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });
});

describe('log groups follow the removal policy', () => {
  test.each([{ name: 'dev', template: dev, policy: 'Delete' }, { name: 'prod', template: prod, policy: 'Retain' }])('$name: every log group is $policy', ({ template, policy }) => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups).length).toBeGreaterThan(8);
    const others = Object.entries(groups).filter(([, g]) => g.DeletionPolicy !== policy).map(([id]) => id);
    expect(others).toEqual([]);
  });
});

describe('the new VPC', () => {
  test('has one NAT gateway in dev and one per AZ (two) in prod', () => {
    dev.resourceCountIs('AWS::EC2::NatGateway', 1);
    prod.resourceCountIs('AWS::EC2::NatGateway', 2);
  });
});

describe('IAM grants', () => {
  const statementsOf = (template: Template, rolePrefix: RegExp) => Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([, p]) => (p.Properties.Roles ?? []).some((r: any) => rolePrefix.test(JSON.stringify(r))))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
  const inlineStatementsOf = (template: Template, rolePrefix: RegExp) => Object.entries(template.findResources('AWS::IAM::Role'))
    .filter(([id]) => rolePrefix.test(id))
    .flatMap(([, r]) => (r.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement as any[]));
  const actionsOf = (s: any) => [s.Action].flat();

  test('network-interface actions that accept resource-level permissions are limited to this account and region', () => {
    const statements = [
      ...inlineStatementsOf(dev, /ExecutionRole/), ...statementsOf(dev, /ExecutionRole/),
    ];
    const eniActions = ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'];
    const scoped = statements.filter((s) => actionsOf(s).some((a) => eniActions.includes(a)));
    expect(scoped.length).toBeGreaterThanOrEqual(4); // the VPC functions' roles and the MSK poller grants of the ingest role
    for (const s of scoped) {
      expect(s.Resource).not.toEqual('*');
      for (const resource of [s.Resource].flat()) {
        expect(JSON.stringify(resource)).toMatch(/:ec2:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":(network-interface|subnet|security-group)\/\*"/);
      }
    }
    const star = statements.filter((s) => s.Resource === '*').flatMap(actionsOf);
    expect(star.filter((a) => a.startsWith('ec2:') && !a.startsWith('ec2:Describe'))).toEqual([]);
  });

  test('the analyst role has no write verbs on the domain', () => {
    const actions = statementsOf(dev, /AnalystRole/).flatMap(actionsOf);
    expect(actions.sort()).toEqual(['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost']);
  });

  test('the indexer may list only under the aggregates prefix', () => {
    const list = statementsOf(dev, /IndexerExecutionRole/).filter((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list).toEqual([expect.objectContaining({ Condition: { StringLike: { 's3:prefix': ['aggregates/*'] } } })]);
  });
});

describe('an existing MSK cluster in another region', () => {
  const stackIn = (region: string) => {
    const app = opsTestApp({ mskClusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/clicks/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1', vpcId: undefined });
    return () => new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', { env: { account: '123456789012', region }, config: loadPipelineConfig(app) });
  };

  test('fails synthesis, naming both regions and the way out', () => {
    expect(stackIn('eu-west-1')).toThrow(/mskClusterArn names a cluster in us-east-1, but the stack deploys to eu-west-1; .*Deploy the stack to us-east-1/);
  });

  test('in the stack\'s region is accepted', () => {
    const template = Template.fromStack(stackIn('us-east-1')());
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: Match.stringLikeRegexp('^arn:aws:kafka:us-east-1:') });
  });
});
