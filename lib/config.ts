/**
 * Every setting a deployer may change, read from CDK context (`cdk.json` or `-c key=value`),
 * typed, validated and completed with defaults in one place. The stack receives a
 * `PipelineConfig` and never reads context itself.
 *
 * A wrong value fails `cdk synth` before anything is built, with one message that names every
 * wrong setting, what it must be and what was given. Context given on the command line always
 * arrives as a string, so numbers and booleans are accepted both as JSON values (cdk.json) and
 * as their string spelling (`-c openSearchInstanceCount=2`).
 *
 * The table of settings for deployers is in docs/deploy.md; keep it in step with SETTINGS below.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** `dev` is cheap and easy to tear down; `prod` keeps data and sizes the search domain for a team. */
export type DeploymentStage = 'dev' | 'prod';

/** Where the ingest function consumes clicks from. */
export interface KafkaSettings {
  /** ARN of an existing MSK cluster; undefined means the stack creates an MSK Serverless cluster. */
  readonly existingClusterArn?: string;
  /** Topic the web application writes click events to. */
  readonly topic: string;
  /** Consumer group of the event source mapping; undefined means the ingest stage's default (`<stack name>-ingest`). */
  readonly consumerGroupId?: string;
  /** Records per ingest invocation (event source mapping BatchSize). */
  readonly batchSize: number;
  /** Seconds the event source mapping waits to fill a batch. */
  readonly batchingWindowSeconds: number;
  /** Where a new consumer group starts reading. */
  readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
}

/** Size of the OpenSearch domain. */
export interface OpenSearchSettings {
  /** Data node instance type, e.g. `t3.small.search`. */
  readonly instanceType: string;
  /** Number of data nodes. */
  readonly instanceCount: number;
  /** EBS (gp3) volume per data node, GiB. */
  readonly volumeSizeGiB: number;
  /** Spread data nodes over two Availability Zones (needs an even node count). */
  readonly zoneAwareness: boolean;
  /** Dedicated master nodes: 0 (none), 3 or 5. */
  readonly dedicatedMasterNodes: number;
  /** Audit logs of the security plugin, published to CloudWatch Logs. */
  readonly auditLogs: boolean;
}

/** S3 lifecycle ages, in days. */
export interface RetentionSettings {
  /** Raw events move to S3 Standard-IA after this many days. */
  readonly rawEventsTransitionDays: number;
  /** Raw events are deleted after this many days; undefined keeps them forever. */
  readonly rawEventsExpirationDays?: number;
  /**
   * Events older than this many days (by the ingest function's clock) are quarantined as
   * `timestamp_older_than_max_age`, so no date whose raw data may have expired is ever recomputed
   * from a partial input (docs/operations.md, "Data safety"). With `rawEventsExpirationDays` it is
   * at most that minus 3 and defaults to that minus 3; without it, undefined means no maximum.
   */
  readonly maxEventAgeDays?: number;
  /** Quarantined messages are deleted after this many days. */
  readonly quarantineExpirationDays: number;
  /** Days the Lambda, Glue and alarm-history logs are kept (a CloudWatch Logs retention value). */
  readonly logRetentionDays: number;
}

/** The Glue aggregation job. */
export interface ProcessingSettings {
  /** Glue trigger schedule, `cron(min hour day-of-month month day-of-week year)` in UTC. */
  readonly schedule: string;
  /** Inactivity gap that starts a new session, minutes (SPEC section 3). */
  readonly sessionGapMinutes: number;
  /** Glue worker type. */
  readonly workerType: 'G.1X' | 'G.2X' | 'G.4X' | 'G.8X';
  /** Glue workers per run (at least 2: one driver, one executor). */
  readonly numberOfWorkers: number;
  /** Scheduled runs look for changed input only in the last N days of the raw zone; undefined: all of it. */
  readonly lookbackDays?: number;
}

