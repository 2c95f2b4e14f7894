/**
 * The OpenSearch Dashboards saved objects analysts find after deployment (SPEC section 4): an
 * index pattern on the alias and a dashboard with top pages by clicks, clicks by country, average
 * time on page and the daily trend.
 *
 * Every object has a fixed id, so the provisioner's import with `overwrite=true` replaces the
 * objects of an earlier deployment instead of adding copies.
 *
 * Average time on page is weighted: sum(total_time_spent_seconds) / sum(timed_views) over the
 * rows in view, never an average of the rows' `avg_time_spent_seconds` (a page with one timed view
 * would weigh as much as one with ten thousand). The standard visualizations have no ratio of two
 * sums, so that panel is a Vega-Lite chart whose query computes the ratio with a `bucket_script`.
 *
 * Run `npx tsx opensearch/saved-objects.ts > clickstream.ndjson` for a file to import by hand
 * (Dashboards > Management > Saved objects > Import).
 */
import { DEFAULT_ALIAS, DOCUMENT_FIELDS } from './index-template';

export interface SavedObject {
  readonly type: string;
  readonly id: string;
  readonly attributes: Record<string, unknown>;
  readonly references: ReadonlyArray<{ readonly name: string; readonly type: string; readonly id: string }>;
  readonly migrationVersion: Record<string, string>;
}

export const SAVED_OBJECT_IDS = {
  indexPattern: 'clickstream-url-country-daily',
  topPages: 'clickstream-top-pages-by-clicks',
  clicksByCountry: 'clickstream-clicks-by-country',
  avgTimeOnPage: 'clickstream-average-time-on-page',
  dailyTrend: 'clickstream-daily-trend',
  dashboard: 'clickstream-overview',
} as const;

const INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';
const TIME_FIELD = 'event_date';

/** Field list of the index pattern, derived from the template's mappings. */
function indexPatternFields(): string {
  const kind = (type: string) => (type === 'keyword' ? 'string' : type === 'date' ? 'date' : 'number');
  const fields = Object.entries(DOCUMENT_FIELDS).map(([name, mapping]) => ({
    name,
    type: kind(mapping.type),
    esTypes: [mapping.type],
    count: 0,
    scripted: false,
    searchable: true,
    aggregatable: true,
    readFromDocValues: true,
  }));
  const meta = [
    { name: '_id', type: 'string', esTypes: ['_id'], searchable: true, aggregatable: true },
    { name: '_index', type: 'string', esTypes: ['_index'], searchable: true, aggregatable: true },
    { name: '_score', type: 'number', searchable: false, aggregatable: false },
    { name: '_source', type: '_source', esTypes: ['_source'], searchable: false, aggregatable: false },
  ].map((field) => ({ count: 0, scripted: false, readFromDocValues: false, ...field }));
  return JSON.stringify([...meta, ...fields]);
}

/** Dates are UTC days and hours: every date histogram buckets in UTC whatever the viewer's zone. */
export const DATE_HISTOGRAM_TIME_ZONE = 'UTC';

/**
 * The index pattern's `typeMeta`: Dashboards takes a date histogram's `time_zone` from the
 * aggregation's parameter, else from `typeMeta.aggs.date_histogram.<field>.time_zone`, else from
 * the viewer's `dateFormat:tz` (`Browser` by default)
 * (src/plugins/data/common/search/aggs/buckets/date_histogram.ts). The parameter is not kept when
 * an analyst saves a visualization again (its `serialize` is a no-op); this is, and it also
 * covers the visualizations analysts build themselves on the pattern.
 */
function utcTypeMeta(dateFields: readonly string[]): string {
  return JSON.stringify({ aggs: { date_histogram: Object.fromEntries(dateFields.map((field) => [field, { time_zone: DATE_HISTOGRAM_TIME_ZONE }])) } });
}

function searchSource(): string {
  return JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [], indexRefName: INDEX_REF });
}

function visualization(id: string, title: string, description: string, visState: Record<string, unknown>): SavedObject {
  return {
    type: 'visualization',
    id,
    attributes: {
      title,
      description,
      visState: JSON.stringify({ title, ...visState }),
      uiStateJSON: '{}',
      version: 1,
      kibanaSavedObjectMeta: { searchSourceJSON: searchSource() },
    },
    references: [{ name: INDEX_REF, type: 'index-pattern', id: SAVED_OBJECT_IDS.indexPattern }],
    migrationVersion: { visualization: '7.10.0' },
  };
}

