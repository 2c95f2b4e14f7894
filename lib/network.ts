import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PipelineNetworkProps {
  /** Id of an existing VPC to deploy into (looked up at synth time; needs an account and region).
   *  @default a new VPC is created */
  readonly existingVpcId?: string;
  /** Availability Zones of a new VPC.
   *  @default 2 */
  readonly maxAzs?: number;
  /** NAT gateways of a new VPC. The MSK event source mapping and the functions in the VPC reach
   *  AWS APIs (STS, Lambda, SQS, CloudWatch) through them; with one, losing its AZ cuts every
   *  private subnet off. The stack passes one per AZ in prod.
   *  @default 1 (enough for a pipeline that tolerates a short AZ outage: dev) */
  readonly natGateways?: number;
  /** Days the VPC flow logs are kept.
   *  @default logs.RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: logs.RetentionDays;
  /** Removal policy of the flow-log group.
   *  @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The private network the search domain, the functions and (when the stack creates one) the MSK
 * Serverless cluster live in. A new VPC gets private subnets with egress, VPC flow logs, and a
 * gateway endpoint for S3 so raw and aggregate data never leaves the AWS network.
 */
export class PipelineNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  /** Where private resources go: private subnets with egress. */
  public readonly privateSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

  constructor(scope: Construct, id: string, props: PipelineNetworkProps = {}) {
    super(scope, id);
    if (props.existingVpcId) {
      this.vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.existingVpcId });
      return;
    }
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      restrictDefaultSecurityGroup: true,
    });
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    this.vpc = vpc;
  }
}
