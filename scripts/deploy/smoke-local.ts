/**
 * `npm run smoke -- --local`: the smoke test's steps against the local stack (local-stack/: Kafka,
 * the S3 server, OpenSearch, local Spark), driven by the local pipeline's own stage functions
 * (local/pipeline.ts, local/stages.ts): the run's topic, buckets and aliases set up, produce to
 * Kafka, the local MSK event source mapping with the ingest handler, the Glue script on local Spark
 * for today, the local S3 notifier with the indexer handler, and the served rows of every table
 * read back. The run gets its own topic,
 * consumer group, buckets and OpenSearch aliases (all named after its marker: the alias prefix is
 * the marker, so its indices and computations ledger are its own and nothing it indexes can touch
 * another pipeline's rows), so every row it reads is its own and must match the plan exactly. It
 * removes its topic, consumer group, buckets, indices and index templates at the end.
 */
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import {
  createClients,
  exportHandlerEnvironment,
  produceStage,
  setupResources,
  type PipelineClients,
} from '../../local/pipeline';
import { allAliases, TABLE_NAMES, tableAlias, type TableName } from '../../lambdas/indexer/tables';
import { indexNames } from '../../opensearch/index-template';
import { deleteAliasIndices, deletePrefix, listKeys, readNdjsonGz, settingsFromEnv, type PipelineSettings } from '../../local/resources';
import { runAggregateStage, runIndexStage, runIngestStage } from '../../local/stages';
import type { ClickMessage } from '../../local/generator';
import { compareTable, planSmoke, runSmoke, totalClicks, type PlanOptions, type SmokePlan, type SmokeReport, type SmokeStep } from './smoke-core';
import { servedTableRows } from './smoke-served';

export interface LocalSmokeOptions extends PlanOptions {
  readonly log?: (line: string) => void;
  /** Keep the run's topic, buckets and rows (to look at them). @default false */
  readonly keep?: boolean;
}

export interface LocalSmokeResult {
  readonly plan: SmokePlan;
  readonly report: SmokeReport;
  /** What each stage counted for the run's marker; `served`: clicks of `url_country_daily`; `rows`: rows read per table. */
  readonly counts: { produced: number; stored: number; served: number; rows: Partial<Record<TableName, number>> };
}

export function localSmokeSettings(plan: SmokePlan, env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  return {
    ...settingsFromEnv(env),
    topic: plan.marker,
    partitions: 3,
    consumerGroup: plan.marker,
    rawBucket: `${plan.marker}-raw`,
    aggregatesBucket: `${plan.marker}-aggregates`,
    aliasPrefix: plan.marker,
  };
}

