/**
 * `npm run preflight` (scripts/deploy/preflight-checks.ts) against mocked AWS SDK clients
 * (aws-sdk-client-mock): a healthy account passes every check, and each way a first deployment
 * would fail is reported as a failure with what to do. Settings come from lib/config.ts.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { GetRoleCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { DescribeClusterV2Command, KafkaClient, NotFoundException } from '@aws-sdk/client-kafka';
import { DescribeInstanceTypeLimitsCommand, ListInstanceTypeDetailsCommand, OpenSearchClient } from '@aws-sdk/client-opensearch';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { App } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { loadPipelineConfig } from '../../lib/config';
import { formatResults, runPreflight, type CheckResult, type PreflightClients } from '../../scripts/deploy/preflight-checks';
import { preflightContext } from '../../scripts/preflight';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const CLUSTER_ARN = `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/web-clicks/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab-2`;
const VPC = 'vpc-0123456789abcdef0';

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const iam = mockClient(IAMClient);
const kafka = mockClient(KafkaClient);
const ec2 = mockClient(EC2Client);
const os = mockClient(OpenSearchClient);

const clients: PreflightClients = {
  sts: new STSClient({ region: REGION }),
  cloudFormation: new CloudFormationClient({ region: REGION }),
  iam: new IAMClient({ region: REGION }),
  kafka: new KafkaClient({ region: REGION }),
  ec2: new EC2Client({ region: REGION }),
  openSearch: new OpenSearchClient({ region: REGION }),
};

const selfSg = (id: string, overrides: Partial<SecurityGroup> = {}): SecurityGroup => ({
  GroupId: id,
  IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, UserIdGroupPairs: [{ GroupId: id }] }],
  IpPermissionsEgress: [
    { IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, UserIdGroupPairs: [{ GroupId: id }] },
    { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
  ],
  ...overrides,
});

/** A healthy account: bootstrapped, role present, an active IAM cluster in a VPC with NAT and an S3 endpoint. */
function healthyAccount(): void {
  for (const m of [sts, cfn, iam, kafka, ec2, os]) m.reset();
  sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:role/deployer` });
  cfn.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).resolves({
    Stacks: [{ StackName: 'CDKToolkit', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '27' }] }],
  });
  iam.on(GetRoleCommand).resolves({
    Role: { RoleName: 'AWSServiceRoleForAmazonOpenSearchService', Arn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/opensearchservice.amazonaws.com/AWSServiceRoleForAmazonOpenSearchService`, Path: '/', RoleId: 'x', CreateDate: new Date() },
  });
  kafka.on(DescribeClusterV2Command).resolves({
    ClusterInfo: {
      ClusterType: 'PROVISIONED', ClusterName: 'web-clicks', State: 'ACTIVE', ClusterArn: CLUSTER_ARN,
      Provisioned: {
        NumberOfBrokerNodes: 3,
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-a', 'subnet-b'], SecurityGroups: ['sg-1'], InstanceType: 'kafka.m5.large' },
        ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      },
    },
  });
  const subnets = [
    { SubnetId: 'subnet-a', VpcId: VPC, AvailabilityZone: `${REGION}a` },
    { SubnetId: 'subnet-b', VpcId: VPC, AvailabilityZone: `${REGION}b` },
    { SubnetId: 'subnet-pub', VpcId: VPC, AvailabilityZone: `${REGION}a` },
  ];
  ec2.on(DescribeSubnetsCommand).callsFake((input) => ({
    Subnets: input.SubnetIds ? subnets.filter((s) => input.SubnetIds.includes(s.SubnetId)) : subnets,
  }));
  ec2.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      { RouteTableId: 'rtb-private', Associations: [{ SubnetId: 'subnet-a' }, { SubnetId: 'subnet-b' }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }] },
      { RouteTableId: 'rtb-public', Associations: [{ SubnetId: 'subnet-pub' }, { Main: true }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }] },
    ],
  });
  ec2.on(DescribeVpcEndpointsCommand).resolves({
    VpcEndpoints: [{ VpcEndpointId: 'vpce-s3', ServiceName: `com.amazonaws.${REGION}.s3`, VpcEndpointType: 'Gateway', State: 'available' as never, RouteTableIds: ['rtb-private'] }],
  });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [selfSg('sg-1')] });
  ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC }] });
  ec2.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: [`${REGION}c`, `${REGION}a`, `${REGION}b`].map((z) => ({ ZoneName: z, ZoneType: 'availability-zone', State: 'available' })),
  });
  os.on(ListInstanceTypeDetailsCommand).callsFake((input) => ({
    InstanceTypeDetails: [{ InstanceType: input.InstanceType, AvailabilityZones: [`${REGION}a`, `${REGION}b`, `${REGION}c`] }],
  }));
  os.on(DescribeInstanceTypeLimitsCommand).resolves({
    LimitsByRole: {
      data: {
        InstanceLimits: { InstanceCountLimits: { MinimumInstanceCount: 1, MaximumInstanceCount: 10 } },
        StorageTypes: [{ StorageTypeName: 'ebs', StorageSubTypeName: 'gp3', StorageTypeLimits: [
          { LimitName: 'MinimumVolumeSize', LimitValues: ['10'] }, { LimitName: 'MaximumVolumeSize', LimitValues: ['100'] },
        ] }],
      },
    },
  });
}

