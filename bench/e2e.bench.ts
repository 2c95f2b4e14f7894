/**
 * End-to-end time of the local pipeline, split by stage, for 100,000 and 1,000,000 generated
 * events, each stage beside a baseline measured in the same run on the same data:
 *
 *   ingest   (local MSK poller + ingest handler + S3)  vs  a kafkajs consumer that only reads the messages
 *   aggregate (local Spark + the Glue job, all five tables of SPEC §3)  vs  a Spark job that only reads and counts the raw zone
 *   index    (S3 notifications + indexer handler + OpenSearch, every table's objects into its alias)  vs  a plain _bulk of the same rows
 *
 *   npx tsx bench/e2e.bench.ts [sizes=100000,1000000]
 *
 * Fresh, uniquely named topic, buckets and aliases per size; they are deleted afterwards.
 */
import { execFile, spawn } from 'child_process';
import { randomUUID } from 'crypto';
import { resolve } from 'path';
import { generateClicks } from '../local/generator';
import {
  ALL_AGGREGATES_PREFIX,
  countLines,
  createClients,
  exportHandlerEnvironment,
  produceStage,
  setupResources,
  type PipelineClients,
} from '../local/pipeline';
import { aliasOf, countDocuments, deleteAliasIndices, deletePrefix, getBytes, listKeys, settingsFromEnv, type PipelineSettings } from '../local/resources';
import { allAliases, TABLE_NAMES } from '../lambdas/indexer/tables';
import { runAggregateStage, runIndexStage, runIngestStage } from '../local/stages';

const SIZES = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const repoRoot = resolve(__dirname, '..');

const seconds = (start: number) => (Date.now() - start) / 1000;
const fmt = (s: number) => `${s.toFixed(1)} s`;

/** Reads every message of the topic with a plain consumer: the least an ingest could do. */
async function consumeOnly(clients: PipelineClients, settings: PipelineSettings, until: Map<number, number>): Promise<number> {
  const consumer = clients.kafka.consumer({ groupId: `bench-consume-only-${randomUUID()}`, maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: settings.topic, fromBeginning: true });
  const remaining = new Map(until);
  let count = 0;
  await new Promise<void>((done, fail) => {
    consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        count += batch.messages.length;
        const last = batch.messages.length ? Number(batch.messages[batch.messages.length - 1].offset) : -1;
        if (last + 1 >= (until.get(batch.partition) ?? 0)) remaining.delete(batch.partition);
        if (remaining.size === 0) done();
      },
    }).catch(fail);
  });
  await consumer.disconnect();
  return count;
}

function sparkReadRaw(settings: PipelineSettings): Promise<number> {
  return new Promise((ok, fail) => {
    execFile('bash', [resolve(repoRoot, 'local-stack/spark/submit.sh'), resolve(repoRoot, 'bench/support/spark_read_raw.py'), `s3a://${settings.rawBucket}/events/`],
      { maxBuffer: 64 * 1024 * 1024, env: process.env }, (error, stdout, stderr) => {
        if (error) return fail(new Error(`spark baseline failed: ${error.message}\n${stderr.slice(-3000)}`));
        const m = /rows=(\d+)/.exec(stdout);
        if (!m) return fail(new Error(`spark baseline printed no row count:\n${stdout}`));
        ok(Number(m[1]));
      });
  });
}

/** Plain _bulk of the rows into a scratch index, 5,000 per request. */
async function plainBulk(clients: PipelineClients, rows: string[], index: string): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const body = rows.slice(i, i + 5000).flatMap((r) => [JSON.stringify({ index: { _index: index } }), r]).join('\n') + '\n';
    const res = await clients.openSearch.transport.request({ method: 'POST', path: '/_bulk', body, querystring: { refresh: 'false' } });
    if ((res.body as { errors?: boolean }).errors) throw new Error('baseline bulk had errors');
  }
  await clients.openSearch.indices.refresh({ index });
}

interface Line { stage: string; seconds: number; baseline?: string; baselineSeconds?: number }

