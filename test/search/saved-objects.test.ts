/**
 * The dashboards' saved objects: well-formed NDJSON whose references resolve, index patterns on
 * the aliases the provisioner creates, and - against the real local OpenSearch holding a known
 * data set of the five tables (test/search/dashboard-fixtures.ts) - the query behind every
 * visualization returning the numbers analysts should see.
 *
 * Dashboards itself does not run here, so each standard visualization's query is built from its
 * `visState` as Dashboards builds it (test/search/dashboards-query.ts), for an analyst in
 * America/Los_Angeles, and its result is compared with the same aggregation computed over the
 * fixture rows in plain code; each Vega panel's query is the one written in its spec, with the
 * dashboard's time range where Dashboards puts it, then the compiled chart is run on the response.
 * A few numbers are also written out by hand, where a wrong formula would give another one.
 */
import type { Client } from '@opensearch-project/opensearch';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { TABLE_NAMES, TableName } from '../../lambdas/indexer/tables';
import { TIME_FIELDS } from '../../opensearch/dashboards/builders';
import { ACQUISITION_IDS, AUDIENCE_IDS, DASHBOARD_IDS, PAGES_IDS, SavedObject, savedObjects, savedObjectsNdjson, TODAY_IDS } from '../../opensearch/saved-objects';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';
import { localClient } from '../indexer/fixtures';
import { dropFixtureTables, FIXTURE_RANGE, FIXTURE_ROWS, FIXTURE_TODAY, indexFixtureTables, Row } from './dashboard-fixtures';
import { AggState, dayLabel, IndexPatternAttributes, TimeRange, vegaQuery, Viewer, visualizationQuery } from './dashboards-query';

const prefix = uniqueName('dash');
const aliases = Object.fromEntries(TABLE_NAMES.map((table) => [table, `${prefix}-${table.replace(/_/g, '-')}`])) as Record<TableName, string>;
let client: Client;

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch'])).openSearchEndpoint);
  await indexFixtureTables(client, aliases);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropFixtureTables(client, aliases);
  await client.close();
});

const objects = () => savedObjects(aliases);
const byId = (type: string, id: string): SavedObject => {
  const found = objects().find((object) => object.type === type && object.id === id);
  if (!found) throw new Error(`no ${type}:${id}`);
  return found;
};
const visState = (id: string) => JSON.parse(byId('visualization', id).attributes.visState as string);
const tableOfPattern = (patternId: string): TableName => TABLE_NAMES.find((table) => byId('index-pattern', patternId).attributes.title === aliases[table])!;

/** The global tenant (dateFormat:tz = UTC) seen from Los Angeles. */
const ANALYST: Viewer = { browserZone: 'America/Los_Angeles', settings: { 'dateFormat:tz': 'UTC' } };
/** A private tenant, where the setting is not: the browser's zone. */
const PRIVATE_TENANT: Viewer = { browserZone: 'America/Los_Angeles' };

async function search(index: string, body: Record<string, unknown>): Promise<any> {
  return (await client.transport.request({ method: 'POST', path: `/${index}/_search`, body })).body;
}

// ------------------------------------------------------------------------------------------------
// The same aggregation over the fixture rows, in plain code

interface Bucket {
  key: string | number;
  metrics: Record<string, number>;
  children?: Bucket[];
}

const MISSING = '__missing__';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

function inRange(row: Row, field: string, range: TimeRange): boolean {
  const t = Date.parse(String(row[field]).length === 10 ? `${row[field]}T00:00:00.000Z` : String(row[field]));
  return t >= Date.parse(range.from) && t <= Date.parse(range.to);
}

