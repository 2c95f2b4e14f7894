/**
 * The checks of `npm run preflight` (scripts/preflight.ts): read-only AWS calls that find, before
 * `cdk deploy`, what would make a first deployment of this stack fail or misbehave in the target
 * account. Each check says what it found and, when it fails, what to do. The clients and the
 * settings are arguments (the settings are lib/config.ts's `PipelineConfig`, read from the same
 * CDK context as `cdk deploy`), so every check is tested with mocked SDK clients
 * (test/deploy/preflight.test.ts). What each check is for: docs/deploy.md, "Preflight".
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
  type IpPermission,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type VpcEndpoint,
} from '@aws-sdk/client-ec2';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { DescribeClusterV2Command, KafkaClient } from '@aws-sdk/client-kafka';
import { DescribeInstanceTypeLimitsCommand, ListInstanceTypeDetailsCommand, OpenSearchClient } from '@aws-sdk/client-opensearch';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { PipelineConfig } from '../../lib/config';

export interface PreflightClients {
  readonly sts: STSClient;
  readonly cloudFormation: CloudFormationClient;
  readonly iam: IAMClient;
  readonly kafka: KafkaClient;
  readonly ec2: EC2Client;
  readonly openSearch: OpenSearchClient;
}

export interface PreflightTarget {
  /** Region `cdk deploy` will deploy to (AWS_REGION / CDK_DEFAULT_REGION). */
  readonly region: string;
  readonly config: PipelineConfig;
  /** OpenSearch engine version of the domain, e.g. `OpenSearch_2.19` (lib/search-domain.ts). */
  readonly openSearchEngineVersion: string;
}

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found. */
  readonly detail: string;
  /** What to do about a failure or warning. */
  readonly fix?: string;
}

/** The role a VPC OpenSearch domain needs; CloudFormation does not create it. */
export const OPENSEARCH_SERVICE_LINKED_ROLE = 'AWSServiceRoleForAmazonOpenSearchService';
/** CDK's default synthesizer needs bootstrap version 6, and 8 for context lookups (`vpcId`). */
export const MIN_BOOTSTRAP_VERSION = 6;
export const MIN_LOOKUP_BOOTSTRAP_VERSION = 8;
/** MSK brokers' port for IAM-authenticated clients (lib/ingest.ts MSK_IAM_PORT). */
export const MSK_IAM_PORT = 9098;

const pass = (check: string, detail: string): CheckResult => ({ check, status: 'pass', detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'fail', detail, fix });
const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'warn', detail, fix });
const skip = (check: string, detail: string): CheckResult => ({ check, status: 'skip', detail });

const errorName = (e: unknown) => (e as { name?: string } | null)?.name ?? '';
const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isAccessDenied = (e: unknown) => /AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(errorName(e));

/** Runs every check in order; later checks that need an earlier answer (the account) are skipped without it. */
export async function runPreflight(clients: PreflightClients, target: PreflightTarget): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const identity = await checkCredentials(clients.sts, target.region);
  results.push(identity.result);
  if (!identity.account) {
    results.push(skip('the remaining checks', 'they need working credentials and a region'));
    return results;
  }
  results.push(await checkBootstrap(clients.cloudFormation, target.config.vpcId !== undefined));
  results.push(await checkServiceLinkedRole(clients.iam));
  results.push(...await checkMskCluster(clients, target, identity.account));
  const vpc = await checkVpc(clients.ec2, target);
  results.push(...vpc.results);
  results.push(...await checkOpenSearchInstanceType(clients, target, vpc.domainZones));
  return results;
}

// ------------------------------------------------------------------------------------------------
// Credentials, bootstrap, service-linked role

export async function checkCredentials(sts: STSClient, region: string): Promise<{ result: CheckResult; account?: string }> {
  const check = 'credentials and region';
  if (!region) {
    return { result: fail(check, 'no region set', 'export AWS_REGION=<region> and CDK_DEFAULT_REGION=$AWS_REGION (docs/deploy.md, section 1)') };
  }
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return { result: pass(check, `account ${id.Account}, ${id.Arn}, region ${region}`), account: id.Account };
  } catch (e) {
    return {
      result: fail(check, `STS GetCallerIdentity failed: ${errorName(e)}: ${errorMessage(e)}`,
        'give the shell credentials (aws configure, aws sso login, or AWS_PROFILE) and check that `aws sts get-caller-identity` answers'),
    };
  }
}

