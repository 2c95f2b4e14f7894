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
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
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
  /** Metric filter on the Glue run history: one per SUCCEEDED run. */
  glueRunsSucceeded: 'GlueJobRunsSucceeded',
  /** Metric filter on the Glue run history: one per FAILED, TIMEOUT or ERROR run. */
  glueRunsFailed: 'GlueJobRunsFailed',
} as const;

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
    };
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
    // CloudWatch (alarms) and EventBridge (Glue rule) publish to the encrypted topic, so they
    // need the data key; only from this account.
    for (const service of ['cloudwatch.amazonaws.com', 'events.amazonaws.com']) {
      this.alarmTopicKey.addToResourcePolicy(new iam.PolicyStatement({
        sid: `Allow${service.split('.')[0]}ToPublishToAlarmTopic`,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }));
    }
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Clickstream pipeline alarms',
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new cwActions.SnsAction(this.alarmTopic);
    // `runbook`: the docs/operations.md section (its heading, lower-cased, is the anchor); by default the alarm's id.
    const alarm = (alarmId: string, metric: cloudwatch.Metric, options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'> & { description: string; runbook?: string }) => {
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
    alarm('IngestFailedBatches', this.queueDepth(props.ingestFailureQueue, fiveMinutes), {
      description: 'A Kafka batch exhausted its retries and was sent to the on-failure destination; replay it.',
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
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
    this.glueFailureRule.addTarget(new eventsTargets.SnsTopic(this.alarmTopic, {
      message: events.RuleTargetInput.fromText(
        `Glue job ${events.EventField.fromPath('$.detail.jobName')} run ${events.EventField.fromPath('$.detail.jobRunId')} ` +
        `ended ${events.EventField.fromPath('$.detail.state')} at ${events.EventField.time}: ` +
        `${events.EventField.fromPath('$.detail.message')}. Runbook: docs/operations.md#gluejobfailed`),
    }));

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
    new logs.ResourcePolicy(this, 'GlueRunHistoryPolicy', {
      policyStatements: [new iam.PolicyStatement({
        sid: 'EventBridgeWritesGlueRunHistory',
        principals: [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.glueRunHistory.logGroupArn],
      })],
    });
    this.glueRunHistoryRule = new events.Rule(this, 'GlueRunHistoryRule', {
      description: `Keeps every state change of Glue job ${props.glueJobName} in a log group`,
      eventPattern: glueStateChange(),
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

    // --- Dashboard ------------------------------------------------------------------------------
    const custom = (service: string, metricName: string, label: string) => new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service }, statistic: cloudwatch.Stats.SUM, period: fiveMinutes, label,
    });
    const ingestService = props.ingestServiceName ?? 'ingest';
    const indexerService = props.indexerServiceName ?? 'indexer';
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
