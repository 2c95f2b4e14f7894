/**
 * Template assertions on lib/ingest.ts (IngestStage): the function, its MSK event source mapping,
 * the raw bucket's security and lifecycle, least-privilege IAM, the on-failure destination, and
 * the new-cluster variant (MSK Serverless, security group, deploy-time topic resource).
 * Bundling is skipped for speed except in the last test, which bundles for real with esbuild.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { existsSync, readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { IngestStage, IngestStageProps } from '../../lib/ingest';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:111122223333:cluster/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-4';

function build(props: Partial<IngestStageProps> = {}) {
  const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  const accessLogs = new SecureBucket(stack, 'AccessLogs');
  const rawEventsBucket = new SecureBucket(stack, 'RawEventsBucket', { serverAccessLogsBucket: accessLogs });
  const stage = new IngestStage(stack, 'Ingest', { rawEventsBucket, existingClusterArn: CLUSTER_ARN, serverAccessLogsBucket: accessLogs, ...props });
  return { stack, stage, rawEventsBucket, template: Template.fromStack(stack) };
}

const ref = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => ({ Ref: stack.getLogicalId(construct.node.defaultChild as never) });
const arnOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [stack.getLogicalId(construct.node.defaultChild as never), 'Arn'] });

/** Every statement of every policy attached to the role of `fn`. */
function statementsOf(template: Template, stack: Stack, fn: lambda.Function): any[] {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
  const roles = template.findResources('AWS::IAM::Role');
  const inline = (roles[roleId].Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
  const attached = Object.values<any>(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
  return [...inline, ...attached];
}

const asList = <T>(x: T | T[]) => (Array.isArray(x) ? x : [x]);

describe('IngestStage: the function', () => {
  it('is Node.js 22 on ARM64 with memory, timeout, tracing and the environment the handler reads', () => {
    const { stack, stage, rawEventsBucket, template } = build();
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 60,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          RAW_BUCKET: ref(stack, rawEventsBucket),
          RAW_EVENTS_PREFIX: 'events/',
          QUARANTINE_PREFIX: 'quarantine/',
          WRITE_CONCURRENCY: '8',
          POWERTOOLS_SERVICE_NAME: 'ingest',
          POWERTOOLS_METRICS_NAMESPACE: 'ClickstreamPipeline',
        }),
      },
    });
    expect(stage.ingestFunction.runtime).toBe(lambda.Runtime.NODEJS_22_X);
  });

  it('takes memory, timeout, prefixes and write concurrency as props', () => {
    const { template } = build({ memorySize: 2048, timeout: Duration.minutes(3), rawEventsPrefix: 'raw/events', quarantinePrefix: 'raw/quarantine/', writeConcurrency: 16 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Timeout: 180,
      Environment: { Variables: Match.objectLike({ RAW_EVENTS_PREFIX: 'raw/events/', QUARANTINE_PREFIX: 'raw/quarantine/', WRITE_CONCURRENCY: '16' }) },
    });
  });
});

