import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PipelineFunction, SecureBucket, SecureQueue } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

// Bundling is skipped here (it is exercised by the stage tests); these tests are about settings.
function newStack(): Stack {
  return new Stack(testApp(), 'TestStack');
}

describe('SecureBucket', () => {
  const stack = newStack();
  const logs = new SecureBucket(stack, 'Logs');
  new SecureBucket(stack, 'Data', { serverAccessLogsBucket: logs });
  const template = Template.fromStack(stack);

  test('encrypts at rest, blocks public access and disables ACLs', () => {
    template.resourcePropertiesCountIs('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    }, 2);
  });

  test('denies plain HTTP and TLS older than 1.2', () => {
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies)) {
      const statements = (policy as any).Properties.PolicyDocument.Statement as any[];
      expect(statements).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]));
    }
  });

  test('sends access logs of a data bucket to the log bucket under its own prefix', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^Logs') }, LogFilePrefix: 'Data/' },
    });
  });

  test('retains data buckets when the stack is deleted', () => {
    for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect((bucket as any).DeletionPolicy).toBe('Retain');
    }
  });
});

describe('SecureQueue', () => {
  const stack = newStack();
  new SecureQueue(stack, 'Work', { maxReceiveCount: 3, visibilityTimeout: Duration.seconds(90) });
  const template = Template.fromStack(stack);

  test('both queues are encrypted and the work queue redrives to the DLQ after the bound', () => {
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 90,
      RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  test('both queues deny plain HTTP', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect((policy as any).Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
  });
});

describe('PipelineFunction', () => {
  const stack = newStack();
  new PipelineFunction(stack, 'Fn', {
    entry: 'lambdas/shared/s3.ts', serviceName: 'test-service', environment: { RAW_BUCKET: 'b' },
  });
  const template = Template.fromStack(stack);

  test('runs Node.js 22 on ARM64 with tracing, JSON logs and Powertools settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: { Variables: Match.objectLike({
        POWERTOOLS_SERVICE_NAME: 'test-service', POWERTOOLS_METRICS_NAMESPACE: 'ClickstreamPipeline', RAW_BUCKET: 'b',
      }) },
    });
  });

  test('keeps its logs for a bounded time', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});