export async function checkBootstrap(cloudFormation: CloudFormationClient, usesLookups: boolean): Promise<CheckResult> {
  const check = 'CDK bootstrap (CDKToolkit stack)';
  const bootstrap = 'npx cdk bootstrap aws://$CDK_DEFAULT_ACCOUNT/$CDK_DEFAULT_REGION (docs/deploy.md, section 2)';
  let stack;
  try {
    stack = (await cloudFormation.send(new DescribeStacksCommand({ StackName: 'CDKToolkit' }))).Stacks?.[0];
  } catch (e) {
    if (/does not exist/i.test(errorMessage(e))) return fail(check, 'no CDKToolkit stack in this account and region', bootstrap);
    if (isAccessDenied(e)) return warn(check, `cannot read the CDKToolkit stack: ${errorMessage(e)}`, 'allow cloudformation:DescribeStacks, or check by hand');
    throw e;
  }
  if (!stack) return fail(check, 'no CDKToolkit stack in this account and region', bootstrap);
  if (!/_COMPLETE$/.test(stack.StackStatus ?? '') || /ROLLBACK|DELETE/.test(stack.StackStatus ?? '')) {
    return fail(check, `CDKToolkit is ${stack.StackStatus}`, `fix or delete the CDKToolkit stack, then ${bootstrap}`);
  }
  const version = Number(stack.Outputs?.find((o) => o.OutputKey === 'BootstrapVersion')?.OutputValue);
  const needed = usesLookups ? MIN_LOOKUP_BOOTSTRAP_VERSION : MIN_BOOTSTRAP_VERSION;
  if (!Number.isFinite(version)) return warn(check, 'CDKToolkit has no BootstrapVersion output', `re-run ${bootstrap}`);
  if (version < needed) {
    return fail(check, `bootstrap version ${version}, this app needs ${needed}${usesLookups ? ' (vpcId is looked up at synth time)' : ''}`, `re-run ${bootstrap} to upgrade it`);
  }
  return pass(check, `CDKToolkit ${stack.StackStatus}, bootstrap version ${version}`);
}

