/**
 * End to end through the real local engines (Kafka, the S3 server, local Spark, OpenSearch) with
 * the production code of every stage, against an independent computation (local/expected.ts):
 *
 * 1. A generated stream is produced; the ingest handler crashes in the middle of a batch (after
 *    some of its objects were written) and the batch is redelivered. Every produced message is
 *    then in the raw zone or in quarantine, exactly once, and exactly the SPEC-valid ones are stored.
 * 2. The Spark job runs; then it runs again as after a crash before it saved its state, so the
 *    same dates are computed twice (that a run with no new input writes nothing is tested by
 *    test/python/test_aggregate_job.py; one Spark run fewer here).
 *    The indexer receives the second run's notifications, then the first run's (out of order: those
 *    objects were replaced), then the second run's again (duplicates). OpenSearch then holds
 *    exactly the expected rows.
 * 3. A second, smaller stream (recent events and a late one) is processed incrementally: only the
 *    dates it touches (and the day before) are recomputed, and OpenSearch equals the expectation
 *    over both streams.
 * 4. The HTML report of what OpenSearch holds opens in headless Chromium and shows its charts;
 *    the screenshot is kept in test-artifacts/.
 */
import { execFile } from 'child_process';
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { computeExpected, diffRows, type Expectation, type ProducedMessage } from '../../local/expected';
import { generateClicks, type ClickMessage } from '../../local/generator';
import {
  AGGREGATES_PREFIX,
  createClients,
  exportHandlerEnvironment,
  produceStage,
  readRawZone,
  setupResources,
  type PipelineClients,
} from '../../local/pipeline';
import { renderHtmlReport, topPagesByCountryFromRows } from '../../local/report';
import { aliasOf, fetchAllRows, listKeys, settingsFromEnv, type PipelineSettings } from '../../local/resources';
import type { IndexRunnerArgs, IngestRunnerArgs } from '../../local/stage-runner';
import { runAggregateStage, type IndexStageResult, type IngestStageResult } from '../../local/stages';
import { ensureEngines, uniqueName } from '../support/engines';
import { dumpDom, pngSize, screenshot } from './chromium';

const REPO = resolve(__dirname, '..', '..');
const ARTIFACTS = join(REPO, 'test-artifacts');
const quiet = () => undefined;

/**
 * The ingest and index stages load the production handlers, which use middy 6 (an ES module
 * jest cannot require): they run in a tsx child process, as under `npm run local`.
 */