function configFrom(context: Record<string, string>) {
  return loadPipelineConfig(new App({ context }));
}

async function run(context: Record<string, string> = {}, region = REGION): Promise<CheckResult[]> {
  return runPreflight(clients, { region, config: configFrom(context), openSearchEngineVersion: 'OpenSearch_2.19' });
}

const byName = (results: CheckResult[], name: string) => {
  const found = results.find((r) => r.check === name);
  if (!found) throw new Error(`no check "${name}" in ${results.map((r) => r.check).join(', ')}`);
  return found;
};
const existing = { mskClusterArn: CLUSTER_ARN, vpcId: VPC };

beforeEach(healthyAccount);

describe('preflight on a healthy account', () => {
  it('passes every check of an existing cluster and VPC, and prints each with its finding', async () => {
    const results = await run(existing);
    expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(results.map((r) => r.check)).toEqual([
      'credentials and region',
      'CDK bootstrap (CDKToolkit stack)',
      'OpenSearch service-linked role',
      'MSK cluster: account and region',
      'MSK cluster: state',
      'MSK cluster: IAM authentication',
      'MSK cluster: S3 endpoint',
      'MSK cluster: STS and Lambda reachable',
      'MSK cluster: security group rules',
      'VPC: private subnets in two zones',
      'VPC: S3 gateway endpoint',
      'OpenSearch t3.small.search: zones',
      'OpenSearch t3.small.search: limits',
    ]);
    const text = formatResults(results);
    expect(text).toMatch(/^PASS {2}credentials and region: account 123456789012/);
    expect(text).toMatch(/Preflight passed \(0 warning\(s\)\)/);
    // Read-only calls only, and the settings reach the calls.
    expect(os.commandCalls(ListInstanceTypeDetailsCommand)[0].args[0].input).toEqual({ EngineVersion: 'OpenSearch_2.19', InstanceType: 't3.small.search', RetrieveAZs: true });
    expect(kafka.commandCalls(DescribeClusterV2Command)[0].args[0].input).toEqual({ ClusterArn: CLUSTER_ARN });
  });

  it('skips the cluster and VPC checks for a trial (new cluster, new VPC) and checks the type in the first two zones', async () => {
    const results = await run();
    expect(byName(results, 'MSK cluster').status).toBe('skip');
    expect(byName(results, 'VPC').detail).toContain(`${REGION}a and ${REGION}b`);
    expect(byName(results, 'OpenSearch t3.small.search: zones')).toMatchObject({ status: 'pass' });
    expect(kafka.calls()).toHaveLength(0);
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
  });

  it('checks the prod profile\'s type, count and volume from the same settings as cdk deploy', async () => {
    const results = await run({ stage: 'prod' });
    expect(byName(results, 'OpenSearch r6g.large.search: limits')).toMatchObject({ status: 'pass', detail: expect.stringContaining('2 node(s) with 100 GiB') });
  });
});

