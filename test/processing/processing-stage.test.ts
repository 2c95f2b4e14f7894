import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ProcessingStage, ProcessingStageProps } from '../../lib/processing';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';
import * as fs from 'fs';
import * as path from 'path';

/** Every file under `dir`, as relative paths with "/". */
function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]);
}

/** A stack with two buckets and the stage; `extend` adds constructs before the template is made. */
function build(props: Partial<ProcessingStageProps> = {}, extend?: (stack: Stack, stage: ProcessingStage) => void) {
  const stack = new Stack(testApp(), 'TestStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  const rawEventsBucket = new SecureBucket(stack, 'Raw');
  const aggregatesBucket = new SecureBucket(stack, 'Aggregates');
  const stage = new ProcessingStage(stack, 'Processing', { rawEventsBucket, aggregatesBucket, ...props });
  extend?.(stack, stage);
  return { stack, stage, template: Template.fromStack(stack), rawEventsBucket, aggregatesBucket };
}

describe('ProcessingStage: the Glue job', () => {
  it('is a Glue 5 Spark (glueetl, Python 3) job running the script asset, with the default worker settings', () => {
    const { stack, stage, template } = build();
    const job = template.findResources('AWS::Glue::Job');
    expect(Object.keys(job)).toHaveLength(1);
    const p = Object.values<any>(job)[0].Properties;
    expect(p).toMatchObject({
      Name: 'TestStack-aggregate-clicks',
      GlueVersion: '5.0',
      WorkerType: 'G.1X',
      NumberOfWorkers: 2,
      Timeout: 60,
      MaxRetries: 1,
      ExecutionProperty: { MaxConcurrentRuns: 1 },
      Command: { Name: 'glueetl', PythonVersion: '3' },
    });
    // The script location is the uploaded asset of glue-scripts/aggregate_clicks.py.
    expect(stack.resolve(stage.job.command)).toMatchObject({
      scriptLocation: expect.stringMatching(/^s3:\/\/cdk-[a-z0-9]+-assets-111122223333-eu-west-1\/[0-9a-f]{64}\.py$/),
    });
    expect(stage.scriptAsset.assetPath).toMatch(/^asset\.[0-9a-f]{64}\.py$/);
  });

  it('takes worker type and count, timeout and retries as props', () => {
    const { template } = build({ workerType: 'G.2X', numberOfWorkers: 10, timeout: Duration.minutes(90), maxRetries: 0 });
    template.hasResourceProperties('AWS::Glue::Job', { WorkerType: 'G.2X', NumberOfWorkers: 10, Timeout: 90, MaxRetries: 0 });
  });

  it('passes the data locations and the session gap as job arguments, with bookmarks off and logs and metrics on', () => {
    const { stack, template, rawEventsBucket, aggregatesBucket } = build({ sessionGapMinutes: 45, lookbackDays: 7 });
    const args = Object.values<any>(template.findResources('AWS::Glue::Job'))[0].Properties.DefaultArguments;
    const bucketRef = (b: SecureBucket) => ({ Ref: stack.getLogicalId(b.node.defaultChild as any) });
    expect(args['--raw_uri']).toEqual({ 'Fn::Join': ['', ['s3://', bucketRef(rawEventsBucket), '/events']] });
    // The root of every table: the job writes aggregates/<table>/event_date=D/, where the indexer listens.
    expect(args['--output_uri']).toEqual({ 'Fn::Join': ['', ['s3://', bucketRef(aggregatesBucket), '/aggregates']] });
    expect(args['--state_uri']).toEqual({ 'Fn::Join': ['', ['s3://', bucketRef(aggregatesBucket), '/state/aggregate-clicks']] });
    // The job's code: the clickstream_job package, zipped, beside the entry script.
    expect(JSON.stringify(stack.resolve(args['--extra-py-files']))).toMatch(/^"s3:\/\/cdk-[a-z0-9]+-assets-111122223333-eu-west-1\/[0-9a-f]{64}\.zip"$/);
    expect(args['--changes_uri']).toEqual({ 'Fn::Join': ['', ['s3://', bucketRef(rawEventsBucket), '/changes']] });
    expect(args['--raw_expiration_days']).toBeUndefined();
    expect(args).toMatchObject({
      '--session_gap_minutes': '45',
      '--lookback_days': '7',
      '--job-bookmark-option': 'job-bookmark-disable',
      '--custom-logGroup-prefix': '/aws-glue/jobs/TestStack-aggregate-clicks',
      '--enable-metrics': 'true',
      '--enable-observability-metrics': 'true',
      '--enable-job-insights': 'true',
    });
    expect(args['--dates']).toBeUndefined();
  });

  it('passes the raw zone expiry so that a date whose raw data may have expired is never recomputed', () => {
    const { template } = build({ rawExpirationDays: 400, changeLogPrefix: 'log/' });
    const args = Object.values<any>(template.findResources('AWS::Glue::Job'))[0].Properties.DefaultArguments;
    expect(args['--raw_expiration_days']).toBe('400');
    expect(JSON.stringify(args['--changes_uri'])).toContain('/log"');
    expect(() => build({ rawExpirationDays: 0 })).toThrow(/rawExpirationDays/);
  });

  it('leaves --lookback_days out unless set', () => {
    const args = Object.values<any>(build().template.findResources('AWS::Glue::Job'))[0].Properties.DefaultArguments;
    expect(args).not.toHaveProperty('--lookback_days');
    expect(args['--session_gap_minutes']).toBe('30');
  });

  it('runs under a security configuration that encrypts S3 output and bookmarks (KMS); logs are encrypted by their groups', () => {
    const { stack, stage, template } = build();
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(stage.key.node.defaultChild as any), 'Arn'] };
    template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
      EncryptionConfiguration: {
        S3Encryptions: [{ S3EncryptionMode: 'SSE-S3' }],
        CloudWatchEncryption: { CloudWatchEncryptionMode: 'DISABLED' },
        JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: keyArn },
      },
    });
    template.hasResourceProperties('AWS::Glue::Job', {
      SecurityConfiguration: { Ref: stack.getLogicalId(stage.securityConfiguration) },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('owns its encrypted log groups, with retention', () => {
    const { stack, stage, template } = build({ logRetention: logs.RetentionDays.TWO_WEEKS });
    for (const name of ['output', 'error']) {
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws-glue/jobs/TestStack-aggregate-clicks/${name}`,
        RetentionInDays: 14,
        KmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(stage.key.node.defaultChild as any), 'Arn'] },
      });
    }
    // CloudWatch Logs may use the key for these log groups only.
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks*']],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('is started by a schedule, hourly by default', () => {
    const { stack, stage, template } = build();
    template.hasResourceProperties('AWS::Glue::Trigger', {
      Type: 'SCHEDULED',
      Schedule: 'cron(15 * * * ? *)',
      StartOnCreation: true,
      Actions: [{ JobName: { Ref: stack.getLogicalId(stage.job) } }],
    });
  });

  it('takes the schedule as a prop and refuses what is not a Glue cron expression', () => {
    build({ schedule: 'cron(0 */6 * * ? *)' }).template.hasResourceProperties('AWS::Glue::Trigger', { Schedule: 'cron(0 */6 * * ? *)' });
    expect(() => build({ schedule: 'rate(1 hour)' })).toThrow(/schedule must be a Glue cron expression/);
    expect(() => build({ schedule: 'cron(0 * * *)' })).toThrow(/schedule/);
  });

  it.each<[Partial<ProcessingStageProps>, RegExp]>([
    [{ sessionGapMinutes: 0 }, /sessionGapMinutes/],
    [{ sessionGapMinutes: 1441 }, /sessionGapMinutes/],
    [{ numberOfWorkers: 1 }, /numberOfWorkers/],
    [{ maxRetries: -1 }, /maxRetries/],
    [{ maxConcurrentRuns: 2 }, /maxConcurrentRuns must be 1/],
    [{ timeout: Duration.seconds(30) }, /timeout/],
    [{ rawEventsPrefix: 'events' }, /rawEventsPrefix/],
    [{ aggregatesPrefix: 'agg/*/' }, /aggregatesPrefix/],
    [{ firstPartitionDate: '2024-1-1' }, /firstPartitionDate/],
  ])('refuses a wrong setting: %o', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('ProcessingStage: least-privilege job role', () => {
  function jobStatements(stack: Stack, stage: ProcessingStage, template: Template): any[] {
    const policies = template.findResources('AWS::IAM::Policy');
    const roleId = stack.getLogicalId(stage.jobRole.node.defaultChild as any);
    return Object.values<any>(policies)
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
  }
  const bySid = (statements: any[], sid: string) => statements.find((s) => s.Sid === sid);

  it('is assumed by Glue only', () => {
    build().template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'glue.amazonaws.com' } })] },
    });
  });

  it('reads only the raw events prefix, and writes only the aggregates and state prefixes', () => {
    const { stack, stage, template, rawEventsBucket, aggregatesBucket } = build();
    const statements = jobStatements(stack, stage, template);
    const arn = (b: SecureBucket) => ({ 'Fn::GetAtt': [stack.getLogicalId(b.node.defaultChild as any), 'Arn'] });
    const objects = (b: SecureBucket, key: string) => ({ 'Fn::Join': ['', [arn(b), `/${key}`]] });

    expect(bySid(statements, 'ReadRawEvents')).toMatchObject({
      Action: 's3:GetObject',
      Resource: [objects(rawEventsBucket, 'events'), objects(rawEventsBucket, 'events/*')],
    });
    expect(bySid(statements, 'ListRawEvents')).toMatchObject({
      Action: 's3:ListBucket',
      Resource: arn(rawEventsBucket),
      Condition: { StringLike: { 's3:prefix': ['events', 'events/*'] } },
    });
    expect(bySid(statements, 'ReplaceAggregatesAndState')).toMatchObject({
      Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      Resource: [
        objects(aggregatesBucket, 'aggregates'),
        objects(aggregatesBucket, 'aggregates/*'),
        objects(aggregatesBucket, 'state/aggregate-clicks'),
        objects(aggregatesBucket, 'state/aggregate-clicks/*'),
      ],
    });
    // No statement writes to the raw bucket (but the erasure mode's, test/privacy/privacy-processing.test.ts)
    // or reads the whole aggregates bucket.
    const erasure = new Set(['RewriteRawZoneForErasure', 'WriteErasureReports', 'ConsumeChangeLog']);
    // The change log: listed, and its entries removed once consumed (under changes/ only).
    expect(bySid(statements, 'ListChangeLog')).toMatchObject({
      Action: 's3:ListBucket',
      Resource: arn(rawEventsBucket),
      Condition: { StringLike: { 's3:prefix': ['changes', 'changes/*'] } },
    });
    expect(bySid(statements, 'ConsumeChangeLog')).toMatchObject({
      Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      Resource: objects(rawEventsBucket, 'changes/*'),
    });
    const writes = statements.filter((s) => !erasure.has(s.Sid) && [s.Action].flat().some((a: string) => /Put|Delete/.test(a)));
    expect(JSON.stringify(writes)).not.toContain(stack.getLogicalId(rawEventsBucket.node.defaultChild as any));
    for (const s of statements) {
      for (const r of [s.Resource].flat()) {
        expect(JSON.stringify(r)).not.toMatch(/Arn"\]\},"\/\*"/);
      }
    }
  });

  it('reads the script object only, writes its own log groups only, and metrics in the Glue namespace only', () => {
    const { stack, stage, template } = build();
    const statements = jobStatements(stack, stage, template);
    const script = bySid(statements, 'ReadTheScript');
    expect(script.Action).toBe('s3:GetObject');
    // The entry script and the package archive, nothing else of the assets bucket.
    const scriptObjects = JSON.stringify(stack.resolve(script.Resource));
    expect(script.Resource).toHaveLength(2);
    expect(scriptObjects).toMatch(/[0-9a-f]{64}\.py/);
    expect(scriptObjects).toMatch(/[0-9a-f]{64}\.zip/);
    const logArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:logs:eu-west-1:111122223333:log-group:/aws-glue/jobs/TestStack-aggregate-clicks${rest}`]] });
    const logResources = bySid(statements, 'WriteTheJobLogs').Resource;
    expect(logResources).toHaveLength(4);
    expect(logResources).toEqual(expect.arrayContaining([
      logArn('/output'), logArn('/output:log-stream:*'), logArn('/error'), logArn('/error:log-stream:*'),
    ]));
    expect(bySid(statements, 'PublishJobMetrics')).toMatchObject({
      Action: 'cloudwatch:PutMetricData',
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
    });
    const anyStar = statements.filter((s) => [s.Resource].flat().includes('*'));
    expect(anyStar.map((s) => s.Sid)).toEqual(['PublishJobMetrics']);
    // The key, for the client-side encrypted bookmarks: exact actions, no wildcards.
    expect(bySid(statements, 'UseTheJobKey')).toEqual({
      Sid: 'UseTheJobKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      Resource: { 'Fn::GetAtt': [stack.getLogicalId(stage.key.node.defaultChild as any), 'Arn'] },
    });
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.includes('*'))).toEqual([]);
  });

  it('grants starting and following runs of this job only', () => {
    let operator!: iam.Role;
    const { stack, template } = build({}, (s, stage) => {
      operator = new iam.Role(s, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
      stage.grantStartRuns(operator);
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(operator.node.defaultChild as any) }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: ['glue:BatchStopJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:StartJobRun'],
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111122223333:job/TestStack-aggregate-clicks']] },
          }),
        ],
      },
    });
  });
});

