/**
 * End to end through the real local engines (Kafka, the S3 server, local Spark, OpenSearch) with
 * the production code of every stage, against an independent computation (local/expected.ts):
 *
 * 1. A generated stream is produced; the ingest handler crashes in the middle of a batch (after
 *    some of its objects were written) and the batch is redelivered. Every produced message is
 *    then in the raw zone or in quarantine, exactly once, and exactly the SPEC-valid ones are stored.
 *    Each stored record carries the enrichment of SPEC §2 that the expectation computes.
 * 2. The Spark job runs; then it runs again as after a crash before it saved its state, so the
 *    same dates are computed twice (that a run with no new input writes nothing is tested by
 *    test/processing/local-glue-job.test.ts; one Spark run fewer here).
 *    The indexer receives the second run's notifications of every table, then the first run's
 *    (out of order: those objects were replaced), then the second run's again (duplicates). Each
 *    table's alias then holds exactly the expected rows of that table.
 * 3. A second, smaller stream (recent events and late ones) is processed incrementally: exactly
 *    the dates it touches are recomputed, in every table, and every alias equals the expectation
 *    over both streams.
 * 4. The HTML report of what the five aliases hold opens in headless Chromium: each of its four
 *    sections (pages, audience, acquisition, today) shows charts with data, its figures are the
 *    expectation's, and a screenshot of each section is kept in test-artifacts/.
 * 5. The four OpenSearch Dashboards dashboards (no Dashboards server runs here): the query of
 *    every panel, as Dashboards sends it (test/search/dashboards-query.ts), finds the pipeline's
 *    documents on the aliases, all of those in the dashboard's time range.
 */
import { execFile } from 'child_process';
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { TABLE_NAMES, type TableName } from '../../lambdas/indexer/tables';
import { TIME_FIELDS } from '../../opensearch/dashboards/builders';
import { DASHBOARD_IDS, savedObjects } from '../../opensearch/saved-objects';
import { computeExpected, diffTable, type Expectation, type ProducedMessage, type RowDifference } from '../../local/expected';
import { generateClicks, type ClickMessage } from '../../local/generator';
import {
  ALL_AGGREGATES_PREFIX,
  createClients,
  exportHandlerEnvironment,
  produceStage,
  readRawZone,
  setupResources,
  type PipelineClients,
} from '../../local/pipeline';
import {
  acquisitionSummary,
  audienceSummary,
  readReportTables,
  renderHtmlReport,
  REPORT_CHARTS,
  REPORT_SECTIONS,
  todaySummary,
  topPagesByCountryFromRows,
  type AggregateRow,
} from '../../local/report';
import { aliasOf, fetchAllDocuments, listKeys, settingsFromEnv, type PipelineSettings } from '../../local/resources';
import type { IndexRunnerArgs, IngestRunnerArgs } from '../../local/stage-runner';
import { runAggregateStage, type IndexStageResult, type IngestStageResult } from '../../local/stages';
import { ensureEngines, uniqueName } from '../support/engines';
import { vegaQuery, visualizationQuery, type IndexPatternAttributes, type TimeRange } from '../search/dashboards-query';
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

/** Every table's output objects (aggregates/<table>/event_date=D/...), key → etag. */
async function aggregateObjects(s3: S3Client): Promise<Map<string, string | undefined>> {
  const keys = await listKeys(s3, settings.aggregatesBucket, ALL_AGGREGATES_PREFIX);
  return new Map(keys.map((k) => [k.key, k.etag]));
}

function changedKeys(before: Map<string, string | undefined>, after: Map<string, string | undefined>): string[] {
  return [...after].filter(([key, etag]) => before.get(key) !== etag).map(([key]) => key);
}

const partFiles = (keys: Iterable<string>) => [...keys].filter((k) => /\/part-[^/]+\.json$/.test(k));
const dateOf = (key: string) => /event_date=(\d{4}-\d{2}-\d{2})\//.exec(key)![1];
const tableOf = (key: string) => /^aggregates\/([a-z_]+)\//.exec(key)![1];
const datesOf = (rows: ReadonlyArray<{ readonly event_date?: unknown }>) => [...new Set(rows.map((r) => String(r.event_date)))].sort();

/** What each table's alias serves, against the expectation: per table, the differences (none when equal). */
async function servedDifferences(expected: Expectation): Promise<Record<TableName, { expected: number; served: number; differences: RowDifference[] }>> {
  const result = {} as Record<TableName, { expected: number; served: number; differences: RowDifference[] }>;
  for (const table of TABLE_NAMES) {
    const served = (await fetchAllDocuments(clients.openSearch, aliasOf(settings, table))) ?? [];
    const differences = diffTable(table, expected.tables[table], served);
    result[table] = { expected: expected.tables[table].length, served: served.length, differences: differences.slice(0, 5) };
  }
  return result;
}

