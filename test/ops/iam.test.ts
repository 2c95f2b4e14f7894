import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { loadPipelineConfig } from '../../lib/config';
import { acknowledgeNagFindings, ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS, NagAcknowledgement, pipelineNagAcknowledgements } from '../../lib/nag';
import { opsTestApp as testApp } from './pipeline-app';
import { pipelineApp } from './pipeline-app';

interface Statement { Effect: string; Action?: unknown; NotAction?: unknown; Resource?: unknown; NotResource?: unknown; Sid?: string }
interface FoundStatement { logicalId: string; type: string; identity: boolean; statement: Statement }

const asList = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every policy statement in the stack's template: identity policies and resource policies. */
function statementsOf(stack: Stack): FoundStatement[] {
  const template = testAppTemplate(stack);
  const found: FoundStatement[] = [];
  const add = (logicalId: string, type: string, identity: boolean, document: unknown) => {
    const parsed = typeof document === 'string' ? JSON.parse(document) : document;
    for (const statement of asList((parsed as { Statement?: unknown })?.Statement)) {
      found.push({ logicalId, type, identity, statement: statement as Statement });
    }
  };
  for (const [logicalId, resource] of Object.entries<any>(template.Resources ?? {})) {
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Policy': case 'AWS::IAM::ManagedPolicy': add(logicalId, resource.Type, true, p.PolicyDocument); break;
      case 'AWS::IAM::Role': for (const policy of asList(p.Policies)) add(logicalId, resource.Type, true, (policy as any).PolicyDocument); break;
      case 'AWS::KMS::Key': add(logicalId, resource.Type, false, p.KeyPolicy); break;
      case 'AWS::OpenSearchService::Domain': add(logicalId, resource.Type, false, p.AccessPolicies); break;
      case 'AWS::Logs::ResourcePolicy': add(logicalId, resource.Type, false, p.PolicyDocument); break;
      default:
        if (/^AWS::[A-Za-z0-9]+::[A-Za-z]+Policy$/.test(resource.Type) && p.PolicyDocument) add(logicalId, resource.Type, false, p.PolicyDocument);
    }
  }
  return found;
}

function testAppTemplate(stack: Stack): any {
  return Template.fromStack(stack).toJSON();
}

/** The construct of each CloudFormation resource, by logical id. */
function constructsByLogicalId(stack: Stack): Map<string, IConstruct> {
  const map = new Map<string, IConstruct>();
  for (const c of stack.node.findAll()) {
    if (CfnResource.isCfnResource(c)) map.set(stack.resolve(c.logicalId), c);
  }
  return map;
}

/** Rule ids acknowledged on a construct or any construct above it. */
function acknowledgedOn(construct: IConstruct): Set<string> {
  const ids = new Set<string>();
  for (let c: IConstruct | undefined = construct; c; c = c.node.scope) {
    for (const entry of c.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data) {
        Object.keys(entry.data).forEach((k) => ids.add(k.replace(/^annotation::/i, '')));
      }
    }
  }
  return ids;
}

const isStar = (v: unknown) => asList(v).some((x) => x === '*' || x === '*:*');

/** Problems of the least-privilege rules; an empty list means the stack passes. */
function leastPrivilegeProblems(stack: Stack, acknowledgements: NagAcknowledgement[] = []): string[] {
  acknowledgeNagFindings(stack, acknowledgements);
  const constructs = constructsByLogicalId(stack);
  const problems: string[] = [];
  for (const { logicalId, type, identity, statement } of statementsOf(stack)) {
    if (statement.Effect !== 'Allow') continue;
    const where = `${type} ${logicalId}${statement.Sid ? ` (${statement.Sid})` : ''}`;
    if (isStar(statement.Action)) problems.push(`${where}: allows every action ("*")`);
    if (statement.NotAction !== undefined) problems.push(`${where}: uses NotAction, which allows every other action`);
    if (!isStar(statement.Resource) && statement.NotResource === undefined) continue;
    if (!identity) {
      // In a key policy "*" means the key itself; any other resource policy must name its resource.
      if (type !== 'AWS::KMS::Key') problems.push(`${where}: resource policy with "*" resource`);
      continue;
    }
    const unscopable = asList(statement.Action).filter((a) => !ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS.includes(String(a)));
    if (unscopable.length > 0) problems.push(`${where}: "*" resource for ${unscopable.join(', ')}, which can be scoped to a resource`);
    const construct = constructs.get(logicalId);
    if (!construct || !acknowledgedOn(construct).has('AwsSolutions-IAM5[Resource::*]')) {
      problems.push(`${where}: "*" resource without an AwsSolutions-IAM5[Resource::*] acknowledgement in lib/nag.ts`);
    }
  }
  return problems;
}

describe('IAM least privilege in the whole app', () => {
  test('no statement allows "*" actions, and "*" resources only where nothing narrower exists and it is acknowledged', () => {
    const { app, stack } = pipelineApp();
    expect(leastPrivilegeProblems(stack, pipelineNagAcknowledgements(loadPipelineConfig(app)))).toEqual([]);
  });
});

describe('the least-privilege check itself', () => {
  test('catches "*" actions, NotAction, scopable "*" resources and unacknowledged ones', () => {
    const stack = new Stack(testApp(), 'IamCheck');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['arn:aws:s3:::bucket/*'] }));
    role.addToPolicy(new iam.PolicyStatement({ notActions: ['iam:*'], resources: ['arn:aws:s3:::bucket'] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    const problems = leastPrivilegeProblems(stack).join('\n');
    expect(problems).toMatch(/allows every action/);
    expect(problems).toMatch(/uses NotAction/);
    expect(problems).toMatch(/"\*" resource for s3:GetObject, which can be scoped/);
    expect(problems).toMatch(/without an AwsSolutions-IAM5\[Resource::\*\] acknowledgement/);
  });

  test('accepts an acknowledged "*" resource for an action that has no resource-level permissions', () => {
    const stack = new Stack(testApp(), 'IamCheckOk');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] }));
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'test' });
    expect(leastPrivilegeProblems(stack)).toEqual([]);
  });
});