/** Alarm windows and shares a deployer tunes to the traffic (docs/operations.md, "Alarms"). */
export interface AlarmSettings {
  /** Minutes without a record stored in the raw zone before IngestHeartbeat alarms (a multiple of 5). */
  readonly ingestHeartbeatMinutes: number;
  /** Percent of an hour's received records that may be quarantined before IngestQuarantineRatio alarms. */
  readonly quarantineAlarmPercent: number;
  /** Hours without a fresh computation indexed before IndexFreshness alarms. */
  readonly indexFreshnessHours: number;
}

/** Privacy (SPEC §6, docs/privacy.md). */
export interface PrivacySettings {
  /** The ingest function stores HMAC-SHA-256 pseudonyms instead of user IDs. */
  readonly pseudonymizeUserIds: boolean;
}

/** The validated, complete settings of one deployment. */
export interface PipelineConfig {
  readonly stage: DeploymentStage;
  /** What happens to data buckets, the search domain and log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  readonly kafka: KafkaSettings;
  /** Existing VPC to deploy into; undefined means the stack creates one. */
  readonly vpcId?: string;
  readonly processing: ProcessingSettings;
  readonly retention: RetentionSettings;
  readonly openSearch: OpenSearchSettings;
  readonly privacy: PrivacySettings;
  /** Address that receives alarm notifications; undefined means no subscription (topic only). */
  readonly alarmEmail?: string;
  readonly alarms: AlarmSettings;
}

/** Thrown when one or more context values are wrong; the message names each setting. */
export class PipelineConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid clickstream pipeline settings (CDK context):\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
      'See docs/deploy.md, "Settings", for every setting and its allowed values.');
    this.name = 'PipelineConfigError';
  }
}

/** Context keys this module reads, with the default used when the key is absent. */
export const SETTINGS = {
  stage: 'dev',
  removalPolicy: '(destroy in dev, retain in prod)',
  mskClusterArn: '(none: create an MSK Serverless cluster)',
  kafkaTopic: 'clickstream',
  kafkaConsumerGroupId: '(<stack name>-ingest, chosen by the ingest stage)',
  ingestBatchSize: 1000,
  ingestBatchingWindowSeconds: 5,
  ingestStartingPosition: 'TRIM_HORIZON',
  vpcId: '(none: create a VPC)',
  glueSchedule: 'cron(15 * * * ? *)',
  sessionGapMinutes: 30,
  glueWorkerType: 'G.1X',
  glueNumberOfWorkers: 2,
  glueLookbackDays: '(none: the whole raw zone)',
  rawEventsTransitionDays: 30,
  rawEventsExpirationDays: '(none: keep)',
  maxEventAgeDays: '(rawEventsExpirationDays - 3; none when raw events are kept)',
  quarantineExpirationDays: 90,
  logRetentionDays: 30,
  openSearchInstanceType: '(t3.small.search in dev, r6g.large.search in prod)',
  openSearchInstanceCount: '(1 in dev, 2 in prod)',
  openSearchVolumeSizeGiB: '(10 in dev, 100 in prod)',
  openSearchZoneAwareness: '(false in dev, true in prod)',
  openSearchDedicatedMasterNodes: '(0 in dev, 3 in prod)',
  openSearchAuditLogs: '(false in dev, true in prod)',
  alarmEmail: '(none)',
  pseudonymizeUserIds: false,
  ingestHeartbeatMinutes: 60,
  quarantineAlarmPercent: 5,
  indexFreshnessHours: 6,
} as const;

export type SettingName = keyof typeof SETTINGS;

/** The retention values CloudWatch Logs accepts (PutRetentionPolicy). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const OPENSEARCH_PROFILES: Record<DeploymentStage, OpenSearchSettings> = {
  // One small node: enough for a trial or a team's first weeks of aggregates (a few GB).
  dev: { instanceType: 't3.small.search', instanceCount: 1, volumeSizeGiB: 10, zoneAwareness: false, dedicatedMasterNodes: 0, auditLogs: false },
  // Two memory-optimised nodes in two AZs: survives an AZ loss, room for years of daily aggregates.
  // Three dedicated masters keep cluster management off the data nodes (a quorum survives one loss).
  // Audit logs record who read and changed what in the domain (authentication failures, security changes).
  prod: { instanceType: 'r6g.large.search', instanceCount: 2, volumeSizeGiB: 100, zoneAwareness: true, dedicatedMasterNodes: 3, auditLogs: true },
};

/**
 * Reads and validates the pipeline settings from the CDK context of `scope` (an App, a Stack or
 * any construct). Throws `PipelineConfigError` naming every wrong setting.
 */
