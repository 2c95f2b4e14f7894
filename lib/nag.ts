/**
 * cdk-nag (major version 3, pinned in package.json) on the whole app, and the one list of
 * findings we accept on purpose, each with the rule, the resource and the reason.
 *
 * cdk-nag 3 is a CDK policy-validation plugin: `Validations.of(app).addPlugins(...)` runs it
 * during synthesis, and `Validations.of(construct).acknowledge({ id, reason })` accepts one
 * finding on a construct and everything below it. A finding's id is the rule, plus
 * `[<finding>]` for rules with several findings per resource (IAM4, IAM5).
 *
 * Some finding ids contain logical ids (`Resource::<RawEventsBucket9A1B2C3D.Arn>/events/*`), which
 * change when a construct moves. So an acknowledgement here names the rule as a pattern and the
 * resource by its construct path below the stack; `acknowledgeNagFindings` resolves them to the
 * exact finding ids of this synthesis and acknowledges those, and nothing else.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { PipelineConfig } from './config';

export interface NagAcknowledgement {
  /** Rule id, with the finding for granular rules; a RegExp when the finding holds a token. */
  readonly rule: string | RegExp;
  /** Construct path below the stack (e.g. `Ingest/IngestFunction/ServiceRole/DefaultPolicy/Resource`),
   *  which also matches everything below it; or a RegExp tested against the path below the stack
   *  (for constructs that every stage makes the same way, such as PipelineFunction roles). */
  readonly path: string | RegExp;
  /** Why this finding is acceptable here. */
  readonly reason: string;
}

/**
 * IAM actions that support no resource-level permissions, or whose only resource does not exist
 * before the grant (network interfaces Lambda creates, the instance of an instance role), so
 * `Resource: "*"` is the only choice (Service Authorization Reference, "Resource types" column empty for each action:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * test/ops/iam.test.ts allows `*` resources for these actions only.
 */
export const ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS: readonly string[] = [
  // X-Ray (Lambda active tracing): https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  // Lambda in a VPC looks up its ENIs and subnets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html);
  // creating, deleting and addressing ENIs is scoped to this account and region (lib/secure-defaults.ts).
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  // Lambda reading an MSK cluster lists its nodes and VPC: https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeVpcs',
  'kafka:ListScramSecrets',
  // CloudWatch Logs resource policies (the OpenSearch domain's log publishing):
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
  'logs:PutResourcePolicy',
  'logs:DeleteResourcePolicy',
  // Session Manager on the analyst bastion: no action of either service has resource types.
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsessionmanagermessagegatewayservice.html
  'ssmmessages:*',
  'ec2messages:*',
  // Names only the calling instance, which does not exist before its role (see EC2 instance roles).
  'ssm:UpdateInstanceInformation',
  // CloudWatch custom metrics: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
  'cloudwatch:PutMetricData',
];

/**
 * The findings we accept, for a deployment with `config`. Keep each reason specific: it is what
 * an auditor reads. test/ops/nag.test.ts requires every entry to acknowledge a finding of the
 * whole app in each profile it builds: an entry whose rule or path (string or RegExp) no longer
 * matches anything fails it, so add entries that depend on a setting only when `config` builds
 * their resource (as OS4 and OS7 below).
 */
