/**
 * The Glue job role's permissions for the erasure mode (lib/processing.ts, docs/privacy.md §5):
 * exactly rewrite (read, write, list) under events/ and quarantine/ of the raw bucket, read its
 * requests and write its reports, read the privacy key; never delete in the raw bucket.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PrivacyKey } from '../../lib/privacy';
import { ProcessingStage } from '../../lib/processing';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

function build(withKey = true) {
  const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  const rawEventsBucket = new SecureBucket(stack, 'RawEventsBucket');
  const aggregatesBucket = new SecureBucket(stack, 'AggregatesBucket');
  const privacyKey = withKey ? new PrivacyKey(stack, 'PrivacyKey', { removalPolicy: RemovalPolicy.DESTROY }) : undefined;
  const stage = new ProcessingStage(stack, 'Processing', { rawEventsBucket, aggregatesBucket, privacyKey });
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  const roleId = id(stage.jobRole as never);
  const statements = Object.values<any>(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
  const rawArn = { 'Fn::GetAtt': [id(rawEventsBucket), 'Arn'] };
  return { stack, template, statements, rawArn, secretRef: privacyKey ? { Ref: id(privacyKey.secret) } : undefined };
}

const asList = <T>(x: T | T[]) => (Array.isArray(x) ? x : [x]);
/** Resource lists compared as sets (the synthesized order is CDK's). */
const sorted = (x: unknown) => asList(x).map((r) => JSON.stringify(r)).sort();
const objects = (rawArn: unknown, key: string) => ({ 'Fn::Join': ['', [rawArn, `/${key}`]] });

describe('ProcessingStage: erasure permissions', () => {
  it('grants exactly the erasure statements on the raw bucket', () => {
    const { statements, rawArn } = build();
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.ListForErasure).toEqual({
      Sid: 'ListForErasure', Effect: 'Allow', Action: 's3:ListBucket', Resource: rawArn,
      Condition: { StringLike: { 's3:prefix': ['quarantine', 'quarantine/*', 'erasure/reports', 'erasure/reports/*'] } },
    });
    expect({ ...bySid.RewriteRawZoneForErasure, Resource: sorted(bySid.RewriteRawZoneForErasure.Resource) }).toEqual({
      Sid: 'RewriteRawZoneForErasure', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'],
      Resource: sorted([objects(rawArn, 'events/*'), objects(rawArn, 'quarantine'), objects(rawArn, 'quarantine/*')]),
    });
    expect({ ...bySid.ReadErasureRequests, Resource: sorted(bySid.ReadErasureRequests.Resource) }).toEqual({
      Sid: 'ReadErasureRequests', Effect: 'Allow', Action: 's3:GetObject',
      Resource: sorted([objects(rawArn, 'erasure/requests/*'), objects(rawArn, 'erasure/reports'), objects(rawArn, 'erasure/reports/*')]),
    });
    expect(bySid.WriteErasureReports).toEqual({
      Sid: 'WriteErasureReports', Effect: 'Allow', Action: 's3:PutObject', Resource: objects(rawArn, 'erasure/reports/*'),
    });
  });

  it('writes in the raw bucket only under events/, quarantine/, erasure/reports/ and the change log, and deletes only consumed change-log entries', () => {
    const { statements, rawArn } = build();
    const onRaw = statements.filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(rawArn)));
    const actions = new Set(onRaw.flatMap((s) => asList(s.Action)));
    expect([...actions].sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const putResources = onRaw.filter((s) => asList(s.Action).includes('s3:PutObject')).flatMap((s) => asList(s.Resource));
    expect(sorted(putResources)).toEqual(sorted([
      objects(rawArn, 'events/*'), objects(rawArn, 'quarantine'), objects(rawArn, 'quarantine/*'), objects(rawArn, 'erasure/reports/*'),
      objects(rawArn, 'changes/*'),
    ]));
    // Deleting is for the change log the job consumes (docs/operations.md, "Data safety"), never raw events.
    const deleteResources = onRaw.filter((s) => asList(s.Action).includes('s3:DeleteObject')).flatMap((s) => asList(s.Resource));
    expect(deleteResources).toEqual([objects(rawArn, 'changes/*')]);
    // Not the erasure record: only the operator's command writes it.
    expect(JSON.stringify(onRaw)).not.toContain('erased-users.json');
  });

  it('lets the job role read the privacy key, and nothing else of Secrets Manager', () => {
    const { statements, secretRef } = build();
    const secretStatements = statements.filter((s) => asList(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toEqual([{
      Effect: 'Allow', Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Resource: secretRef,
    }]);
  });

  it('grants no secret read without a privacy key', () => {
    const { statements } = build(false);
    expect(statements.some((s) => asList(s.Action).some((a: string) => a.startsWith('secretsmanager:')))).toBe(false);
  });
});