export function loadPipelineConfig(scope: IConstruct): PipelineConfig {
  const reader = new ContextReader(scope);
  const stage = reader.oneOf('stage', ['dev', 'prod'] as const) ?? 'dev';
  const removal = reader.oneOf('removalPolicy', ['destroy', 'retain'] as const) ?? (stage === 'prod' ? 'retain' : 'destroy');
  const profile = OPENSEARCH_PROFILES[stage];

  const kafka: KafkaSettings = {
    existingClusterArn: reader.matching('mskClusterArn', MSK_CLUSTER_ARN,
      'an MSK cluster ARN like arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>'),
    topic: reader.matching('kafkaTopic', KAFKA_TOPIC,
      'a Kafka topic name: 1-249 characters of letters, digits, ".", "_" and "-", not "." or ".."') ?? 'clickstream',
    consumerGroupId: reader.matching('kafkaConsumerGroupId', CONSUMER_GROUP,
      'a consumer group id: 1-200 characters of letters, digits, ".", "_" and "-"'),
    batchSize: reader.integer('ingestBatchSize', 1, 10000) ?? 1000,
    batchingWindowSeconds: reader.integer('ingestBatchingWindowSeconds', 0, 300) ?? 5,
    startingPosition: reader.oneOf('ingestStartingPosition', ['LATEST', 'TRIM_HORIZON'] as const) ?? 'TRIM_HORIZON',
  };
  if (kafka.topic === '.' || kafka.topic === '..') {
    reader.problem('kafkaTopic', 'must not be "." or ".."', kafka.topic);
  }

  const vpcId = reader.matching('vpcId', VPC_ID, 'a VPC id like vpc-0123456789abcdef0');

  const processing: ProcessingSettings = {
    schedule: reader.cron('glueSchedule') ?? 'cron(15 * * * ? *)',
    sessionGapMinutes: reader.integer('sessionGapMinutes', 1, 1440) ?? 30,
    workerType: reader.oneOf('glueWorkerType', ['G.1X', 'G.2X', 'G.4X', 'G.8X'] as const) ?? 'G.1X',
    numberOfWorkers: reader.integer('glueNumberOfWorkers', 2, 299) ?? 2,
    lookbackDays: reader.integer('glueLookbackDays', 1, 36600),
  };

  const retention: RetentionSettings = {
    // S3 moves nothing to Standard-IA that is younger than 30 days.
    rawEventsTransitionDays: reader.integer('rawEventsTransitionDays', 30, 36500) ?? 30,
    rawEventsExpirationDays: reader.integer('rawEventsExpirationDays', 1, 36500),
    maxEventAgeDays: reader.integer('maxEventAgeDays', 1, 36500),
    quarantineExpirationDays: reader.integer('quarantineExpirationDays', 1, 36500) ?? 90,
    logRetentionDays: reader.oneOfNumbers('logRetentionDays', LOG_RETENTION_DAYS,
      `must be one of the CloudWatch Logs retention values ${LOG_RETENTION_DAYS.join(', ')}`) ?? 30,
  };
  if (retention.rawEventsExpirationDays !== undefined && retention.rawEventsExpirationDays <= retention.rawEventsTransitionDays) {
    reader.problem('rawEventsExpirationDays',
      `must be greater than rawEventsTransitionDays (${retention.rawEventsTransitionDays}): objects are moved before they are deleted`,
      retention.rawEventsExpirationDays);
  }
  const maxEventAgeDays = maxEventAgeFor(reader, retention.rawEventsExpirationDays, retention.maxEventAgeDays);

  const openSearch: OpenSearchSettings = {
    instanceType: reader.matching('openSearchInstanceType', OPENSEARCH_INSTANCE_TYPE,
      'an OpenSearch instance type like t3.small.search or r6g.large.search') ?? profile.instanceType,
    instanceCount: reader.integer('openSearchInstanceCount', 1, 80) ?? profile.instanceCount,
    volumeSizeGiB: reader.integer('openSearchVolumeSizeGiB', 10, 24576) ?? profile.volumeSizeGiB,
    zoneAwareness: reader.boolean('openSearchZoneAwareness') ?? profile.zoneAwareness,
    dedicatedMasterNodes: reader.oneOfNumbers('openSearchDedicatedMasterNodes', [0, 3, 5],
      'must be 0, 3 or 5 (an odd number keeps a quorum)') ?? profile.dedicatedMasterNodes,
    auditLogs: reader.boolean('openSearchAuditLogs') ?? profile.auditLogs,
  };
  if (/^t2\./.test(openSearch.instanceType)) {
    // The domain is built with encryption at rest and fine-grained access control; T2 has neither.
    reader.problem('openSearchInstanceType', 'must not be a T2 type: T2 supports neither encryption at rest nor fine-grained access control',
      openSearch.instanceType);
  }
  if (openSearch.zoneAwareness && openSearch.instanceCount % 2 !== 0) {
    reader.problem('openSearchInstanceCount', 'must be even when openSearchZoneAwareness is true (nodes are spread over two AZs)',
      openSearch.instanceCount);
  }

  const privacy: PrivacySettings = { pseudonymizeUserIds: reader.boolean('pseudonymizeUserIds') ?? false };

  const alarmEmail = reader.matching('alarmEmail', EMAIL, 'an e-mail address like ops@example.com');
  const alarms: AlarmSettings = {
    ingestHeartbeatMinutes: reader.integer('ingestHeartbeatMinutes', 10, 1440) ?? 60,
    quarantineAlarmPercent: reader.integer('quarantineAlarmPercent', 1, 100) ?? 5,
    indexFreshnessHours: reader.integer('indexFreshnessHours', 2, 168) ?? 6,
  };
  if (alarms.ingestHeartbeatMinutes % 5 !== 0) {
    reader.problem('ingestHeartbeatMinutes', 'must be a multiple of 5 (the alarm counts 5-minute periods)', alarms.ingestHeartbeatMinutes);
  }

  reader.rejectMisspelledKeys();
  reader.throwIfProblems();
  return {
    stage,
    removalPolicy: removal === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    kafka,
    vpcId,
    processing,
    retention: { ...retention, maxEventAgeDays },
    openSearch,
    privacy,
    alarmEmail,
    alarms,
  };
}