function expectedBuckets(aggs: AggState[], rows: readonly Row[]): Bucket[] {
  const metrics = aggs.filter((agg) => agg.schema === 'metric');
  const [bucket, ...rest] = aggs.filter((agg) => agg.schema !== 'metric');
  const sums = (group: readonly Row[]) => Object.fromEntries(metrics.map((m) => [m.id, group.reduce((s, row) => s + Number(row[m.params.field] ?? 0), 0)]));
  const groups = new Map<string | number, Row[]>();
  for (const row of rows) {
    let key: string | number | undefined;
    if (bucket.type === 'terms') {
      const value = row[bucket.params.field];
      key = value === null || value === undefined ? (bucket.params.missingBucket ? MISSING : undefined) : String(value);
    } else {
      const size = bucket.params.interval === 'd' ? DAY_MS : HOUR_MS;
      const value = String(row[bucket.params.field]);
      key = Math.floor(Date.parse(value.length === 10 ? `${value}T00:00:00.000Z` : value) / size) * size; // UTC
    }
    if (key === undefined) continue;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  let result: Bucket[] = [...groups].map(([key, group]) => ({ key, metrics: sums(group), ...(rest.length > 0 && { children: expectedBuckets([...metrics, ...rest], group) }) }));
  if (bucket.type === 'terms') {
    const by = bucket.params.orderBy;
    result.sort((a, b) => b.metrics[by] - a.metrics[by] || String(a.key).localeCompare(String(b.key)));
    result = result.slice(0, bucket.params.size);
  } else {
    result.sort((a, b) => Number(a.key) - Number(b.key));
  }
  return result;
}

/** The response of a standard visualization's query in the same shape. */
function responseBuckets(aggs: AggState[], response: any): Bucket[] {
  const metrics = aggs.filter((agg) => agg.schema === 'metric');
  const buckets = aggs.filter((agg) => agg.schema !== 'metric');
  const walk = (level: any, depth: number): Bucket[] =>
    level[buckets[depth].id].buckets.map((b: any) => ({
      key: b.key,
      // Outer levels carry only the metrics Dashboards asks there (the one a terms is ordered by).
      metrics: Object.fromEntries(metrics.filter((m) => b[m.id] !== undefined).map((m) => [m.id, b[m.id].value])),
      ...(depth + 1 < buckets.length && { children: walk(b, depth + 1) }),
    }));
  return walk(response.aggregations, 0);
}

// ------------------------------------------------------------------------------------------------

describe('the NDJSON', () => {
  it('is one JSON object per line, each type and id once, every dependency before the objects that use it', () => {
    const lines = savedObjectsNdjson(aliases).split('\n');
    expect(lines.at(-1)).toBe('');
    const parsed = lines.slice(0, -1).map((line) => JSON.parse(line) as SavedObject);
    const seen = new Set<string>();
    for (const object of parsed) {
      for (const ref of object.references) expect(seen).toContain(`${ref.type}:${ref.id}`);
      expect(seen).not.toContain(`${object.type}:${object.id}`);
      seen.add(`${object.type}:${object.id}`);
      expect(Object.keys(object.migrationVersion)).toEqual([object.type]);
    }
    expect(parsed.filter((o) => o.type === 'dashboard').map((o) => [o.id, o.attributes.title])).toEqual([
      [DASHBOARD_IDS.pages, 'Clickstream: pages'],
      [DASHBOARD_IDS.audience, 'Clickstream: audience'],
      [DASHBOARD_IDS.acquisition, 'Clickstream: acquisition'],
      [DASHBOARD_IDS.today, 'Clickstream: today'],
    ]);
    // One index pattern per table, titled with its alias.
    expect(parsed.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title).sort()).toEqual(Object.values(aliases).sort());
  });

  it('has a reference for every panel, and every standard visualization its index pattern', () => {
    for (const dashboard of objects().filter((o) => o.type === 'dashboard')) {
      const panels = JSON.parse(dashboard.attributes.panelsJSON as string);
      expect(panels.map((p: any) => p.panelRefName).sort()).toEqual(dashboard.references.map((ref) => ref.name).sort());
    }
    for (const vis of objects().filter((o) => o.type === 'visualization')) {
      const state = JSON.parse(vis.attributes.visState as string);
      const source = JSON.parse((vis.attributes.kibanaSavedObjectMeta as any).searchSourceJSON);
      if (state.type === 'vega') expect(vis.references).toEqual([]);
      else expect(vis.references).toEqual([{ name: source.indexRefName, type: 'index-pattern', id: expect.stringMatching(/^clickstream-/) }]);
    }
  });

  it('has index patterns whose time fields are dates on the live aliases', async () => {
    for (const pattern of objects().filter((o) => o.type === 'index-pattern')) {
      const table = tableOfPattern(pattern.id);
      expect(pattern.attributes.timeFieldName).toBe(TIME_FIELDS[table]);
      const mapping = (await client.transport.request({ method: 'GET', path: `/${pattern.attributes.title}/_mapping` })).body as any;
      expect(Object.values<any>(mapping)[0].mappings.properties[TIME_FIELDS[table]].type).toBe('date');
    }
  });
});

