/**
 * Template assertions on the serving stage's constructs: the domain's security settings, the
 * provisioning custom resource, the queue and its DLQ, the bucket notification, the event source
 * mapping and the IAM of the indexer.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { TABLE_ALIASES } from '../../lambdas/indexer/tables';
import { IndexingStage } from '../../lib/indexing';
import { SearchDomain, SearchDomainProps } from '../../lib/search-domain';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';

function build(domainProps: Partial<SearchDomainProps> = {}) {
  const stack = new Stack(testApp(), 'ServingTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
  const aggregatesBucket = new SecureBucket(stack, 'AggregatesBucket');
  const search = new SearchDomain(stack, 'Search', { vpc, ...domainProps });
  const indexing = new IndexingStage(stack, 'Indexing', { aggregatesBucket, searchDomain: search });
  return { stack, search, indexing, aggregatesBucket, template: Template.fromStack(stack) };
}

const { stack, search, indexing, template, aggregatesBucket } = build();
const ref = (construct: { node: { defaultChild?: unknown } } | unknown) => stack.resolve(construct);
const logicalId = (resource: unknown) => stack.getLogicalId(resource as never);

function statementsOf(roleLogicalId: string): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy: any) => policy.Properties.Roles.some((role: any) => role.Ref === roleLogicalId))
    .flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
}
const asList = (value: unknown) => (Array.isArray(value) ? value : [value]);

describe('SearchDomain', () => {
  test('OpenSearch 2.19, encrypted at rest and between nodes, HTTPS only with TLS 1.2+', () => {
    template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      EngineVersion: 'OpenSearch_2.19',
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-PFS-2023-10' },
    });
  });

  test('is only in the VPC (no public endpoint) behind its own security group, with no resource policy', () => {
    const domain = Object.values(template.findResources('AWS::OpenSearchService::Domain'))[0] as any;
    expect(domain.Properties.VPCOptions.SubnetIds).toHaveLength(1);
    expect(domain.Properties.VPCOptions.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [logicalId(search.securityGroup.node.defaultChild), 'GroupId'] }]);
    expect(domain.Properties.AccessPolicies).toBeUndefined();
  });

  test('security group admits HTTPS from the provisioner, the indexer and the bastion only', () => {
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties);
    const toDomain = ingress.filter((rule) => JSON.stringify(rule.GroupId).includes(logicalId(search.securityGroup.node.defaultChild)));
    expect(toDomain).toHaveLength(3);
    for (const rule of toDomain) {
      expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
      expect(rule.SourceSecurityGroupId).toBeDefined();
      expect(rule.CidrIp).toBeUndefined();
    }
    const sources = toDomain.map((rule) => JSON.stringify(rule.SourceSecurityGroupId));
    expect(sources.some((s) => s.includes(logicalId(indexing.securityGroup.node.defaultChild)))).toBe(true);
    expect(sources.some((s) => s.includes('ProvisionerSecurityGroup'))).toBe(true);
    expect(sources.some((s) => s.includes('DashboardsBastion'))).toBe(true);
    // The domain itself initiates nothing.
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^OpenSearch domain'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })],
    });
  });

  test('fine-grained access control with the provisioner role as the only master user', () => {
    template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      AdvancedSecurityOptions: {
        Enabled: true,
        InternalUserDatabaseEnabled: false,
        MasterUserOptions: { MasterUserARN: { 'Fn::GetAtt': [logicalId(search.provisionerFunction.role!.node.defaultChild), 'Arn'] } },
      },
    });
  });

  test('the master user is a role of its own: the provisioner function\'s execution role, said so in its description', () => {
    const role = template.toJSON().Resources[logicalId(search.provisionerFunction.role!.node.defaultChild)];
    expect(role.Properties.Description).toMatch(/master user .* used only by the search provisioner function/);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }),
    ]);
    // The function is the only one with this role.
    const users = Object.values(template.findResources('AWS::Lambda::Function'))
      .filter((f: any) => JSON.stringify(f.Properties.Role).includes(logicalId(search.provisionerFunction.role!.node.defaultChild)));
    expect(users).toHaveLength(1);
  });

  test('audit logs: off by default; on, the domain publishes AUDIT_LOGS and the provisioner turns the plugin\'s audit logging on', () => {
    template.hasResourceProperties('Custom::OpenSearchServing', { AuditLogs: 'false' });
    const audited = build({ auditLogs: true }).template;
    const domain = Object.values(audited.findResources('AWS::OpenSearchService::Domain'))[0] as any;
    expect(domain.Properties.LogPublishingOptions.AUDIT_LOGS).toMatchObject({ Enabled: true, CloudWatchLogsLogGroupArn: expect.anything() });
    audited.hasResourceProperties('Custom::OpenSearchServing', { AuditLogs: 'true' });
  });

  test('publishes slow search, slow index and error logs to log groups with retention', () => {
    const domain = Object.values(template.findResources('AWS::OpenSearchService::Domain'))[0] as any;
    const logs = domain.Properties.LogPublishingOptions;
    expect(Object.keys(logs).sort()).toEqual(['ES_APPLICATION_LOGS', 'INDEX_SLOW_LOGS', 'SEARCH_SLOW_LOGS']);
    for (const option of Object.values<any>(logs)) expect(option.Enabled).toBe(true);
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, Object.keys(template.findResources('AWS::Logs::LogGroup')).length);
  });

  test('small, cheap defaults: one t3.small.search node, 10 GiB gp3, no zone awareness, no dedicated masters', () => {
    template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      ClusterConfig: { InstanceType: 't3.small.search', InstanceCount: 1, ZoneAwarenessEnabled: false, DedicatedMasterEnabled: false },
      EBSOptions: { EBSEnabled: true, VolumeSize: 10, VolumeType: 'gp3' },
    });
  });

  test('the production profile spreads data nodes over three zones with dedicated masters and replicas', () => {
    const prod = build({ dataNodeInstanceType: 'r6g.large.search', dataNodes: 3, availabilityZoneCount: 3, masterNodes: 3, volumeSizeGiB: 100 });
    prod.template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      ClusterConfig: {
        InstanceType: 'r6g.large.search',
        InstanceCount: 3,
        ZoneAwarenessEnabled: true,
        ZoneAwarenessConfig: { AvailabilityZoneCount: 3 },
        DedicatedMasterEnabled: true,
        DedicatedMasterCount: 3,
        DedicatedMasterType: 'm6g.large.search',
      },
      EBSOptions: { VolumeSize: 100 },
    });
    const domain = Object.values(prod.template.findResources('AWS::OpenSearchService::Domain'))[0] as any;
    expect(new Set(domain.Properties.VPCOptions.SubnetIds.map((id: unknown) => JSON.stringify(id))).size).toBe(3);
    prod.template.hasResourceProperties('Custom::OpenSearchServing', { Replicas: '1' });
  });

  test('rejects a node count that cannot be spread evenly over the zones', () => {
    expect(() => build({ dataNodes: 3, availabilityZoneCount: 2 })).toThrow(/multiple of availabilityZoneCount/);
    expect(() => build({ availabilityZoneCount: 4 })).toThrow(/must be 1, 2 or 3/);
  });

  test('Dashboards sign-in through Cognito: invited users only, MFA, no unauthenticated identities', () => {
    template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      CognitoOptions: { Enabled: true, IdentityPoolId: ref(search.identityPool.ref), UserPoolId: ref(search.userPool.userPoolId) },
    });
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12 }) },
    });
    template.hasResourceProperties('AWS::Cognito::IdentityPool', { AllowUnauthenticatedIdentities: false });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: { 'cognito-identity.amazonaws.com:aud': ref(search.identityPool.ref) },
              'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
            },
          }),
        ],
      },
    });
  });

  test('the bastion analysts port-forward through is SSM-managed, IMDSv2 only, with an encrypted disk and no public IP', () => {
    template.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't4g.nano',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: Match.objectLike({ Encrypted: true }) }],
      SubnetId: Match.objectLike({ Ref: Match.stringLikeRegexp('PrivateSubnet') }),
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } } });
    const noBastion = build({ analystBastion: false });
    noBastion.template.resourceCountIs('AWS::EC2::Instance', 0);
  });

  test('the provisioning custom resource gets the alias prefix, the roles to map and a hash of the assets', () => {
    template.hasResourceProperties('Custom::OpenSearchServing', {
      AliasPrefix: 'clickstream',
      IndexGeneration: '1',
      Replicas: '0',
      ConfigureSecurity: 'true',
      ImportDashboards: 'true',
      IndexerRoleArns: [{ 'Fn::GetAtt': [logicalId(indexing.indexerFunction.role!.node.defaultChild), 'Arn'] }],
      AnalystRoleArns: [{ 'Fn::GetAtt': [logicalId(search.analystRole.node.defaultChild), 'Arn'] }],
      AssetsHash: Match.stringLikeRegexp('^[0-9a-f]{64}$'),
    });
  });

  test('the provisioner runs in the VPC with HTTPS to the domain only', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) =>
      JSON.stringify(f.Properties.Environment ?? {}).includes('search-provisioner'),
    ) as any;
    expect(fn.Properties.VpcConfig.SubnetIds.length).toBeGreaterThan(0);
    expect(fn.Properties.Environment.Variables.OPENSEARCH_ENDPOINT).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(search.domain.node.defaultChild), 'DomainEndpoint'] }]],
    });
    const provisionerGroup = Object.entries(template.findResources('AWS::EC2::SecurityGroup')).find(([, g]: [string, any]) =>
      g.Properties.GroupDescription.startsWith('Search provisioner'),
    )!;
    expect((provisionerGroup[1] as any).Properties.SecurityGroupEgress).toBeUndefined();
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress'))
      .map((r: any) => r.Properties)
      .filter((rule) => JSON.stringify(rule.GroupId).includes(provisionerGroup[0]));
    expect(egress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        DestinationSecurityGroupId: { 'Fn::GetAtt': [logicalId(search.securityGroup.node.defaultChild), 'GroupId'] },
      }),
    ]);
  });
});

describe('IndexingStage', () => {
  const queueId = logicalId(indexing.queue.node.defaultChild);
  const dlqId = logicalId(indexing.deadLetterQueue.node.defaultChild);

  test('queue and DLQ are encrypted; the queue redrives after 5 receives and outlasts 6 function timeouts', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: Duration.minutes(30).toSeconds(),
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
  });

  test('both queues refuse requests without TLS, and only the bucket may send notifications', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).map((p: any) => p.Properties);
    for (const id of [queueId, dlqId]) {
      const statements = policies.filter((p) => p.Queues.some((q: any) => q.Ref === id)).flatMap((p) => p.PolicyDocument.Statement);
      expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]));
    }
    const send = policies.filter((p) => p.Queues.some((q: any) => q.Ref === queueId)).flatMap((p) => p.PolicyDocument.Statement).find((s: any) => s.Effect === 'Allow');
    expect(send).toMatchObject({
      Principal: { Service: 's3.amazonaws.com' },
      Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(aggregatesBucket.node.defaultChild), 'Arn'] } } },
    });
  });

  test('the bucket notifies the queue of created .json objects under the aggregates prefix', () => {
    const notifications = Object.values(template.findResources('Custom::S3BucketNotifications')) as any[];
    expect(notifications).toHaveLength(1);
    expect(notifications[0].Properties.BucketName).toEqual({ Ref: logicalId(aggregatesBucket.node.defaultChild) });
    const [configuration] = notifications[0].Properties.NotificationConfiguration.QueueConfigurations;
    expect(configuration.Events).toEqual(['s3:ObjectCreated:*']);
    expect(configuration.QueueArn).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    const rules = [...configuration.Filter.Key.FilterRules].sort((a: any, b: any) => a.Name.localeCompare(b.Name));
    expect(rules).toEqual([
      { Name: 'prefix', Value: 'aggregates/' },
      { Name: 'suffix', Value: '.json' },
    ]);
  });

  test('the event source mapping reports partial batch failures, bounds batch and concurrency, and waits for provisioning', () => {
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.keys(mappings)).toHaveLength(1);
    const mapping = Object.values(mappings)[0] as any;
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: logicalId(indexing.indexerFunction.node.defaultChild) },
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(mapping.DependsOn).toEqual(expect.arrayContaining([logicalId(search.provisioning.node.defaultChild)]));
  });

  test('the indexer runs in the domain VPC on Node.js 22 ARM64, configured for SigV4 to the aliases', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      VpcConfig: Match.objectLike({ SecurityGroupIds: [{ 'Fn::GetAtt': [logicalId(indexing.securityGroup.node.defaultChild), 'GroupId'] }] }),
      Environment: {
        Variables: Match.objectLike({
          OPENSEARCH_AUTH: 'sigv4',
          OPENSEARCH_ALIAS_PREFIX: 'clickstream',
          AGGREGATES_PREFIX: 'aggregates/',
          ERRORS_PREFIX: 'errors/',
        }),
      },
    });
  });

  test('least privilege: read the aggregates prefix, write error reports, POST to the aliases, consume the queue', () => {
    const statements = statementsOf(logicalId(indexing.indexerFunction.role!.node.defaultChild));
    const byAction = (action: string) => statements.filter((s) => asList(s.Action).includes(action));
    const resourcesOf = (action: string) => byAction(action).flatMap((s) => asList(s.Resource)).map((r) => JSON.stringify(r));

    expect(resourcesOf('s3:GetObject')).toEqual([expect.stringContaining('/aggregates/*')]);
    expect(resourcesOf('s3:PutObject')).toEqual([expect.stringContaining('/errors/*')]);
    expect(resourcesOf('s3:ListBucket')).toEqual([expect.not.stringContaining('/')]);
    expect(byAction('s3:ListBucket')[0].Condition).toEqual({ StringLike: { 's3:prefix': ['aggregates/*'] } });
    // Each alias (the five tables' and the ledger's) and the paths below it; nothing else of the domain.
    const aliases = [...Object.values(TABLE_ALIASES), 'clickstream-computations'];
    const posts = resourcesOf('es:ESHttpPost');
    expect(posts).toHaveLength(aliases.length * 2);
    for (const alias of aliases) {
      expect(posts.filter((r) => r.includes(`/${alias}"`))).toHaveLength(1);
      expect(posts.filter((r) => r.includes(`/${alias}/*"`))).toHaveLength(1);
    }
    expect(resourcesOf('sqs:ReceiveMessage')).toEqual([JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] })]);
    const actions = new Set(statements.flatMap((s) => asList(s.Action)));
    for (const action of actions) expect(action).not.toMatch(/^(s3|es|sqs):\*$|^es:ESHttp(Put|Delete|Patch)$|^s3:(DeleteObject|PutObjectAcl)/);
    // Only the actions without resource-level permissions may use "*".
    for (const statement of statements.filter((s) => asList(s.Resource).includes('*'))) {
      for (const action of asList(statement.Action)) expect(action).toMatch(/^(xray|ec2):/);
    }
  });

  test('the prefixes must not overlap (a report under the aggregates prefix would notify itself)', () => {
    const stack2 = new Stack(testApp(), 'Overlap');
    const vpc = new ec2.Vpc(stack2, 'Vpc', { maxAzs: 1 });
    const searchDomain = new SearchDomain(stack2, 'Search', { vpc, analystBastion: false });
    expect(
      () => new IndexingStage(stack2, 'Indexing', { aggregatesBucket: new SecureBucket(stack2, 'B'), searchDomain, errorsPrefix: 'aggregates/errors/' }),
    ).toThrow(/outside the aggregates prefix/);
  });
});