/** Days the maximum event age stays below the raw expiry (MAX_EVENT_AGE_MARGIN_DAYS in lib/ingest.ts,
 *  which explains the three days; kept equal by test/ingest/data-safety-stage.test.ts). */
export const MAX_EVENT_AGE_MARGIN_DAYS = 3;

/**
 * The maximum event age of a deployment: with a raw expiry, the given value if it leaves the
 * margin (else a problem naming both settings) or the expiry minus the margin; without one, the
 * given value or none.
 */
function maxEventAgeFor(reader: ContextReader, expirationDays: number | undefined, given: number | undefined): number | undefined {
  if (expirationDays === undefined) return given;
  const limit = expirationDays - MAX_EVENT_AGE_MARGIN_DAYS;
  if (limit < 1) {
    reader.problem('rawEventsExpirationDays',
      `must be at least ${MAX_EVENT_AGE_MARGIN_DAYS + 1}: the ingest function quarantines events older than maxEventAgeDays, ` +
      `which must stay ${MAX_EVENT_AGE_MARGIN_DAYS} days below it`, expirationDays);
    return undefined;
  }
  if (given !== undefined && given > limit) {
    reader.problem('maxEventAgeDays',
      `must be at most rawEventsExpirationDays - ${MAX_EVENT_AGE_MARGIN_DAYS} (${limit}): an older event would make the job ` +
      'recompute a date whose raw data may have partly expired, from what is left of it', given);
    return undefined;
  }
  return given ?? limit;
}

