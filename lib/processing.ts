/**
 * The processing stage: the scheduled Glue Spark job that turns the raw zone into the five tables
 * of the web analytics model (SPEC section 3: the `clickstream_job` package in glue-scripts/, run
 * by glue-scripts/aggregate_clicks.py), and what analysts need to query them with SQL (Glue Data
 * Catalog tables with partition projection, an Athena workgroup). Decisions: docs/processing.md.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { createHash } from 'crypto';
import * as path from 'path';
import { TABLE_NAMES, TABLES, type FieldSpec, type TableName } from '../lambdas/indexer/tables';
import { PrivacyKey } from './privacy';
import { REPO_ROOT, SecureBucket } from './secure-defaults';

/** Glue worker types a Spark job can use (G.025X is for streaming jobs only). */
export type GlueWorkerType = 'G.1X' | 'G.2X' | 'G.4X' | 'G.8X';

export interface ProcessingStageProps {
  /** Bucket of the raw zone (`<rawEventsPrefix>dt=YYYY-MM-DD/hr=HH/*.ndjson.gz`). */
  readonly rawEventsBucket: s3.IBucket;
  /** Bucket the aggregates and the job state go to. */
  readonly aggregatesBucket: s3.IBucket;
  /** Prefix of the raw events in the raw bucket.
   *  @default 'events/' */
  readonly rawEventsPrefix?: string;
  /** Root of the job's output in the aggregates bucket: `<prefix><table>/event_date=YYYY-MM-DD/part-*.json`.
   *  @default 'aggregates/' (where the indexer listens) */
  readonly aggregatesPrefix?: string;
  /** Prefix of the job state (`state.json`) in the aggregates bucket.
   *  @default 'state/aggregate-clicks/' */
  readonly statePrefix?: string;
  /** Name of the Glue job.
   *  @default `<stack name>-aggregate-clicks` */
  readonly jobName?: string;
  /** When the job runs: a Glue cron expression, UTC.
   *  @default 'cron(15 * * * ? *)' (hourly, at a quarter past, when the last hour's batches are in) */
  readonly schedule?: string;
  /** Inactivity gap that starts a new session, minutes (1-1440).
   *  @default 30 */
  readonly sessionGapMinutes?: number;
  /** Scheduled runs look only at raw partitions of the last N days for changes (plus the dates
   *  the change log names); undefined looks at all.
   *  @default undefined (the whole raw zone) */
  readonly lookbackDays?: number;
  /** Age at which raw events expire: incremental runs never recompute a date whose raw data may
   *  have expired in part (docs/operations.md, "Data safety").
   *  @default undefined (raw events are kept) */
  readonly rawExpirationDays?: number;
  /** Prefix of the ingest function's partition change log in the raw bucket, which the job reads
   *  to find changed dates and removes as it consumes it.
   *  @default 'changes/' */
  readonly changeLogPrefix?: string;
  /** Glue worker type.
   *  @default 'G.1X' */
  readonly workerType?: GlueWorkerType;
  /** Workers per run, the driver included (at least 2).
   *  @default 2 */
  readonly numberOfWorkers?: number;
  /** A run still going after this is stopped (state TIMEOUT).
   *  @default Duration.hours(1), the schedule interval: a run never overlaps the next one for long */
  readonly timeout?: Duration;
  /** Automatic retries of a failed run (safe: the state is written only after success).
   *  @default 1 */
  readonly maxRetries?: number;
  /** Runs at the same time. Keep 1: two concurrent runs would race on the state and outputs.
   *  @default 1 */
  readonly maxConcurrentRuns?: number;
  /** Glue Data Catalog database for the raw events and aggregates tables.
   *  @default `<stack name, lower case, non-alphanumerics as _>_clickstream` */
  readonly databaseName?: string;
  /** First `dt`/`event_date` partition projection offers to Athena (YYYY-MM-DD).
   *  @default '2024-01-01' */
  readonly firstPartitionDate?: string;
  /** Athena stops a query scanning more than this many bytes.
   *  @default 10 GiB */
  readonly athenaBytesScannedCutoffPerQuery?: number;
  /** Days Athena query results are kept.
   *  @default 30 */
  readonly athenaResultsExpirationDays?: number;
  /** Bucket for the S3 server access logs of the Athena results bucket.
   *  @default no access logging */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Days the job's log groups keep their logs.
   *  @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the Athena results bucket, the key and the log groups when they leave the stack.
   *  @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Prefix of the quarantine in the raw bucket, which the erasure mode rewrites (docs/privacy.md).
   *  @default 'quarantine/' */
  readonly quarantinePrefix?: string;
  /** The privacy key (lib/privacy.ts): the erasure mode matches stored clear IDs against keyed hashes with it.
   *  @default no key: the role cannot read it, and an erasure run fails before it changes anything */
  readonly privacyKey?: PrivacyKey;
}