// ------------------------------------------------------------------------------------------------

const STANDARD: Array<[string, string, TimeRange]> = [
  ['pages', PAGES_IDS.topPages, FIXTURE_RANGE],
  ['pages', PAGES_IDS.clicksByCountry, FIXTURE_RANGE],
  ['pages', PAGES_IDS.dailyTrend, FIXTURE_RANGE],
  ['audience', AUDIENCE_IDS.deviceTypes, FIXTURE_RANGE],
  ['audience', AUDIENCE_IDS.browsers, FIXTURE_RANGE],
  ['audience', AUDIENCE_IDS.operatingSystems, FIXTURE_RANGE],
  ['audience', AUDIENCE_IDS.topCities, FIXTURE_RANGE],
  ['acquisition', ACQUISITION_IDS.channelsPerDay, FIXTURE_RANGE],
  ['acquisition', ACQUISITION_IDS.referrers, FIXTURE_RANGE],
  ['acquisition', ACQUISITION_IDS.campaigns, FIXTURE_RANGE],
  ['today', TODAY_IDS.clicksSessions, FIXTURE_TODAY],
  ['today', TODAY_IDS.devices, FIXTURE_TODAY],
];

describe('the query of each standard visualization, as Dashboards sends it for an analyst in Los Angeles', () => {
  it('covers every standard visualization of the four dashboards', () => {
    const standard = objects().filter((o) => o.type === 'visualization' && JSON.parse(o.attributes.visState as string).type !== 'vega');
    expect(STANDARD.map(([, id]) => id).sort()).toEqual(standard.map((o) => o.id).sort());
  });

  it.each(STANDARD)('%s: %s returns the sums of the fixture rows', async (_dashboard, id, range) => {
    const vis = byId('visualization', id);
    const patternRef = vis.references[0];
    const pattern = byId('index-pattern', patternRef.id).attributes as unknown as IndexPatternAttributes;
    const table = tableOfPattern(patternRef.id);
    const state = visState(id);
    const response = await search(pattern.title, visualizationQuery(state, pattern, { range, viewer: ANALYST }));
    const rows = FIXTURE_ROWS[table].filter((row) => inRange(row, TIME_FIELDS[table], range));
    const expected = expectedBuckets(state.aggs, rows);
    expect(expected.length).toBeGreaterThan(1);
    const got = responseBuckets(state.aggs, response);
    const keep = (expectedLevel: Bucket[], gotLevel: Bucket[]): Bucket[] =>
      expectedLevel.map((bucket, i) => ({
        key: bucket.key,
        metrics: Object.fromEntries(Object.entries(bucket.metrics).filter(([metric]) => gotLevel[i] && metric in gotLevel[i].metrics)),
        ...(bucket.children && { children: keep(bucket.children, gotLevel[i]?.children ?? []) }),
      }));
    expect(got).toEqual(keep(expected, got));
  });

  it('pages: top pages by clicks, with their entrances', async () => {
    const state = visState(PAGES_IDS.topPages);
    const pattern = byId('index-pattern', PAGES_IDS.indexPattern).attributes as unknown as IndexPatternAttributes;
    const buckets = responseBuckets(state.aggs, await search(aliases.url_country_daily, visualizationQuery(state, pattern, { range: FIXTURE_RANGE, viewer: ANALYST })));
    expect(buckets.map((b) => [b.key, b.metrics['1'], b.metrics['3']])).toEqual([
      ['https://shop.example/home', 580, 300],
      ['https://shop.example/p/1', 131, 44],
      ['https://shop.example/p/2', 100, 20],
      ['https://shop.example/cart', 40, 15],
    ]);
  });

  it('audience: top cities keep sessions without a city as their own row, and one city name per country', async () => {
    const state = visState(AUDIENCE_IDS.topCities);
    const pattern = byId('index-pattern', AUDIENCE_IDS.geoIndexPattern).attributes as unknown as IndexPatternAttributes;
    const buckets = responseBuckets(state.aggs, await search(aliases.geo_daily, visualizationQuery(state, pattern, { range: FIXTURE_RANGE, viewer: ANALYST })));
    expect(buckets.map((b) => [b.key, b.metrics['1'], b.children!.map((c) => [c.key, c.metrics['1']])])).toEqual([
      ['Berlin', 100, [['DE', 100]]],
      ['New York', 50, [['US', 50]]],
      ['Paris', 45, [['FR', 40], ['US', 5]]],
      ['Munich', 20, [['DE', 20]]],
      ['__missing__', 10, [['DE', 10]]],
    ]);
  });

  it('today: the hours of the UTC day only, in UTC hours', async () => {
    const state = visState(TODAY_IDS.clicksSessions);
    const pattern = byId('index-pattern', TODAY_IDS.indexPattern).attributes as unknown as IndexPatternAttributes;
    const buckets = responseBuckets(state.aggs, await search(aliases.traffic_hourly, visualizationQuery(state, pattern, { range: FIXTURE_TODAY, viewer: PRIVATE_TENANT })));
    expect(buckets.map((b) => [new Date(b.key).toISOString(), b.metrics['1'], b.metrics['2']])).toEqual([
      ['2026-07-03T00:00:00.000Z', 40, 15],
      ['2026-07-03T09:00:00.000Z', 50, 12],
      ['2026-07-03T17:00:00.000Z', 94, 30],
    ]);
  });

  it('daily charts show the UTC days to an analyst in Los Angeles, whether or not the tenant shows UTC', async () => {
    const pattern = byId('index-pattern', PAGES_IDS.indexPattern).attributes as unknown as IndexPatternAttributes;
    const state = visState(PAGES_IDS.dailyTrend);
    const expected = [['2026-07-01', 502], ['2026-07-02', 255], ['2026-07-03', 94]];
    for (const viewer of [ANALYST, PRIVATE_TENANT]) {
      const query = visualizationQuery(state, pattern, { range: FIXTURE_RANGE, viewer });
      const days = (await search(aliases.url_country_daily, query)).aggregations['2'].buckets.map((b: any) => [new Date(b.key).toISOString().slice(0, 10), b['1'].value]);
      expect(days).toEqual(expected);
    }
    // The labels analysts read in the global tenant are the UTC days too.
    const query = visualizationQuery(state, pattern, { range: FIXTURE_RANGE, viewer: ANALYST });
    const keys = (await search(aliases.url_country_daily, query)).aggregations['2'].buckets.map((b: any) => b.key);
    expect(keys.map((key: number) => dayLabel(key, ANALYST))).toEqual(expected.map(([day]) => day));
    expect(state.aggs.find((agg: any) => agg.type === 'date_histogram').params.customLabel).toBe('Day (UTC)');

    // Without the UTC zone on the aggregation and the pattern, the same analyst's days move by one.
    const aggs = state.aggs.map((agg: AggState) => (agg.type === 'date_histogram' ? { ...agg, params: { ...agg.params, time_zone: undefined } } : agg));
    const shifted = await search(aliases.url_country_daily, visualizationQuery({ aggs }, { ...pattern, typeMeta: undefined }, { range: FIXTURE_RANGE, viewer: PRIVATE_TENANT }));
    expect(shifted.aggregations['2'].buckets.map((b: any) => new Date(b.key).toISOString().slice(0, 10))).toEqual(['2026-06-30', '2026-07-01', '2026-07-02']);
  });

  it('every date histogram of every visualization, standard or Vega, buckets in UTC', () => {
    for (const vis of objects().filter((o) => o.type === 'visualization')) {
      const state = JSON.parse(vis.attributes.visState as string);
      const text = state.type === 'vega' ? state.params.spec : JSON.stringify(state.aggs);
      const histograms = state.type === 'vega'
        ? [...text.matchAll(/"date_histogram": (\{[^}]*\})/g)].map((m: RegExpMatchArray) => JSON.parse(m[1]))
        : state.aggs.filter((agg: AggState) => agg.type === 'date_histogram').map((agg: AggState) => agg.params);
      for (const histogram of histograms) expect(histogram.time_zone).toBe('UTC');
    }
    for (const pattern of objects().filter((o) => o.type === 'index-pattern')) {
      const typeMeta = JSON.parse(pattern.attributes.typeMeta as string);
      expect(typeMeta.aggs.date_histogram[pattern.attributes.timeFieldName as string]).toEqual({ time_zone: 'UTC' });
    }
  });
});

