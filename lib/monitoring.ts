/**
 * What an operator needs to trust the pipeline with nobody watching it: alarms on every way it
 * can fall behind or lose work, sent to one encrypted SNS topic; an EventBridge rule for failed
 * Glue runs; a history of Glue runs; and a dashboard with the pipeline's health at a glance.
 *
 * Thresholds, periods and why each one was chosen: docs/operations.md, "Alarms".
 */
import { ArnFormat, Aws, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './secure-defaults';

/**
 * Names of the Powertools metrics the functions publish (namespace `ClickstreamPipeline`,
 * dimension `service`). The dashboard reads them; the functions must use exactly these names.
 */
export const PIPELINE_METRIC_NAMES = {
  /** ingest: Kafka records received in a batch. */
  recordsIn: 'RecordsIn',
  /** ingest: canonical records written to the raw zone. */
  recordsStored: 'RecordsStored',
  /** ingest: records written to the quarantine prefix. */
  recordsQuarantined: 'RecordsQuarantined',
  /** indexer: documents accepted by OpenSearch. */
  documentsIndexed: 'DocumentsIndexed',
  /** indexer: seconds between a computation (`computed_at`) and the moment its object was indexed, per object. */
  indexedComputationAge: 'IndexedComputationAge',
  /** Metric filter on the Glue job's output log: one per run that found no changed raw input. */
  glueRunsWithoutInput: 'GlueRunsWithoutInput',
  /** Metric filter on the Glue run history: one per SUCCEEDED run. */
  glueRunsSucceeded: 'GlueJobRunsSucceeded',
  /** Metric filter on the Glue run history: one per FAILED, TIMEOUT or ERROR run. */
  glueRunsFailed: 'GlueJobRunsFailed',
} as const;

/**
 * The line the Glue job (glue-scripts/aggregate_clicks.py) logs when a run finds no raw input
 * changed since the last successful run. The GlueRunsWithoutInput metric filter counts it;
 * test/ops/monitoring.test.ts checks that the script still logs exactly this.
 */
export const GLUE_NO_INPUT_LOG_LINE = 'no raw input changed since the last successful run';

/** Glue job states that mean a run did not produce its output. */
export const GLUE_FAILURE_STATES = ['FAILED', 'TIMEOUT', 'ERROR'];

/** Alarm thresholds. Each default is explained in docs/operations.md. */
export interface AlarmThresholds {
  /** Kafka records the ingest consumer group is behind, sustained for 15 minutes.
   *  @default 50000 */
  readonly ingestOffsetLag?: number;
  /** Errors (or throttles) of a function in a 5-minute period; alarms when 2 of 3 periods reach it.
   *  @default 1 */
  readonly functionErrors?: number;
  /** Age in seconds of the oldest message in the indexer queue.
   *  @default 900 (15 minutes) */
  readonly indexerQueueAgeSeconds?: number;
  /** Free storage of the emptiest search node, as a fraction of its volume.
   *  @default 0.25 (the OpenSearch Service recommendation) */
  readonly searchFreeStorageFraction?: number;
  /** JVM memory pressure (percent) of a search node, sustained 3 minutes.
   *  @default 95 (the OpenSearch Service recommendation) */
  readonly searchJvmMemoryPressurePercent?: number;
  /** Hours without a successful Glue run before alarming (1-168); set it above the schedule's
   *  interval, e.g. 26 for a daily schedule.
   *  @default 3 (for the default hourly schedule: two missed runs in a row) */
  readonly hoursWithoutSuccessfulJobRun?: number;
  /** Minutes without a single record stored in the raw zone before alarming (a multiple of 5,
   *  10-1440); no ingest invocation at all counts as nothing stored.
   *  @default 60 */
  readonly ingestHeartbeatMinutes?: number;
  /** Share of the records received in an hour that may be quarantined, percent (1-100).
   *  @default 5 */
  readonly quarantinePercent?: number;
  /** Hours (2-168) in which no computation younger than this many hours was indexed before alarming;
   *  set it above the Glue schedule's interval plus a run's duration.
   *  @default 6 */
  readonly indexFreshnessHours?: number;
  /** Hours in a row (1-24) whose Glue runs found no changed input while the raw zone received records.
   *  @default 3 */
  readonly glueRunsWithoutInputHours?: number;
  /** CPU utilization (percent) of the busiest search data node, sustained 45 minutes.
   *  @default 80 (the OpenSearch Service recommendation) */
  readonly searchCpuPercent?: number;
  /** CPU utilization (percent) of the busiest dedicated master node, sustained 45 minutes.
   *  @default 50 (the OpenSearch Service recommendation) */
  readonly searchMasterCpuPercent?: number;
  /** Share of the domain's requests answered with a 5xx status in 5 minutes, percent.
   *  @default 10 (the OpenSearch Service recommendation) */
  readonly search5xxPercent?: number;
}

export interface PipelineMonitoringProps {
  /** The ingest function (MSK event source). */
  readonly ingestFunction: lambda.IFunction;
  /** The queue that announces each Kafka batch that exhausted its retries (the on-failure destination's notices). */
  readonly ingestFailureQueue: sqs.IQueue;
  /** The indexer function (SQS event source). */
  readonly indexerFunction: lambda.IFunction;
  /** The queue the indexer consumes (S3 ObjectCreated notifications). */
  readonly indexerQueue: sqs.IQueue;
  /** Every dead-letter queue of the pipeline (at least the indexer queue's). */
  readonly deadLetterQueues: sqs.IQueue[];
  /** Name of the Glue aggregation job. */
  readonly glueJobName: string;
  /** The OpenSearch domain serving the aggregates. */
  readonly searchDomain: opensearch.IDomain;
  /** EBS volume of one search data node, GiB (the free-storage alarm is a fraction of it). */
  readonly searchVolumeSizeGiB: number;
  /** The domain has dedicated master nodes (their CPU, JVM and reachability alarms are added).
   *  @default false */
  readonly searchDedicatedMasterNodes?: boolean;
  /** Log group of the Glue job's own log lines (stdout), where a run logs that it found no input.
   *  @default no GlueRunsWithoutInput alarm */
  readonly glueOutputLogGroup?: logs.ILogGroup;
  /** Address subscribed to the alarm topic.
   *  @default no subscription; subscribe later in the SNS console or with another deployment */
  readonly alarmEmail?: string;
  /** Powertools service name of the ingest function (the `service` dimension of its metrics).
   *  @default 'ingest' */
  readonly ingestServiceName?: string;
  /** Powertools service name of the indexer function.
   *  @default 'indexer' */
  readonly indexerServiceName?: string;
  /** Alarm thresholds.
   *  @default see AlarmThresholds */
  readonly thresholds?: AlarmThresholds;
  /** How long the Glue run history is kept.
   *  @default logs.RetentionDays.THREE_MONTHS */
  readonly runHistoryRetention?: logs.RetentionDays;
  /** What happens to the topic key and the run history when the stack is deleted.
   *  @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Name of the CloudWatch dashboard.
   *  @default `<stack name>-pipeline-health` */
  readonly dashboardName?: string;
}

/** Alarms, notifications, Glue run history and the health dashboard of the pipeline. */
export class PipelineMonitoring extends Construct {
  /** Customer-managed key of the alarm topic (AWS managed keys cannot let CloudWatch publish). */
  public readonly alarmTopicKey: kms.Key;
  public readonly alarmTopic: sns.Topic;
  /** Every alarm, by purpose; each notifies `alarmTopic` on ALARM and on OK. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** Glue job state changes FAILED/TIMEOUT/ERROR → `alarmTopic`. */
  public readonly glueFailureRule: events.Rule;
  /** Every state change of the Glue job, kept as a log group (when did the job last succeed?). */
  public readonly glueRunHistory: logs.LogGroup;
  public readonly glueRunHistoryRule: events.Rule;
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const t = {
      ingestOffsetLag: props.thresholds?.ingestOffsetLag ?? 50000,
      functionErrors: props.thresholds?.functionErrors ?? 1,
      indexerQueueAgeSeconds: props.thresholds?.indexerQueueAgeSeconds ?? 900,
      searchFreeStorageFraction: props.thresholds?.searchFreeStorageFraction ?? 0.25,
      searchJvmMemoryPressurePercent: props.thresholds?.searchJvmMemoryPressurePercent ?? 95,
      hoursWithoutSuccessfulJobRun: props.thresholds?.hoursWithoutSuccessfulJobRun ?? 3,
      ingestHeartbeatMinutes: props.thresholds?.ingestHeartbeatMinutes ?? 60,
      quarantinePercent: props.thresholds?.quarantinePercent ?? 5,
      indexFreshnessHours: props.thresholds?.indexFreshnessHours ?? 6,
      glueRunsWithoutInputHours: props.thresholds?.glueRunsWithoutInputHours ?? 3,
      searchCpuPercent: props.thresholds?.searchCpuPercent ?? 80,
      searchMasterCpuPercent: props.thresholds?.searchMasterCpuPercent ?? 50,
      search5xxPercent: props.thresholds?.search5xxPercent ?? 10,
    };
    const wholeNumber = (name: keyof typeof t, min: number, max: number, step = 1) => {
      const value = t[name];
      if (!Number.isInteger(value) || value < min || value > max || value % step !== 0) {
        const multiple = step > 1 ? ` that is a multiple of ${step}` : '';
        throw new Error(`PipelineMonitoring: thresholds.${name} must be a whole number from ${min} to ${max}${multiple} (got ${value})`);
      }
    };
    // A 5-minute-period alarm evaluates at most one day (PutMetricAlarm: Period x EvaluationPeriods <= 86,400 s below one hour).
    wholeNumber('ingestHeartbeatMinutes', 10, 1440, 5);
    wholeNumber('quarantinePercent', 1, 100);
    wholeNumber('indexFreshnessHours', 2, 168);
    wholeNumber('glueRunsWithoutInputHours', 1, 24);
    if (t.hoursWithoutSuccessfulJobRun < 1 || t.hoursWithoutSuccessfulJobRun > 168 || !Number.isInteger(t.hoursWithoutSuccessfulJobRun)) {
      // An alarm with hourly periods evaluates at most 7 days (PutMetricAlarm: Period x EvaluationPeriods <= 604,800 s).
      throw new Error(`PipelineMonitoring: thresholds.hoursWithoutSuccessfulJobRun must be a whole number from 1 to 168 (got ${t.hoursWithoutSuccessfulJobRun})`);
    }
    if (!(t.searchFreeStorageFraction > 0 && t.searchFreeStorageFraction < 1)) {
      throw new Error(`PipelineMonitoring: thresholds.searchFreeStorageFraction must be between 0 and 1 (got ${t.searchFreeStorageFraction})`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    // --- Notifications -------------------------------------------------------------------------
    this.alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the clickstream pipeline alarm topic',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Clickstream pipeline alarms',
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
    // The topic's resource policy (TLS deny, publishers below) replaces SNS's default policy, so
    // every publisher is allowed here by name: CloudWatch alarms of this account and region, and
    // the Glue failure rule (below). Each also needs the topic key's data key, under the same
    // source conditions. https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    const alarmArns = stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.allowServiceToPublish('cloudwatch.amazonaws.com', 'CloudWatchAlarms', { ArnLike: { 'aws:SourceArn': alarmArns } });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new cwActions.SnsAction(this.alarmTopic);
    // `runbook`: the docs/operations.md section (its heading, lower-cased, is the anchor); by default the alarm's id.
    const alarm = (alarmId: string, metric: cloudwatch.Metric | cloudwatch.MathExpression, options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'> & { description: string; runbook?: string }) => {
      const { description, runbook, ...rest } = options;
      const anchor = (runbook ?? alarmId).toLowerCase();
      const created = metric.createAlarm(this, alarmId, { alarmDescription: `${description} Runbook: docs/operations.md#${anchor}`, ...rest });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
      this.alarms.push(created);
      return created;
    };
    const fiveMinutes = Duration.minutes(5);
    const oneMinute = Duration.minutes(1);

    // --- Ingest ---------------------------------------------------------------------------------
    // OffsetLag is published by Lambda for Kafka event sources per function (AWS/Lambda,
    // dimension FunctionName); the ingest function has exactly one event source mapping.
    const ingestLag = new cloudwatch.Metric({
      namespace: 'AWS/Lambda', metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: props.ingestFunction.functionName },
      statistic: cloudwatch.Stats.MAXIMUM, period: fiveMinutes,
    });
    alarm('IngestOffsetLag', ingestLag, {
      description: `The ingest consumer group is more than ${t.ingestOffsetLag} records behind the topic for 15 minutes.`,
      threshold: t.ingestOffsetLag, evaluationPeriods: 3, datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.functionAlarms(alarm, 'Ingest', props.ingestFunction, t.functionErrors, fiveMinutes);
    // Messages sent, not queue depth: a second failure while the first notice still waits must alarm again.
    alarm('IngestFailedBatches', props.ingestFailureQueue.metricNumberOfMessagesSent({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }), {
      description: 'A Kafka batch exhausted its retries and was sent to the on-failure destination; replay it.',
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const ingestService = props.ingestServiceName ?? 'ingest';
    const indexerService = props.indexerServiceName ?? 'indexer';
    // A label turns an alarm's metric into a one-element metric query: alarms pass none.
    const custom = (service: string, metricName: string, label?: string, statistic: string = cloudwatch.Stats.SUM, period = fiveMinutes) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service }, statistic, period, label });
    // The ingest function publishes RecordsStored on every invocation that writes its batch (0 when
    // every record was quarantined). No invocation at all (the event source mapping disabled or
    // unable to connect, producers stopped) leaves the metric missing, which counts as breaching.
    const heartbeatPeriods = t.ingestHeartbeatMinutes / 5;
    alarm('IngestHeartbeat', custom(ingestService, PIPELINE_METRIC_NAMES.recordsStored), {
      description: `No record was stored in the raw zone for ${t.ingestHeartbeatMinutes} minutes (no invocation, or every record quarantined).`,
      threshold: 1, evaluationPeriods: heartbeatPeriods, datapointsToAlarm: heartbeatPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const oneHour = Duration.hours(1);
    alarm('IngestQuarantineRatio', new cloudwatch.MathExpression({
      expression: '100 * quarantined / received',
      usingMetrics: {
        quarantined: custom(ingestService, PIPELINE_METRIC_NAMES.recordsQuarantined, 'quarantined', cloudwatch.Stats.SUM, oneHour),
        received: custom(ingestService, PIPELINE_METRIC_NAMES.recordsIn, 'received', cloudwatch.Stats.SUM, oneHour),
      },
      period: oneHour,
      label: 'quarantined (% of received)',
    }), {
      description: `More than ${t.quarantinePercent}% of the records received in an hour were quarantined.`,
      threshold: t.quarantinePercent, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No records received: nothing to judge here (IngestHeartbeat reports it).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // --- Indexing -------------------------------------------------------------------------------
    this.functionAlarms(alarm, 'Indexer', props.indexerFunction, t.functionErrors, fiveMinutes);
    alarm('IndexerQueueAge', props.indexerQueue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period: fiveMinutes }), {
      description: `An aggregate object has waited more than ${t.indexerQueueAgeSeconds} s to be indexed.`,
      threshold: t.indexerQueueAgeSeconds, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The indexer publishes, per indexed object, how old its computation was when indexed. An hour
    // counts as stale when nothing was indexed in it (missing data) or only computations older than
    // the window; all hours of the window stale means the index is at least that many hours behind.
    const indexedAge = custom(indexerService, PIPELINE_METRIC_NAMES.indexedComputationAge, undefined, cloudwatch.Stats.MINIMUM, Duration.hours(1));
    alarm('IndexFreshness', indexedAge, {
      description: `No computation younger than ${t.indexFreshnessHours} hours was indexed in the last ${t.indexFreshnessHours} hours.`,
      threshold: t.indexFreshnessHours * 3600, evaluationPeriods: t.indexFreshnessHours, datapointsToAlarm: t.indexFreshnessHours,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    props.deadLetterQueues.forEach((dlq, i) => {
      alarm(props.deadLetterQueues.length === 1 ? 'DeadLetterMessages' : `DeadLetterMessages${i + 1}`, this.queueDepth(dlq, fiveMinutes), {
        description: `Messages are waiting in the dead-letter queue ${dlq.queueName}; inspect and replay them.`,
        runbook: 'DeadLetterMessages',
        threshold: 1, evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    });

    // --- Search domain (thresholds from "Recommended CloudWatch alarms for Amazon OpenSearch Service")
    const domain = props.searchDomain;
    alarm('SearchClusterRed', domain.metricClusterStatusRed({ statistic: cloudwatch.Stats.MAXIMUM, period: oneMinute }), {
      description: 'A primary shard is unassigned: some aggregates cannot be searched or indexed.',
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('SearchClusterYellow', domain.metricClusterStatusYellow({ statistic: cloudwatch.Stats.MAXIMUM, period: oneMinute }), {
      description: 'A replica shard has been unassigned for 5 minutes: one more node loss loses data.',
      threshold: 1, evaluationPeriods: 5, datapointsToAlarm: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const freeStorageMiB = Math.floor(props.searchVolumeSizeGiB * 1024 * t.searchFreeStorageFraction);
    alarm('SearchLowStorage', domain.metricFreeStorageSpace({ statistic: cloudwatch.Stats.MINIMUM, period: oneMinute }), {
      description: `A search node has ${freeStorageMiB} MiB or less free (${t.searchFreeStorageFraction * 100}% of its volume).`,
      threshold: freeStorageMiB, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('SearchJvmMemoryPressure', domain.metricJVMMemoryPressure({ statistic: cloudwatch.Stats.MAXIMUM, period: oneMinute }), {
      description: `JVM memory pressure of a search node is at or above ${t.searchJvmMemoryPressurePercent}% for 3 minutes.`,
      threshold: t.searchJvmMemoryPressurePercent, evaluationPeriods: 3, datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const fifteenMinutes = Duration.minutes(15);
    const domainMetric = (metricName: string, statistic: string, period: Duration) => domain.metric(metricName, { statistic, period });
    alarm('SearchWritesBlocked', domainMetric('ClusterIndexWritesBlocked', cloudwatch.Stats.MAXIMUM, fiveMinutes), {
      description: 'The domain blocks writes (ClusterBlockException): nothing can be indexed.',
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('SearchSnapshotFailure', domainMetric('AutomatedSnapshotFailure', cloudwatch.Stats.MAXIMUM, oneMinute), {
      description: 'An automated snapshot of the domain failed.',
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('Search5xxErrors', new cloudwatch.MathExpression({
      expression: '100 * errors / requests',
      usingMetrics: {
        errors: domainMetric('5xx', cloudwatch.Stats.SUM, fiveMinutes),
        requests: domainMetric('OpenSearchRequests', cloudwatch.Stats.SUM, fiveMinutes),
      },
      period: fiveMinutes,
      label: '5xx (% of requests)',
    }), {
      description: `At least ${t.search5xxPercent}% of the domain's requests were answered with a 5xx status in 5 minutes.`,
      threshold: t.search5xxPercent, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('SearchCpu', domainMetric('CPUUtilization', cloudwatch.Stats.MAXIMUM, fifteenMinutes), {
      description: `CPU of a search data node is at or above ${t.searchCpuPercent}% for 45 minutes.`,
      threshold: t.searchCpuPercent, evaluationPeriods: 3, datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.searchDedicatedMasterNodes) {
      alarm('SearchMasterCpu', domainMetric('MasterCPUUtilization', cloudwatch.Stats.MAXIMUM, fifteenMinutes), {
        description: `CPU of a dedicated master node is at or above ${t.searchMasterCpuPercent}% for 45 minutes.`,
        threshold: t.searchMasterCpuPercent, evaluationPeriods: 3, datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm('SearchMasterJvmMemoryPressure', domainMetric('MasterJVMMemoryPressure', cloudwatch.Stats.MAXIMUM, oneMinute), {
        description: `JVM memory pressure of a dedicated master node is at or above ${t.searchJvmMemoryPressurePercent}% for 3 minutes.`,
        threshold: t.searchJvmMemoryPressurePercent, evaluationPeriods: 3, datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm('SearchMasterUnreachable', domainMetric('MasterReachableFromNode', cloudwatch.Stats.MAXIMUM, Duration.days(1)), {
        description: 'The master node was unreachable from a node for a whole day (the metric stayed below 1).',
        threshold: 1, evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    // --- Glue job -------------------------------------------------------------------------------
    const glueStateChange = (states?: string[]): events.EventPattern => ({
      source: ['aws.glue'],
      detailType: ['Glue Job State Change'],
      detail: { jobName: [props.glueJobName], ...(states ? { state: states } : {}) },
    });
    this.glueFailureRule = new events.Rule(this, 'GlueJobFailedRule', {
      description: `Notifies the alarm topic when a run of Glue job ${props.glueJobName} fails, times out or errors`,
      eventPattern: glueStateChange(GLUE_FAILURE_STATES),
    });
    const failureMessage = events.RuleTargetInput.fromText(
      `Glue job ${events.EventField.fromPath('$.detail.jobName')} run ${events.EventField.fromPath('$.detail.jobRunId')} ` +
      `ended ${events.EventField.fromPath('$.detail.state')} at ${events.EventField.time}: ` +
      `${events.EventField.fromPath('$.detail.message')}. Runbook: docs/operations.md#gluejobfailed`);
    // Our own target instead of aws-events-targets' SnsTopic, whose grant names no source: only this rule may publish.
    this.glueFailureRule.addTarget({ bind: () => ({ arn: this.alarmTopic.topicArn, input: failureMessage }) });
    // The key policy names the rules of this account and region rather than this rule: the rule
    // references the topic, the topic the key, so the key cannot reference the rule (a cycle).
    const ruleArns = stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' });
    this.allowServiceToPublish('events.amazonaws.com', 'GlueFailureRule',
      { ArnEquals: { 'aws:SourceArn': this.glueFailureRule.ruleArn } }, { ArnLike: { 'aws:SourceArn': ruleArns } });

    // Every state change of the job goes to a log group: the dashboard shows the last runs from
    // it, and metric filters count successes (for the staleness alarm) and failures.
    this.glueRunHistory = new logs.LogGroup(this, 'GlueRunHistory', {
      // The prefix EventBridge's own tooling uses for rule targets.
      logGroupName: `/aws/events/${stack.stackName}/glue-job-runs`,
      retention: props.runHistoryRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy,
    });
    const runHistoryArn = stack.formatArn({
      service: 'logs', resource: 'log-group', resourceName: this.glueRunHistory.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // EventBridge writes to CloudWatch Logs under a resource policy of the log group. A plain
    // resource policy here instead of the CloudWatchLogGroup target, which installs an extra
    // Lambda-backed custom resource to do the same.
    this.glueRunHistoryRule = new events.Rule(this, 'GlueRunHistoryRule', {
      description: `Keeps every state change of Glue job ${props.glueJobName} in a log group`,
      eventPattern: glueStateChange(),
    });
    // The rule's ARN is in the request context of PutLogEvents only, so CreateLogStream is limited
    // to this account (the split AWS's EventBridge-to-CloudWatch-Logs examples use).
    const historyWriters = [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')];
    new logs.ResourcePolicy(this, 'GlueRunHistoryPolicy', {
      policyStatements: [
        new iam.PolicyStatement({
          sid: 'EventBridgeCreatesGlueRunHistoryStreams',
          principals: historyWriters,
          actions: ['logs:CreateLogStream'],
          resources: [this.glueRunHistory.logGroupArn],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
        new iam.PolicyStatement({
          sid: 'EventBridgeWritesGlueRunHistory',
          principals: historyWriters,
          actions: ['logs:PutLogEvents'],
          resources: [this.glueRunHistory.logGroupArn],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnEquals: { 'aws:SourceArn': this.glueRunHistoryRule.ruleArn } },
        }),
      ],
    });
    this.glueRunHistoryRule.addTarget({ bind: () => ({ arn: runHistoryArn }) });

    const succeededRuns = new logs.MetricFilter(this, 'GlueRunsSucceededFilter', {
      logGroup: this.glueRunHistory,
      filterPattern: logs.FilterPattern.stringValue('$.detail.state', '=', 'SUCCEEDED'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: PIPELINE_METRIC_NAMES.glueRunsSucceeded,
      metricValue: '1',
      unit: cloudwatch.Unit.COUNT,
    });
    const failedRuns = new logs.MetricFilter(this, 'GlueRunsFailedFilter', {
      logGroup: this.glueRunHistory,
      filterPattern: logs.FilterPattern.any(...GLUE_FAILURE_STATES.map((s) => logs.FilterPattern.stringValue('$.detail.state', '=', s))),
      metricNamespace: METRICS_NAMESPACE,
      metricName: PIPELINE_METRIC_NAMES.glueRunsFailed,
      metricValue: '1',
      unit: cloudwatch.Unit.COUNT,
    });
    // One datapoint per hour (successes in that hour); N hours in a row without one alarm.
    alarm('GlueJobStale', succeededRuns.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.hours(1) }), {
      description: `No run of Glue job ${props.glueJobName} succeeded in the last ${t.hoursWithoutSuccessfulJobRun} hours.`,
      threshold: 1, evaluationPeriods: t.hoursWithoutSuccessfulJobRun, datapointsToAlarm: t.hoursWithoutSuccessfulJobRun,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      // No success event at all is exactly the case to report.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    if (props.glueOutputLogGroup) {
      const runsWithoutInput = new logs.MetricFilter(this, 'GlueRunsWithoutInputFilter', {
        logGroup: props.glueOutputLogGroup,
        filterPattern: logs.FilterPattern.literal(`"${GLUE_NO_INPUT_LOG_LINE}"`),
        metricNamespace: METRICS_NAMESPACE,
        metricName: PIPELINE_METRIC_NAMES.glueRunsWithoutInput,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      // An hour is suspicious when a run found nothing to do although ingest stored records in it.
      const hours = t.glueRunsWithoutInputHours;
      alarm('GlueRunsWithoutInput', new cloudwatch.MathExpression({
        expression: 'IF(FILL(noInput, 0) > 0 AND FILL(stored, 0) > 0, 1, 0)',
        usingMetrics: {
          noInput: runsWithoutInput.metric({ statistic: cloudwatch.Stats.SUM, period: oneHour }),
          stored: custom(ingestService, PIPELINE_METRIC_NAMES.recordsStored, 'stored', cloudwatch.Stats.SUM, oneHour),
        },
        period: oneHour,
        label: 'runs without input while records were stored',
      }), {
        description: `For ${hours} hours in a row, Glue job ${props.glueJobName} found no changed input while the raw zone received records.`,
        threshold: 1, evaluationPeriods: hours, datapointsToAlarm: hours,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    // --- Dashboard ------------------------------------------------------------------------------
    const glueElapsed = new cloudwatch.Metric({
      // Glue job metrics (--enable-metrics): elapsed time of each run, in milliseconds.
      namespace: 'Glue', metricName: 'glue.driver.aggregate.elapsedTime',
      dimensionsMap: { JobName: props.glueJobName, JobRunId: 'ALL', Type: 'count' },
      statistic: cloudwatch.Stats.MAXIMUM, period: Duration.hours(1), label: 'run duration (ms)',
    });
    const functionGraph = (title: string, fn: lambda.IFunction) => new cloudwatch.GraphWidget({
      title, width: 8, height: 6,
      left: [fn.metricInvocations({ period: fiveMinutes }), fn.metricErrors({ period: fiveMinutes }), fn.metricThrottles({ period: fiveMinutes })],
      right: [fn.metricDuration({ statistic: cloudwatch.Stats.p(99), period: fiveMinutes, label: 'duration p99 (ms)' })],
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${stack.stackName}-pipeline-health`,
      defaultInterval: Duration.hours(24),
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard with the pipeline health (docs/operations.md)',
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic every alarm and failed Glue run notifies; subscribe more addresses to it',
      value: this.alarmTopic.topicArn,
    });
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Ingest: Kafka → raw zone', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Records in, stored, quarantined', width: 8, height: 6,
        left: [
          custom(ingestService, PIPELINE_METRIC_NAMES.recordsIn, 'in'),
          custom(ingestService, PIPELINE_METRIC_NAMES.recordsStored, 'stored'),
          custom(ingestService, PIPELINE_METRIC_NAMES.recordsQuarantined, 'quarantined'),
        ],
      }),
      new cloudwatch.GraphWidget({ title: 'Kafka offset lag (records)', width: 8, height: 6, left: [ingestLag.with({ label: 'records behind' })],
        leftAnnotations: [{ value: t.ingestOffsetLag, label: 'alarm', color: cloudwatch.Color.RED }] }),
      functionGraph('Ingest function', props.ingestFunction),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Processing: Glue aggregation job', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Job run duration', width: 8, height: 6, left: [glueElapsed] }),
      new cloudwatch.GraphWidget({
        title: 'Job runs', width: 8, height: 6,
        left: [
          succeededRuns.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.hours(1), label: 'succeeded' }),
          failedRuns.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.hours(1), label: 'failed, timed out or errored' }),
        ],
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Last job runs (last success = newest SUCCEEDED)', width: 8, height: 6,
        logGroupNames: [this.glueRunHistory.logGroupName],
        queryLines: [
          'fields @timestamp, detail.state as state, detail.jobRunId as run, detail.message as message',
          'sort @timestamp desc',
          'limit 20',
        ],
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Serving: aggregates → OpenSearch', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Documents indexed', width: 8, height: 6,
        left: [custom(indexerService, PIPELINE_METRIC_NAMES.documentsIndexed, 'documents')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Indexer queue and dead letters', width: 8, height: 6,
        left: [
          props.indexerQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: fiveMinutes, label: 'waiting' }),
          ...props.deadLetterQueues.map((q, i) => this.queueDepth(q, fiveMinutes, `dead letters ${i + 1}`)),
          this.queueDepth(props.ingestFailureQueue, fiveMinutes, 'failed Kafka batches'),
        ],
        right: [props.indexerQueue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period: fiveMinutes, label: 'oldest (s)' })],
      }),
      functionGraph('Indexer function', props.indexerFunction),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Search domain', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Cluster status', width: 8, height: 6,
        left: [domain.metricClusterStatusRed({ label: 'red' }), domain.metricClusterStatusYellow({ label: 'yellow' })],
      }),
      new cloudwatch.GraphWidget({ title: 'Free storage (MiB, emptiest node)', width: 8, height: 6,
        left: [domain.metricFreeStorageSpace()], leftAnnotations: [{ value: freeStorageMiB, label: 'alarm', color: cloudwatch.Color.RED }] }),
      new cloudwatch.GraphWidget({ title: 'JVM memory pressure (%)', width: 8, height: 6,
        left: [domain.metricJVMMemoryPressure()], leftAnnotations: [{ value: t.searchJvmMemoryPressurePercent, label: 'alarm', color: cloudwatch.Color.RED }] }),
    );
  }

  /**
   * Lets a service principal publish to the alarm topic and use the topic key's data key, both
   * only from this account and with the given source conditions (the key's may be wider).
   */
  private allowServiceToPublish(
    service: string, sidSuffix: string,
    sourceCondition: Record<string, Record<string, string>>, keySourceCondition: Record<string, Record<string, string>> = sourceCondition,
  ): void {
    const account = Stack.of(this).account;
    const conditions = { StringEquals: { 'aws:SourceAccount': account }, ...sourceCondition };
    const keyConditions = { StringEquals: { 'aws:SourceAccount': account }, ...keySourceCondition };
    const principals = [new iam.ServicePrincipal(service)];
    this.alarmTopic.addToResourcePolicy(new iam.PolicyStatement({
      sid: `${sidSuffix}PublishToAlarmTopic`, principals, actions: ['sns:Publish'], resources: [this.alarmTopic.topicArn], conditions,
    }));
    this.alarmTopicKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: `${sidSuffix}UseAlarmTopicKey`, principals, actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'], // in a key policy, "*" is this key
      conditions: keyConditions,
    }));
  }

  private queueDepth(queue: sqs.IQueue, period: Duration, label?: string): cloudwatch.Metric {
    return queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period, label });
  }

  private functionAlarms(
    alarm: (id: string, metric: cloudwatch.Metric, options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'> & { description: string }) => cloudwatch.Alarm,
    name: string, fn: lambda.IFunction, threshold: number, period: Duration,
  ): void {
    const common = {
      threshold, evaluationPeriods: 3, datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    alarm(`${name}Errors`, fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period }), {
      description: `The ${name.toLowerCase()} function failed in 2 of the last 3 five-minute periods.`, ...common,
    });
    alarm(`${name}Throttles`, fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period }), {
      description: `The ${name.toLowerCase()} function was throttled in 2 of the last 3 five-minute periods.`, ...common,
    });
  }
}