describe('IngestStage: the MSK event source mapping', () => {
  it('reads the topic in batches of 1000 with a window, bounded retries, bisect and an S3 on-failure destination, in provisioned mode', () => {
    const { stack, stage, template } = build();
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.keys(mappings)).toHaveLength(1);
    expect(Object.values<any>(mappings)[0].Properties).toEqual({
      FunctionName: ref(stack, stage.ingestFunction),
      EventSourceArn: CLUSTER_ARN,
      Topics: ['clickstream'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'TestStack-ingest' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 5,
      MaximumRetryAttempts: 5,
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: arnOf(stack, stage.failedBatchesBucket) } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10 },
    });
  });

  it('takes topic, consumer group, batching, starting position, retries, record age and pollers as props', () => {
    const { template } = build({
      topic: 'clicks.v2',
      consumerGroupId: 'clickstream-ingest',
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(20),
      startingPosition: lambda.StartingPosition.LATEST,
      retryAttempts: 2,
      bisectBatchOnError: false,
      maxRecordAge: Duration.hours(6),
      pollers: { minimumPollers: 2, maximumPollers: 4 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['clicks.v2'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'clickstream-ingest' },
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 20,
      StartingPosition: 'LATEST',
      MaximumRetryAttempts: 2,
      BisectBatchOnFunctionError: false,
      MaximumRecordAgeInSeconds: 21600,
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 4 },
    });
  });

  it('is created only after the execution role can read the cluster', () => {
    const { stack, stage, template } = build();
    const mapping = Object.values<any>(template.findResources('AWS::Lambda::EventSourceMapping'))[0];
    const policyId = stack.getLogicalId(stage.ingestFunction.role!.node.tryFindChild('DefaultPolicy')!.node.defaultChild as never);
    expect(mapping.DependsOn).toContain(policyId);
  });

  it('announces every failed batch on an encrypted SQS queue (with its own DLQ) for alarms', () => {
    const { stack, stage, template } = build();
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: ref(stack, stage.failedBatchesBucket),
      NotificationConfiguration: {
        QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: arnOf(stack, stage.failedBatchNotifications) }],
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arnOf(stack, stage.failedBatchQueues.deadLetterQueue), maxReceiveCount: 5 },
    });
  });
});

describe('IngestStage: least-privilege IAM', () => {
  it('lets the function put objects under its three prefixes of the raw bucket, read the erasure record, and nothing else in it', () => {
    const { stack, stage, rawEventsBucket, template } = build();
    const statements = statementsOf(template, stack, stage.ingestFunction);
    const rawArn = arnOf(stack, rawEventsBucket);
    const onRaw = statements.filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(rawArn)));
    expect(onRaw).toEqual([
      {
        Sid: 'WriteRawZone',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: [
          { 'Fn::Join': ['', [rawArn, '/changes/*']] },
          { 'Fn::Join': ['', [rawArn, '/events/*']] },
          { 'Fn::Join': ['', [rawArn, '/quarantine/*']] },
        ],
      },
      // The erasure rule (docs/privacy.md): this one object, and a listing of exactly its key.
      { Sid: 'ReadErasureRecord', Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [rawArn, '/erasure/erased-users.json']] } },
      {
        Sid: 'ListErasureRecord', Effect: 'Allow', Action: 's3:ListBucket', Resource: rawArn,
        Condition: { StringEquals: { 's3:prefix': 'erasure/erased-users.json' } },
      },
    ]);
    const s3Actions = statements.flatMap((s) => asList(s.Action)).filter((a: string) => a.startsWith('s3:'));
    // ListBucket and PutObject on the failed-batches bucket, besides the raw-bucket statements above.
    expect(s3Actions.sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:ListBucket', 's3:PutObject', 's3:PutObject']);
    expect(statements.flatMap((s) => asList(s.Action)).some((a: string) => a.endsWith('*'))).toBe(false);
  });

  it('scopes the Kafka permissions to the cluster, the topic and the consumer group', () => {
    const { stack, stage, template } = build({ consumerGroupId: 'clickstream-ingest' });
    const bySid = Object.fromEntries(statementsOf(template, stack, stage.ingestFunction).filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.DescribeMskCluster).toMatchObject({ Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], Resource: CLUSTER_ARN });
    expect(bySid.ConnectToMskCluster).toMatchObject({ Action: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'], Resource: CLUSTER_ARN });
    expect(bySid.ReadClickstreamTopic).toMatchObject({
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      Resource: 'arn:aws:kafka:eu-west-1:111122223333:topic/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-4/clickstream',
    });
    expect(bySid.UseConsumerGroup).toMatchObject({
      Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
      Resource: 'arn:aws:kafka:eu-west-1:111122223333:group/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-4/clickstream-ingest',
    });
    // Without a given group, the default `<stack name>-ingest` keeps the grant exact.
    const byDefault = build();
    const defaultGroup = statementsOf(byDefault.template, byDefault.stack, byDefault.stage.ingestFunction).find((s) => s.Sid === 'UseConsumerGroup');
    expect(defaultGroup.Resource).toBe('arn:aws:kafka:eu-west-1:111122223333:group/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-4/TestStack-ingest');
    // Only the pollers' Describe* calls, which have no resource-level permissions, use "*"; creating
    // and deleting their network interfaces is limited to this account and region.
    const star = Object.values<any>(bySid).filter((s) => s.Resource === '*').flatMap((s) => asList(s.Action));
    expect(star.sort()).toEqual(['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'].sort());
    expect(asList(bySid.MskPollerCreateNetworkInterfaces.Action)).toEqual(['ec2:CreateNetworkInterface']);
    expect(JSON.stringify(bySid.MskPollerManageNetworkInterfaces.Resource)).toMatch(/:network-interface\/\*"/);
  });

  it('lets the function write to the failed-batches bucket only as the on-failure destination needs', () => {
    const { stack, stage, template } = build();
    const bySid = Object.fromEntries(statementsOf(template, stack, stage.ingestFunction).filter((s) => s.Sid).map((s) => [s.Sid, s]));
    const failedArn = arnOf(stack, stage.failedBatchesBucket);
    expect(bySid.WriteFailedBatches).toMatchObject({ Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [failedArn, '/*']] } });
    expect(bySid.ListFailedBatches).toMatchObject({ Action: 's3:ListBucket', Resource: failedArn });
  });
});