describe('ProcessingStage: catalog and Athena', () => {
  it('has a database with a raw events table projected on dt and hr (no crawler)', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::Glue::Database', {
      CatalogId: '111122223333',
      DatabaseInput: { Name: 'teststack_clickstream' },
    });
    template.resourceCountIs('AWS::Glue::Crawler', 0);
    const raw = Object.values<any>(template.findResources('AWS::Glue::Table')).find((t) => t.Properties.TableInput.Name === 'raw_events');
    const input = raw.Properties.TableInput;
    expect(raw.Properties.DatabaseName).toBe('teststack_clickstream');
    expect(input.PartitionKeys).toEqual([
      expect.objectContaining({ Name: 'dt', Type: 'string' }),
      expect.objectContaining({ Name: 'hr', Type: 'string' }),
    ]);
    expect(input.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2024-01-01,NOW',
      'projection.hr.type': 'integer',
      'projection.hr.range': '0,23',
      'projection.hr.digits': '2',
    });
    expect(JSON.stringify(input.Parameters['storage.location.template'])).toContain('/events/dt=${dt}/hr=${hr}/');
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(input.StorageDescriptor.Columns.map((c: any) => c.Name)).toEqual([
      'event_id', 'user_id', 'session_id', 'ts', 'url', 'page_url', 'country', 'city', 'user_agent', 'referrer',
      'country_raw', 'device_type', 'browser', 'os', 'is_bot', 'referrer_host', 'channel', 'utm_source', 'utm_medium', 'utm_campaign',
      'kafka',
    ]);
    expect(input.StorageDescriptor.Columns.find((c: any) => c.Name === 'is_bot').Type).toBe('boolean');
  });

  it('has one catalog table per output table, projected on event_date, with the SPEC output columns', () => {
    const { template } = build({ firstPartitionDate: '2026-01-01' });
    const tables = Object.values<any>(template.findResources('AWS::Glue::Table')).map((t) => t.Properties.TableInput);
    expect(tables.map((t) => t.Name).sort()).toEqual(
      ['geo_daily', 'raw_events', 'sessions_daily', 'traffic_hourly', 'traffic_sources_daily', 'url_country_daily']);
    const columns = (name: string) => tables.find((t) => t.Name === name).StorageDescriptor.Columns.map((c: any) => `${c.Name}:${c.Type}`);
    for (const input of tables.filter((t) => t.Name !== 'raw_events')) {
      expect(input.PartitionKeys).toEqual([expect.objectContaining({ Name: 'event_date', Type: 'string' })]);
      expect(input.Parameters).toMatchObject({ 'projection.event_date.type': 'date', 'projection.event_date.range': '2026-01-01,NOW' });
      expect(JSON.stringify(input.Parameters['storage.location.template'])).toContain(`/aggregates/${input.Name}/event_date=\${event_date}/`);
      expect(JSON.stringify(input.StorageDescriptor.Location)).toContain(`/aggregates/${input.Name}/`);
      // The partition column is not a data column too (Athena refuses a table with both).
      expect(columns(input.Name)).not.toContain('event_date:string');
    }
    expect(columns('url_country_daily')).toEqual([
      'page_url:string', 'country:string', 'clicks:bigint', 'unique_users:bigint', 'timed_views:bigint',
      'total_time_spent_seconds:double', 'avg_time_spent_seconds:double', 'entrances:bigint', 'bounces:bigint', 'bot_clicks:bigint',
      'computed_at:string',
    ]);
    expect(columns('sessions_daily')).toEqual([
      'country:string', 'device_type:string', 'browser:string', 'os:string', 'channel:string',
      'sessions:bigint', 'bounces:bigint', 'pageviews:bigint', 'users:bigint',
      'total_duration_seconds:double', 'avg_duration_seconds:double', 'bounce_rate:double', 'computed_at:string',
    ]);
    expect(columns('traffic_sources_daily')).toEqual([
      'channel:string', 'referrer_host:string', 'utm_source:string', 'utm_medium:string', 'utm_campaign:string', 'country:string',
      'sessions:bigint', 'bounces:bigint', 'pageviews:bigint', 'users:bigint', 'computed_at:string',
    ]);
    expect(columns('geo_daily')).toEqual([
      'country:string', 'city:string', 'clicks:bigint', 'unique_users:bigint', 'sessions:bigint', 'bot_clicks:bigint', 'computed_at:string',
    ]);
    expect(columns('traffic_hourly')).toEqual([
      'event_hour:string', 'country:string', 'device_type:string',
      'clicks:bigint', 'unique_users:bigint', 'sessions:bigint', 'bot_clicks:bigint', 'computed_at:string',
    ]);
  });

  it('keeps the logical id url_country_daily had as the only aggregates table (an update does not recreate it)', () => {
    const { template } = build();
    const ids = Object.entries<any>(template.findResources('AWS::Glue::Table'))
      .filter(([, t]) => t.Properties.TableInput.Name === 'url_country_daily').map(([id]) => id);
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/AggregatesTable[0-9A-F]{8}$/);
  });

  it('ships the clickstream_job package (and no bytecode or entry script) as the zip in --extra-py-files', () => {
    const { stage } = build(); // synthesized: the asset is staged in the app's output folder
    expect(stage.packageAsset.isZipArchive).toBe(true);
    // What the archive will hold, at its root: the asset's staged copy of glue-scripts/.
    const files = listFiles(path.join((stage.node.root as App).outdir, stage.packageAsset.assetPath));
    expect(files).toContain('clickstream_job/__init__.py');
    expect(files).toContain('clickstream_job/cli.py');
    expect(files).toContain('clickstream_job/tables.py');
    expect(files.filter((f) => f.includes('__pycache__') || f.endsWith('.pyc'))).toEqual([]);
    expect(files).not.toContain('aggregate_clicks.py');
  });

  it('has an Athena workgroup that enforces KMS-encrypted results in its own secure bucket', () => {
    const { stack, stage, template } = build();
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'TestStack-analytics',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: stack.getLogicalId(stage.athenaResultsBucket.node.defaultChild as any) }, '/results/']] },
          EncryptionConfiguration: {
            EncryptionOption: 'SSE_KMS',
            KmsKey: { 'Fn::GetAtt': [stack.getLogicalId(stage.key.node.defaultChild as any), 'Arn'] },
          },
        },
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.anyValue(),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    });
  });

  it('lets the stack tear the workgroup down in a destroyable deployment only', () => {
    build({ removalPolicy: RemovalPolicy.DESTROY }).template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
    build().template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: false });
  });

  it('grants analysts the workgroup, the catalog tables and read access to the two data prefixes', () => {
    let analyst!: iam.Role;
    const { stack, template } = build({}, (s, stage) => {
      analyst = new iam.Role(s, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
      stage.grantAnalystQueries(analyst);
    });
    const roleId = stack.getLogicalId(analyst.node.defaultChild as any);
    const statements = Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const text = JSON.stringify(statements);
    expect(text).toContain('athena:StartQueryExecution');
    expect(text).toContain(':workgroup/TestStack-analytics');
    expect(text).toContain(':table/teststack_clickstream/*');
    expect(text).toContain('/events/*');
    expect(text).toContain('/aggregates/*');
    expect(text).not.toMatch(/s3:PutObject[^\]]*events/);
    expect(text).toContain('kms:Decrypt');
  });

  it('synthesizes without errors', () => {
    const { stack } = build();
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });
});