export const DEFAULT_RAW_EVENTS_PREFIX = 'events/';
export const DEFAULT_AGGREGATES_PREFIX = 'aggregates/';
export const DEFAULT_STATE_PREFIX = 'state/aggregate-clicks/';
export const DEFAULT_SCHEDULE = 'cron(15 * * * ? *)';
export const DEFAULT_CHANGE_LOG_PREFIX = 'changes/';

/** Columns of a canonical raw record (SPEC section 2), for the catalog table. */
const RAW_EVENT_COLUMNS: glue.CfnTable.ColumnProperty[] = [
  { name: 'event_id', type: 'string' },
  { name: 'user_id', type: 'string' },
  { name: 'session_id', type: 'string' },
  { name: 'ts', type: 'string', comment: 'ISO-8601 UTC with milliseconds; from_iso8601_timestamp(ts) in Athena' },
  { name: 'url', type: 'string', comment: 'as received' },
  { name: 'page_url', type: 'string', comment: 'normalized: the aggregation key' },
  { name: 'country', type: 'string' },
  { name: 'city', type: 'string' },
  { name: 'user_agent', type: 'string' },
  { name: 'referrer', type: 'string' },
  // Enrichment (SPEC section 2). Records stored before it have none of these: readers use the
  // SPEC's defaults (Athena returns null for a missing field).
  { name: 'country_raw', type: 'string', comment: 'the country as received, when it was not recognizable' },
  { name: 'device_type', type: 'string', comment: 'desktop, mobile, tablet, bot or unknown' },
  { name: 'browser', type: 'string' },
  { name: 'os', type: 'string' },
  { name: 'is_bot', type: 'boolean' },
  { name: 'referrer_host', type: 'string' },
  { name: 'channel', type: 'string' },
  { name: 'utm_source', type: 'string' },
  { name: 'utm_medium', type: 'string' },
  { name: 'utm_campaign', type: 'string' },
  { name: 'kafka', type: 'struct<topic:string,partition:int,offset:bigint,timestamp:bigint>' },
];

const ATHENA_TYPES: Record<FieldSpec['type'], string> = { keyword: 'string', date: 'string', long: 'bigint', double: 'double' };

/** What each output table holds, for its catalog table's description. */
const TABLE_DESCRIPTIONS: Record<TableName, string> = {
  url_country_daily: 'Per event_date, page_url and country: clicks, unique users, time on page, entrances, bounces, bot clicks',
  sessions_daily: 'Per event_date and the entry event\'s country, device type, browser, OS and channel: sessions, bounces, pageviews, users, duration',
  traffic_sources_daily: 'Per event_date, channel, referrer host, UTM source/medium/campaign and country: sessions, bounces, pageviews, users',
  geo_daily: 'Per event_date, country and city: clicks, unique users, sessions, bot clicks',
  traffic_hourly: 'Per UTC hour (event_hour), country and device type: clicks, unique users, sessions, bot clicks; partitioned by the hour\'s event_date',
};

/**
 * Columns of a table's rows (SPEC section 3), from the one description of the tables that the
 * indexer uses too (lambdas/indexer/tables.ts). `event_date` is the partition column: Athena takes
 * it from the folder and ignores the copy in each row (a column may not share a partition key's name).
 */
export function aggregateColumns(table: TableName): glue.CfnTable.ColumnProperty[] {
  return Object.entries(TABLES[table].fields)
    .filter(([name]) => name !== 'event_date')
    .map(([name, field]) => ({
      name,
      type: ATHENA_TYPES[field.type],
      ...(name === 'computed_at' ? { comment: 'ISO-8601 UTC instant of the run that wrote the row' }
        : name === 'event_hour' ? { comment: 'ISO-8601 UTC start of the hour, YYYY-MM-DDTHH:00:00.000Z' }
          : field.nullable ? { comment: 'may be null' } : {}),
    }));
}