export async function runLocalSmoke(options: LocalSmokeOptions = {}): Promise<LocalSmokeResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const plan = planSmoke({ ...options, partitions: 3 });
  const settings = localSmokeSettings(plan);
  exportHandlerEnvironment(settings);
  const clients = createClients(settings);
  const counts: LocalSmokeResult['counts'] = { produced: 0, stored: 0, served: 0, rows: {} };
  let until = new Map<number, number>();
  let newKeys: string[] = [];
  log(`smoke test of the local stack: ${plan.clicks.length} clicks marked ${plan.marker}, event date ${plan.date}`);

  const steps: SmokeStep[] = [
    {
      name: 'set up',
      logs: 'bash local-stack/stack.sh status (Kafka, the S3 server and OpenSearch must be running)',
      run: async () => {
        const setup = await setupResources(clients, settings, false);
        return `topic ${settings.topic} (${setup.topic}), ${Object.entries(setup.buckets).map(([bucket, state]) => `bucket ${bucket} (${state})`).join(', ')}, ${setup.index}`;
      },
    },
    {
      name: 'produce',
      logs: `the local stack's Kafka log (bash local-stack/stack.sh status), topic ${settings.topic}`,
      run: async () => {
        const messages: ClickMessage[] = plan.clicks.map((c) => ({ partition: c.partition, key: c.key, value: Buffer.from(c.value), timestamp: c.timestamp, kind: 'valid' }));
        const produced = await produceStage(clients, settings, messages);
        until = produced.after;
        counts.produced = produced.produced.length;
        return `${counts.produced} clicks to topic ${settings.topic}`;
      },
    },
    {
      name: 'raw zone',
      logs: `the ingest lines above and local-output/${settings.consumerGroup}-on-failure.ndjson`,
      run: async () => {
        await runIngestStage({ settings, until, log: () => undefined });
        counts.stored = await markedRawEvents(clients, settings, plan);
        if (counts.stored !== plan.clicks.length) throw new Error(`${counts.stored} of ${plan.clicks.length} clicks in s3://${settings.rawBucket}/events/dt=${plan.date}/`);
        return `${counts.stored} events in s3://${settings.rawBucket}/events/dt=${plan.date}/`;
      },
    },
    {
      name: 'aggregate',
      logs: 'the Spark job\'s output (local/glue-job.ts runs glue-scripts/aggregate_clicks.py)',
      run: async () => {
        const before = new Map((await listKeys(clients.s3, settings.aggregatesBucket, 'aggregates/')).map((k) => [k.key, k.etag]));
        const lines: string[] = [];
        const result = await runAggregateStage({ settings, log: () => undefined, dates: [plan.date], onOutput: (line) => lines.push(line) })
          .catch((error: Error) => { throw new Error(`${error.message}\n${lines.slice(-20).join('\n')}`); });
        newKeys = (await listKeys(clients.s3, settings.aggregatesBucket, 'aggregates/')).filter((k) => before.get(k.key) !== k.etag).map((k) => k.key);
        if (!result.datesWritten.includes(plan.date)) throw new Error(`the job wrote dates [${result.datesWritten.join(', ')}], not ${plan.date}`);
        return `run for ${plan.date}: ${result.rowsWritten} rows in ${newKeys.length} new objects`;
      },
    },
    {
      name: 'index',
      logs: 'local-output/indexer-dlq.ndjson and the indexer lines above',
      run: async () => {
        const index = await runIndexStage({ settings, bucket: settings.aggregatesBucket, keys: newKeys, log });
        return `${index.notifications} notifications delivered to the indexer`;
      },
    },
    ...TABLE_NAMES.map((table): SmokeStep => {
      const alias = tableAlias(table, settings.aliasPrefix);
      return {
        name: `served ${table}`,
        logs: `the indexer lines above, local-output/indexer-dlq.ndjson, and the rows of alias ${alias} (--keep keeps them)`,
        run: async () => {
          const rows = await servedTableRows(clients.openSearch, alias, plan, { table, shared: false });
          counts.rows[table] = rows.length;
          if (table === 'url_country_daily') counts.served = totalClicks(rows);
          const problems = compareTable(plan, table, rows, true);
          if (problems.length > 0) throw new Error(`${problems.length} rows of ${alias} differ from the plan: ${problems.slice(0, 5).join('; ')}`);
          return `${rows.length} rows in ${alias}, as planned`;
        },
      };
    }),
  ];
  let report: SmokeReport;
  try {
    report = await runSmoke(steps, log);
  } finally {
    if (!options.keep) await cleanUp(clients, settings, log);
  }
  return { plan, report, counts };
}

/** Canonical events of the run's date whose URL carries the marker. */
async function markedRawEvents(clients: PipelineClients, settings: PipelineSettings, plan: SmokePlan): Promise<number> {
  const lines = await readNdjsonGz(clients.s3, settings.rawBucket, `events/dt=${plan.date}/`);
  return lines.filter(({ line }) => String(line.url ?? '').includes(`/${plan.marker}/`)).length;
}

async function cleanUp(clients: PipelineClients, settings: PipelineSettings, log: (line: string) => void): Promise<void> {
  const tasks: Array<[string, () => Promise<unknown>]> = [
    ['indices and index templates', async () => {
      for (const alias of allAliases(settings.aliasPrefix)) {
        await deleteAliasIndices(clients.openSearch, alias);
        await clients.openSearch.transport.request({ method: 'DELETE', path: `/_index_template/${indexNames(alias).templateName}` }, { ignore: [404] });
      }
    }],
    ['topic', async () => {
      const admin = clients.kafka.admin();
      await admin.connect();
      try {
        await admin.deleteGroups([settings.consumerGroup]).catch(() => undefined);
        await admin.deleteTopics({ topics: [settings.topic] });
      } finally {
        await admin.disconnect();
      }
    }],
    ...[settings.rawBucket, settings.aggregatesBucket].map((bucket): [string, () => Promise<unknown>] => [`bucket ${bucket}`, async () => {
      await deletePrefix(clients.s3, bucket, '');
      await clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    }]),
  ];
  for (const [what, task] of tasks) {
    await task().catch((error: Error) => log(`  (cleanup: could not remove the run's ${what}: ${error.message})`));
  }
}
