/**
 * The dashboard's saved objects: well-formed NDJSON whose references resolve, an index pattern
 * on the alias the provisioner creates, and - against the real local node with indexed rows -
 * the query behind each visualization returning the numbers analysts should see.
 *
 * Dashboards itself does not run locally, so for the standard visualizations the test turns
 * their `visState` into the query Dashboards sends (terms / date_histogram buckets around the
 * metric aggregations, ordered by the metric), and for the Vega panel it runs the query written
 * in its spec, with the dashboard's time range where Dashboards puts it.
 */
import type { Client } from '@opensearch-project/opensearch';
import { indexLines } from '../../lambdas/indexer/core';
import { ensureWriteIndex } from '../../lambdas/search-provisioner/indices';
import { DOCUMENT_FIELDS } from '../../opensearch/index-template';
import { SAVED_OBJECT_IDS, savedObjects, savedObjectsNdjson } from '../../opensearch/saved-objects';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';
import { AggregateRowInput, dropServingIndex, localClient, recordingTelemetry, toNdjson } from '../indexer/fixtures';
import { dayLabel, visualizationQuery, type IndexPatternAttributes, type Viewer } from './dashboards-query';

const alias = uniqueName('dash-test');
let client: Client;

type Row = Omit<AggregateRowInput, 'avg_time_spent_seconds' | 'computed_at' | 'unique_users'>;
const r = (event_date: string, page: string, country: string, clicks: number, timed_views: number, total_time_spent_seconds: number): Row => ({
  event_date,
  page_url: `https://shop.example${page}`,
  country,
  clicks,
  timed_views,
  total_time_spent_seconds,
});
const ROWS: Row[] = [
  // /p/1: one view of 100 s in DE, 99 views of 2 s in FR: weighted 2.98 s, average of averages 51 s.
  r('2026-07-01', '/p/1', 'DE', 2, 1, 100),
  r('2026-07-01', '/p/1', 'FR', 120, 99, 198),
  r('2026-07-01', '/home', 'DE', 300, 250, 5000),
  r('2026-07-01', '/home', 'US', 80, 60, 600),
  r('2026-07-02', '/home', 'DE', 200, 150, 2250),
  r('2026-07-02', '/p/2', 'US', 40, 30, 900),
  r('2026-07-02', '/cart', 'FR', 15, 0, 0), // every view an exit: no time on page
  r('2026-07-03', '/p/2', 'DE', 60, 45, 450),
  r('2026-07-03', '/p/1', 'US', 9, 5, 50),
  r('2026-07-03', '/cart', 'DE', 25, 0, 0),
];
const TIME_RANGE = { range: { event_date: { gte: '2026-07-01', lte: '2026-07-03', format: 'strict_date' } } };

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch'])).openSearchEndpoint);
  await ensureWriteIndex(client, { alias, generation: 1, replicas: 0 });
  for (const date of [...new Set(ROWS.map((row) => row.event_date))]) {
    const rows = ROWS.filter((row) => row.event_date === date).map((row) => ({
      ...row,
      unique_users: Math.ceil(row.clicks / 2),
      avg_time_spent_seconds: row.timed_views === 0 ? null : row.total_time_spent_seconds / row.timed_views,
      computed_at: `${date}T23:00:00.000Z`,
    }));
    async function* source() {
      yield Buffer.from(toNdjson(rows));
    }
    const outcome = await indexLines(
      { s3: s3Client(), openSearch: client, telemetry: recordingTelemetry(), config: { alias } },
      { bucket: 'unused', key: `aggregates/url_country_daily/event_date=${date}/part-0.json`, eventDate: date, source: source() },
    );
    expect(outcome).toMatchObject({ status: 'indexed', indexed: rows.length });
  }
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropServingIndex(client, alias);
  await client.close();
});

const objects = () => savedObjects(alias);
const byId = (id: string) => objects().find((object) => object.id === id)!;
const visState = (id: string) => JSON.parse(byId(id).attributes.visState as string);

/** Sums of `field` by `key` over the fixture rows, as [key, sum] sorted by sum (desc). */
function sumsBy(key: (row: Row) => string, field: 'clicks' | 'timed_views' | 'total_time_spent_seconds'): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const row of ROWS) sums.set(key(row), (sums.get(key(row)) ?? 0) + row[field]);
  return [...sums].sort((a, b) => b[1] - a[1]);
}