const JSON_STORAGE = {
  inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  serdeInfo: {
    serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
    // A malformed line becomes a row of nulls instead of failing the whole query.
    parameters: { 'ignore.malformed.json': 'TRUE' },
  },
};

export class ProcessingStage extends Construct {
  public readonly job: glue.CfnJob;
  public readonly jobName: string;
  public readonly jobRole: iam.Role;
  public readonly trigger: glue.CfnTrigger;
  public readonly securityConfiguration: glue.CfnSecurityConfiguration;
  /** Encrypts the job's logs and bookmarks, and Athena query results. */
  public readonly key: kms.Key;
  /** Driver and executor output (`<prefix>/output`) and system logs (`<prefix>/error`). */
  public readonly outputLogGroup: logs.LogGroup;
  public readonly errorLogGroup: logs.LogGroup;
  /** The entry script (glue-scripts/aggregate_clicks.py). */
  public readonly scriptAsset: s3assets.Asset;
  /** The job's code, the `clickstream_job` package, zipped (`--extra-py-files`). */
  public readonly packageAsset: s3assets.Asset;
  public readonly database: glue.CfnDatabase;
  public readonly rawEventsTable: glue.CfnTable;
  /** One catalog table per output table, by table name. */
  public readonly aggregateTables: Readonly<Record<TableName, glue.CfnTable>>;
  public readonly athenaResultsBucket: SecureBucket;
  public readonly workGroup: athena.CfnWorkGroup;
  /** Job arguments every run gets (a run may add `--dates`). */
  public readonly defaultArguments: Record<string, string>;
  public readonly rawEventsBucket: s3.IBucket;
  public readonly rawEventsPrefix: string;
  public readonly aggregatesBucket: s3.IBucket;
  public readonly aggregatesPrefix: string;