// ------------------------------------------------------------------------------------------------

/** The Vega panel's response, and the compiled chart run on it as Dashboards runs it. */
async function runVega(id: string, range: TimeRange): Promise<{ buckets: any[]; spec: any; view: vega.View }> {
  const state = visState(id);
  expect(state.type).toBe('vega');
  const spec = JSON.parse(state.params.spec);
  const { index, body } = vegaQuery(spec.data.url, range);
  const response = await search(index, body);
  const buckets = spec.data.format.property.split('.').reduce((at: any, key: string) => at[key], response);
  // Dashboards sizes the spec to the panel and compiles Vega-Lite first, then replaces each `url`
  // with the response as `values` (vis_type_vega/public/data_model/vega_parser.ts).
  const compiled = compile({ ...spec, autosize: { type: 'fit', contains: 'padding' }, width: 'container', height: 'container' }).spec as any;
  for (const data of compiled.data ?? []) {
    if (data.url && typeof data.url === 'object') {
      delete data.url;
      data.values = response;
    }
  }
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  await view.runAsync();
  return { buckets, spec, view };
}

/** How many items the chart drew. */
function markItems(view: vega.View): number {
  let count = 0;
  const visit = (node: any) => {
    if (node?.marktype && Array.isArray(node.items)) {
      if (!['group'].includes(node.marktype) && node.role === 'mark') count += node.items.length;
      node.items.forEach(visit);
    } else if (node?.items) node.items.forEach(visit);
  };
  visit((view.scenegraph() as any).root);
  return count;
}