/** The search body Dashboards builds for a standard visualization (the agg types used here). */
function queryOfVisualization(state: any): Record<string, unknown> {
  const metrics = Object.fromEntries(
    state.aggs.filter((agg: any) => agg.schema === 'metric').map((agg: any) => [agg.id, { [agg.type]: { field: agg.params.field } }]),
  );
  let aggs: Record<string, unknown> = metrics;
  for (const agg of state.aggs.filter((a: any) => a.schema !== 'metric').reverse()) {
    if (agg.type === 'terms') {
      aggs = { [agg.id]: { terms: { field: agg.params.field, size: agg.params.size, order: { [agg.params.orderBy]: agg.params.order } }, aggs } };
    } else if (agg.type === 'date_histogram') {
      expect(agg.params.interval).toBe('d');
      aggs = { [agg.id]: { date_histogram: { field: agg.params.field, calendar_interval: '1d', time_zone: 'UTC', min_doc_count: agg.params.min_doc_count }, aggs } };
    } else {
      throw new Error(`no translation for ${agg.type}`);
    }
  }
  return { size: 0, query: { bool: { filter: [TIME_RANGE] } }, aggs };
}

async function search(body: Record<string, unknown>, index = alias): Promise<any> {
  return (await client.transport.request({ method: 'POST', path: `/${index}/_search`, body })).body;
}

describe('the NDJSON', () => {
  const lines = savedObjectsNdjson(alias).split('\n');

  it('is one JSON object per line with a unique type and id', () => {
    expect(lines.at(-1)).toBe('');
    const parsed = lines.slice(0, -1).map((line) => JSON.parse(line));
    expect(parsed.map((o) => `${o.type}:${o.id}`)).toEqual([
      `index-pattern:${SAVED_OBJECT_IDS.indexPattern}`,
      `visualization:${SAVED_OBJECT_IDS.topPages}`,
      `visualization:${SAVED_OBJECT_IDS.clicksByCountry}`,
      `visualization:${SAVED_OBJECT_IDS.avgTimeOnPage}`,
      `visualization:${SAVED_OBJECT_IDS.dailyTrend}`,
      `dashboard:${SAVED_OBJECT_IDS.dashboard}`,
    ]);
    for (const object of parsed) expect(Object.keys(object.migrationVersion)).toEqual([object.type]);
  });

  it('has every reference resolve to an object of the file, and every panel a reference', () => {
    const all = objects();
    const ids = new Set(all.map((o) => `${o.type}:${o.id}`));
    for (const object of all) for (const ref of object.references) expect(ids).toContain(`${ref.type}:${ref.id}`);
    const dashboard = byId(SAVED_OBJECT_IDS.dashboard);
    const panels = JSON.parse(dashboard.attributes.panelsJSON as string);
    expect(panels.map((p: any) => p.panelRefName).sort()).toEqual(dashboard.references.map((ref) => ref.name).sort());
    expect(dashboard.references.map((ref) => ref.id)).toEqual([SAVED_OBJECT_IDS.topPages, SAVED_OBJECT_IDS.clicksByCountry, SAVED_OBJECT_IDS.avgTimeOnPage, SAVED_OBJECT_IDS.dailyTrend]);
    for (const id of [SAVED_OBJECT_IDS.topPages, SAVED_OBJECT_IDS.clicksByCountry, SAVED_OBJECT_IDS.dailyTrend]) {
      const source = JSON.parse((byId(id).attributes.kibanaSavedObjectMeta as any).searchSourceJSON);
      expect(byId(id).references).toEqual([{ name: source.indexRefName, type: 'index-pattern', id: SAVED_OBJECT_IDS.indexPattern }]);
    }
  });

  it('has an index pattern on the alias that exists on the node, with its time field and the mapped fields', async () => {
    const pattern = byId(SAVED_OBJECT_IDS.indexPattern);
    expect(pattern.attributes.title).toBe(alias);
    expect((await client.transport.request({ method: 'HEAD', path: `/_alias/${pattern.attributes.title}` }, { ignore: [404] })).statusCode).toBe(200);
    const fields = JSON.parse(pattern.attributes.fields as string) as Array<{ name: string; esTypes?: string[] }>;
    const mapping = (await client.transport.request({ method: 'GET', path: `/${alias}/_mapping` })).body as any;
    const live = Object.values<any>(mapping)[0].mappings.properties;
    for (const [name, spec] of Object.entries(DOCUMENT_FIELDS)) {
      expect(fields.find((f) => f.name === name)?.esTypes).toEqual([live[name].type]);
      expect(spec.type).toBe(live[name].type);
    }
    expect(live[pattern.attributes.timeFieldName as string].type).toBe('date');
  });
});