const MSK_CLUSTER_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9-]{1,64}\/[A-Za-z0-9-]+$/;
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const CONSUMER_GROUP = /^[A-Za-z0-9._-]{1,200}$/;
const VPC_ID = /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/;
const OPENSEARCH_INSTANCE_TYPE = /^[a-z][a-z0-9]*\.[a-z0-9]+\.search$/;
// Deliberately simple: one @, no spaces, a dot in the domain. SNS confirms the address anyway.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads typed values from context and collects every problem before throwing once. */
class ContextReader {
  private readonly problems: string[] = [];

  constructor(private readonly scope: IConstruct) {}

  problem(name: SettingName, rule: string, got: unknown): void {
    this.problems.push(`${name}: ${rule} (got ${JSON.stringify(got)})`);
  }

  throwIfProblems(): void {
    if (this.problems.length > 0) throw new PipelineConfigError(this.problems);
  }

  /** The raw value, or undefined when absent or empty (an empty `-c key=` means "use the default"). */
  private raw(name: SettingName): unknown {
    const value = this.scope.node.tryGetContext(name);
    return value === undefined || value === null || value === '' ? undefined : value;
  }

  oneOf<T extends string>(name: SettingName, allowed: readonly T[]): T | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.problem(name, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
    return undefined;
  }

  matching(name: SettingName, pattern: RegExp, what: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && pattern.test(value.trim())) return value.trim();
    this.problem(name, `must be ${what}`, value);
    return undefined;
  }

  integer(name: SettingName, min: number, max: number): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    this.problem(name, `must be a whole number from ${min} to ${max}`, value);
    return undefined;
  }

  oneOfNumbers(name: SettingName, allowed: number[], rule?: string): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (allowed.includes(n)) return n;
    this.problem(name, rule ?? `must be one of ${allowed.join(', ')}`, value);
    return undefined;
  }

  boolean(name: SettingName): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    this.problem(name, 'must be true or false', value);
    return undefined;
  }

  /** A Glue trigger schedule: `cron(...)` with six fields, one of day-of-month/day-of-week `?`. */
  cron(name: SettingName): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const match = typeof value === 'string' ? /^cron\((.*)\)$/.exec(value.trim()) : null;
    const fields = match ? match[1].trim().split(/\s+/) : [];
    const field = /^[0-9A-Za-z*?,\-/#L W]+$/;
    if (fields.length === 6 && fields.every((f) => field.test(f)) && (fields[2] === '?') !== (fields[4] === '?')) {
      return (value as string).trim();
    }
    this.problem(name,
      'must be a Glue cron schedule "cron(minutes hours day-of-month month day-of-week year)" in UTC with exactly one of ' +
      'day-of-month and day-of-week set to "?", e.g. "cron(15 * * * ? *)" (Glue triggers do not accept rate())', value);
    return undefined;
  }

  /**
   * A context key that is one or two typing mistakes away from a setting is almost certainly a
   * misspelled setting, which would otherwise be ignored in silence and deploy the default.
   */
  rejectMisspelledKeys(): void {
    const known = Object.keys(SETTINGS);
    for (const key of contextKeys(this.scope)) {
      if (known.includes(key) || key.includes(':') || key.startsWith('@')) continue;
      const near = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
      if (near) this.problems.push(`${key}: is not a setting; did you mean "${near}"?`);
    }
  }
}

/** Every context key visible from the root (cdk.json, -c, and App constructor context). */
function contextKeys(scope: IConstruct): string[] {
  const keys = new Set<string>();
  for (const node of [scope, ...scope.node.scopes]) {
    // `node.node` has no public list of context keys; the private map is read-only here.
    const own = (node.node as unknown as { _context?: Record<string, unknown> })._context ?? {};
    Object.keys(own).forEach((k) => keys.add(k));
  }
  return [...keys];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