/** Every table equal to the expectation, and none of them empty. */
function expectServedAsExpected(result: Awaited<ReturnType<typeof servedDifferences>>): void {
  for (const table of TABLE_NAMES) {
    const { expected, served, differences } = result[table];
    expect([table, differences]).toEqual([table, []]);
    expect([table, served]).toEqual([table, expected]);
    expect([table, expected > 0]).toEqual([table, true]);
  }
}

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
      // The enrichment of SPEC §2, as the expectation computes it on its own.
      expect([record.city, record.device_type, record.browser, record.os, record.is_bot, record.utm_source, record.utm_medium, record.utm_campaign, record.referrer_host, record.channel])
        .toEqual([v.city, v.deviceType, v.browser, v.os, v.isBot, v.utmSource, v.utmMedium, v.utmCampaign, v.referrerHost, v.channel]);
      // Partitioned by event time.
      const iso = new Date(v.ts).toISOString();
      expect(key).toContain(`events/dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}/`);
    }
    // The stream exercises what the tables tell apart: bots, devices, channels, campaigns, cities.
    const seen = (pick: (v: (typeof expected.valid)[number]) => unknown) => new Set(expected.valid.map(pick));
    expect(seen((v) => v.isBot)).toEqual(new Set([true, false]));
    for (const device of ['bot', 'mobile', 'tablet', 'desktop']) expect([device, seen((v) => v.deviceType).has(device)]).toEqual([device, true]);
    for (const channel of ['direct', 'internal', 'search', 'social', 'referral', 'paid', 'email', 'campaign']) expect([channel, seen((v) => v.channel).has(channel)]).toEqual([channel, true]);
    expect(seen((v) => v.city).has(null)).toBe(true);
    expect(seen((v) => v.utmCampaign).size).toBeGreaterThan(3);
    // A quarantined message keeps its original value and a reason.
    const producedAt = new Map(produced.produced.map((p) => [coordinates(p.partition, p.offset), p]));
    for (const { record } of raw.quarantined) {
      const original = producedAt.get(coordinates(record.partition, record.offset))!;
      const value = record.encoding === 'base64' ? Buffer.from(String(record.value), 'base64') : Buffer.from(String(record.value ?? ''), 'utf8');
      expect(value.equals(original.value)).toBe(true);
      expect(typeof record.reason).toBe('string');
    }
  }, 5 * 60_000);

  it('serves exactly the expected rows of every table after the Spark job ran twice and notifications came twice and out of order', async () => {
    const s3 = clients.s3;
    const objects0 = await aggregateObjects(s3);
    const stateBefore = await snapshotState(s3);
    const first = await runAggregateStage({ settings, log: quiet });
    const objects1 = await aggregateObjects(s3);
    const firstKeys = partFiles(changedKeys(objects0, objects1));
    const expected = expectation();
    const expectedDates = datesOf(expected.rows);
    expect([...first.datesWritten].sort()).toEqual(expectedDates);
    // Every table has output for each date it has rows for.
    for (const table of TABLE_NAMES) {
      expect([table, [...new Set(firstKeys.filter((k) => tableOf(k) === table).map(dateOf))].sort()]).toEqual([table, datesOf(expected.tables[table])]);
    }

    // The job runs again as if the first run had crashed before saving its state.
    await restoreState(s3, stateBefore);
    const second = await runAggregateStage({ settings, log: quiet });
    const objects2 = await aggregateObjects(s3);
    const secondKeys = partFiles(changedKeys(objects1, objects2));
    expect([...second.datesWritten].sort()).toEqual(expectedDates);
    expect(new Set(secondKeys.map(tableOf))).toEqual(new Set(TABLE_NAMES));
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

    expectServedAsExpected(await servedDifferences(expected));
  }, 15 * 60_000);

  it('updates incrementally with a second stream: exactly the touched dates are recomputed, in every table', async () => {
    const s3 = clients.s3;
    // Recent events only (the last 6 hours) and a few late ones, so most older dates must stay as they are.
    const messages = generateClicks({ count: 600, seed: 'e2e-second', days: 0.25, partitions: settings.partitions });
    const produced = await produceStage(clients, settings, messages);
    producedSoFar.push(...produced.produced);
    await runStage('ingest', { settings, until: [...produced.after] });
    const newDates = [...new Set(computeExpected(produced.produced).valid.map((v) => new Date(v.ts).toISOString().slice(0, 10)))].sort();

    const objects0 = await aggregateObjects(s3);
    const run = await runAggregateStage({ settings, log: quiet });
    const objects1 = await aggregateObjects(s3);
    const changed = [...changedKeys(objects0, objects1)];
    // SPEC §3: a run recomputes exactly the dates whose input changed, and touches nothing else.
    expect([...run.dates].sort()).toEqual(newDates);
    expect([...new Set(changed.map(dateOf))].sort()).toEqual(newDates);
    const after = expectation();
    for (const table of TABLE_NAMES) {
      const rewritten = [...new Set(partFiles(changed).filter((k) => tableOf(k) === table).map(dateOf))].sort();
      expect([table, rewritten]).toEqual([table, datesOf(after.tables[table]).filter((d) => newDates.includes(d))]);
    }
    const untouched = [...objects0.keys()].filter((k) => !newDates.includes(dateOf(k)));
    expect(untouched.length).toBeGreaterThan(0);
    for (const key of untouched) expect(objects1.get(key)).toBe(objects0.get(key));

    await runStage('index', { settings, bucket: settings.aggregatesBucket, keys: partFiles(changed), deadLetterFile: join(ARTIFACTS, 'e2e-indexer-dlq.ndjson') });
    expectServedAsExpected(await servedDifferences(after));
    expect(firstStream.messages.length + messages.length).toBe(producedSoFar.length);
  }, 10 * 60_000);

  it('renders the four report sections from the five aliases: figures as expected, every chart with data, in headless Chromium', async () => {
    const expected = expectation();
    const tables = await readReportTables(clients.openSearch, Object.fromEntries(TABLE_NAMES.map((t) => [t, aliasOf(settings, t)])) as Record<TableName, string>);
    for (const table of TABLE_NAMES) expect([table, tables[table]?.length]).toEqual([table, expected.tables[table].length]);
    const sum = (table: TableName, field: string) => expected.tables[table].reduce((n, r) => n + Number(r[field] ?? 0), 0);

    // The figures each section shows are ratios of sums over the tables; here against the expectation's own rows.
    const audience = audienceSummary(tables);
    expect([audience.sessions, audience.bounces, audience.pageviews]).toEqual([sum('sessions_daily', 'sessions'), sum('sessions_daily', 'bounces'), sum('sessions_daily', 'pageviews')]);
    expect(audience.bounceRate).toBeCloseTo(sum('sessions_daily', 'bounces') / sum('sessions_daily', 'sessions'), 12);
    expect(audience.avgSessionSeconds).toBeCloseTo(sum('sessions_daily', 'total_duration_seconds') / sum('sessions_daily', 'sessions'), 6);
    expect(audience.devices.reduce((n, [, v]) => n + v, 0)).toBe(audience.sessions);
    expect(audience.devices.map(([d]) => d)).not.toContain('bot');
    const acquisition = acquisitionSummary(tables);
    expect(acquisition.channels.reduce((n, c) => n + c.sessions, 0)).toBe(sum('traffic_sources_daily', 'sessions'));
    expect(sum('traffic_sources_daily', 'sessions')).toBe(audience.sessions);
    const today = todaySummary(tables);
    const lastDay = datesOf(expected.tables.traffic_hourly).at(-1)!;
    expect(today.day).toBe(lastDay);
    const lastDayRows = expected.tables.traffic_hourly.filter((r) => r.event_date === lastDay);
    expect(today.hours.reduce((n, h) => n + h.clicks, 0)).toBe(lastDayRows.reduce((n, r) => n + Number(r.clicks), 0));
    expect(today.hours.reduce((n, h) => n + h.botClicks, 0)).toBe(lastDayRows.reduce((n, r) => n + Number(r.bot_clicks), 0));

    mkdirSync(ARTIFACTS, { recursive: true });
    const rows = tables.url_country_daily as unknown as AggregateRow[];
    const html = join(ARTIFACTS, 'e2e-report.html');
    writeFileSync(html, renderHtmlReport({
      title: 'Clickstream — end-to-end test',
      generatedAt: new Date().toISOString(),
      stages: [{ stage: 'produce', seconds: 0, figures: [['produced', producedSoFar.length]] }],
      rows,
      topPagesByCountry: topPagesByCountryFromRows(rows, 5),
      tables,
    }));

    const dom = await dumpDom(html);
    for (const section of REPORT_SECTIONS) {
      const body = new RegExp(`<section class="report" id="section-${section}">([\\s\\S]*?)</section>\\s*(<section class="report"|<h2>Endpoints|</body>)`).exec(dom);
      expect([section, body !== null]).toEqual([section, true]);
      for (const id of REPORT_CHARTS[section]) {
        const svg = new RegExp(`<svg[^>]*id="${id}"[\\s\\S]*?</svg>`).exec(body![1]);
        expect([id, svg !== null]).toEqual([id, true]);
        expect([id, (svg![0].match(/<rect /g) ?? []).length > 0, svg![0].includes('>no data<')]).toEqual([id, true, false]);
      }
    }
    const top = topPagesByCountryFromRows(rows, 1)[0];
    expect(dom).toContain(top.pages[0].page_url);

    const hashes = new Set<string>();
    for (const section of REPORT_SECTIONS) {
      const png = join(ARTIFACTS, `e2e-report-${section}.png`);
      await screenshot(html, png, 1400, 1600, 60_000, `section-${section}`);
      const image = readFileSync(png);
      expect(pngSize(image)).toEqual({ width: 1400, height: 1600 });
      // A blank page compresses to a few KB; charts, text and tables do not.
      expect([section, image.length > 30_000]).toEqual([section, true]);
      hashes.add(createHash('sha256').update(image).digest('hex'));
    }
    // Each screenshot shows its own section.
    expect(hashes.size).toBe(REPORT_SECTIONS.length);
  }, 4 * 60_000);

  it('feeds every panel of the four Dashboards dashboards: each panel\'s query finds all the documents of its time range', async () => {
    const expected = expectation();
    const objects = savedObjects(Object.fromEntries(TABLE_NAMES.map((t) => [t, aliasOf(settings, t)])));
    const find = (type: string, id: string) => objects.find((o) => o.type === type && o.id === id)!;
    const days = datesOf(expected.rows);
    const day = (d: string): TimeRange => ({ from: `${d}T00:00:00.000Z`, to: `${d}T23:59:59.999Z` });
    const whole: TimeRange = { from: day(days[0]).from, to: day(days[days.length - 1]).to };
    const inRange = (table: TableName, range: TimeRange) => expected.tables[table].filter((r) => {
      const value = String(r[TIME_FIELDS[table]]);
      const t = Date.parse(value.length === 10 ? `${value}T00:00:00.000Z` : value);
      return t >= Date.parse(range.from) && t <= Date.parse(range.to);
    }).length;
    const search = async (index: string, body: Record<string, unknown>) =>
      (await clients.openSearch.transport.request({ method: 'POST', path: `/${index}/_search`, body: { ...body, track_total_hits: true } })).body as any;

    const panels: string[] = [];
    for (const [name, id] of Object.entries(DASHBOARD_IDS)) {
      const range = name === 'today' ? day(days[days.length - 1]) : whole;
      const visualizations = find('dashboard', id).references.filter((r) => r.type === 'visualization');
      expect([name, visualizations.length > 0]).toEqual([name, true]);
      for (const ref of visualizations) {
        const vis = find('visualization', ref.id);
        const state = JSON.parse(vis.attributes.visState as string);
        let table: TableName;
        let response: any;
        let data: unknown[];
        if (state.type === 'vega') {
          const spec = JSON.parse(state.params.spec);
          const { index, body } = vegaQuery(spec.data.url, range);
          table = TABLE_NAMES.find((t) => aliasOf(settings, t) === index)!;
          response = await search(index, body);
          data = spec.data.format.property.split('.').reduce((at: any, key: string) => at?.[key], response) ?? [];
        } else {
          const pattern = find('index-pattern', vis.references[0].id).attributes as unknown as IndexPatternAttributes;
          table = TABLE_NAMES.find((t) => aliasOf(settings, t) === pattern.title)!;
          response = await search(pattern.title, visualizationQuery(state, pattern, { range, viewer: { browserZone: 'America/Los_Angeles', settings: { 'dateFormat:tz': 'UTC' } } }));
          const firstBucket = state.aggs.find((a: { schema: string; enabled?: boolean }) => a.schema !== 'metric' && a.enabled !== false);
          data = firstBucket ? response.aggregations[firstBucket.id].buckets : [response.hits.total.value].filter((n) => n > 0);
        }
        expect([name, ref.id, table !== undefined]).toEqual([name, ref.id, true]);
        expect([name, ref.id, response.hits.total.value]).toEqual([name, ref.id, inRange(table, range)]);
        expect([name, ref.id, data.length > 0]).toEqual([name, ref.id, true]);
        panels.push(`${name}/${ref.id}`);
      }
    }
    expect(new Set(panels.map((p) => p.split('/')[0]))).toEqual(new Set(Object.keys(DASHBOARD_IDS)));
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