describe('the query behind each visualization', () => {
  it('top pages by clicks', async () => {
    const state = visState(SAVED_OBJECT_IDS.topPages);
    const result = await search(queryOfVisualization(state));
    const buckets = result.aggregations['2'].buckets.map((b: any) => [b.key, b['1'].value]);
    expect(buckets).toEqual(sumsBy((row) => row.page_url, 'clicks'));
    expect(buckets[0]).toEqual(['https://shop.example/home', 580]);
  });

  it('clicks by country', async () => {
    const result = await search(queryOfVisualization(visState(SAVED_OBJECT_IDS.clicksByCountry)));
    expect(result.aggregations['2'].buckets.map((b: any) => [b.key, b['1'].value])).toEqual(sumsBy((row) => row.country, 'clicks'));
  });

  it('daily trend: clicks per event date', async () => {
    const result = await search(queryOfVisualization(visState(SAVED_OBJECT_IDS.dailyTrend)));
    const days = result.aggregations['2'].buckets.map((b: any) => [new Date(b.key).toISOString().slice(0, 10), b['1'].value]);
    const expected = sumsBy((row) => row.event_date, 'clicks').sort((a, b) => a[0].localeCompare(b[0]));
    expect(days).toEqual(expected);
  });

  it('daily trend: the UTC days for an analyst in Los Angeles, whether or not the tenant shows UTC', async () => {
    const pattern = byId(SAVED_OBJECT_IDS.indexPattern).attributes as unknown as IndexPatternAttributes;
    const state = visState(SAVED_OBJECT_IDS.dailyTrend);
    const range = { from: '2026-07-01T00:00:00.000Z', to: '2026-07-03T23:59:59.999Z' };
    const expected = sumsBy((row) => row.event_date, 'clicks').sort((a, b) => a[0].localeCompare(b[0]));
    const globalTenant: Viewer = { browserZone: 'America/Los_Angeles', settings: { 'dateFormat:tz': 'UTC' } };
    const privateTenant: Viewer = { browserZone: 'America/Los_Angeles' };
    for (const viewer of [globalTenant, privateTenant]) {
      const result = await search(visualizationQuery(state, pattern, { range, viewer }));
      const days = result.aggregations['2'].buckets.map((b: any) => [new Date(b.key).toISOString().slice(0, 10), b['1'].value]);
      expect(days).toEqual(expected);
    }
    // The labels analysts read in the global tenant are the UTC days too.
    const result = await search(visualizationQuery(state, pattern, { range, viewer: globalTenant }));
    expect(result.aggregations['2'].buckets.map((b: any) => dayLabel(b.key, globalTenant))).toEqual(expected.map(([day]) => day));
    expect(state.aggs.find((agg: any) => agg.type === 'date_histogram').params.customLabel).toMatch(/UTC/);

    // Without the UTC zone on the aggregation and the pattern, the same viewer's days move by one.
    const { time_zone: _zone, ...params } = state.aggs[1].params;
    const bare = { ...state, aggs: [state.aggs[0], { ...state.aggs[1], params }] };
    const shifted = await search(visualizationQuery(bare, { ...pattern, typeMeta: undefined }, { range, viewer: privateTenant }));
    expect(shifted.aggregations['2'].buckets.map((b: any) => new Date(b.key).toISOString().slice(0, 10))).toEqual(['2026-06-30', '2026-07-01', '2026-07-02']);
  });

  it('average time on page: sum of time over sum of timed views, pages without timed views left out', async () => {
    const state = visState(SAVED_OBJECT_IDS.avgTimeOnPage);
    expect(state.type).toBe('vega');
    const spec = JSON.parse(state.params.spec);
    const { index, body, '%context%': context, '%timefield%': timeField } = spec.data.url;
    expect(index).toBe(alias);
    expect(context).toBe(true);
    expect(timeField).toBe('event_date');
    // Where Dashboards puts the context (query bar, filters) and the time range.
    const result = await search({ ...body, query: { bool: { must: [{ match_all: {} }], filter: [TIME_RANGE] } } }, index);
    const buckets = result.aggregations.pages.buckets;
    const format = spec.data.format.property.split('.');
    expect(format).toEqual(['aggregations', 'pages', 'buckets']);

    const time = new Map(sumsBy((row) => row.page_url, 'total_time_spent_seconds'));
    const expected = sumsBy((row) => row.page_url, 'timed_views')
      .filter(([, views]) => views > 0)
      .map(([page, views]) => [page, time.get(page)! / views]);
    const got = buckets.map((b: any) => [b.key, b.avg_time_on_page.value]);
    expect(got.map((entry: [string, number]) => entry[0])).toEqual(expected.map((entry) => entry[0]));
    got.forEach(([, value]: [string, number], i: number) => expect(value).toBeCloseTo(expected[i][1] as number, 10));
    // Weighted, not an average of the rows' averages ((100 + 2 + 10) / 3 = 37.33 for /p/1).
    expect(got.find((entry: [string, number]) => entry[0] === 'https://shop.example/p/1')[1]).toBeCloseTo(348 / 105, 10);
    // The field the chart plots exists on every bucket.
    const field = spec.encoding.x.field.split('.');
    for (const bucket of buckets) expect(typeof bucket[field[0]][field[1]]).toBe('number');
  });
});