export async function checkServiceLinkedRole(iam: IAMClient): Promise<CheckResult> {
  const check = 'OpenSearch service-linked role';
  try {
    const role = await iam.send(new GetRoleCommand({ RoleName: OPENSEARCH_SERVICE_LINKED_ROLE }));
    return pass(check, `${role.Role?.Arn ?? OPENSEARCH_SERVICE_LINKED_ROLE} exists`);
  } catch (e) {
    if (errorName(e) === 'NoSuchEntityException' || errorName(e) === 'NoSuchEntity') {
      return fail(check, `${OPENSEARCH_SERVICE_LINKED_ROLE} does not exist; a VPC domain cannot be created without it`,
        'aws iam create-service-linked-role --aws-service-name opensearchservice.amazonaws.com (once per account; docs/deploy.md, section 2)');
    }
    if (isAccessDenied(e)) return warn(check, `cannot read IAM roles: ${errorMessage(e)}`, `allow iam:GetRole, or ask an administrator whether ${OPENSEARCH_SERVICE_LINKED_ROLE} exists`);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------
// Network helpers

interface NetworkView {
  readonly subnets: Subnet[];
  /** Route table of each subnet (its explicit association, else the VPC's main table). */
  readonly routeTableOf: Map<string, RouteTable | undefined>;
  readonly endpoints: VpcEndpoint[];
}

async function describeNetwork(ec2: EC2Client, vpcId: string, subnetIds?: string[]): Promise<NetworkView> {
  const subnets = (await ec2.send(new DescribeSubnetsCommand(subnetIds
    ? { SubnetIds: subnetIds }
    : { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? [];
  const tables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables ?? [];
  const main = tables.find((t) => t.Associations?.some((a) => a.Main));
  const routeTableOf = new Map<string, RouteTable | undefined>();
  for (const s of subnets) {
    routeTableOf.set(s.SubnetId!, tables.find((t) => t.Associations?.some((a) => a.SubnetId === s.SubnetId)) ?? main);
  }
  const endpoints = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).VpcEndpoints ?? [];
  return { subnets, routeTableOf, endpoints };
}

const defaultRoute = (table: RouteTable | undefined) => table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole');
/** A default route to an internet gateway: a public subnet. */
const isPublic = (table: RouteTable | undefined) => /^igw-/.test(defaultRoute(table)?.GatewayId ?? '');
/** A default route through NAT, a transit gateway, an instance or an interface: private with egress. */
const hasPrivateEgress = (table: RouteTable | undefined) => {
  const r = defaultRoute(table);
  return !!r && !isPublic(table) && !!(r.NatGatewayId || r.TransitGatewayId || r.InstanceId || r.NetworkInterfaceId || r.VpcPeeringConnectionId);
};

const endpointFor = (endpoints: VpcEndpoint[], region: string, service: string, type?: 'Gateway' | 'Interface') =>
  endpoints.filter((e) => e.ServiceName === `com.amazonaws.${region}.${service}` && (!type || e.VpcEndpointType === type)
    && !['deleted', 'deleting', 'failed', 'rejected', 'expired'].includes(String(e.State ?? '').toLowerCase()));

/** Subnets whose S3 traffic has a VPC endpoint: a gateway endpoint on their route table, or an S3 interface endpoint. */
function subnetsWithoutS3Endpoint(net: NetworkView, region: string): string[] {
  const gateways = endpointFor(net.endpoints, region, 's3', 'Gateway');
  if (endpointFor(net.endpoints, region, 's3', 'Interface').length > 0) return [];
  return net.subnets.map((s) => s.SubnetId!).filter((id) => {
    const table = net.routeTableOf.get(id)?.RouteTableId;
    return !gateways.some((g) => table !== undefined && g.RouteTableIds?.includes(table));
  });
}

const coversPort = (p: IpPermission, port: number) =>
  p.IpProtocol === '-1' || ((p.IpProtocol === 'tcp' || p.IpProtocol === '6') && (p.FromPort ?? 0) <= port && port <= (p.ToPort ?? 65535));
const fromSelf = (p: IpPermission, groupId: string) => (p.UserIdGroupPairs ?? []).some((g) => g.GroupId === groupId);
const toAnywhere = (p: IpPermission) => (p.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0');

/** What the event source mapping needs of the cluster's security groups (docs/deploy.md, "An existing MSK cluster"). */
export function securityGroupProblems(groups: SecurityGroup[], port = MSK_IAM_PORT): string[] {
  const problems: string[] = [];
  if (!groups.some((g) => (g.IpPermissions ?? []).some((p) => coversPort(p, port) && fromSelf(p, g.GroupId!)))) {
    problems.push(`no inbound rule on TCP ${port} from the security group itself (self-referencing), so the event source mapping's pollers cannot reach the brokers`);
  }
  if (!groups.some((g) => (g.IpPermissionsEgress ?? []).some((p) => coversPort(p, port) && (fromSelf(p, g.GroupId!) || toAnywhere(p))))) {
    problems.push(`no outbound rule on TCP ${port} to the brokers (the group itself or 0.0.0.0/0)`);
  }
  if (!groups.some((g) => (g.IpPermissionsEgress ?? []).some((p) => coversPort(p, 443) && (toAnywhere(p) || (p.PrefixListIds ?? []).length > 0)))) {
    problems.push('no outbound rule on TCP 443 to 0.0.0.0/0 (or a prefix list), so the pollers cannot call STS, Lambda and S3');
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// An existing MSK cluster

export function parseClusterArn(arn: string): { region: string; account: string } | undefined {
  const m = /^arn:aws[a-z-]*:kafka:([a-z0-9-]+):(\d{12}):cluster\/[^/]+\/[^/]+$/.exec(arn);
  return m ? { region: m[1], account: m[2] } : undefined;
}

export async function checkMskCluster(clients: Pick<PreflightClients, 'kafka' | 'ec2'>, target: PreflightTarget, account: string): Promise<CheckResult[]> {
  const arn = target.config.kafka.existingClusterArn;
  if (!arn) return [skip('MSK cluster', 'mskClusterArn not set: the stack creates an MSK Serverless cluster and its topic')];
  const place = parseClusterArn(arn);
  if (!place) return [fail('MSK cluster: account and region', `not an MSK cluster ARN: ${arn}`, 'set mskClusterArn to the cluster ARN from `aws kafka list-clusters-v2`')];
  if (place.account !== account) {
    return [fail('MSK cluster: account and region', `the cluster is in account ${place.account}, the deployment in ${account}`,
      'deploy into the cluster\'s account: a cross-account cluster needs a multi-VPC private connection and a cluster policy, which this stack does not set up, and MSK Serverless cannot be consumed across accounts at all')];
  }
  if (place.region !== target.region) {
    return [fail('MSK cluster: account and region', `the cluster is in ${place.region}, the deployment goes to ${target.region}`,
      `deploy to ${place.region} (export AWS_REGION=${place.region} CDK_DEFAULT_REGION=${place.region}): an event source mapping reads a cluster of its own region only`)];
  }
  const results: CheckResult[] = [pass('MSK cluster: account and region', `account ${account}, region ${target.region}`)];
  let cluster;
  try {
    cluster = (await clients.kafka.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
  } catch (e) {
    if (errorName(e) === 'NotFoundException') {
      return [...results, fail('MSK cluster: state', `no such cluster: ${arn}`, 'check mskClusterArn against `aws kafka list-clusters-v2`')];
    }
    if (isAccessDenied(e)) return [...results, warn('MSK cluster: state', `cannot describe the cluster: ${errorMessage(e)}`, 'allow kafka:DescribeClusterV2 for the preflight')];
    throw e;
  }
  const serverless = cluster?.ClusterType === 'SERVERLESS';
  results.push(cluster?.State === 'ACTIVE'
    ? pass('MSK cluster: state', `${cluster.ClusterType} cluster ${cluster.ClusterName} is ACTIVE`)
    : fail('MSK cluster: state', `the cluster is ${cluster?.State ?? 'in an unknown state'}`, 'wait until it is ACTIVE (aws kafka describe-cluster-v2)'));
  const iamEnabled = serverless
    ? cluster?.Serverless?.ClientAuthentication?.Sasl?.Iam?.Enabled
    : cluster?.Provisioned?.ClientAuthentication?.Sasl?.Iam?.Enabled;
  results.push(iamEnabled
    ? pass('MSK cluster: IAM authentication', 'enabled')
    : fail('MSK cluster: IAM authentication', 'IAM access control is not enabled on the cluster; the ingest function authenticates with IAM',
      'enable it: aws kafka update-security --cluster-arn ... --client-authentication \'{"Sasl":{"Iam":{"Enabled":true}}}\' --current-version ...'));

  const subnetIds = serverless
    ? (cluster?.Serverless?.VpcConfigs ?? []).flatMap((v) => v.SubnetIds ?? [])
    : cluster?.Provisioned?.BrokerNodeGroupInfo?.ClientSubnets ?? [];
  const groupIds = serverless
    ? (cluster?.Serverless?.VpcConfigs ?? []).flatMap((v) => v.SecurityGroupIds ?? [])
    : cluster?.Provisioned?.BrokerNodeGroupInfo?.SecurityGroups ?? [];
  if (subnetIds.length === 0) return [...results, warn('MSK cluster: network', 'the cluster reports no client subnets', 'check its VPC configuration by hand (docs/deploy.md)')];

  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: subnetIds }))).Subnets ?? [];
  const vpcId = subnets[0]?.VpcId;
  if (!vpcId) return [...results, warn('MSK cluster: network', `cannot find the cluster's subnets ${subnetIds.join(', ')}`, 'check them by hand')];
  const net = await describeNetwork(clients.ec2, vpcId, subnetIds);
  const noS3 = subnetsWithoutS3Endpoint(net, target.region);
  results.push(noS3.length === 0
    ? pass('MSK cluster: S3 endpoint', `the cluster's subnets in ${vpcId} reach S3 through a VPC endpoint`)
    : fail('MSK cluster: S3 endpoint', `subnets ${noS3.join(', ')} have no S3 VPC endpoint; the event source mapping's S3 on-failure destination needs one`,
      `add an S3 gateway endpoint to their route tables: aws ec2 create-vpc-endpoint --vpc-id ${vpcId} --service-name com.amazonaws.${target.region}.s3 --route-table-ids ...`));

  const noEgress = net.subnets.filter((s) => !hasPrivateEgress(net.routeTableOf.get(s.SubnetId!))).map((s) => s.SubnetId!);
  const apiEndpoints = ['sts', 'lambda'].filter((svc) => endpointFor(net.endpoints, target.region, svc, 'Interface').length > 0);
  results.push(noEgress.length === 0 || apiEndpoints.length === 2
    ? pass('MSK cluster: STS and Lambda reachable', noEgress.length === 0 ? 'the cluster\'s subnets route to the internet through NAT' : 'STS and Lambda interface endpoints in the VPC')
    : fail('MSK cluster: STS and Lambda reachable', `subnets ${noEgress.join(', ')} have no NAT route and the VPC lacks interface endpoints for ${['sts', 'lambda'].filter((s) => !apiEndpoints.includes(s)).join(' and ')}`,
      `give the subnets a NAT gateway route, or create interface endpoints com.amazonaws.${target.region}.sts and .lambda with private DNS`));

  const groups = groupIds.length
    ? (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }))).SecurityGroups ?? []
    : [];
  const problems = securityGroupProblems(groups);
  results.push(problems.length === 0
    ? pass('MSK cluster: security group rules', `${groupIds.join(', ')} allow the pollers in (self-referencing ${MSK_IAM_PORT}) and out (443, ${MSK_IAM_PORT})`)
    : fail('MSK cluster: security group rules', problems.join('; '),
      `add the rules to one of the cluster's groups (${groupIds.join(', ') || 'none'}): inbound TCP ${MSK_IAM_PORT} from the group itself; outbound TCP ${MSK_IAM_PORT} to the group and TCP 443 to 0.0.0.0/0`));
  return results;
}

// ------------------------------------------------------------------------------------------------
// A given VPC, or the zones of a new one

export async function checkVpc(ec2: EC2Client, target: PreflightTarget): Promise<{ results: CheckResult[]; domainZones: string[] }> {
  const vpcId = target.config.vpcId;
  if (!vpcId) {
    // A new VPC spans the first two zones CDK's lookup returns (available zones, by name).
    const zones = ((await ec2.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }))).AvailabilityZones ?? [])
      .filter((z) => (z.ZoneType ?? 'availability-zone') === 'availability-zone')
      .map((z) => z.ZoneName!).sort().slice(0, 2);
    return { results: [skip('VPC', `vpcId not set: the stack creates a VPC in ${zones.join(' and ') || 'two zones'}`)], domainZones: zones };
  }
  const vpcs = await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })).catch((e) => {
    if (/NotFound/.test(errorName(e))) return { Vpcs: [] };
    throw e;
  });
  if (!vpcs.Vpcs?.length) return { results: [fail('VPC: exists', `no VPC ${vpcId} in ${target.region}`, 'check vpcId (aws ec2 describe-vpcs)')], domainZones: [] };
  const net = await describeNetwork(ec2, vpcId);
  const privateSubnets = net.subnets.filter((s) => hasPrivateEgress(net.routeTableOf.get(s.SubnetId!)));
  const zones = [...new Set(privateSubnets.map((s) => s.AvailabilityZone!))].sort();
  const results: CheckResult[] = [zones.length >= 2
    ? pass('VPC: private subnets in two zones', `${privateSubnets.length} private subnets with egress in ${zones.join(', ')}`)
    : fail('VPC: private subnets in two zones', `private subnets with a NAT (or similar) route in ${zones.length} zone(s): ${zones.join(', ') || 'none'}`,
      'the functions, the domain and a new cluster go into private subnets with egress in at least two zones: add them, or let the stack create a VPC (no vpcId)')];
  const s3 = endpointFor(net.endpoints, target.region, 's3', 'Gateway');
  results.push(s3.length > 0
    ? pass('VPC: S3 gateway endpoint', s3.map((e) => e.VpcEndpointId).join(', '))
    : fail('VPC: S3 gateway endpoint', `no S3 gateway endpoint in ${vpcId}`,
      `aws ec2 create-vpc-endpoint --vpc-id ${vpcId} --service-name com.amazonaws.${target.region}.s3 --route-table-ids <the private subnets' route tables>`));
  return { results, domainZones: zones };
}