const sumOf = (id: string, field: string, label: string) => ({
  id,
  enabled: true,
  type: 'sum',
  schema: 'metric',
  params: { field, customLabel: label },
});

/** The Vega-Lite spec of the average-time panel; its query is what the tests run. */
export function averageTimeOnPageSpec(alias: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Average time on page, seconds (weighted by timed views; 10 most viewed pages)',
    data: {
      url: {
        index: alias,
        // Dashboards adds the dashboard's time range on this field, and its query and filters.
        '%context%': true,
        '%timefield%': TIME_FIELD,
        body: {
          size: 0,
          aggs: {
            pages: {
              terms: { field: 'page_url', size: 10, order: { timed_views: 'desc' } },
              aggs: {
                time_spent: { sum: { field: 'total_time_spent_seconds' } },
                timed_views: { sum: { field: 'timed_views' } },
                // Pages whose every view was an exit have no time on page: leave them out.
                has_timed_views: { bucket_selector: { buckets_path: { views: 'timed_views' }, script: 'params.views > 0' } },
                avg_time_on_page: {
                  bucket_script: { buckets_path: { time: 'time_spent', views: 'timed_views' }, script: 'params.views > 0 ? params.time / params.views : 0' },
                },
              },
            },
          },
        },
      },
      format: { property: 'aggregations.pages.buckets' },
    },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'key', type: 'nominal', sort: '-x', title: 'Page' },
      x: { field: 'avg_time_on_page.value', type: 'quantitative', title: 'Average time on page (s)' },
      tooltip: [
        { field: 'key', type: 'nominal', title: 'Page' },
        { field: 'avg_time_on_page.value', type: 'quantitative', title: 'Average (s)', format: '.1f' },
        { field: 'timed_views.value', type: 'quantitative', title: 'Timed views' },
      ],
    },
  };
}