export function pipelineNagAcknowledgements(config: PipelineConfig): NagAcknowledgement[] {
  const acks: NagAcknowledgement[] = [
    // --- The privacy key (lib/privacy.ts) ----------------------------------------------------------
    {
      rule: 'AwsSolutions-SMG4',
      path: 'PrivacyKey/Secret',
      reason: 'The privacy key is the HMAC key of pseudonymous user IDs and of the erasure record. Rotating it changes every ' +
        'pseudonym (a user counts twice in unique users across the rotation) and the hashes of earlier erasures no longer match ' +
        'redelivered events, so it is rotated by an operator on purpose, as docs/privacy.md ("Key rotation") describes, never on a schedule.',
    },
    // --- Every PipelineFunction (lib/secure-defaults.ts) -----------------------------------------
    {
      rule: 'AwsSolutions-IAM5[Resource::*]',
      path: /(^|\/)[A-Za-z0-9]+ExecutionRole(\/DefaultPolicy)?\/Resource$/,
      reason: 'Pipeline function execution roles: X-Ray PutTraceSegments/PutTelemetryRecords and the EC2 Describe* calls ' +
        'Lambda makes for functions in a VPC (and for MSK pollers) have no resource-level permissions. ' +
        'test/ops/iam.test.ts checks that "*" is used for these actions only.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):(network-interface|subnet|security-group)\/\*\]$/,
      path: /(^|\/)[A-Za-z0-9]+ExecutionRole(\/DefaultPolicy)?\/Resource$/,
      reason: 'Lambda creates a function\'s (or an MSK event source\'s) network interfaces when it needs them, under ids ' +
        'nobody knows in advance; CreateNetworkInterface, DeleteNetworkInterface and Assign/UnassignPrivateIpAddresses are ' +
        'limited to network interfaces, subnets and security groups of this account and region.',
    },
    {
      rule: 'AwsSolutions-L1',
      path: /(^|\/)(IngestFunction|TopicFunction|Indexer|Provisioner)\/Resource$/,
      reason: 'The pipeline functions run Node.js 22 (LTS, supported by Lambda until 2027-04-30), the runtime the code is ' +
        'bundled for (esbuild target node22) and tested against; moving to Node.js 24 is one change in ' +
        'lib/secure-defaults.ts once the code has been tested on it.',
    },
    // --- Resources aws-cdk-lib creates for us, whose roles it does not let us replace ----------------
    {
      rule: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      path: 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834',
      reason: 'aws-cdk-lib\'s singleton that puts the S3 bucket notification configuration at deploy time; its role only ' +
        'writes its own logs through this managed policy, and aws-cdk-lib offers no way to give it another role.',
    },
    {
      rule: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      path: 'AWS679f53fac002430cb0da5b7982bd2287',
      reason: 'aws-cdk-lib\'s AwsCustomResource singleton (used by the OpenSearch domain to let the service write its slow and ' +
        'error logs); the managed policy only lets it write its own logs and aws-cdk-lib offers no way to replace the role.',
    },
    {
      rule: 'AwsSolutions-IAM5[Resource::*]',
      path: /(^|\/)ESLogGroupPolicy[0-9a-f]+\/CustomResourcePolicy\/Resource$/,
      reason: 'The OpenSearch domain\'s log-publishing setup calls logs:PutResourcePolicy/DeleteResourcePolicy, which have no ' +
        'resource-level permissions (aws-cdk-lib generates this policy).',
    },
    {
      rule: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      path: /(^|\/)framework-onEvent\/ServiceRole\/Resource$/,
      reason: 'The custom-resource Provider framework function of aws-cdk-lib (drives the OpenSearch provisioner at deploy ' +
        'time); the managed policy only lets it write its own logs and the framework offers no way to replace the role.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]+\.Arn>:\*\]$/,
      path: /(^|\/)framework-onEvent\/ServiceRole\/DefaultPolicy\/Resource$/,
      reason: 'The Provider framework may invoke the versions and aliases of its one handler function (`<function arn>:*`); ' +
        'this is aws-cdk-lib\'s generated grant, scoped to that single function.',
    },
    // --- Search domain (lib/search-domain.ts) ------------------------------------------------------
    {
      rule: 'AwsSolutions-OS3',
      path: /(^|\/)Domain\/Resource$/,
      reason: 'The domain is in private VPC subnets with no public endpoint; its security group admits HTTPS only from the ' +
        'pipeline functions and the analyst bastion, which does what an IP allow-list would do for a public domain.',
    },
    {
      rule: 'AwsSolutions-OS5',
      path: /(^|\/)Domain\/Resource$/,
      reason: 'No anonymous access: the domain is VPC-only, HTTPS-only, has fine-grained access control with an IAM master ' +
        'user and no internal users, and no resource policy, so only IAM identities of this account whose identity policies ' +
        'grant es:ESHttp* on it (the indexer, the provisioner, signed-in analysts) can call it, with SigV4-signed requests; ' +
        'inside the domain the provisioner is the master user, the indexer and the analysts have the roles it maps.',
    },
    {
      rule: 'AwsSolutions-COG8',
      path: /(^|\/)AnalystUserPool\/Resource$/,
      reason: 'The analysts\' user pool has self sign-up off (an administrator invites each analyst), requires MFA and a ' +
        '12-character password; the Plus tier\'s threat protection is priced per monthly active user and not needed for a ' +
        'handful of invited analysts.',
    },
    {
      rule: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonOpenSearchServiceCognitoAccess]',
      path: /(^|\/)DashboardsCognitoAccessRole\/Resource$/,
      reason: 'The role OpenSearch Service assumes to configure Cognito sign-in for Dashboards uses the managed policy AWS ' +
        'documents for exactly this purpose, which AWS keeps in step with what the service calls.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]*Domain[0-9A-F]{8}\.Arn>\/\*\]$/,
      path: /(^|\/)AnalystRole\/DefaultPolicy\/Resource$/,
      reason: 'es:ESHttp* resources are HTTP paths of the domain; `<domain arn>/*` is the one domain, with GET, HEAD and POST ' +
        'only (searches). Inside it, fine-grained access control maps the role to clickstream_analyst: read on the ' +
        'clickstream indices and the global Dashboards tenant, nothing else.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]*Domain[0-9A-F]{8}\.Arn>\/\*\]$/,
      path: /(^|\/)ProvisionerExecutionRole\/DefaultPolicy\/Resource$/,
      reason: 'This role is the domain\'s fine-grained access control master user, so inside the domain it is a full ' +
        'administrator (all_access and security_manager), and its IAM grant is every HTTP path of the one domain for GET, ' +
        'HEAD, POST and PUT. It is the execution role of the search provisioner function alone, which runs only when ' +
        'CloudFormation creates or updates the provisioning resource, and it has no other permission than its own logs, ' +
        'X-Ray and its network interfaces; the domain needs one master user, and a narrower one could not create the ' +
        'security roles, mappings and audit configuration the provisioner creates.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]*Domain[0-9A-F]{8}\.Arn>\/clickstream-[a-z-]+\/\*\]$/,
      path: /(^|\/)IndexerExecutionRole\/DefaultPolicy\/Resource$/,
      reason: 'The indexer may call only the HTTP paths under the aliases of the five aggregate tables and of the ' +
        'computations ledger (`<alias>/*`: documents, _bulk, _search, _refresh, _delete_by_query) of the one domain.',
    },
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]*Bucket[0-9A-F]{8}\.Arn>\/[a-z_\/=-]+\/\*\]$/,
      path: /(^|\/)([A-Za-z0-9]*ExecutionRole\/DefaultPolicy|JobPolicy)\/Resource$/,
      reason: 'Object keys are not known in advance: each function or job may read or write only the objects under its own ' +
        'fixed prefixes (e.g. events/, quarantine/, aggregates/, state/aggregate-clicks/) of one bucket.',
    },
    // --- Ingest (lib/ingest.ts) ----------------------------------------------------------------------
    {
      rule: /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]*FailedBatchesBucket[0-9A-F]{8}\.Arn>\/\*\]$/,
      path: /(^|\/)IngestFunctionExecutionRole\/DefaultPolicy\/Resource$/,
      reason: 'The event source mapping\'s S3 on-failure destination writes each failed batch under a key Lambda chooses, ' +
        'with the function\'s role, into a bucket that holds nothing but failed batches.',
    },
    // --- Processing (lib/processing.ts) ------------------------------------------------------------
    {
      rule: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:logs:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):log-group:\/aws-glue\/jobs\/[^\]]+\]$/,
      path: /(^|\/)JobPolicy\/Resource$/,
      reason: 'Glue creates a log stream per run and executor at run time, named after the run id; the grant is limited to ' +
        'the streams of the job\'s own two log groups (/aws-glue/jobs/<job name>/output and /error).',
    },
    {
      rule: 'AwsSolutions-GL1',
      path: /(^|\/)Processing\/Job$/,
      reason: 'The job\'s logs are encrypted at rest by their log groups (KMS, the stage\'s key). Glue\'s own CloudWatch ' +
        'encryption is off on purpose: with it Glue 5 writes to groups named after the role and security configuration ' +
        'instead of the stack\'s groups with retention (docs/processing.md).',
    },
    {
      rule: 'AwsSolutions-IAM5[Resource::*]',
      path: /(^|\/)JobPolicy\/Resource$/,
      reason: 'cloudwatch:PutMetricData has no resource types; the statement is limited to the Glue namespace by the ' +
        'cloudwatch:namespace condition.',
    },
    {
      rule: 'AwsSolutions-EC28',
      path: /(^|\/)DashboardsBastion\//,
      reason: 'The analyst bastion only forwards Dashboards sessions through Session Manager; basic 5-minute EC2 monitoring is ' +
        'enough for it and detailed monitoring would add cost for no operator decision.',
    },
    {
      rule: 'AwsSolutions-EC29',
      path: /(^|\/)DashboardsBastion\//,
      reason: 'The analyst bastion is stateless and re-created by the stack; termination protection would only block ' +
        'stack updates that replace it.',
    },
    ...['Action::ssmmessages:*', 'Action::ec2messages:*', 'Resource::*'].map((finding) => ({
      rule: `AwsSolutions-IAM5[${finding}]`,
      path: /(^|\/)DashboardsBastion\/Resource\/InstanceRole\/DefaultPolicy\/Resource$/,
      reason: 'Session Manager permissions of the bastion (aws-cdk-lib BastionHostLinux): no ssmmessages or ec2messages action ' +
        'has resource-level permissions, and ssm:UpdateInstanceInformation can name only the instance, which does not exist ' +
        'before its role.',
    })),
  ];
  if (!config.openSearch.zoneAwareness) {
    acks.push({
      rule: 'AwsSolutions-OS7',
      path: /(^|\/)Domain\/Resource$/,
      reason: 'Zone awareness is off because this deployment chose openSearchZoneAwareness=false (the dev profile: one ' +
        'node). The prod profile (stage=prod) turns it on, and the aggregates can be re-indexed from S3.',
    });
  }
  if (config.openSearch.dedicatedMasterNodes === 0) {
    acks.push({
      rule: 'AwsSolutions-OS4',
      path: /(^|\/)Domain\/Resource$/,
      reason: 'No dedicated master nodes because this deployment chose openSearchDedicatedMasterNodes=0 (the dev profile); ' +
        'the prod profile (stage=prod) has three.',
    });
  }
  return acks;
}