async function benchOne(n: number): Promise<Line[]> {
  const id = `bench-e2e-${n}-${Date.now().toString(36)}`;
  const settings: PipelineSettings = {
    ...settingsFromEnv(),
    topic: id,
    consumerGroup: `${id}-ingest`,
    rawBucket: `${id}-raw`,
    aggregatesBucket: `${id}-agg`,
    aliasPrefix: id,
  };
  exportHandlerEnvironment(settings);
  const clients = createClients(settings);
  const log = (line: string) => console.log(`  [${n}] ${line.trim()}`);
  const lines: Line[] = [];
  try {
    await setupResources(clients, settings, false);
    let t = Date.now();
    const messages = generateClicks({ count: n, seed: `bench-${n}`, partitions: settings.partitions });
    log(`generated ${n} messages in ${fmt(seconds(t))}`);
    const wellFormed = messages.filter((m) => !m.kind.startsWith('malformed')).length;

    t = Date.now();
    const produced = await produceStage(clients, settings, messages);
    lines.push({ stage: 'produce', seconds: seconds(t) });
    log(`produce ${fmt(seconds(t))}`);

    t = Date.now();
    await runIngestStage({ settings, until: produced.after, log: () => undefined });
    const ingestS = seconds(t);
    t = Date.now();
    const consumed = await consumeOnly(clients, settings, produced.after);
    if (consumed < n) throw new Error(`consume-only baseline read ${consumed} of ${n} messages`);
    lines.push({ stage: 'ingest', seconds: ingestS, baseline: 'consume only', baselineSeconds: seconds(t) });
    log(`ingest ${fmt(ingestS)} (consume only ${fmt(seconds(t))})`);

    t = Date.now();
    const before = new Set((await listKeys(clients.s3, settings.aggregatesBucket, ALL_AGGREGATES_PREFIX)).map((k) => k.key));
    await runAggregateStage({ settings, log: () => undefined });
    const aggregateS = seconds(t);
    const newKeys = (await listKeys(clients.s3, settings.aggregatesBucket, ALL_AGGREGATES_PREFIX)).map((k) => k.key).filter((k) => !before.has(k));
    const partKeys = newKeys.filter((k) => /\/part-[^/]+\.json$/.test(k));
    const tablesWritten = new Set(partKeys.map((k) => k.split('/')[1]));
    if (tablesWritten.size !== TABLE_NAMES.length) throw new Error(`the job wrote ${[...tablesWritten].join(', ') || 'no table'}, not all of ${TABLE_NAMES.join(', ')}`);
    t = Date.now();
    const rawRows = await sparkReadRaw(settings);
    // A wrong raw zone (e.g. another run's bucket) would make every figure after the ingest meaningless.
    if (rawRows !== wellFormed) throw new Error(`the raw zone holds ${rawRows} rows, but ${wellFormed} of the messages are well-formed`);
    lines.push({ stage: 'aggregate', seconds: aggregateS, baseline: 'Spark read + count', baselineSeconds: seconds(t) });
    log(`aggregate ${fmt(aggregateS)} (Spark read + count ${fmt(seconds(t))}); raw zone: ${rawRows} rows; ${partKeys.length} aggregate objects in ${tablesWritten.size} tables`);

    t = Date.now();
    await runIndexStage({ settings, bucket: settings.aggregatesBucket, keys: newKeys, log: () => undefined, deadLetterFile: resolve(repoRoot, 'local-output', `${id}-dlq.ndjson`) });
    const indexS = seconds(t);
    // Every table's alias holds exactly the rows of that table's objects.
    let served = 0;
    for (const table of TABLE_NAMES) {
      const rows = await countLines(clients.s3, settings.aggregatesBucket, partKeys.filter((k) => k.startsWith(`aggregates/${table}/`)));
      const documents = await countDocuments(clients.openSearch, aliasOf(settings, table));
      if (documents !== rows) throw new Error(`${aliasOf(settings, table)} holds ${documents} documents, the ${table} objects ${rows} rows`);
      served += documents;
    }
    const rowTexts: string[] = [];
    for (const key of partKeys) {
      for (const line of (await getBytes(clients.s3, settings.aggregatesBucket, key)).toString('utf8').split('\n')) if (line.trim()) rowTexts.push(line);
    }
    const scratch = `${id}-baseline`;
    t = Date.now();
    await plainBulk(clients, rowTexts, scratch);
    const bulkS = seconds(t);
    lines.push({ stage: 'index', seconds: indexS, baseline: 'plain _bulk', baselineSeconds: bulkS });
    await clients.openSearch.indices.delete({ index: scratch });
    log(`index ${fmt(indexS)} (plain _bulk ${fmt(bulkS)}); ${served} documents indexed in ${TABLE_NAMES.length} aliases`);
    return lines;
  } finally {
    for (const alias of allAliases(settings.aliasPrefix)) await deleteAliasIndices(clients.openSearch, alias).catch(() => undefined);
    for (const b of [settings.rawBucket, settings.aggregatesBucket]) await deletePrefix(clients.s3, b, '').catch(() => undefined);
    const admin = clients.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [settings.topic] }).catch(() => undefined);
    await admin.disconnect();
    clients.s3.destroy();
    await clients.openSearch.close();
  }
}

/**
 * Several sizes run one after the other, each in a process of its own: the handlers read their
 * configuration (bucket names) when their module is loaded, so a second size in the same process
 * would write into the first size's buckets.
 */
function runSizesInChildren(): Promise<void> {
  return SIZES.reduce<Promise<void>>(
    (previous, n) =>
      previous.then(
        () =>
          new Promise<void>((ok, fail) => {
            const child = spawn(process.execPath, [...process.execArgv, __filename, String(n)], { stdio: 'inherit', env: process.env });
            child.on('error', fail);
            child.on('exit', (code, signal) => (code === 0 ? ok() : fail(new Error(`the ${n}-event run failed (exit code ${code}, signal ${signal})`))));
          }),
      ),
    Promise.resolve(),
  );
}

async function main(): Promise<void> {
  if (SIZES.length > 1) return runSizesInChildren();
  const results: Array<[number, Line[]]> = [];
  for (const n of SIZES) results.push([n, await benchOne(n)]);
  console.log('\nEnd-to-end pipeline on this machine (time per stage; ratio = stage / baseline on the same data)');
  for (const [n, lines] of results) {
    const total = lines.reduce((s, l) => s + l.seconds, 0);
    const baselines = lines.reduce((s, l) => s + (l.baselineSeconds ?? l.seconds), 0);
    console.log(`\n${n.toLocaleString('en-US')} events: ${fmt(total)} end to end (${Math.round(n / total).toLocaleString('en-US')} events/s)`);
    for (const l of lines) {
      const ratio = l.baselineSeconds ? `  baseline ${l.baseline}: ${fmt(l.baselineSeconds)}  ratio ${(l.seconds / l.baselineSeconds).toFixed(2)}` : '';
      console.log(`  ${l.stage.padEnd(10)} ${fmt(l.seconds).padStart(9)}${ratio}`);
    }
    console.log(`  ${'total'.padEnd(10)} ${fmt(total).padStart(9)}  baselines: ${fmt(baselines)}  ratio ${(total / baselines).toFixed(2)}`);
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