/** Every saved object of the dashboard, dependencies first. */
export function savedObjects(alias: string = DEFAULT_ALIAS): SavedObject[] {
  const indexPattern: SavedObject = {
    type: 'index-pattern',
    id: SAVED_OBJECT_IDS.indexPattern,
    attributes: { title: alias, timeFieldName: TIME_FIELD, fields: indexPatternFields(), typeMeta: utcTypeMeta([TIME_FIELD]) },
    references: [],
    migrationVersion: { 'index-pattern': '7.6.0' },
  };

  const topPages = visualization(SAVED_OBJECT_IDS.topPages, 'Top pages by clicks', 'The 20 pages with the most clicks in the time range.', {
    type: 'table',
    params: { perPage: 20, showPartialRows: false, showMetricsAtAllLevels: false, showTotal: false, totalFunc: 'sum', percentageCol: '' },
    aggs: [
      sumOf('1', 'clicks', 'Clicks'),
      {
        id: '2',
        enabled: true,
        type: 'terms',
        schema: 'bucket',
        params: { field: 'page_url', orderBy: '1', order: 'desc', size: 20, otherBucket: false, missingBucket: false, customLabel: 'Page' },
      },
    ],
  });

  const clicksByCountry = visualization(SAVED_OBJECT_IDS.clicksByCountry, 'Clicks by country', 'Clicks per country; the rest grouped as Other.', {
    type: 'pie',
    params: {
      type: 'pie',
      addTooltip: true,
      addLegend: true,
      legendPosition: 'right',
      isDonut: true,
      labels: { show: true, values: true, last_level: true, truncate: 100 },
    },
    aggs: [
      sumOf('1', 'clicks', 'Clicks'),
      {
        id: '2',
        enabled: true,
        type: 'terms',
        schema: 'segment',
        params: {
          field: 'country',
          orderBy: '1',
          order: 'desc',
          size: 15,
          otherBucket: true,
          otherBucketLabel: 'Other',
          missingBucket: false,
          customLabel: 'Country',
        },
      },
    ],
  });

  const avgTimeOnPage: SavedObject = {
    type: 'visualization',
    id: SAVED_OBJECT_IDS.avgTimeOnPage,
    attributes: {
      title: 'Average time on page',
      description: 'sum(total_time_spent_seconds) / sum(timed_views) per page: a weighted average, exits excluded.',
      visState: JSON.stringify({
        title: 'Average time on page',
        type: 'vega',
        aggs: [],
        params: { spec: JSON.stringify(averageTimeOnPageSpec(alias), null, 2) },
      }),
      uiStateJSON: '{}',
      version: 1,
      // Vega queries name their index in the spec; the search source only carries the query bar.
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
    references: [],
    migrationVersion: { visualization: '7.10.0' },
  };

  const dailyTrend = visualization(SAVED_OBJECT_IDS.dailyTrend, 'Daily clicks (UTC)', 'Clicks per day (event date, UTC).', {
    type: 'line',
    params: {
      type: 'line',
      grid: { categoryLines: false },
      categoryAxes: [
        {
          id: 'CategoryAxis-1',
          type: 'category',
          position: 'bottom',
          show: true,
          style: {},
          scale: { type: 'linear' },
          labels: { show: true, filter: true, truncate: 100 },
          title: {},
        },
      ],
      valueAxes: [
        {
          id: 'ValueAxis-1',
          name: 'LeftAxis-1',
          type: 'value',
          position: 'left',
          show: true,
          style: {},
          scale: { type: 'linear', mode: 'normal' },
          labels: { show: true, rotate: 0, filter: false, truncate: 100 },
          title: { text: 'Clicks' },
        },
      ],
      seriesParams: [
        {
          show: true,
          type: 'line',
          mode: 'normal',
          data: { label: 'Clicks', id: '1' },
          valueAxis: 'ValueAxis-1',
          drawLinesBetweenPoints: true,
          lineWidth: 2,
          interpolate: 'linear',
          showCircles: true,
        },
      ],
      addTooltip: true,
      addLegend: false,
      legendPosition: 'right',
      times: [],
      addTimeMarker: false,
      labels: {},
      thresholdLine: { show: false, value: 10, width: 1, style: 'full', color: '#E7664C' },
    },
    aggs: [
      sumOf('1', 'clicks', 'Clicks'),
      {
        id: '2',
        enabled: true,
        type: 'date_histogram',
        schema: 'segment',
        params: {
          field: TIME_FIELD,
          time_zone: DATE_HISTOGRAM_TIME_ZONE,
          useNormalizedOpenSearchInterval: true,
          scaleMetricValues: false,
          interval: 'd',
          drop_partials: false,
          min_doc_count: 1,
          extended_bounds: {},
          customLabel: 'Day (UTC)',
        },
      },
    ],
  });

  const panels = [topPages, clicksByCountry, avgTimeOnPage, dailyTrend];
  const layout = [
    { x: 0, y: 0, w: 24, h: 15 },
    { x: 24, y: 0, w: 24, h: 15 },
    { x: 0, y: 15, w: 24, h: 15 },
    { x: 24, y: 15, w: 24, h: 15 },
  ];
  const dashboard: SavedObject = {
    type: 'dashboard',
    id: SAVED_OBJECT_IDS.dashboard,
    attributes: {
      title: 'Clickstream overview',
      description: 'Clicks, countries and time on page from the daily url/country aggregates.',
      hits: 0,
      panelsJSON: JSON.stringify(
        panels.map((_, i) => ({
          version: '2.19.0',
          panelIndex: String(i + 1),
          gridData: { ...layout[i], i: String(i + 1) },
          embeddableConfig: {},
          panelRefName: `panel_${i}`,
        })),
      ),
      optionsJSON: JSON.stringify({ hidePanelTitles: false, useMargins: true }),
      version: 1,
      timeRestore: true,
      timeFrom: 'now-30d',
      timeTo: 'now',
      refreshInterval: { pause: true, value: 0 },
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
    references: panels.map((panel, i) => ({ name: `panel_${i}`, type: 'visualization', id: panel.id })),
    migrationVersion: { dashboard: '7.9.3' },
  };

  return [indexPattern, ...panels, dashboard];
}

/** The objects as the NDJSON the saved-objects import API takes. */
export function savedObjectsNdjson(alias: string = DEFAULT_ALIAS): string {
  return savedObjects(alias).map((object) => JSON.stringify(object)).join('\n') + '\n';
}

if (require.main === module) {
  process.stdout.write(savedObjectsNdjson(process.argv[2] ?? DEFAULT_ALIAS));
}