/** Registers the AwsSolutions pack as a validation plugin of the app (`cdk synth` then fails on findings). */
export function addNagChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(checks);
  return checks;
}

export interface AcknowledgementResult {
  /** Exact finding ids acknowledged, with the construct path they were acknowledged on. */
  readonly acknowledged: Array<{ id: string; path: string; reason: string }>; // path: of the finding, below the stack
  /** Acknowledgements whose resource exists but has no such finding any more (stale: remove or fix them). */
  readonly stale: NagAcknowledgement[];
  /** Acknowledgements whose resource this app does not have (a stage not built, an optional resource off). */
  readonly notApplicable: NagAcknowledgement[];
}

/**
 * Acknowledges, on `stack`, every AwsSolutions finding covered by `acknowledgements`.
 * Call it after the stack is fully built and before synthesis.
 */
export function acknowledgeNagFindings(stack: Stack, acknowledgements: readonly NagAcknowledgement[]): AcknowledgementResult {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const byPath = new Map<string, IConstruct>(stack.node.findAll().map((c) => [c.node.path, c]));
  const stackPrefix = `${stack.node.path}/`;
  const used = new Set<NagAcknowledgement>();
  const done = new Set<string>();
  const acknowledged: AcknowledgementResult['acknowledged'] = [];
  for (const violation of report.violations) {
    for (const resource of violation.violatingResources) {
      const fullPath = resource.constructPath ?? '';
      const relative = fullPath.startsWith(stackPrefix) ? fullPath.slice(stackPrefix.length) : fullPath;
      const match = acknowledgements.find((a) => ruleMatches(a.rule, violation.ruleName) && pathMatches(a.path, relative));
      if (!match) continue;
      // Acknowledge on the construct a string path names, so its whole subtree is covered.
      const target = (typeof match.path === 'string' ? byPath.get(`${stackPrefix}${match.path}`) : undefined) ?? byPath.get(fullPath);
      if (!target) continue;
      used.add(match);
      const key = `${target.node.path} ${violation.ruleName}`;
      if (done.has(key)) continue;
      done.add(key);
      Validations.of(target).acknowledge({ id: violation.ruleName, reason: match.reason });
      acknowledged.push({ id: violation.ruleName, path: relative, reason: match.reason });
    }
  }
  const relativePaths = [...byPath.keys()].filter((p) => p.startsWith(stackPrefix)).map((p) => p.slice(stackPrefix.length));
  const unused = acknowledgements.filter((a) => !used.has(a));
  const present = (a: NagAcknowledgement) => relativePaths.some((p) => pathMatches(a.path, p));
  return { acknowledged, stale: unused.filter(present), notApplicable: unused.filter((a) => !present(a)) };
}

function pathMatches(path: string | RegExp, relative: string): boolean {
  return typeof path === 'string' ? relative === path || relative.startsWith(`${path}/`) : path.test(relative);
}

function ruleMatches(rule: string | RegExp, ruleName: string): boolean {
  return typeof rule === 'string' ? rule === ruleName : rule.test(ruleName);
}
