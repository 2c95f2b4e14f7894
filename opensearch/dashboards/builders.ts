/**
 * Builders of the Dashboards 2.x saved objects the product ships: index patterns on the table
 * aliases, standard visualizations (data table, pie, line), Vega-Lite visualizations and
 * dashboards. Each object is in the shape Dashboards 2.19 exports and imports (attributes within
 * the saved-object type's mapping, `migrationVersion` at the type's latest migration);
 * test/search/dashboards-rules.test.ts checks them against Dashboards' own rules.
 */
import { TABLES, TableName } from '../../lambdas/indexer/tables';

export interface SavedObjectReference {
  readonly name: string;
  readonly type: string;
  readonly id: string;
}

export interface SavedObject {
  readonly type: string;
  readonly id: string;
  readonly attributes: Record<string, unknown>;
  readonly references: readonly SavedObjectReference[];
  readonly migrationVersion: Record<string, string>;
}

/** The latest migration of each type in Dashboards 2.19 (the objects need none on import). */
export const MIGRATION_VERSIONS = { 'index-pattern': '7.6.0', visualization: '7.10.0', dashboard: '7.9.3' } as const;

/** Dates are UTC days and hours: every date histogram buckets in UTC whatever the viewer's zone. */
export const DATE_HISTOGRAM_TIME_ZONE = 'UTC';

/** The time field of each table's index pattern. */
export const TIME_FIELDS: Readonly<Record<TableName, string>> = {
  url_country_daily: 'event_date',
  sessions_daily: 'event_date',
  traffic_sources_daily: 'event_date',
  geo_daily: 'event_date',
  traffic_hourly: 'event_hour',
};

/** The saved-object id of a table's index pattern: `clickstream-<table with "-">`. */
export function indexPatternId(table: TableName): string {
  return `clickstream-${table.replace(/_/g, '-')}`;
}

export const INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';

const EMPTY_QUERY = { query: '', language: 'kuery' };

/** Dashboards' field type of a mapping type (src/plugins/data/common/osd_field_types). */
export function osdFieldType(esType: string): string {
  if (esType === 'keyword' || esType === 'text') return 'string';
  if (esType === 'date') return 'date';
  if (['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float'].includes(esType)) return 'number';
  throw new Error(`no Dashboards field type for the mapping type ${esType}`);
}

/** The field list of a table's index pattern, as Dashboards' field refresh would write it. */
export function indexPatternFields(table: TableName): Array<Record<string, unknown>> {
  const meta = [
    { name: '_id', type: 'string', esTypes: ['_id'], searchable: true, aggregatable: true },
    { name: '_index', type: 'string', esTypes: ['_index'], searchable: true, aggregatable: true },
    { name: '_score', type: 'number', searchable: false, aggregatable: false },
    { name: '_source', type: '_source', esTypes: ['_source'], searchable: false, aggregatable: false },
  ].map((field) => ({ count: 0, scripted: false, readFromDocValues: false, ...field }));
  const fields = Object.entries(TABLES[table].fields).map(([name, spec]) => ({
    count: 0,
    name,
    type: osdFieldType(spec.type),
    esTypes: [spec.type],
    scripted: false,
    searchable: true,
    aggregatable: true,
    readFromDocValues: true,
  }));
  return [...meta, ...fields];
}

/**
 * A table's index pattern. `typeMeta` names UTC as the zone of every date histogram on its date
 * fields: Dashboards takes a date histogram's `time_zone` from the aggregation's parameter, else
 * from `typeMeta.aggs.date_histogram.<field>.time_zone`, else from the viewer's `dateFormat:tz`
 * (`Browser` by default) (src/plugins/data/common/search/aggs/buckets/date_histogram.ts). The
 * parameter is dropped when an analyst saves a visualization again (its `serialize` is a no-op);
 * `typeMeta` is not, and it covers the visualizations analysts build themselves on the pattern.
 */
