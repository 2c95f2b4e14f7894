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

export interface NagAcknowledgement {
  /** Rule id, with the finding for granular rules; a RegExp when the finding holds a token. */
  readonly rule: string | RegExp;
  /** Construct path below the stack (e.g. `Ingest/IngestFunction/ServiceRole/DefaultPolicy/Resource`);
   *  also matches everything below it. */
  readonly path: string;
  /** Why this finding is acceptable here. */
  readonly reason: string;
}

/**
 * IAM actions that support no resource-level permissions, so `Resource: "*"` is the only
 * choice (Service Authorization Reference, "Resource types" column empty for each action:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * test/ops/iam.test.ts allows `*` resources for these actions only.
 */
export const ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS: readonly string[] = [
  // X-Ray (Lambda active tracing): https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  // Lambda in a VPC manages its ENIs: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  // Lambda reading an MSK cluster lists its nodes and VPC: https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeVpcs',
  'kafka:ListScramSecrets',
  // CloudWatch custom metrics: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
  'cloudwatch:PutMetricData',
];

/** The findings we accept. Keep each reason specific: it is what an auditor reads. */
export const NAG_ACKNOWLEDGEMENTS: readonly NagAcknowledgement[] = [
];

/** Registers the AwsSolutions pack as a validation plugin of the app (`cdk synth` then fails on findings). */
export function addNagChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(checks);
  return checks;
}

export interface AcknowledgementResult {
  /** Exact finding ids acknowledged, with the construct path they were acknowledged on. */
  readonly acknowledged: Array<{ id: string; path: string; reason: string }>;
  /** Acknowledgements that matched no finding (stale: the resource changed or the issue is fixed). */
  readonly unused: NagAcknowledgement[];
}

/**
 * Acknowledges, on `stack`, every AwsSolutions finding covered by `acknowledgements`.
 * Call it after the stack is fully built and before synthesis.
 */
export function acknowledgeNagFindings(
  stack: Stack, acknowledgements: readonly NagAcknowledgement[] = NAG_ACKNOWLEDGEMENTS,
): AcknowledgementResult {
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
      const match = acknowledgements.find((a) => ruleMatches(a.rule, violation.ruleName) &&
        (relative === a.path || relative.startsWith(`${a.path}/`)));
      if (!match) continue;
      // Acknowledge on the construct the entry names, so its whole subtree is covered.
      const target = byPath.get(`${stackPrefix}${match.path}`) ?? byPath.get(fullPath);
      if (!target) continue;
      used.add(match);
      const key = `${target.node.path} ${violation.ruleName}`;
      if (done.has(key)) continue;
      done.add(key);
      Validations.of(target).acknowledge({ id: violation.ruleName, reason: match.reason });
      acknowledged.push({ id: violation.ruleName, path: match.path, reason: match.reason });
    }
  }
  return { acknowledged, unused: acknowledgements.filter((a) => !used.has(a)) };
}

function ruleMatches(rule: string | RegExp, ruleName: string): boolean {
  return typeof rule === 'string' ? rule === ruleName : rule.test(ruleName);
}