function runStage(stage: 'ingest', args: IngestRunnerArgs): Promise<IngestStageResult & { crashed: number }>;
function runStage(stage: 'index', args: IndexRunnerArgs): Promise<IndexStageResult>;
function runStage(stage: string, args: unknown): Promise<unknown> {
  return new Promise((done, fail) => {
    execFile('npx', ['tsx', 'local/stage-runner.ts', stage, JSON.stringify(args)], {
      cwd: REPO,
      timeout: 10 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`${stage} stage failed: ${error.message}\n${stderr.slice(-4000)}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        done(JSON.parse(last));
      } catch {
        fail(new Error(`${stage} stage printed no result:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

let settings: PipelineSettings;
let clients: PipelineClients;
const producedSoFar: ProducedMessage[] = [];
let firstStream: { messages: ClickMessage[]; before: Map<number, number>; after: Map<number, number> };

function expectation(): Expectation {
  return computeExpected(producedSoFar);
}

async function aggregateObjects(s3: S3Client): Promise<Map<string, string | undefined>> {
  const keys = await listKeys(s3, settings.aggregatesBucket, AGGREGATES_PREFIX);
  return new Map(keys.map((k) => [k.key, k.etag]));
}

function changedKeys(before: Map<string, string | undefined>, after: Map<string, string | undefined>): string[] {
  return [...after].filter(([key, etag]) => before.get(key) !== etag).map(([key]) => key);
}

const partFiles = (keys: Iterable<string>) => [...keys].filter((k) => /\/part-[^/]+\.json$/.test(k));
const dateOf = (key: string) => /event_date=(\d{4}-\d{2}-\d{2})\//.exec(key)![1];

beforeAll(async () => {
  await ensureEngines(['kafka', 's3', 'opensearch', 'spark']);
  const name = uniqueName('e2e');
  settings = {
    ...settingsFromEnv(),
    topic: name,
    consumerGroup: `${name}-ingest`,
    rawBucket: `${name}-raw`,
    aggregatesBucket: `${name}-agg`,
    aliasPrefix: name,
  };
  exportHandlerEnvironment(settings);
  clients = createClients(settings);
  await setupResources(clients, settings, false);
}, 15 * 60_000);

afterAll(async () => {
  clients?.s3.destroy();
  await clients?.openSearch.close();
});

describe('the local pipeline, end to end', () => {
  it('stores every produced message exactly once in the raw zone or in quarantine, across a crash mid-batch', async () => {
    const messages = generateClicks({ count: 3000, seed: 'e2e-first', days: 3, partitions: settings.partitions });
    const produced = await produceStage(clients, settings, messages);
    producedSoFar.push(...produced.produced);
    firstStream = { messages, before: produced.before, after: produced.after };

    // The handler's second invocation crashes after the first object of its batch is written.
    const ingest = await runStage('ingest', { settings, until: [...produced.after], crashInvocations: [2] });
    expect(ingest.crashed).toBe(1);
    expect(ingest.redeliveries).toBeGreaterThanOrEqual(1);

    const raw = await readRawZone(clients.s3, settings, produced.before, produced.after);
    const coordinates = (p: unknown, o: unknown) => `${String(p)}:${String(o)}`;
    const stored = raw.events.map(({ record }) => {
      const kafka = record.kafka as { partition: number; offset: number };
      return coordinates(kafka.partition, kafka.offset);
    });
    const quarantined = raw.quarantined.map(({ record }) => coordinates(record.partition, record.offset));
    // Exactly once each: no copies from the redelivered batch, nothing lost.
    expect(stored.length + quarantined.length).toBe(messages.length);
    const all = new Set([...stored, ...quarantined]);
    expect(all.size).toBe(messages.length);
    for (const p of produced.produced) expect(all.has(coordinates(p.partition, p.offset))).toBe(true);

    // Exactly the SPEC-valid messages are stored; each stored record is the produced message.
    const expected = computeExpected(produced.produced);
    expect(new Set(stored)).toEqual(new Set(expected.valid.map((v) => coordinates(v.partition, v.offset))));
    const byCoordinates = new Map(expected.valid.map((v) => [coordinates(v.partition, v.offset), v]));
    for (const { key, record } of raw.events) {
      const kafka = record.kafka as { partition: number; offset: number };
      const v = byCoordinates.get(coordinates(kafka.partition, kafka.offset))!;
      expect([record.event_id, record.user_id, record.page_url, record.country, Date.parse(String(record.ts))]).toEqual([v.eventId, v.userId, v.pageUrl, v.country, v.ts]);
      // Partitioned by event time.
      const iso = new Date(v.ts).toISOString();
      expect(key).toContain(`events/dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}/`);
    }
    // A quarantined message keeps its original value and a reason.
    const producedAt = new Map(produced.produced.map((p) => [coordinates(p.partition, p.offset), p]));
    for (const { record } of raw.quarantined) {
      const original = producedAt.get(coordinates(record.partition, record.offset))!;
      const value = record.encoding === 'base64' ? Buffer.from(String(record.value), 'base64') : Buffer.from(String(record.value ?? ''), 'utf8');
      expect(value.equals(original.value)).toBe(true);
      expect(typeof record.reason).toBe('string');
    }
  }, 5 * 60_000);

  it('serves exactly the expected aggregates after the Spark job ran twice and notifications came twice and out of order', async () => {
    const s3 = clients.s3;
    const objects0 = await aggregateObjects(s3);
    const stateBefore = await snapshotState(s3);
    const first = await runAggregateStage({ settings, log: quiet });
    const objects1 = await aggregateObjects(s3);
    const firstKeys = partFiles(changedKeys(objects0, objects1));
    const expected = expectation();
    const expectedDates = [...new Set(expected.rows.map((r) => r.event_date))].sort();
    expect([...first.datesWritten].sort()).toEqual(expectedDates);
    expect([...new Set(firstKeys.map(dateOf))].sort()).toEqual(expectedDates);

    // The job runs again as if the first run had crashed before saving its state.
    await restoreState(s3, stateBefore);
    const second = await runAggregateStage({ settings, log: quiet });
    const objects2 = await aggregateObjects(s3);
    const secondKeys = partFiles(changedKeys(objects1, objects2));
    expect([...second.datesWritten].sort()).toEqual(expectedDates);
    expect(secondKeys.length).toBeGreaterThan(0);
    // The first run's files were replaced, not kept beside the second run's.
    expect(partFiles(objects2.keys()).sort()).toEqual([...secondKeys].sort());

    // Newest first, then the replaced (older) objects, then the newest again.
    const index = await runStage('index', {
      settings,
      bucket: settings.aggregatesBucket,
      keys: [...secondKeys, ...firstKeys, ...secondKeys],
      deadLetterFile: join(ARTIFACTS, 'e2e-indexer-dlq.ndjson'),
    });
    expect(index.notifications).toBe(secondKeys.length * 2 + firstKeys.length);

    const served = await fetchAllRows(clients.openSearch, aliasOf(settings));
    expect(diffRows(expected.rows, served)).toEqual([]);
    expect(served.length).toBe(expected.rows.length);
  }, 6 * 60_000);

  it('updates incrementally with a second stream: only the touched dates are recomputed', async () => {
    const s3 = clients.s3;
    // Recent events only (the last 6 hours), so older dates must stay as they are.
    const messages = generateClicks({ count: 600, seed: 'e2e-second', days: 0.25, partitions: settings.partitions });
    const produced = await produceStage(clients, settings, messages);
    producedSoFar.push(...produced.produced);
    await runStage('ingest', { settings, until: [...produced.after] });
    const newDates = new Set(computeExpected(produced.produced).valid.map((v) => new Date(v.ts).toISOString().slice(0, 10)));

    const objects0 = await aggregateObjects(s3);
    const run = await runAggregateStage({ settings, log: quiet });
    const objects1 = await aggregateObjects(s3);
    const changed = partFiles(changedKeys(objects0, objects1));
    const allowed = new Set<string>();
    for (const d of newDates) {
      allowed.add(d);
      allowed.add(new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10));
    }
    expect(run.datesWritten.length).toBeGreaterThan(0);
    for (const d of run.dates) expect(allowed.has(d)).toBe(true);
    for (const key of changed) expect(allowed.has(dateOf(key))).toBe(true);
    // Dates the second stream did not touch keep their files untouched.
    const untouched = [...objects0.keys()].filter((k) => !allowed.has(dateOf(k)) && /\/part-/.test(k));
    for (const key of untouched) expect(objects1.get(key)).toBe(objects0.get(key));

    await runStage('index', { settings, bucket: settings.aggregatesBucket, keys: changed, deadLetterFile: join(ARTIFACTS, 'e2e-indexer-dlq.ndjson') });
    const served = await fetchAllRows(clients.openSearch, aliasOf(settings));
    const expected = expectation();
    expect(diffRows(expected.rows, served)).toEqual([]);
    expect(firstStream.messages.length + messages.length).toBe(producedSoFar.length);
  }, 5 * 60_000);

  it('renders an HTML report that headless Chromium shows with its charts', async () => {
    const rows = await fetchAllRows(clients.openSearch, aliasOf(settings));
    mkdirSync(ARTIFACTS, { recursive: true });
    const html = join(ARTIFACTS, 'e2e-report.html');
    const png = join(ARTIFACTS, 'e2e-report.png');
    writeFileSync(html, renderHtmlReport({
      title: 'Clickstream — end-to-end test',
      generatedAt: new Date().toISOString(),
      stages: [{ stage: 'produce', seconds: 0, figures: [['produced', producedSoFar.length]] }],
      rows,
      topPagesByCountry: topPagesByCountryFromRows(rows, 5),
    }));
    await screenshot(html, png, 1400, 2400);
    const image = readFileSync(png);
    expect(pngSize(image)).toEqual({ width: 1400, height: 2400 });
    // A blank page compresses to a few KB; charts, text and tables do not.
    expect(statSync(png).size).toBeGreaterThan(50_000);

    const dom = await dumpDom(html);
    for (const id of ['chart-top-pages', 'chart-clicks-by-country', 'chart-avg-time', 'chart-daily-trend']) {
      const svg = new RegExp(`<svg[^>]*id="${id}"[\\s\\S]*?</svg>`).exec(dom);
      expect(svg).not.toBeNull();
      expect((svg![0].match(/<rect /g) ?? []).length).toBeGreaterThan(0);
    }
    const top = topPagesByCountryFromRows(rows, 1)[0];
    expect(dom).toContain(top.pages[0].page_url);
  }, 2 * 60_000);
});

// ------------------------------------------------------------------------------------------------
// The Spark job's state object, saved and restored to replay "crashed before saving its state".

const STATE_PREFIX = 'state/';

async function snapshotState(s3: S3Client): Promise<string[]> {
  const keys = (await listKeys(s3, settings.aggregatesBucket, STATE_PREFIX)).map((k) => k.key);
  for (const key of keys) {
    await s3.send(new CopyObjectCommand({ Bucket: settings.aggregatesBucket, Key: `e2e-saved/${key}`, CopySource: `${settings.aggregatesBucket}/${key}` }));
  }
  return keys;
}

async function restoreState(s3: S3Client, saved: string[]): Promise<void> {
  for (const k of await listKeys(s3, settings.aggregatesBucket, STATE_PREFIX)) {
    await s3.send(new DeleteObjectCommand({ Bucket: settings.aggregatesBucket, Key: k.key }));
  }
  for (const key of saved) {
    await s3.send(new CopyObjectCommand({ Bucket: settings.aggregatesBucket, Key: key, CopySource: `${settings.aggregatesBucket}/e2e-saved/${key}` }));
    await s3.send(new HeadObjectCommand({ Bucket: settings.aggregatesBucket, Key: key }));
  }
}