export function indexPattern(table: TableName, alias: string): SavedObject {
  const dateFields = Object.entries(TABLES[table].fields).filter(([, spec]) => spec.type === 'date').map(([name]) => name);
  return {
    type: 'index-pattern',
    id: indexPatternId(table),
    attributes: {
      title: alias,
      timeFieldName: TIME_FIELDS[table],
      fields: JSON.stringify(indexPatternFields(table)),
      typeMeta: JSON.stringify({ aggs: { date_histogram: Object.fromEntries(dateFields.map((field) => [field, { time_zone: DATE_HISTOGRAM_TIME_ZONE }])) } }),
    },
    references: [],
    migrationVersion: { 'index-pattern': MIGRATION_VERSIONS['index-pattern'] },
  };
}

// ------------------------------------------------------------------------------------------------
// Aggregations of standard visualizations (the `aggs` of a visState)

export interface Agg {
  readonly id: string;
  readonly enabled: boolean;
  readonly type: string;
  readonly schema: string;
  readonly params: Record<string, unknown>;
}

export const sum = (id: string, field: string, customLabel: string): Agg => ({ id, enabled: true, type: 'sum', schema: 'metric', params: { field, customLabel } });

export interface TermsOptions {
  readonly orderBy: string;
  readonly size: number;
  readonly label: string;
  /** Rows whose field is null get a bucket of their own with this label. @default none */
  readonly missingLabel?: string;
  /** Everything beyond `size` as one bucket with this label. @default none */
  readonly otherLabel?: string;
}

export function terms(id: string, schema: string, field: string, options: TermsOptions): Agg {
  return {
    id,
    enabled: true,
    type: 'terms',
    schema,
    params: {
      field,
      orderBy: options.orderBy,
      order: 'desc',
      size: options.size,
      otherBucket: options.otherLabel !== undefined,
      otherBucketLabel: options.otherLabel ?? 'Other',
      missingBucket: options.missingLabel !== undefined,
      missingBucketLabel: options.missingLabel ?? 'Missing',
      customLabel: options.label,
    },
  };
}

/** A date histogram in UTC days (`d`) or hours (`h`). */
export function utcHistogram(id: string, field: string, interval: 'd' | 'h', customLabel: string): Agg {
  return {
    id,
    enabled: true,
    type: 'date_histogram',
    schema: 'segment',
    params: {
      field,
      time_zone: DATE_HISTOGRAM_TIME_ZONE,
      useNormalizedOpenSearchInterval: true,
      scaleMetricValues: false,
      interval,
      drop_partials: false,
      min_doc_count: 1,
      extended_bounds: {},
      customLabel,
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Visualizations

function standardVisualization(id: string, table: TableName, title: string, description: string, visState: Record<string, unknown>): SavedObject {
  return {
    type: 'visualization',
    id,
    attributes: {
      title,
      description,
      visState: JSON.stringify({ title, ...visState }),
      uiStateJSON: '{}',
      version: 1,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: EMPTY_QUERY, filter: [], indexRefName: INDEX_REF }) },
    },
    references: [{ name: INDEX_REF, type: 'index-pattern', id: indexPatternId(table) }],
    migrationVersion: { visualization: MIGRATION_VERSIONS.visualization },
  };
}

export function dataTable(id: string, table: TableName, title: string, description: string, aggs: Agg[], perPage = 20): SavedObject {
  return standardVisualization(id, table, title, description, {
    type: 'table',
    params: { perPage, showPartialRows: false, showMetricsAtAllLevels: false, showTotal: false, totalFunc: 'sum', percentageCol: '' },
    aggs,
  });
}

export function pie(id: string, table: TableName, title: string, description: string, aggs: Agg[]): SavedObject {
  return standardVisualization(id, table, title, description, {
    type: 'pie',
    params: {
      type: 'pie',
      addTooltip: true,
      addLegend: true,
      legendPosition: 'right',
      isDonut: true,
      labels: { show: true, values: true, last_level: true, truncate: 100 },
    },
    aggs,
  });
}