describe('preflight failures, each with what to do', () => {
  it('no credentials: stops after the first check', async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const results = await run();
    expect(results[0]).toMatchObject({ status: 'fail', fix: expect.stringContaining('aws sso login') });
    expect(results.slice(1).map((r) => r.status)).toEqual(['skip']);
    expect(formatResults(results)).toMatch(/FAIL {2}credentials and region: STS GetCallerIdentity failed: CredentialsProviderError[\s\S]*what to do: /);
  });

  it('no region', async () => {
    const results = await run({}, '');
    expect(results[0]).toMatchObject({ status: 'fail', detail: 'no region set', fix: expect.stringContaining('AWS_REGION') });
    expect(sts.calls()).toHaveLength(0);
  });

  it('not bootstrapped', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id CDKToolkit does not exist'), { name: 'ValidationError' }));
    expect(byName(await run(), 'CDK bootstrap (CDKToolkit stack)')).toMatchObject({ status: 'fail', fix: expect.stringContaining('npx cdk bootstrap') });
  });

  it('bootstrap too old for the vpcId lookup', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'CDKToolkit', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '7' }] }] });
    expect(byName(await run(), 'CDK bootstrap (CDKToolkit stack)').status).toBe('pass');
    expect(byName(await run({ vpcId: VPC }), 'CDK bootstrap (CDKToolkit stack)')).toMatchObject({ status: 'fail', detail: expect.stringContaining('needs 8') });
  });

  it('bootstrap stack in a failed state', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'CDKToolkit', StackStatus: 'UPDATE_ROLLBACK_COMPLETE', CreationTime: new Date() }] });
    expect(byName(await run(), 'CDK bootstrap (CDKToolkit stack)')).toMatchObject({ status: 'fail', detail: 'CDKToolkit is UPDATE_ROLLBACK_COMPLETE' });
  });

  it('no OpenSearch service-linked role', async () => {
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'The role with name AWSServiceRoleForAmazonOpenSearchService cannot be found.', $metadata: {} }));
    expect(byName(await run(), 'OpenSearch service-linked role')).toMatchObject({
      status: 'fail', fix: expect.stringContaining('aws iam create-service-linked-role --aws-service-name opensearchservice.amazonaws.com'),
    });
  });

  it('a cluster of another account or region', async () => {
    const other = CLUSTER_ARN.replace(ACCOUNT, '999999999999');
    expect(byName(await run({ mskClusterArn: other }), 'MSK cluster: account and region')).toMatchObject({ status: 'fail', fix: expect.stringContaining('MSK Serverless cannot be consumed across accounts') });
    const elsewhere = CLUSTER_ARN.replace(`:${REGION}:`, ':us-east-1:');
    expect(byName(await run({ mskClusterArn: elsewhere }), 'MSK cluster: account and region')).toMatchObject({ status: 'fail', fix: expect.stringContaining('deploy to us-east-1') });
    expect(kafka.calls()).toHaveLength(0);
  });

  it('a cluster that does not exist, is not active, or has no IAM authentication', async () => {
    kafka.on(DescribeClusterV2Command).rejects(new NotFoundException({ message: 'not found', $metadata: {} }));
    expect(byName(await run(existing), 'MSK cluster: state')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no such cluster') });
    kafka.on(DescribeClusterV2Command).resolves({
      ClusterInfo: { ClusterType: 'SERVERLESS', State: 'UPDATING', Serverless: { VpcConfigs: [{ SubnetIds: ['subnet-a', 'subnet-b'], SecurityGroupIds: ['sg-1'] }], ClientAuthentication: { Sasl: { Iam: { Enabled: false } } } } },
    });
    const results = await run(existing);
    expect(byName(results, 'MSK cluster: state')).toMatchObject({ status: 'fail', detail: 'the cluster is UPDATING' });
    expect(byName(results, 'MSK cluster: IAM authentication').status).toBe('fail');
    // A serverless cluster's own subnets and groups are what the rest is checked on.
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({ GroupIds: ['sg-1'] });
  });

  it('cluster subnets without an S3 endpoint on their route table', async () => {
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: [{ VpcEndpointId: 'vpce-s3', ServiceName: `com.amazonaws.${REGION}.s3`, VpcEndpointType: 'Gateway', State: 'available' as never, RouteTableIds: ['rtb-public'] }],
    });
    expect(byName(await run(existing), 'MSK cluster: S3 endpoint')).toMatchObject({ status: 'fail', detail: expect.stringContaining('subnet-a, subnet-b') });
  });

  it('cluster subnets with neither NAT nor STS/Lambda endpoints, and passes with the endpoints', async () => {
    ec2.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [{ RouteTableId: 'rtb-private', Associations: [{ SubnetId: 'subnet-a' }, { SubnetId: 'subnet-b' }, { Main: true }], Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }] }],
    });
    const isolated = await run({ mskClusterArn: CLUSTER_ARN });
    expect(byName(isolated, 'MSK cluster: STS and Lambda reachable')).toMatchObject({ status: 'fail', detail: expect.stringContaining('sts and lambda') });
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: ['sts', 'lambda'].map((s) => ({ ServiceName: `com.amazonaws.${REGION}.${s}`, VpcEndpointType: 'Interface' as const, State: 'available' as never }))
        .concat([{ ServiceName: `com.amazonaws.${REGION}.s3`, VpcEndpointType: 'Gateway' as never, State: 'available' as never, RouteTableIds: ['rtb-private'] } as never]),
    });
    expect(byName(await run({ mskClusterArn: CLUSTER_ARN }), 'MSK cluster: STS and Lambda reachable').status).toBe('pass');
  });

  it('security groups without the self-referencing broker rule or outbound 443', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [selfSg('sg-1', { IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] })] });
    expect(byName(await run(existing), 'MSK cluster: security group rules')).toMatchObject({ status: 'fail', detail: expect.stringContaining('self-referencing') });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [selfSg('sg-1', { IpPermissionsEgress: [{ IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098, UserIdGroupPairs: [{ GroupId: 'sg-1' }] }] })] });
    const result = byName(await run(existing), 'MSK cluster: security group rules');
    expect(result).toMatchObject({ status: 'fail', detail: expect.stringContaining('TCP 443') });
    expect(result.detail).not.toContain('self-referencing');
    // "All traffic" rules count.
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-1', IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-1' }] }], IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }] });
    expect(byName(await run(existing), 'MSK cluster: security group rules').status).toBe('pass');
  });

  it('a VPC that does not exist, has private subnets in one zone only, or no S3 gateway endpoint', async () => {
    ec2.on(DescribeVpcsCommand).rejects(Object.assign(new Error('The vpc ID does not exist'), { name: 'InvalidVpcID.NotFound' }));
    expect(byName(await run({ vpcId: VPC }), 'VPC: exists').status).toBe('fail');
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC }] });
    ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: 'subnet-a', VpcId: VPC, AvailabilityZone: `${REGION}a` }, { SubnetId: 'subnet-pub', VpcId: VPC, AvailabilityZone: `${REGION}b` }] });
    ec2.on(DescribeVpcEndpointsCommand).resolves({ VpcEndpoints: [] });
    const results = await run({ vpcId: VPC });
    expect(byName(results, 'VPC: private subnets in two zones')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`1 zone(s): ${REGION}a`) });
    expect(byName(results, 'VPC: S3 gateway endpoint')).toMatchObject({ status: 'fail', fix: expect.stringContaining(`com.amazonaws.${REGION}.s3`) });
  });

  it('an instance type not offered in the domain\'s zone (t3.small.search), with the way out', async () => {
    os.on(ListInstanceTypeDetailsCommand).resolves({ InstanceTypeDetails: [{ InstanceType: 't3.small.search', AvailabilityZones: [`${REGION}b`, `${REGION}c`] }] });
    expect(byName(await run(), 'OpenSearch t3.small.search: zones')).toMatchObject({ status: 'fail', fix: expect.stringContaining('t3.medium.search') });
    // Zone awareness needs two offered zones among the subnets'.
    os.on(ListInstanceTypeDetailsCommand).resolves({ InstanceTypeDetails: [{ InstanceType: 'r6g.large.search', AvailabilityZones: [`${REGION}a`] }] });
    expect(byName(await run({ stage: 'prod' }), 'OpenSearch r6g.large.search: zones').status).toBe('fail');
  });

  it('an instance type not offered at all for the engine version', async () => {
    os.on(ListInstanceTypeDetailsCommand).resolves({ InstanceTypeDetails: [] });
    const results = await run({ openSearchInstanceType: 'x9.small.search' });
    expect(byName(results, 'OpenSearch x9.small.search: offered')).toMatchObject({ status: 'fail', detail: expect.stringContaining('OpenSearch_2.19') });
    expect(os.commandCalls(DescribeInstanceTypeLimitsCommand)).toHaveLength(0);
  });

  it('a node count or volume size outside the type\'s limits', async () => {
    const results = await run({ openSearchInstanceCount: '12', openSearchVolumeSizeGiB: '200' });
    expect(byName(results, 'OpenSearch t3.small.search: limits')).toMatchObject({
      status: 'fail', detail: expect.stringMatching(/at most 10 nodes \(asked 12\).*at most 100 GiB \(asked 200\)/),
    });
    expect(formatResults(results)).toMatch(/Preflight found 1 problem\(s\): fix them before npx cdk deploy\./);
  });
});

describe('preflight settings', () => {
  it('come from cdk.json\'s context and -c arguments, as cdk deploy reads them', () => {
    const context = preflightContext(['-c', 'stage=prod', '--context', `mskClusterArn=${CLUSTER_ARN}`, '-c', 'alarmEmail=a@b.example'], { kafkaTopic: 'clicks', stage: 'dev' });
    expect(context).toEqual({ kafkaTopic: 'clicks', stage: 'prod', mskClusterArn: CLUSTER_ARN, alarmEmail: 'a@b.example' });
    expect(configFrom(context as Record<string, string>).kafka.existingClusterArn).toBe(CLUSTER_ARN);
    expect(() => preflightContext(['-c', 'novalue'], {})).toThrow(/key=value/);
  });
});