describe('IngestStage: the raw bucket', () => {
  it('is encrypted, TLS-only, private, access-logged and unversioned', () => {
    const { stack, rawEventsBucket, template } = build();
    const bucket = template.findResources('AWS::S3::Bucket')[stack.getLogicalId(rawEventsBucket.node.defaultChild as never)].Properties;
    expect(bucket.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.LoggingConfiguration).toMatchObject({ DestinationBucketName: expect.anything(), LogFilePrefix: 'RawEventsBucket/' });
    expect(bucket.VersioningConfiguration).toBeUndefined();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(stack, rawEventsBucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  it('gets lifecycle rules: large raw objects to Standard-IA after 30 days, quarantine expiring after 90', () => {
    const { stack, rawEventsBucket, template } = build();
    const rules = template.findResources('AWS::S3::Bucket')[stack.getLogicalId(rawEventsBucket.node.defaultChild as never)].Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual([
      { Id: 'RawEventsStorageClass', Prefix: 'events/', ObjectSizeGreaterThan: 131071, Status: 'Enabled', Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }] },
      { Id: 'RawEventsRetention', Prefix: 'events/', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
      { Id: 'QuarantineRetention', Prefix: 'quarantine/', Status: 'Enabled', ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
      { Id: 'ChangeLogRetention', Prefix: 'changes/', Status: 'Enabled', ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
    ]);
  });

  it('takes the lifecycle ages as props', () => {
    const { stack, rawEventsBucket, template } = build({
      rawEventsInfrequentAccessAfter: Duration.days(45),
      rawEventsGlacierInstantRetrievalAfter: Duration.days(180),
      rawEventsExpiration: Duration.days(730),
      quarantineExpiration: Duration.days(14),
    });
    const rules = template.findResources('AWS::S3::Bucket')[stack.getLogicalId(rawEventsBucket.node.defaultChild as never)].Properties.LifecycleConfiguration.Rules;
    expect(rules[0].Transitions).toEqual([{ StorageClass: 'STANDARD_IA', TransitionInDays: 45 }, { StorageClass: 'GLACIER_IR', TransitionInDays: 180 }]);
    expect(rules[1].ExpirationInDays).toBe(730);
    expect(rules[2].ExpirationInDays).toBe(14);
  });
});

describe('IngestStage: the failed-batches bucket', () => {
  it('is as secure as every data bucket and access-logged', () => {
    const { stack, stage, template } = build();
    const bucket = template.findResources('AWS::S3::Bucket')[stack.getLogicalId(stage.failedBatchesBucket.node.defaultChild as never)];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { LogFilePrefix: 'FailedBatchesBucket/' },
    });
  });
});

describe('IngestStage: a new MSK Serverless cluster', () => {
  function buildNew(props: Partial<IngestStageProps> = {}) {
    const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
    const rawEventsBucket = new SecureBucket(stack, 'RawEventsBucket');
    const stage = new IngestStage(stack, 'Ingest', { rawEventsBucket, ...props });
    return { stack, stage, template: Template.fromStack(stack) };
  }

  it('has IAM authentication only, in private subnets of two AZs, behind its own security group', () => {
    const { stack, stage, template } = buildNew();
    const sgRef = { 'Fn::GetAtt': [stack.getLogicalId(stage.clusterSecurityGroup!.node.defaultChild as never), 'GroupId'] };
    template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [{ SubnetIds: [Match.anyValue(), Match.anyValue()], SecurityGroups: [sgRef] }],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, SourceSecurityGroupId: sgRef, GroupId: sgRef });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })]),
    });
    // The stage made its own VPC (PipelineNetwork): NAT egress for the pollers, flow logs.
    expect(stage.network).toBeDefined();
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [stack.getLogicalId(stage.serverlessCluster!), 'Arn'] } });
  });

  it('uses a given VPC instead of making one', () => {
    const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'GivenVpc', { maxAzs: 2 });
    const stage = new IngestStage(stack, 'Ingest', { rawEventsBucket: new SecureBucket(stack, 'Raw'), vpc });
    expect(stage.network).toBeUndefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    const subnetIds = vpc.privateSubnets.map((s) => ({ Ref: stack.getLogicalId(s.node.defaultChild as never) }));
    template.hasResourceProperties('AWS::MSK::ServerlessCluster', { VpcConfigs: [{ SubnetIds: subnetIds, SecurityGroups: Match.anyValue() }] });
  });

  it('creates the topic at deploy time with a custom resource, before the event source mapping', () => {
    const { stack, stage, template } = buildNew({ topic: 'clicks', topicPartitions: 12, topicRetention: Duration.days(3) });
    const clusterArn = { 'Fn::GetAtt': [stack.getLogicalId(stage.serverlessCluster!), 'Arn'] };
    template.hasResourceProperties('Custom::KafkaTopic', { ClusterArn: clusterArn, Topic: 'clicks', Partitions: '12', Configs: { 'retention.ms': '259200000' } });
    const topicId = stack.getLogicalId(stage.topicResource!.node.defaultChild as never);
    const mapping = Object.values<any>(template.findResources('AWS::Lambda::EventSourceMapping'))[0];
    expect(mapping.DependsOn).toContain(topicId);
    // The topic function runs in the cluster's subnets with the cluster's security group.
    const fnProps = template.findResources('AWS::Lambda::Function')[stack.getLogicalId(stage.topicFunction!.node.defaultChild as never)].Properties;
    expect(fnProps.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [stack.getLogicalId(stage.clusterSecurityGroup!.node.defaultChild as never), 'GroupId'] }]);
    expect(fnProps.Runtime).toBe('nodejs22.x');
  });

  it('gives the topic function create/describe/alter on that topic only', () => {
    const { stack, stage, template } = buildNew();
    const bySid = Object.fromEntries(statementsOf(template, stack, stage.topicFunction!).filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.CreateClickstreamTopic.Action).toEqual(['kafka-cluster:AlterTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic']);
    // Built from the new cluster's ARN at deploy time: topic/<cluster name>/<cluster uuid>/clickstream.
    expect(JSON.stringify(bySid.CreateClickstreamTopic.Resource)).toMatch(/:topic\/.*\/clickstream"\]\]\}$/);
    expect(bySid.GetBootstrapBrokers).toMatchObject({ Action: 'kafka:GetBootstrapBrokers', Resource: { 'Fn::GetAtt': [stack.getLogicalId(stage.serverlessCluster!), 'Arn'] } });
  });
});

