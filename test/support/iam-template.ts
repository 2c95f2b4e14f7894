/**
 * A synthesized CloudFormation template as a deployment would make it concrete, for IAM checks:
 * every intrinsic (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split) resolved to the
 * names and ARNs CloudFormation would give the resources in one account and region, the identity
 * policies of a role, and the resource policies (bucket, key, domain, secret, queue) of a
 * resource. Then each authorization request is evaluated with @cloud-copilot/iam-simulate
 * (AGPL-3.0, a test-only dev dependency: it is never bundled into a function or the app).
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { AuthorizationRequest } from './aws-call-recorder';

export interface DeploymentNames {
  readonly account: string;
  readonly region: string;
  readonly partition?: string;
  readonly stackName: string;
  /** Physical names chosen for some resources (logical id -> name), e.g. the local buckets. */
  readonly physicalNames?: Readonly<Record<string, string>>;
}

type Json = any;

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: Json[];
}

export interface Evaluation {
  readonly request: AuthorizationRequest;
  readonly principal: string;
  /** `Allowed`, `ExplicitlyDenied`, `ImplicitlyDenied`, or `Error: ...` when the simulator refused the input. */
  readonly result: string;
}

/** A template made concrete for one account, region and set of physical names. */
export class ConcreteTemplate {
  readonly partition: string;
  private readonly resources: Record<string, { Type: string; Properties?: Json }>;

  constructor(template: Json, readonly names: DeploymentNames) {
    this.partition = names.partition ?? 'aws';
    this.resources = template.Resources ?? {};
  }

  get account(): string {
    return this.names.account;
  }

