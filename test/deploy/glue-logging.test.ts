/**
 * Deploy readiness of the Glue job's logging and security configuration (lib/processing.ts):
 * Glue 5 must write to exactly the stage's two log groups (the ones with retention that the stack
 * outputs and the runbooks name), and the security configuration must be replaceable.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ProcessingStage } from '../../lib/processing';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

function build(stageId = 'Processing') {
  const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  const rawEventsBucket = new SecureBucket(stack, 'Raw');
  const aggregatesBucket = new SecureBucket(stack, 'Aggregates');
  const stage = new ProcessingStage(stack, stageId, { rawEventsBucket, aggregatesBucket });
  return { stack, stage, template: Template.fromStack(stack) };
}

const only = (template: Template, type: string) => {
  const found = Object.values<any>(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0].Properties;
};

describe('Glue 5 job logs go to the stage\'s own log groups', () => {
  it('sets the Glue 5 log group prefix to the prefix of the two groups, and no Glue 4 continuous-logging argument', () => {
    const { stack, stage, template } = build();
    const args = only(template, 'AWS::Glue::Job').DefaultArguments;
    expect(args).not.toHaveProperty('--enable-continuous-cloudwatch-log');
    expect(args).not.toHaveProperty('--continuous-log-logGroup');
    const prefix = args['--custom-logGroup-prefix'];
    // Glue 5 writes `<prefix>/output` and `<prefix>/error`: exactly the two groups the stage creates.
    const nameOf = (group: typeof stage.outputLogGroup) =>
      template.findResources('AWS::Logs::LogGroup')[stack.getLogicalId(group.node.defaultChild as any)].Properties.LogGroupName;
    expect(nameOf(stage.outputLogGroup)).toBe(`${prefix}/output`);
    expect(nameOf(stage.errorLogGroup)).toBe(`${prefix}/error`);
  });

  it('does not let the security configuration encrypt CloudWatch logs (that renames the groups); the groups are KMS-encrypted themselves', () => {
    const { stack, stage, template } = build();
    const config = only(template, 'AWS::Glue::SecurityConfiguration').EncryptionConfiguration;
    expect(config.CloudWatchEncryption).toEqual({ CloudWatchEncryptionMode: 'DISABLED' });
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(stage.key.node.defaultChild as any), 'Arn'] };
    for (const group of Object.values<any>(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.KmsKeyId).toEqual(keyArn);
    }
    // Bookmarks stay encrypted by the configuration.
    expect(config.JobBookmarksEncryption).toEqual({ JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: keyArn });
  });

  it('lets the job role write log streams in those two groups only, and not associate keys', () => {
    const { template } = build();
    const policy = Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .find((p) => p.Properties.PolicyName.includes('JobPolicy'));
    const statement = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'WriteTheJobLogs');
    expect(statement.Action).toEqual(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    const names = statement.Resource.map((r: any) => r['Fn::Join'][1].slice(-1)[0]);
    expect(names.sort()).toEqual([
      ':logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks/error',
      ':logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks/error:log-stream:*',
      ':logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks/output',
      ':logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks/output:log-stream:*',
    ]);
  });
});

describe('the Glue security configuration can be replaced', () => {
  it('has a name that carries a hash of its settings: stable across syntheses, different when the settings differ', () => {
    const first = only(build().template, 'AWS::Glue::SecurityConfiguration').Name;
    const again = only(build().template, 'AWS::Glue::SecurityConfiguration').Name;
    expect(first).toMatch(/^TestStack-aggregate-clicks-security-[0-9a-f]{8}$/);
    expect(again).toBe(first);
    // Another key (here: the stage under another construct id, so another key resource) is another setting.
    const other = only(build('Processing2').template, 'AWS::Glue::SecurityConfiguration').Name;
    expect(other).toMatch(/^TestStack-aggregate-clicks-security-[0-9a-f]{8}$/);
    expect(other).not.toBe(first);
  });

  it('is referenced by the job by that name', () => {
    const { stack, stage, template } = build();
    expect(only(template, 'AWS::Glue::Job').SecurityConfiguration).toEqual({ Ref: stack.getLogicalId(stage.securityConfiguration) });
  });
});