describe('IngestStage: wrong props fail the synthesis, naming the prop', () => {
  it.each<[string, Partial<IngestStageProps>, RegExp]>([
    ['batchSize 0', { batchSize: 0 }, /batchSize must be an integer from 1 to 10000, got 0/],
    ['batchSize 20000', { batchSize: 20000 }, /batchSize must be an integer from 1 to 10000/],
    ['retryAttempts -1', { retryAttempts: -1 }, /retryAttempts must be an integer from 0 to 10000/],
    ['fewer maximum than minimum pollers', { pollers: { minimumPollers: 5, maximumPollers: 2 } }, /pollers.maximumPollers must be an integer from 5 to 2000, got 2/],
    ['a topic with a space', { topic: 'bad topic' }, /not a Kafka topic name/],
    ['Standard-IA after 7 days', { rawEventsInfrequentAccessAfter: Duration.days(7) }, /at least 30 days/],
    ['Glacier IR 10 days after IA', { rawEventsGlacierInstantRetrievalAfter: Duration.days(40) }, /at least 30 days after rawEventsInfrequentAccessAfter/],
    ['nested prefixes', { rawEventsPrefix: 'raw/', quarantinePrefix: 'raw/quarantine/' }, /must not contain each other/],
    ['an S3 ARN as cluster', { existingClusterArn: 'arn:aws:s3:::not-a-cluster' }, /not an MSK cluster ARN/],
    ['5000 partitions on a new cluster', { existingClusterArn: undefined, topicPartitions: 5000 }, /topicPartitions must be an integer from 1 to 1000/],
  ])('%s', (_label, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('IngestStage: bundling', () => {
  it('bundles both functions with esbuild locally, without Docker', () => {
    const app = testApp({ bundle: true });
    const stack = new Stack(app, 'BundleStack', { env: { account: '111122223333', region: 'eu-west-1' } });
    const stage = new IngestStage(stack, 'Ingest', { rawEventsBucket: new SecureBucket(stack, 'Raw') });
    const assembly = app.synth();
    try {
      const bundleOf = (fn: lambda.Function) => {
        const key = stack.resolve(((fn.node.defaultChild as lambda.CfnFunction).code as { s3Key?: string }).s3Key) as string;
        const file = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
        expect(existsSync(file)).toBe(true);
        return readFileSync(file, 'utf8');
      };
      const ingestCode = bundleOf(stage.ingestFunction);
      // The core is in the bundle; the AWS SDK is left to the Node.js 22 runtime.
      expect(ingestCode).toContain('timestamp_in_future');
      expect(ingestCode).toMatch(/require\("@aws-sdk\/client-s3"\)/);
      // The enrichment libraries are bundled: the bot list, the user-agent parser, the public
      // suffix list, and the English country names only (no other locale).
      const contains = (text: string) => [text, ingestCode.includes(text)];
      expect(contains('uptime-kuma')).toEqual(['uptime-kuma', true]); // the supplementary bot pattern
      expect(contains('headless')).toEqual(['headless', true]); // isbot's list
      expect(contains('Chromium OS')).toEqual(['Chromium OS', true]); // ua-parser-js
      expect(contains('"example.com"')).toEqual(['"example.com"', true]); // tldts
      expect(contains('Kosovo')).toEqual(['Kosovo', true]); // i18n-iso-countries, English
      expect(contains('Deutschland')).toEqual(['Deutschland', false]); // no other locale
      expect(ingestCode.length).toBeLessThan(3 * 1024 * 1024);
      const topicCode = bundleOf(stage.topicFunction!);
      expect(topicCode).toContain('kafka-cluster:Connect');
      expect(topicCode).toContain('oauthbearer');
    } finally {
      rmSync(assembly.directory, { recursive: true, force: true });
    }
  });
});