  private resource(logicalId: string): { Type: string; Properties?: Json } {
    const resource = this.resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId} in the template`);
    return resource;
  }

  /** The physical name CloudFormation gives a resource without a name property (stable per logical id). */
  private generatedName(logicalId: string, maxLength = 64, lower = false): string {
    const name = `${this.names.stackName}-${logicalId}`.slice(0, maxLength);
    return lower ? name.toLowerCase() : name;
  }

  /** `Ref` of a resource. */
  ref(logicalId: string): string {
    if (logicalId.startsWith('AWS::')) {
      switch (logicalId) {
        case 'AWS::AccountId': return this.names.account;
        case 'AWS::Region': return this.names.region;
        case 'AWS::Partition': return this.partition;
        case 'AWS::URLSuffix': return 'amazonaws.com';
        case 'AWS::StackName': return this.names.stackName;
        case 'AWS::NoValue': return '';
        default: throw new Error(`pseudo parameter ${logicalId} is not resolved`);
      }
    }
    const chosen = this.names.physicalNames?.[logicalId];
    const { Type, Properties = {} } = this.resource(logicalId);
    const p = (name: string) => (Properties[name] === undefined ? undefined : this.resolve(Properties[name]));
    switch (Type) {
      case 'AWS::S3::Bucket': return chosen ?? p('BucketName') ?? this.generatedName(logicalId, 63, true);
      case 'AWS::IAM::Role': return chosen ?? p('RoleName') ?? this.generatedName(logicalId);
      case 'AWS::OpenSearchService::Domain': return chosen ?? p('DomainName') ?? this.generatedName(logicalId, 28, true).replace(/[^a-z0-9-]/g, '-');
      case 'AWS::KMS::Key': return chosen ?? `0000aaaa-${logicalId.length.toString(16).padStart(4, '0')}-4000-8000-${Buffer.from(logicalId).toString('hex').slice(0, 12).padEnd(12, '0')}`;
      case 'AWS::SecretsManager::Secret': return `arn:${this.partition}:secretsmanager:${this.names.region}:${this.names.account}:secret:${chosen ?? p('Name') ?? this.generatedName(logicalId)}-AbCdEf`;
      case 'AWS::SQS::Queue': return `https://sqs.${this.names.region}.amazonaws.com/${this.names.account}/${chosen ?? p('QueueName') ?? this.generatedName(logicalId, 80)}`;
      case 'AWS::Logs::LogGroup': return chosen ?? p('LogGroupName') ?? this.generatedName(logicalId, 512);
      case 'AWS::Lambda::Function': return chosen ?? p('FunctionName') ?? this.generatedName(logicalId);
      default: return chosen ?? this.generatedName(logicalId);
    }
  }

  /** `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string): string {
    const { Type, Properties = {} } = this.resource(logicalId);
    const { region, account } = this.names;
    const arnOf = (service: string, resource: string, withRegion = true) =>
      `arn:${this.partition}:${service}:${withRegion ? region : ''}:${withRegion ? account : ''}:${resource}`;
    const name = this.ref(logicalId);
    if (attribute === 'Arn') {
      switch (Type) {
        case 'AWS::S3::Bucket': return `arn:${this.partition}:s3:::${name}`;
        case 'AWS::IAM::Role': return `arn:${this.partition}:iam::${account}:role${Properties.Path ? this.resolve(Properties.Path) : '/'}${name}`;
        case 'AWS::OpenSearchService::Domain': return arnOf('es', `domain/${name}`);
        case 'AWS::KMS::Key': return arnOf('kms', `key/${name}`);
        case 'AWS::SQS::Queue': return arnOf('sqs', name.split('/').pop()!);
        case 'AWS::Logs::LogGroup': return arnOf('logs', `log-group:${name}:*`);
        case 'AWS::Lambda::Function': return arnOf('lambda', `function:${name}`);
        case 'AWS::MSK::Cluster': case 'AWS::MSK::ServerlessCluster':
          return arnOf('kafka', `cluster/${this.resolve(Properties.ClusterName) ?? name}/11111111-2222-3333-4444-555555555555-1`);
        case 'AWS::SNS::Topic': return arnOf('sns', name);
        default: {
          const service = Type.split('::')[1].toLowerCase();
          return arnOf(service, `${Type.split('::')[2].toLowerCase()}/${name}`);
        }
      }
    }
    if (Type === 'AWS::SQS::Queue' && attribute === 'QueueName') return name.split('/').pop()!;
    if (Type === 'AWS::OpenSearchService::Domain' && attribute === 'DomainEndpoint') return `vpc-${name}-abcdefghijklmnop.${region}.es.amazonaws.com`;
    if (Type === 'AWS::S3::Bucket' && attribute === 'RegionalDomainName') return `${name}.s3.${region}.amazonaws.com`;
    if (Type === 'AWS::S3::Bucket' && attribute === 'DomainName') return `${name}.s3.amazonaws.com`;
    return `${name}.${attribute}`;
  }

  /** Resolves every intrinsic function in `value`. */
  resolve(value: Json): Json {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [fn] = keys;
      const arg = value[fn];
      switch (fn) {
        case 'Ref': return this.ref(arg);
        case 'Fn::GetAtt': {
          const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s);
          return this.getAtt(id, attribute);
        }
        case 'Fn::Join': {
          const [separator, list] = arg;
          return (this.resolve(list) as unknown[]).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg;
          return (this.resolve(list) as unknown[])[Number(this.resolve(index))];
        }
        case 'Fn::Split': {
          const [separator, source] = arg;
          return String(this.resolve(source)).split(separator);
        }
        case 'Fn::Sub': {
          const [text, variables] = Array.isArray(arg) ? arg : [arg, {}];
          return String(text).replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
            if (variables[name] !== undefined) return String(this.resolve(variables[name]));
            const dot = name.indexOf('.');
            return dot > 0 && !name.startsWith('AWS::') ? this.getAtt(name.slice(0, dot), name.slice(dot + 1)) : this.ref(name);
          });
        }
        default:
          if (fn.startsWith('Fn::') || fn === 'Condition') throw new Error(`intrinsic ${fn} is not resolved: ${JSON.stringify(value)}`);
      }
    }
    return Object.fromEntries(keys.map((k) => [k, this.resolve(value[k])]));
  }

  /** Logical ids of the resources of a type. */
  logicalIds(type: string): string[] {
    return Object.entries(this.resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** The resolved properties of a resource. */
  properties(logicalId: string): Json {
    return this.resolve(this.resource(logicalId).Properties ?? {});
  }

  /** Identity policies of a role: its inline policies and every AWS::IAM::Policy attached to it. */
  identityPolicies(roleLogicalId: string): Array<{ name: string; policy: PolicyDocument }> {
    const role = this.resource(roleLogicalId);
    if (role.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role`);
    const props = role.Properties ?? {};
    if ((props.ManagedPolicyArns ?? []).length > 0) {
      throw new Error(`${roleLogicalId} has managed policies (${JSON.stringify(props.ManagedPolicyArns)}): their documents are not in the template`);
    }
    const policies = (props.Policies ?? []).map((p: Json) => ({ name: `${roleLogicalId}/${p.PolicyName}`, policy: this.resolve(p.PolicyDocument) }));
    for (const id of this.logicalIds('AWS::IAM::Policy')) {
      const p = this.resource(id).Properties ?? {};
      if ((p.Roles ?? []).some((r: Json) => r?.Ref === roleLogicalId)) policies.push({ name: id, policy: this.resolve(p.PolicyDocument) });
    }
    return policies;
  }

  /** The resource policy that applies to a resource ARN, if the stack sets one. */
  resourcePolicy(resourceArn: string): PolicyDocument | undefined {
    const [, , service, , , rest] = resourceArn.split(':');
    const find = (type: string, property: string, matches: (target: string) => boolean, document: string) => {
      for (const id of this.logicalIds(type)) {
        const props = this.resource(id).Properties ?? {};
        const targets = [this.resolve(props[property])].flat();
        if (targets.some((t: string) => matches(t))) return this.resolve(props[document]) as PolicyDocument;
      }
      return undefined;
    };
    switch (service) {
      case 's3': {
        const bucket = resourceArn.split(':::')[1].split('/')[0];
        return find('AWS::S3::BucketPolicy', 'Bucket', (t) => t === bucket, 'PolicyDocument');
      }
      case 'kms':
        for (const id of this.logicalIds('AWS::KMS::Key')) {
          if (this.getAtt(id, 'Arn') === resourceArn) return this.resolve(this.resource(id).Properties?.KeyPolicy);
        }
        return undefined;
      case 'es':
        for (const id of this.logicalIds('AWS::OpenSearchService::Domain')) {
          const arn = this.getAtt(id, 'Arn');
          if (resourceArn === arn || resourceArn.startsWith(`${arn}/`)) {
            const policy = this.resource(id).Properties?.AccessPolicies;
            return policy === undefined ? undefined : this.resolve(policy);
          }
        }
        return undefined;
      case 'secretsmanager':
        return find('AWS::SecretsManager::ResourcePolicy', 'SecretId', (t) => t === resourceArn, 'ResourcePolicy');
      case 'sqs':
        return find('AWS::SQS::QueuePolicy', 'Queues', (t) => t.endsWith(`/${rest}`), 'PolicyDocument');
      default:
        return undefined;
    }
  }

  /**
   * The KMS requests a service makes on the caller's behalf for a request: Secrets Manager
   * decrypting a secret under a customer managed key, S3 reading or writing an object of a bucket
   * encrypted with one (SSE-KMS). Both need the caller allowed by the key policy.
   */
  keyRequestsFor(request: AuthorizationRequest): AuthorizationRequest[] {
    const { region } = this.names;
    const keyRequest = (action: string, keyArn: string, via: string): AuthorizationRequest => ({
      action, resource: keyArn, context: { 'kms:ViaService': `${via}.${region}.amazonaws.com`, 'kms:CallerAccount': this.account }, because: `${request.because} (${via} uses the key)`,
    });
    const keyArnOf = (keyId: string) => (keyId.startsWith('arn:') ? keyId : `arn:${this.partition}:kms:${region}:${this.account}:key/${keyId}`);
    if (request.action === 'secretsmanager:GetSecretValue') {
      for (const id of this.logicalIds('AWS::SecretsManager::Secret')) {
        if (this.ref(id) !== request.resource) continue;
        const keyId = this.resolve(this.resource(id).Properties?.KmsKeyId);
        return keyId ? [keyRequest('kms:Decrypt', keyArnOf(keyId), 'secretsmanager')] : [];
      }
    }
    if (request.resource.startsWith(`arn:${this.partition}:s3:::`) && ['s3:GetObject', 's3:PutObject'].includes(request.action)) {
      const bucket = request.resource.split(':::')[1].split('/')[0];
      for (const id of this.logicalIds('AWS::S3::Bucket')) {
        if (this.ref(id) !== bucket) continue;
        const rule = this.resolve(this.resource(id).Properties?.BucketEncryption)?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
        if (rule?.SSEAlgorithm === 'aws:kms' && rule.KMSMasterKeyID) {
          return [keyRequest(request.action === 's3:GetObject' ? 'kms:Decrypt' : 'kms:GenerateDataKey', keyArnOf(rule.KMSMasterKeyID), 's3')];
        }
      }
    }
    return [];
  }
}

/**
 * Evaluates one authorization request of `roleLogicalId` (an assumed-role session of it, as a
 * Lambda function or a Glue job runs) against the role's identity policies and the resource
 * policy of the resource, in the template's account.
 */
export async function evaluate(template: ConcreteTemplate, roleLogicalId: string, request: AuthorizationRequest): Promise<Evaluation> {
  const roleName = template.ref(roleLogicalId);
  const roleArn = template.getAtt(roleLogicalId, 'Arn');
  const principal = `arn:${template.partition}:sts::${template.account}:assumed-role/${roleName}/session`;
  const simulation: Simulation = {
    request: {
      principal,
      action: request.action,
      resource: { resource: request.resource, accountId: template.account },
      contextVariables: {
        'aws:PrincipalArn': roleArn,
        'aws:PrincipalAccount': template.account,
        'aws:PrincipalType': 'AssumedRole',
        ...request.context,
      },
    },
    identityPolicies: template.identityPolicies(roleLogicalId),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: template.resourcePolicy(request.resource),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') return { request, principal, result: `Error: ${JSON.stringify(response.errors)}` };
  return { request, principal, result: response.overallResult };
}

/** IAM's wildcard match (`*` any run of characters, `?` one), case-sensitive as for resources. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}

/** An allowed action on a resource pattern, as a role's identity policies grant it. */
export interface Grant {
  readonly policy: string;
  readonly sid?: string;
  readonly action: string;
  readonly resource: string;
}

/** Every (action, resource) pair the Allow statements of a role's identity policies name. */
export function grantsOf(template: ConcreteTemplate, roleLogicalId: string): Grant[] {
  const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));
  return template.identityPolicies(roleLogicalId).flatMap(({ name, policy }) =>
    policy.Statement.filter((s: Json) => s.Effect === 'Allow').flatMap((s: Json) =>
      list(s.Action).flatMap((action) => list(s.Resource).map((resource) => ({ policy: name, sid: s.Sid, action, resource })))));
}

/** Whether a request uses a grant (action and resource match; conditions not considered). */
export function exercises(grant: Grant, request: AuthorizationRequest): boolean {
  return wildcardMatch(grant.action, request.action, true) && wildcardMatch(grant.resource, request.resource);
}