/** A line chart: one series per metric of `aggs`, over the date histogram of `aggs`. */
export function lineChart(id: string, table: TableName, title: string, description: string, aggs: Agg[], valueTitle: string): SavedObject {
  const metrics = aggs.filter((agg) => agg.schema === 'metric');
  return standardVisualization(id, table, title, description, {
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
          title: { text: valueTitle },
        },
      ],
      seriesParams: metrics.map((metric) => ({
        show: true,
        type: 'line',
        mode: 'normal',
        data: { label: metric.params.customLabel, id: metric.id },
        valueAxis: 'ValueAxis-1',
        drawLinesBetweenPoints: true,
        lineWidth: 2,
        interpolate: 'linear',
        showCircles: true,
      })),
      addTooltip: true,
      addLegend: metrics.length > 1,
      legendPosition: 'right',
      times: [],
      addTimeMarker: false,
      labels: {},
      thresholdLine: { show: false, value: 10, width: 1, style: 'full', color: '#E7664C' },
    },
    aggs,
  });
}

/**
 * A Vega-Lite visualization. Its query is in the spec (`data.url`): Dashboards adds the dashboard's
 * query, filters and time range (`%context%`, `%timefield%`); the search source carries only the
 * query bar, and there is no index-pattern reference.
 */
export function vegaVisualization(id: string, title: string, description: string, spec: Record<string, unknown>): SavedObject {
  return {
    type: 'visualization',
    id,
    attributes: {
      title,
      description,
      visState: JSON.stringify({ title, type: 'vega', aggs: [], params: { spec: JSON.stringify(spec, null, 2) } }),
      uiStateJSON: '{}',
      version: 1,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: EMPTY_QUERY, filter: [] }) },
    },
    references: [],
    migrationVersion: { visualization: MIGRATION_VERSIONS.visualization },
  };
}

/** The `data` of a Vega-Lite spec: an OpenSearch query on an alias, in the dashboard's context. */
export function vegaData(alias: string, timeField: string, aggs: Record<string, unknown>, property: string): Record<string, unknown> {
  return {
    url: { index: alias, '%context%': true, '%timefield%': timeField, body: { size: 0, aggs } },
    format: { property },
  };
}

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

// ------------------------------------------------------------------------------------------------
// Dashboards

export interface PanelLayout {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface DashboardOptions {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly panels: ReadonlyArray<{ readonly visualization: SavedObject; readonly layout: PanelLayout }>;
  readonly timeFrom: string;
  readonly timeTo: string;
}

export function dashboard(options: DashboardOptions): SavedObject {
  return {
    type: 'dashboard',
    id: options.id,
    attributes: {
      title: options.title,
      description: options.description,
      hits: 0,
      panelsJSON: JSON.stringify(
        options.panels.map(({ layout }, i) => ({
          version: '2.19.0',
          panelIndex: String(i + 1),
          gridData: { ...layout, i: String(i + 1) },
          embeddableConfig: {},
          panelRefName: `panel_${i}`,
        })),
      ),
      optionsJSON: JSON.stringify({ hidePanelTitles: false, useMargins: true }),
      version: 1,
      timeRestore: true,
      timeFrom: options.timeFrom,
      timeTo: options.timeTo,
      refreshInterval: { pause: true, value: 0 },
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: EMPTY_QUERY, filter: [] }) },
    },
    references: options.panels.map(({ visualization }, i) => ({ name: `panel_${i}`, type: 'visualization', id: visualization.id })),
    migrationVersion: { dashboard: MIGRATION_VERSIONS.dashboard },
  };
}

/** Two panels per row, each half the 48-column grid wide. */
export function gridLayout(count: number, height = 15): PanelLayout[] {
  return Array.from({ length: count }, (_, i) => ({ x: (i % 2) * 24, y: Math.floor(i / 2) * height, w: 24, h: height }));
}
