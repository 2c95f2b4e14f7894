/**
 * The serving stage's OpenSearch domain: private (VPC only), encrypted, fine-grained access
 * control, Dashboards behind Cognito, and a deploy-time custom resource that provisions the index
 * templates, aliases (one per table), security roles and the analysts' dashboards. Decisions: docs/serving.md.
 */
import { CustomResource, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { createHash } from 'crypto';
import { allAliases, computationsAlias, DEFAULT_ALIAS_PREFIX, TABLE_NAMES, tableAlias, tableAliases } from '../lambdas/indexer/tables';
import { buildIndexTemplate } from '../opensearch/index-template';
import { savedObjectsNdjson } from '../opensearch/saved-objects';
import { PipelineFunction } from './secure-defaults';

export interface SearchDomainProps {
  /** The VPC the domain, its provisioner and its clients live in. */
  readonly vpc: ec2.IVpc;
  /** Subnet type of the domain's subnets (one per availability zone used).
   *  @default ec2.SubnetType.PRIVATE_WITH_EGRESS */
  readonly subnetType?: ec2.SubnetType;
  /** OpenSearch engine version.
   *  @default opensearch.EngineVersion.OPENSEARCH_2_19, the newest 2.x in this aws-cdk-lib */
  readonly engineVersion?: opensearch.EngineVersion;
  /** Data node instance type.
   *  @default 't3.small.search' (development size; see docs/serving.md for production) */
  readonly dataNodeInstanceType?: string;
  /** Number of data nodes.
   *  @default 1 */
  readonly dataNodes?: number;
  /** Dedicated master nodes (0 for none; production: 3).
   *  @default 0 */
  readonly masterNodes?: number;
  /** Dedicated master instance type, when masterNodes > 0.
   *  @default 'm6g.large.search' */
  readonly masterNodeInstanceType?: string;
  /** EBS gp3 volume per data node, GiB.
   *  @default 10 */
  readonly volumeSizeGiB?: number;
  /** Availability zones the data nodes spread over: 1 (no zone awareness), 2 or 3.
   *  @default 1 */
  readonly availabilityZoneCount?: number;
  /** Prefix of the aliases analysts, dashboards and the indexer use: `<prefix>-<table>`
   *  (`clickstream-url-country-daily`, ...) and the indexer's `<prefix>-computations`.
   *  @default 'clickstream' */
  readonly aliasPrefix?: string;
  /** Generation of the indices behind the aliases (`<alias>-v<n>`); raising it makes the next
   *  deployment rebuild every index into a new one and move the aliases (docs/serving.md).
   *  @default 1 */
  readonly indexGeneration?: number;
  /** Replicas of each shard.
   *  @default 0 with one data node (a replica could not be placed), else 1 */
  readonly replicas?: number;
  /** Prefix of the Cognito hosted login domain of Dashboards; must be unique in the region.
   *  @default `clickstream-dashboards-<account id>` */
  readonly cognitoDomainPrefix?: string;
  /** Create a small SSM-managed bastion instance analysts port-forward through to Dashboards.
   *  @default true */
  readonly analystBastion?: boolean;
  /** Audit logs of the security plugin: the domain publishes AUDIT_LOGS to CloudWatch Logs and
   *  the provisioner turns the plugin's audit logging on (lambdas/search-provisioner/audit.ts).
   *  @default false (cost; the stack turns it on in prod) */
  readonly auditLogs?: boolean;
  /** Retention of the domain's and the provisioner's logs.
   *  @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the domain and the analysts' user pool when they leave the stack.
   *  @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** Something that writes documents through the aliases (the indexer function). */
export interface IndexWriter extends iam.IGrantable, ec2.IConnectable {
  readonly role?: iam.IRole;
}

export class SearchDomain extends Construct {
  public readonly domain: opensearch.Domain;
  /** Security group of the domain: HTTPS in from the provisioner, writers and the bastion only. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The prefix of every alias (lambdas/indexer/tables.ts). */
  public readonly aliasPrefix: string;
  /** Every alias documents are read and written through: the five tables' and the computations ledger's. */
  public readonly aliases: readonly string[];
  /** The domain's VPC, and the subnets (one per zone) its clients should run in. */
  public readonly vpc: ec2.IVpc;
  public readonly subnetSelection: ec2.SubnetSelection;
  /** The deploy-time provisioner (its role is the domain's fine-grained access master user). */
  public readonly provisionerFunction: PipelineFunction;
  /** The custom resource that runs it; anything that writes documents should depend on it. */
  public readonly provisioning: CustomResource;
  /** Analysts sign in to Dashboards with users of this pool (created by an administrator). */
  public readonly userPool: cognito.UserPool;
  public readonly identityPool: cognito.CfnIdentityPool;
  /** The IAM role signed-in analysts get; mapped to read-only roles inside OpenSearch. */
  public readonly analystRole: iam.Role;
  /** The port-forwarding bastion, when analystBastion is on. */
  public readonly bastion?: ec2.BastionHostLinux;

  private readonly writerRoleArns: string[] = [];

  constructor(scope: Construct, id: string, props: SearchDomainProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.aliasPrefix = props.aliasPrefix ?? DEFAULT_ALIAS_PREFIX;
    this.aliases = allAliases(this.aliasPrefix);
    const dataNodes = props.dataNodes ?? 1;
    const masterNodes = props.masterNodes ?? 0;
    const azCount = props.availabilityZoneCount ?? 1;
    if (![1, 2, 3].includes(azCount)) throw new Error('availabilityZoneCount must be 1, 2 or 3');
    if (dataNodes % azCount !== 0) throw new Error(`dataNodes (${dataNodes}) must be a multiple of availabilityZoneCount (${azCount})`);
    const replicas = props.replicas ?? (dataNodes > 1 ? 1 : 0);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.securityGroup = new ec2.SecurityGroup(this, 'DomainSecurityGroup', {
      vpc: props.vpc,
      description: 'OpenSearch domain: HTTPS from the pipeline functions and the analyst bastion only',
      allowAllOutbound: false,
    });

    // --- Analysts: Cognito user pool + identity pool for Dashboards sign-in -------------------
    this.userPool = new cognito.UserPool(this, 'AnalystUserPool', {
      selfSignUpEnabled: false, // an administrator invites analysts
      signInAliases: { email: true },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy,
    });
    const loginDomain = this.userPool.addDomain('DashboardsLoginDomain', {
      cognitoDomain: { domainPrefix: props.cognitoDomainPrefix ?? `clickstream-dashboards-${stack.account}` },
    });
    // OpenSearch adds its app client and the identity provider to these pools itself; listing
    // providers here would make CloudFormation remove them again on the next update.
    this.identityPool = new cognito.CfnIdentityPool(this, 'AnalystIdentityPool', { allowUnauthenticatedIdentities: false });
    this.analystRole = new iam.Role(this, 'AnalystRole', {
      description: 'Analysts signed in to OpenSearch Dashboards through Cognito',
      assumedBy: new iam.FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
    });
    new cognito.CfnIdentityPoolRoleAttachment(this, 'AnalystRoleAttachment', {
      identityPoolId: this.identityPool.ref,
      roles: { authenticated: this.analystRole.roleArn },
    });
    const cognitoAccessRole = new iam.Role(this, 'DashboardsCognitoAccessRole', {
      description: 'Lets OpenSearch Service configure the analysts user and identity pools for Dashboards sign-in',
      assumedBy: new iam.ServicePrincipal('opensearchservice.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonOpenSearchServiceCognitoAccess')],
    });

    // --- Provisioner: its role is the master user, so it exists before the domain -------------
    const provisionerSecurityGroup = new ec2.SecurityGroup(this, 'ProvisionerSecurityGroup', {
      vpc: props.vpc,
      description: 'Search provisioner: HTTPS to the OpenSearch domain only',
      allowAllOutbound: false,
    });

    // Logs follow the stack's removal policy: kept in prod with the domain they describe.
    const domainLog = (name: string) => new logs.LogGroup(this, name, { retention, removalPolicy });
    const subnets = props.vpc.selectSubnets({ subnetType: props.subnetType ?? ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true });
    if (subnets.subnets.length < azCount) throw new Error(`the VPC has ${subnets.subnets.length} subnets of that type, ${azCount} needed`);
    this.vpc = props.vpc;
    this.subnetSelection = { subnets: subnets.subnets };

    // The domain needs the provisioner's role as its master user, and the provisioner needs the
    // domain's endpoint: the function (and its role) come first, the endpoint is added after.
    // CloudFormation order: role -> domain -> role policy and function.
    this.provisionerFunction = new PipelineFunction(this, 'Provisioner', {
      entry: 'lambdas/search-provisioner/handler.ts',
      serviceName: 'search-provisioner',
      timeout: Duration.minutes(10),
      memorySize: 256,
      logRetention: retention,
      logRemovalPolicy: removalPolicy,
      vpc: props.vpc,
      vpcSubnets: { subnets: subnets.subnets },
      securityGroups: [provisionerSecurityGroup],
    });
    // The fine-grained access control master user: all_access and security_manager inside the
    // domain (AWS maps the master user to both). This role is the provisioner function's own
    // execution role, created for it alone; nothing else in the stack uses or may assume it (Lambda
    // assumes it for this one function), and it runs only when CloudFormation creates or updates
    // the provisioning resource. Its IAM policy allows HTTP calls to this domain only.
    const provisionerRole = this.provisionerFunction.role!;
    (provisionerRole.node.defaultChild as iam.CfnRole).description =
      'OpenSearch master user of the clickstream search domain: used only by the search provisioner function at deploy time';

    this.domain = new opensearch.Domain(this, 'Domain', {
      version: props.engineVersion ?? opensearch.EngineVersion.OPENSEARCH_2_19,
      vpc: props.vpc,
      vpcSubnets: [{ subnets: subnets.subnets.slice(0, azCount) }],
      securityGroups: [this.securityGroup],
      capacity: {
        dataNodes,
        dataNodeInstanceType: props.dataNodeInstanceType ?? 't3.small.search',
        ...(masterNodes > 0 ? { masterNodes, masterNodeInstanceType: props.masterNodeInstanceType ?? 'm6g.large.search' } : {}),
        multiAzWithStandbyEnabled: false,
      },
      ebs: { volumeSize: props.volumeSizeGiB ?? 10, volumeType: ec2.EbsDeviceVolumeType.GP3 },
      zoneAwareness: azCount > 1 ? { enabled: true, availabilityZoneCount: azCount } : { enabled: false },
      encryptionAtRest: { enabled: true },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
      fineGrainedAccessControl: { masterUserArn: provisionerRole.roleArn },
      cognitoDashboardsAuth: {
        identityPoolId: this.identityPool.ref,
        userPoolId: this.userPool.userPoolId,
        role: cognitoAccessRole,
      },
      logging: {
        slowSearchLogEnabled: true,
        slowSearchLogGroup: domainLog('SlowSearchLogs'),
        slowIndexLogEnabled: true,
        slowIndexLogGroup: domainLog('SlowIndexLogs'),
        appLogEnabled: true,
        appLogGroup: domainLog('ErrorLogs'),
        ...(props.auditLogs ? { auditLogEnabled: true, auditLogGroup: domainLog('AuditLogs') } : {}),
      },
      enableVersionUpgrade: true,
      offPeakWindowEnabled: true,
      enableAutoSoftwareUpdate: true,
      removalPolicy,
    });
    // OpenSearch checks at creation that the user pool has a sign-in domain.
    this.domain.node.addDependency(loginDomain);

    // Analysts' requests are signed with the Cognito role's credentials; fine-grained access
    // control inside the domain decides what they may do (read-only, see the provisioner). No
    // write verbs: searches and Dashboards' reads are GET, HEAD and POST (_search, _msearch).
    this.analystRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost'],
        resources: [`${this.domain.domainArn}/*`],
      }),
    );

    this.provisionerFunction.addEnvironment('OPENSEARCH_ENDPOINT', this.endpointUrl);
    provisionerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // Template, index, alias, reindex/tasks for a rebuild, security plugin API, Dashboards API.
        actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        resources: [`${this.domain.domainArn}/*`],
      }),
    );
    this.allowHttpsFrom(provisionerSecurityGroup);

    const provider = new cr.Provider(this, 'ProvisionerProvider', {
      onEventHandler: this.provisionerFunction,
      logGroup: new logs.LogGroup(this, 'ProvisionerProviderLogs', { retention, removalPolicy }),
    });
    const assets = createHash('sha256');
    for (const table of TABLE_NAMES) assets.update(JSON.stringify(buildIndexTemplate(table, tableAlias(table, this.aliasPrefix), { replicas })));
    assets.update(JSON.stringify(buildIndexTemplate('computations', computationsAlias(this.aliasPrefix), { replicas })));
    assets.update(savedObjectsNdjson(tableAliases(this.aliasPrefix)));
    this.provisioning = new CustomResource(this, 'Provisioning', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::OpenSearchServing',
      properties: {
        AliasPrefix: this.aliasPrefix,
        IndexGeneration: String(props.indexGeneration ?? 1),
        Replicas: String(replicas),
        ConfigureSecurity: 'true',
        // Publishing AUDIT_LOGS opens the channel; the security plugin logs once this turns it on.
        AuditLogs: String(props.auditLogs ?? false),
        ImportDashboards: 'true',
        IndexerRoleArns: this.writerRoleArnsToken(),
        AnalystRoleArns: [this.analystRole.roleArn],
        // Changes of the template or the dashboard make CloudFormation run the provisioner again.
        AssetsHash: assets.digest('hex'),
      },
    });

    if (props.analystBastion ?? true) {
      this.bastion = new ec2.BastionHostLinux(this, 'DashboardsBastion', {
        vpc: props.vpc,
        subnetSelection: { subnets: subnets.subnets },
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
        machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
        requireImdsv2: true,
        blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true }) }],
      });
      this.allowHttpsFrom(this.bastion);
    }
  }

  /**
   * Lets a function write documents through the aliases: HTTPS to the domain, IAM permission to
   * POST to the aliases' paths only (bulk, refresh, delete-by-query, and the computations
   * ledger's index and multi-get by id), and its role mapped
   * to the `clickstream_indexer` role inside the domain by the provisioner.
   */
  public grantIndexWrite(writer: IndexWriter): void {
    this.allowHttpsFrom(writer);
    const role = writer.role ?? (writer.grantPrincipal as iam.IRole);
    if (!role.roleArn) throw new Error('an index writer needs an IAM role');
    this.writerRoleArns.push(role.roleArn);
    iam.Grant.addToPrincipal({
      grantee: writer,
      actions: ['es:ESHttpPost'],
      resourceArns: this.aliases.flatMap((alias) => [`${this.domain.domainArn}/${alias}`, `${this.domain.domainArn}/${alias}/*`]),
    });
  }

  /** Opens the domain's HTTPS port to a peer (a function or instance in the VPC). */
  public allowHttpsFrom(peer: ec2.IConnectable): void {
    this.domain.connections.allowFrom(peer, ec2.Port.tcp(443), 'HTTPS to OpenSearch');
  }

  /** The domain endpoint with scheme, as the functions' OPENSEARCH_ENDPOINT. */
  public get endpointUrl(): string {
    return `https://${this.domain.domainEndpoint}`;
  }

  private writerRoleArnsToken(): string[] {
    // Writers are registered after construction (grantIndexWrite), so the list is resolved late.
    return Lazy.list({ produce: () => this.writerRoleArns });
  }
}