  constructor(scope: Construct, id: string, props: ProcessingStageProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const rawPrefix = folderPrefix(props.rawEventsPrefix ?? DEFAULT_RAW_EVENTS_PREFIX, 'rawEventsPrefix');
    const changeLogPrefix = folderPrefix(props.changeLogPrefix ?? DEFAULT_CHANGE_LOG_PREFIX, 'changeLogPrefix');
    const rawExpirationDays = props.rawExpirationDays === undefined ? undefined : wholeNumber(props.rawExpirationDays, 1, 36500, 'rawExpirationDays');
    const aggregatesPrefix = folderPrefix(props.aggregatesPrefix ?? DEFAULT_AGGREGATES_PREFIX, 'aggregatesPrefix');
    const statePrefix = folderPrefix(props.statePrefix ?? DEFAULT_STATE_PREFIX, 'statePrefix');
    this.rawEventsBucket = props.rawEventsBucket;
    this.rawEventsPrefix = rawPrefix;
    this.aggregatesBucket = props.aggregatesBucket;
    this.aggregatesPrefix = aggregatesPrefix;
    const sessionGapMinutes = wholeNumber(props.sessionGapMinutes ?? 30, 1, 1440, 'sessionGapMinutes');
    const numberOfWorkers = wholeNumber(props.numberOfWorkers ?? 2, 2, 299, 'numberOfWorkers');
    const maxRetries = wholeNumber(props.maxRetries ?? 1, 0, 10, 'maxRetries');
    const maxConcurrentRuns = props.maxConcurrentRuns ?? 1;
    if (maxConcurrentRuns !== 1) {
      throw new Error(`ProcessingStage: maxConcurrentRuns must be 1: concurrent runs would race on the job state and outputs (got ${maxConcurrentRuns})`);
    }
    const timeoutMinutes = wholeNumber((props.timeout ?? Duration.hours(1)).toSeconds() / 60, 1, 2880, 'timeout (minutes)');
    const lookbackDays = props.lookbackDays === undefined ? undefined : wholeNumber(props.lookbackDays, 0, 36600, 'lookbackDays');
    const schedule = props.schedule ?? DEFAULT_SCHEDULE;
    if (!/^cron\(\S+( \S+){5}\)$/.test(schedule)) {
      throw new Error(`ProcessingStage: schedule must be a Glue cron expression like ${DEFAULT_SCHEDULE} (got ${schedule})`);
    }
    const firstPartitionDate = props.firstPartitionDate ?? '2024-01-01';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(firstPartitionDate)) {
      throw new Error(`ProcessingStage: firstPartitionDate must be YYYY-MM-DD (got ${firstPartitionDate})`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.jobName = props.jobName ?? `${stack.stackName}-aggregate-clicks`;
    const databaseName = props.databaseName ?? `${stack.stackName.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_clickstream`;

    // --- Encryption key and log groups ---------------------------------------------------------
    this.key = new kms.Key(this, 'Key', {
      description: `Glue job ${this.jobName}: logs and bookmarks; Athena query results`,
      enableKeyRotation: true,
      removalPolicy,
    });
    // Glue 5 writes `<prefix>/output` and `<prefix>/error`; ours, so that retention and KMS are ours too.
    const logGroupPrefix = `/aws-glue/jobs/${this.jobName}`;
    const logGroupArn = (name: string) =>
      stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncryptsTheJobLogs',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroupArn(`${logGroupPrefix}*`) } },
    }));
    const logGroup = (name: string, suffix: string) => new logs.LogGroup(this, name, {
      logGroupName: `${logGroupPrefix}/${suffix}`,
      encryptionKey: this.key,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.outputLogGroup = logGroup('OutputLogGroup', 'output');
    this.errorLogGroup = logGroup('ErrorLogGroup', 'error');

    const encryptionConfiguration: glue.CfnSecurityConfiguration.EncryptionConfigurationProperty = {
      // The buckets' own default (SSE-S3, lib/secure-defaults.ts), stated for every object Glue writes.
      s3Encryptions: [{ s3EncryptionMode: 'SSE-S3' }],
      // Not encrypted by Glue: with SSE-KMS here Glue would write to groups named after the role and
      // this configuration instead of `<prefix>/output` and `/error`. Those groups are KMS-encrypted
      // by CloudWatch Logs with the stage's key (above), so the logs are encrypted all the same.
      cloudWatchEncryption: { cloudWatchEncryptionMode: 'DISABLED' },
      jobBookmarksEncryption: { jobBookmarksEncryptionMode: 'CSE-KMS', kmsKeyArn: this.key.keyArn },
    };
    this.securityConfiguration = new glue.CfnSecurityConfiguration(this, 'SecurityConfiguration', {
      // Any change of the settings replaces the configuration, and CloudFormation creates the new
      // one before deleting the old: the name carries a hash of the settings so the two never clash.
      name: `${this.jobName}-security-${settingsHash(stack.resolve(encryptionConfiguration))}`,
      encryptionConfiguration,
    });

    // --- Script and package ----------------------------------------------------------------------
    this.scriptAsset = new s3assets.Asset(this, 'Script', {
      path: path.join(REPO_ROOT, 'glue-scripts', 'aggregate_clicks.py'),
    });
    // A directory asset is zipped with the directory's contents at the root of the archive: the
    // archive of glue-scripts/ holds `clickstream_job/...`, which is what Python imports from a
    // zip on the path. The entry script and bytecode caches stay out.
    this.packageAsset = new s3assets.Asset(this, 'Package', {
      path: path.join(REPO_ROOT, 'glue-scripts'),
      exclude: ['aggregate_clicks.py', '**/__pycache__', '**/*.pyc'],
    });

    // --- Role: exactly the data this job reads and writes ----------------------------------------
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Glue job ${this.jobName}: reads raw events, writes aggregates and job state`,
    });
    const policy = new iam.Policy(this, 'JobPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadTheScript',
          actions: ['s3:GetObject'],
          resources: [
            this.scriptAsset.bucket.arnForObjects(this.scriptAsset.s3ObjectKey),
            this.packageAsset.bucket.arnForObjects(this.packageAsset.s3ObjectKey),
          ],
        }),
        new iam.PolicyStatement({
          sid: 'ListRawEvents',
          actions: ['s3:ListBucket'],
          resources: [props.rawEventsBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [trimSlash(rawPrefix), `${rawPrefix}*`] } },
        }),
        new iam.PolicyStatement({
          sid: 'ReadRawEvents',
          actions: ['s3:GetObject'],
          // The folder key itself too: connectors probe `events` and `events/` before listing.
          resources: [props.rawEventsBucket.arnForObjects(trimSlash(rawPrefix)), props.rawEventsBucket.arnForObjects(`${rawPrefix}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'ListChangeLog',
          actions: ['s3:ListBucket'],
          resources: [props.rawEventsBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [trimSlash(changeLogPrefix), `${changeLogPrefix}*`] } },
        }),
        new iam.PolicyStatement({
          // Entries are named by their keys (never read); the job deletes those it consumed. S3A
          // writes an empty folder marker when a folder's last entry goes: hence PutObject.
          sid: 'ConsumeChangeLog',
          actions: ['s3:GetObject', 's3:DeleteObject', 's3:PutObject'],
          resources: [props.rawEventsBucket.arnForObjects(`${changeLogPrefix}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'ListAggregatesAndState',
          actions: ['s3:ListBucket'],
          resources: [props.aggregatesBucket.bucketArn],
          conditions: {
            StringLike: {
              's3:prefix': [trimSlash(aggregatesPrefix), `${aggregatesPrefix}*`, trimSlash(statePrefix), `${statePrefix}*`],
            },
          },
        }),
        new iam.PolicyStatement({
          sid: 'ReplaceAggregatesAndState',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          resources: [
            props.aggregatesBucket.arnForObjects(trimSlash(aggregatesPrefix)),
            props.aggregatesBucket.arnForObjects(`${aggregatesPrefix}*`),
            props.aggregatesBucket.arnForObjects(trimSlash(statePrefix)),
            props.aggregatesBucket.arnForObjects(`${statePrefix}*`),
          ],
        }),
        new iam.PolicyStatement({
          // Exactly the stage's two groups (they exist: CreateLogGroup only answers "already exists").
          sid: 'WriteTheJobLogs',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: ['output', 'error'].flatMap((suffix) => [
            logGroupArn(`${logGroupPrefix}/${suffix}`), logGroupArn(`${logGroupPrefix}/${suffix}:log-stream:*`),
          ]),
        }),
        new iam.PolicyStatement({
          sid: 'PublishJobMetrics',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'], // PutMetricData has no resource types; the namespace condition scopes it.
          conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
        }),
      ],
    });
    // Bookmarks are encrypted client side (CSE-KMS): the job's role uses the key itself.
    policy.addStatements(this.useKeyStatement('UseTheJobKey'));
    policy.addStatements(...erasureStatements(props.rawEventsBucket, rawPrefix, folderPrefix(props.quarantinePrefix ?? 'quarantine/', 'quarantinePrefix')));
    policy.attachToRole(this.jobRole);
    props.privacyKey?.grantRead(this.jobRole);

    // --- Job -----------------------------------------------------------------------------------
    const s3Uri = (bucket: s3.IBucket, prefix: string) => `s3://${bucket.bucketName}/${trimSlash(prefix)}`;
    this.defaultArguments = {
      '--job-language': 'python',
      '--extra-py-files': this.packageAsset.s3ObjectUrl,
      '--raw_uri': s3Uri(props.rawEventsBucket, rawPrefix),
      '--output_uri': s3Uri(props.aggregatesBucket, aggregatesPrefix),
      '--state_uri': s3Uri(props.aggregatesBucket, statePrefix),
      '--session_gap_minutes': String(sessionGapMinutes),
      ...(lookbackDays === undefined ? {} : { '--lookback_days': String(lookbackDays) }),
      '--changes_uri': s3Uri(props.rawEventsBucket, changeLogPrefix),
      ...(rawExpirationDays === undefined ? {} : { '--raw_expiration_days': String(rawExpirationDays) }),
      // The script keeps its own state (see docs/processing.md): bookmarks would hide old files
      // of a date that must be recomputed as a whole.
      '--job-bookmark-option': 'job-bookmark-disable',
      // Glue 5 logs in real time on its own; `--enable-continuous-cloudwatch-log` is for Glue 4 and
      // earlier. The prefix makes the groups `<prefix>/output` and `<prefix>/error`: the stage's own.
      '--custom-logGroup-prefix': logGroupPrefix,
      '--enable-metrics': 'true',
      '--enable-observability-metrics': 'true',
      '--enable-job-insights': 'true',
    };
    this.job = new glue.CfnJob(this, 'Job', {
      name: this.jobName,
      description: 'The web analytics model (SPEC section 3): url_country_daily, sessions_daily, traffic_sources_daily, geo_daily, traffic_hourly',
      role: this.jobRole.roleArn,
      command: { name: 'glueetl', pythonVersion: '3', scriptLocation: this.scriptAsset.s3ObjectUrl },
      glueVersion: '5.0',
      workerType: props.workerType ?? 'G.1X',
      numberOfWorkers,
      timeout: timeoutMinutes,
      maxRetries,
      executionProperty: { maxConcurrentRuns },
      executionClass: 'STANDARD',
      securityConfiguration: this.securityConfiguration.ref,
      defaultArguments: this.defaultArguments,
    });
    // The role's policy must exist before a run can start.
    this.job.node.addDependency(policy);

    this.trigger = new glue.CfnTrigger(this, 'Schedule', {
      name: `${this.jobName}-schedule`,
      description: `Runs ${this.jobName} on ${schedule} (UTC)`,
      type: 'SCHEDULED',
      schedule,
      startOnCreation: true,
      actions: [{ jobName: this.job.ref }],
    });

    // --- Catalog: raw events and aggregates, queryable by Athena without crawlers ---------------
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: {
        name: databaseName,
        description: `Clickstream pipeline: raw click events and the tables of the analytics model (${TABLE_NAMES.join(', ')}); partition projection, no crawler`,
      },
    });
    const dateProjection = (column: string) => ({
      [`projection.${column}.type`]: 'date',
      [`projection.${column}.format`]: 'yyyy-MM-dd',
      [`projection.${column}.range`]: `${firstPartitionDate},NOW`,
      [`projection.${column}.interval`]: '1',
      [`projection.${column}.interval.unit`]: 'DAYS',
    });
    const rawLocation = `s3://${props.rawEventsBucket.bucketName}/${rawPrefix}`;
    this.rawEventsTable = new glue.CfnTable(this, 'RawEventsTable', {
      catalogId: stack.account,
      databaseName,
      tableInput: {
        name: 'raw_events',
        description: 'Canonical click events as the ingest function stores them (SPEC section 2)',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [
          { name: 'dt', type: 'string', comment: 'UTC date of ts, YYYY-MM-DD' },
          { name: 'hr', type: 'string', comment: 'UTC hour of ts, 00-23' },
        ],
        parameters: {
          classification: 'json',
          compressionType: 'gzip',
          'projection.enabled': 'true',
          ...dateProjection('dt'),
          'projection.hr.type': 'integer',
          'projection.hr.range': '0,23',
          'projection.hr.digits': '2',
          'storage.location.template': `${rawLocation}dt=\${dt}/hr=\${hr}/`,
        },
        storageDescriptor: { columns: RAW_EVENT_COLUMNS, location: rawLocation, compressed: true, ...JSON_STORAGE },
      },
    });
    this.rawEventsTable.node.addDependency(this.database);
    const aggregateTables: Partial<Record<TableName, glue.CfnTable>> = {};
    for (const name of TABLE_NAMES) {
      const location = `s3://${props.aggregatesBucket.bucketName}/${aggregatesPrefix}${name}/`;
      // url_country_daily keeps the logical id it had as the only table: a new id would make
      // CloudFormation create the same-named table before deleting the old one, and fail.
      const id = name === 'url_country_daily' ? 'AggregatesTable' : `${pascalCase(name)}Table`;
      const table = new glue.CfnTable(this, id, {
        catalogId: stack.account,
        databaseName,
        tableInput: {
          name,
          description: `${TABLE_DESCRIPTIONS[name]} (SPEC section 3)`,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: [{ name: 'event_date', type: 'string', comment: 'UTC date, YYYY-MM-DD' }],
          parameters: {
            classification: 'json',
            'projection.enabled': 'true',
            ...dateProjection('event_date'),
            // An emptied date holds only `_empty.json`: Athena skips files whose names start with "_".
            'storage.location.template': `${location}event_date=\${event_date}/`,
          },
          storageDescriptor: { columns: aggregateColumns(name), location, compressed: false, ...JSON_STORAGE },
        },
      });
      table.node.addDependency(this.database);
      aggregateTables[name] = table;
    }
    this.aggregateTables = aggregateTables as Record<TableName, glue.CfnTable>;

    // --- Athena ----------------------------------------------------------------------------------
    this.athenaResultsBucket = new SecureBucket(this, 'AthenaResultsBucket', {
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      removalPolicy,
      lifecycleRules: [{ expiration: Duration.days(props.athenaResultsExpirationDays ?? 30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: `${stack.stackName}-analytics`,
      description: `Queries over ${databaseName} (raw_events and the ${TABLE_NAMES.length} tables of the analytics model); results encrypted, kept ${props.athenaResultsExpirationDays ?? 30} days`,
      state: 'ENABLED',
      recursiveDeleteOption: removalPolicy === RemovalPolicy.DESTROY,
      workGroupConfiguration: {
        // Clients cannot send results elsewhere or unencrypted.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.athenaBytesScannedCutoffPerQuery ?? 10 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.athenaResultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.key.keyArn },
        },
      },
    });
  }

  /** Encrypt and decrypt with the stage's key: the exact actions, no `kms:*Key*` wildcards. */
  private useKeyStatement(sid: string): iam.PolicyStatement {
    return new iam.PolicyStatement({ sid, actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [this.key.keyArn] });
  }

  /** Lets `grantee` start runs of the job and follow them (what `npm run job:start` calls). */
  public grantStartRuns(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:StartJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:BatchStopJobRun'],
      resourceArns: [Stack.of(this).formatArn({ service: 'glue', resource: 'job', resourceName: this.jobName })],
    });
  }

  /** Lets `grantee` query the raw events and the analytics tables through the Athena workgroup (read only). */
  public grantAnalystQueries(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const databaseName = this.database.databaseInput as glue.CfnDatabase.DatabaseInputProperty;
    const glueArn = (resource: string, resourceName?: string) => stack.formatArn({ service: 'glue', resource, resourceName });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['athena:StartQueryExecution', 'athena:StopQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults',
        'athena:GetQueryResultsStream', 'athena:ListQueryExecutions', 'athena:GetWorkGroup'],
      resourceArns: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroup.name })],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetDatabases', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartition', 'glue:GetPartitions'],
      resourceArns: [
        glueArn('catalog'),
        glueArn('database', databaseName.name),
        glueArn('table', `${databaseName.name}/*`),
      ],
    });
    for (const [bucket, prefix] of [[this.rawEventsBucket, this.rawEventsPrefix], [this.aggregatesBucket, this.aggregatesPrefix]] as const) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:ListBucket'],
        resourceArns: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      });
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [bucket.arnForObjects(`${prefix}*`)] });
    }
    this.athenaResultsBucket.grantReadWrite(grantee, 'results/*');
    grantee.grantPrincipal.addToPrincipalPolicy(this.useKeyStatement('UseTheAthenaResultsKey'));
  }
}