// ------------------------------------------------------------------------------------------------
// The OpenSearch instance type

export async function checkOpenSearchInstanceType(clients: Pick<PreflightClients, 'openSearch'>, target: PreflightTarget, candidateZones: string[]): Promise<CheckResult[]> {
  const { instanceType, instanceCount, volumeSizeGiB, zoneAwareness } = target.config.openSearch;
  const engine = target.openSearchEngineVersion;
  const check = `OpenSearch ${instanceType}`;
  const details = (await clients.openSearch.send(new ListInstanceTypeDetailsCommand({ EngineVersion: engine, InstanceType: instanceType, RetrieveAZs: true })))
    .InstanceTypeDetails?.find((d) => d.InstanceType === instanceType);
  if (!details) {
    return [fail(`${check}: offered`, `${instanceType} is not offered for ${engine} in ${target.region}`,
      'choose another openSearchInstanceType (aws opensearch list-instance-type-details --engine-version ...)')];
  }
  const results: CheckResult[] = [];
  const offered = details.AvailabilityZones ?? [];
  const needed = zoneAwareness ? 2 : 1;
  const usable = candidateZones.filter((z) => offered.includes(z));
  if (candidateZones.length === 0 || offered.length === 0) {
    results.push(warn(`${check}: zones`, `cannot tell the domain's zones (offered in ${offered.join(', ') || 'unknown zones'})`, 'compare by hand after choosing the subnets'));
  } else if (usable.length < needed || !offered.includes(candidateZones[0])) {
    results.push(fail(`${check}: zones`, `offered in ${offered.join(', ')}; the domain's subnets would be in ${candidateZones.slice(0, Math.max(needed, 1)).join(', ')}`,
      `use openSearchInstanceType=t3.medium.search (or another type offered there), or subnets in ${offered.join(', ')} (docs/deploy.md, section 3)`));
  } else {
    results.push(pass(`${check}: zones`, `offered in ${usable.join(', ')}`));
  }
  const limits = (await clients.openSearch.send(new DescribeInstanceTypeLimitsCommand({ EngineVersion: engine, InstanceType: instanceType as never })))
    .LimitsByRole?.data;
  const count = limits?.InstanceLimits?.InstanceCountLimits;
  const gp3 = limits?.StorageTypes?.find((s) => s.StorageTypeName === 'ebs' && s.StorageSubTypeName === 'gp3');
  const limit = (name: string) => Number(gp3?.StorageTypeLimits?.find((l) => l.LimitName === name)?.LimitValues?.[0]);
  const problems: string[] = [];
  if (count?.MaximumInstanceCount !== undefined && instanceCount > count.MaximumInstanceCount) problems.push(`at most ${count.MaximumInstanceCount} nodes (asked ${instanceCount})`);
  if (count?.MinimumInstanceCount !== undefined && instanceCount < count.MinimumInstanceCount) problems.push(`at least ${count.MinimumInstanceCount} nodes (asked ${instanceCount})`);
  if (!gp3) problems.push('no gp3 EBS volumes');
  else {
    if (volumeSizeGiB > limit('MaximumVolumeSize')) problems.push(`gp3 volumes of at most ${limit('MaximumVolumeSize')} GiB (asked ${volumeSizeGiB})`);
    if (volumeSizeGiB < limit('MinimumVolumeSize')) problems.push(`gp3 volumes of at least ${limit('MinimumVolumeSize')} GiB (asked ${volumeSizeGiB})`);
  }
  results.push(problems.length === 0
    ? pass(`${check}: limits`, `${instanceCount} node(s) with ${volumeSizeGiB} GiB gp3 each are within the type's limits`)
    : fail(`${check}: limits`, `${instanceType} allows ${problems.join(', ')}`, 'change openSearchInstanceCount / openSearchVolumeSizeGiB or the instance type'));
  return results;
}

// ------------------------------------------------------------------------------------------------
// Output

const MARK: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

export function formatResults(results: readonly CheckResult[]): string {
  const lines = results.map((r) => `${MARK[r.status]}  ${r.check}: ${r.detail}${r.fix ? `\n      what to do: ${r.fix}` : ''}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed === 0
    ? `Preflight passed (${warned} warning(s)): go ahead with npx cdk deploy.`
    : `Preflight found ${failed} problem(s)${warned ? ` and ${warned} warning(s)` : ''}: fix them before npx cdk deploy.`);
  return lines.join('\n');
}