/** The texts the chart's text marks drew. */
function markTexts(view: vega.View): string[] {
  const texts: string[] = [];
  const visit = (node: any) => {
    if (node?.marktype === 'text' && node.role === 'mark') for (const item of node.items) texts.push(String(item.text));
    for (const child of node?.items ?? []) visit(child);
  };
  visit((view.scenegraph() as any).root);
  return texts;
}

const sumOf = (rows: readonly Row[], field: string) => rows.reduce((s, row) => s + Number(row[field] ?? 0), 0);

describe('the query of each Vega panel, and the chart drawn from it', () => {
  it('covers every Vega panel of the four dashboards', () => {
    const vegaPanels = objects().filter((o) => o.type === 'visualization' && JSON.parse(o.attributes.visState as string).type === 'vega');
    expect(vegaPanels.map((o) => o.id).sort()).toEqual(
      [PAGES_IDS.avgTimeOnPage, PAGES_IDS.entrancesBounceRate, AUDIENCE_IDS.summary, AUDIENCE_IDS.dailySessions, ACQUISITION_IDS.channels, TODAY_IDS.botShare].sort(),
    );
  });

  it('pages: average time on page is sum of time over sum of timed views, pages without timed views left out', async () => {
    const { buckets, spec, view } = await runVega(PAGES_IDS.avgTimeOnPage, FIXTURE_RANGE);
    expect(spec.data.url.index).toBe(aliases.url_country_daily);
    const byPage = new Map<string, Row[]>();
    for (const row of FIXTURE_ROWS.url_country_daily) byPage.set(String(row.page_url), [...(byPage.get(String(row.page_url)) ?? []), row]);
    const expected = [...byPage]
      .map(([page, rows]) => [page, sumOf(rows, 'timed_views'), sumOf(rows, 'total_time_spent_seconds')] as const)
      .filter(([, views]) => views > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([page, views, time]) => [page, time / views]);
    expect(buckets.map((b: any) => b.key)).toEqual(expected.map(([page]) => page));
    buckets.forEach((b: any, i: number) => expect(b.avg_time_on_page.value).toBeCloseTo(expected[i][1] as number, 10));
    // Weighted, not an average of the rows' averages ((100 + 2 + 10) / 3 = 37.33 for /p/1).
    expect(buckets.find((b: any) => b.key === 'https://shop.example/p/1').avg_time_on_page.value).toBeCloseTo(348 / 105, 10);
    expect(markItems(view)).toBe(buckets.length);
  });

  it('pages: entrances and bounce rate per page, bounce rate = sum(bounces) / sum(entrances)', async () => {
    const { buckets, view } = await runVega(PAGES_IDS.entrancesBounceRate, FIXTURE_RANGE);
    expect(buckets.map((b: any) => [b.key, b.entrances.value, b.bounces.value])).toEqual([
      ['https://shop.example/home', 300, 65],
      ['https://shop.example/p/1', 44, 5],
      ['https://shop.example/p/2', 20, 5],
      ['https://shop.example/cart', 15, 15],
    ]);
    // /home: 65 / 300, not the average of its rows' rates ((0.2 + 0.5 + 0.1) / 3 = 0.267).
    expect(buckets[0].bounce_rate.value).toBeCloseTo(65 / 300, 10);
    expect(buckets.map((b: any) => b.bounce_rate.value)).toEqual(buckets.map((b: any) => b.bounces.value / b.entrances.value));
    expect(markItems(view)).toBe(2 * buckets.length); // a bar and a label per page
  });

  it('audience: sessions, bounce rate and average session duration over the whole range', async () => {
    const { buckets, view } = await runVega(AUDIENCE_IDS.summary, FIXTURE_RANGE);
    expect(buckets).toHaveLength(1);
    const [all] = buckets;
    expect([all.sessions.value, all.bounces.value, all.duration.value]).toEqual([250, 64, 18_900]);
    // 64 / 250 = 0.256; the average of the rows' bounce_rate would be 0.44.
    expect(all.bounce_rate.value).toBeCloseTo(0.256, 10);
    expect(all.avg_duration.value).toBeCloseTo(75.6, 10);
    expect(markItems(view)).toBe(3);
    expect(markTexts(view)).toEqual(['250', '25.6%', '75.6 s']);
  });

  it('audience: sessions and bounce rate per UTC day', async () => {
    const { buckets, view } = await runVega(AUDIENCE_IDS.dailySessions, FIXTURE_RANGE);
    expect(buckets.map((b: any) => [new Date(b.key).toISOString().slice(0, 10), b.sessions.value, b.bounce_rate.value])).toEqual([
      ['2026-07-01', 150, 30 / 150],
      ['2026-07-02', 40, 20 / 40],
      ['2026-07-03', 60, 14 / 60],
    ]);
    expect(markItems(view)).toBe(3 + 3 + 3); // bars, the line's vertices, its points
  });

  it('acquisition: sessions and bounce rate by channel', async () => {
    const { buckets, view } = await runVega(ACQUISITION_IDS.channels, FIXTURE_RANGE);
    expect(buckets.map((b: any) => [b.key, b.sessions.value, b.bounce_rate.value])).toEqual([
      ['organic_search', 100, 0.1],
      ['direct', 50, 0.4],
      ['paid_search', 40, 0.1],
      ['social', 30, 0.5],
      ['email', 25, 11 / 25],
      ['referral', 10, 0.5],
    ]);
    expect(markItems(view)).toBe(2 * buckets.length);
  });

  it('today: bot share = bot clicks over all clicks, per UTC hour of the day', async () => {
    const { buckets, view } = await runVega(TODAY_IDS.botShare, FIXTURE_TODAY);
    expect(buckets.map((b: any) => [new Date(b.key).toISOString(), b.bot_clicks.value, b.clicks.value, b.bot_share.value])).toEqual([
      ['2026-07-03T00:00:00.000Z', 10, 40, 10 / 50],
      ['2026-07-03T09:00:00.000Z', 55, 50, 55 / 105],
      ['2026-07-03T17:00:00.000Z', 6, 94, 6 / 100],
    ]);
    expect(markItems(view)).toBe(3 + 3); // the line's vertices and its points
  });
});