/** Eight hex digits of SHA-256 over resolved settings (tokens resolve to stable logical ids). */
function settingsHash(settings: unknown): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 8);
}

function folderPrefix(prefix: string, name: string): string {
  // No wildcards or spaces: the prefix ends up in IAM resource ARNs and S3 URIs.
  if (!/^[A-Za-z0-9!_.'()=-]+(\/[A-Za-z0-9!_.'()=-]+)*\/$/.test(prefix)) {
    throw new Error(`ProcessingStage: ${name} must be a relative S3 folder ending with "/" (got "${prefix}")`);
  }
  return prefix;
}

/**
 * The erasure mode (docs/privacy.md §3, §5): rewrite objects in place under the raw events and the
 * quarantine (read, write, list; no delete: an emptied object stays as an empty gzip object), read
 * its request and write its report under `erasure/`. The erasure record itself is not the job's.
 */
export function erasureStatements(bucket: s3.IBucket, rawPrefix: string, quarantinePrefix: string): iam.PolicyStatement[] {
  const requests = 'erasure/requests/';
  const reports = 'erasure/reports/';
  return [
    new iam.PolicyStatement({
      sid: 'ListForErasure',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [trimSlash(quarantinePrefix), `${quarantinePrefix}*`, trimSlash(reports), `${reports}*`] } },
    }),
    new iam.PolicyStatement({
      sid: 'RewriteRawZoneForErasure',
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: [bucket.arnForObjects(`${rawPrefix}*`), bucket.arnForObjects(trimSlash(quarantinePrefix)), bucket.arnForObjects(`${quarantinePrefix}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'ReadErasureRequests',
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects(`${requests}*`), bucket.arnForObjects(trimSlash(reports)), bucket.arnForObjects(`${reports}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'WriteErasureReports',
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`${reports}*`)],
    }),
  ];
}

/** `url_country_daily` → `UrlCountryDaily`, for construct ids. */
function pascalCase(name: string): string {
  return name.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
}

function trimSlash(prefix: string): string {
  return prefix.replace(/\/$/, '');
}

function wholeNumber(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`ProcessingStage: ${name} must be a whole number from ${min} to ${max} (got ${value})`);
  }
  return value;
}
