/**
 * The one place the pipeline's secure defaults live. Stages build their buckets, queues and
 * functions through these helpers instead of repeating the settings, so a security fix lands
 * everywhere at once.
 *
 * Decisions (see docs/security.md):
 * - Buckets use SSE-S3 (AES-256, AWS owned keys): encryption at rest with no KMS request cost
 *   on the hot ingest path, and no key policy to keep in step with Glue, Athena and Lambda roles.
 * - Everything denies plain HTTP (`aws:SecureTransport`) and requires TLS 1.2 or newer.
 * - Nothing is public: buckets block all public access and disable ACLs.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaNode from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'path';

/** Repository root, for asset paths (lambdas, glue-scripts, lock file). */
export const REPO_ROOT = path.resolve(__dirname, '..');

export interface SecureBucketProps {
  /** Where S3 server access logs go. Omit only for the access-log bucket itself.
   *  @default no access logging */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Prefix of this bucket's access logs in the log bucket.
   *  @default `<construct id>/` */
  readonly serverAccessLogsPrefix?: string;
  /** What happens to the bucket when it leaves the stack.
   *  @default RemovalPolicy.RETAIN: data buckets outlive a stack deletion */
  readonly removalPolicy?: RemovalPolicy;
  /** Lifecycle rules of the bucket.
   *  @default none */
  readonly lifecycleRules?: s3.LifecycleRule[];
  /** Keep object versions. A versioned bucket also gets a bucket-wide rule that deletes
   *  noncurrent versions after `noncurrentVersionExpiration` and removes expired delete markers.
   *  @default false */
  readonly versioned?: boolean;
  /** How long a versioned bucket keeps an overwritten or deleted object's older version (a
   *  prefix rule with a shorter age wins for its prefix).
   *  @default Duration.days(30) */
  readonly noncurrentVersionExpiration?: Duration;
}

/** An S3 bucket with encryption at rest, TLS-only access, no public access and no ACLs. */
export class SecureBucket extends s3.Bucket {
  constructor(scope: Construct, id: string, props: SecureBucketProps = {}) {
    super(scope, id, {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: props.versioned ?? false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        ...(props.lifecycleRules ?? []),
        // Versions are for recovering a mistaken overwrite or deletion, not an archive.
        ...(props.versioned ? [{
          id: 'NoncurrentVersions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        }] : []),
      ],
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsBucket ? (props.serverAccessLogsPrefix ?? `${id}/`) : undefined,
    });
  }
}

export interface SecureQueueProps {
  /** How long a consumer has to finish a message before it is visible again.
   *  @default Duration.minutes(5) */
  readonly visibilityTimeout?: Duration;
  /** How many receives before a message moves to the dead-letter queue.
   *  @default 5 */
  readonly maxReceiveCount?: number;
  /** How long the dead-letter queue keeps a message for an operator to replay.
   *  @default Duration.days(14), the SQS maximum */
  readonly deadLetterRetention?: Duration;
  /** How long the queue itself keeps a message nobody consumed.
   *  @default Duration.days(4), the SQS default */
  readonly retentionPeriod?: Duration;
}

/** An encrypted, TLS-only SQS queue and its (equally secure) dead-letter queue. */
export class SecureQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SecureQueueProps = {}) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? Duration.minutes(5),
      retentionPeriod: props.retentionPeriod,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }
}

export interface PipelineFunctionProps {
  /** Path of the handler file, relative to the repository root (e.g. `lambdas/ingest/handler.ts`). */
  readonly entry: string;
  /** Environment variables of the function.
   *  @default none */
  readonly environment?: Record<string, string>;
  /** Memory in MiB.
   *  @default 1024 */
  readonly memorySize?: number;
  /** Timeout.
   *  @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** Days the function's logs are kept.
   *  @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the function's log group when it leaves the stack (the stack passes its
   *  removal policy: logs are kept in prod).
   *  @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** VPC placement, for functions that reach private endpoints.
   *  @default not in a VPC */
  readonly vpc?: import('aws-cdk-lib/aws-ec2').IVpc;
  /** Subnets in the VPC. @default private subnets with egress */
  readonly vpcSubnets?: import('aws-cdk-lib/aws-ec2').SubnetSelection;
  /** Security groups. @default one created by Lambda */
  readonly securityGroups?: import('aws-cdk-lib/aws-ec2').ISecurityGroup[];
  /** Powertools service name, used in logs and metrics. */
  readonly serviceName: string;
}

/**
 * What Lambda needs to manage a function's (or an event source's) network interfaces: the
 * actions of AWSLambdaVPCAccessExecutionRole, with the ones that accept resource-level
 * permissions limited to network interfaces, subnets and security groups of this account and
 * region. The Describe* actions support none (Service Authorization Reference, Amazon EC2).
 */
export function vpcNetworkInterfaceStatements(scope: Construct, extraDescribeActions: string[] = []): iam.PolicyStatement[] {
  const stack = Stack.of(scope);
  const ec2Arn = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  return [
    new iam.PolicyStatement({
      sid: 'DescribeVpcNetworking',
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', ...extraDescribeActions],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'CreateNetworkInterfaces',
      actions: ['ec2:CreateNetworkInterface'],
      resources: [ec2Arn('network-interface'), ec2Arn('subnet'), ec2Arn('security-group')],
    }),
    new iam.PolicyStatement({
      sid: 'ManageNetworkInterfaces',
      actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: [ec2Arn('network-interface')],
    }),
  ];
}

/** Metric namespace shared by every function of the pipeline. */
export const METRICS_NAMESPACE = 'ClickstreamPipeline';

/**
 * A Node.js function with the pipeline's defaults: Node.js 22 on ARM64, bundled with esbuild
 * (locally, no Docker), JSON logs with bounded retention, X-Ray tracing, Powertools settings.
 */
export class PipelineFunction extends lambdaNode.NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    // Our own execution role instead of the AWS managed AWSLambdaBasicExecutionRole and
    // AWSLambdaVPCAccessExecutionRole (cdk-nag AwsSolutions-IAM4): the function may write only
    // to its own log group. The permissions are inline in the role, so they exist before Lambda
    // checks them when it creates a function in a VPC.
    const executionStatements = [new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    })];
    if (props.vpc) {
      executionStatements.push(...vpcNetworkInterfaceStatements(scope));
    }
    const role = new iam.Role(scope, `${id}ExecutionRole`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: { execution: new iam.PolicyDocument({ statements: executionStatements }) },
    });
    super(scope, id, {
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      projectRoot: REPO_ROOT,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(1),
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      role,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.securityGroups,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        // The Node.js 22 runtime ships AWS SDK v3; bundling it would only grow cold starts.
        externalModules: ['@aws-sdk/*'],
        forceDockerBundling: false,
      },
    });
  }
}
