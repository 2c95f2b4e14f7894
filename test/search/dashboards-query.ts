/**
 * The search request OpenSearch Dashboards 2.x builds for a saved visualization, for the
 * aggregation types the product's visualizations use, so that tests can run it on the real local
 * OpenSearch. Each rule names the Dashboards source it follows (repository
 * opensearch-project/OpenSearch-Dashboards, under src/plugins/):
 *
 * - data/common/search/aggs/agg_configs.ts `toDsl`: bucket aggregations nest in visState order,
 *   metrics go under the innermost bucket; a `count` metric has no DSL (it is the doc_count).
 * - data/common/search/aggs/buckets/terms.ts: `size`, `order` by the metric `orderBy` names
 *   (or `_key`), `missing: "__missing__"` when `missingBucket` is on.
 * - data/common/search/aggs/buckets/date_histogram.ts: the interval as `calendar_interval`
 *   (data/common/search/aggs/utils/date_interval_utils), `min_doc_count`, and `time_zone` from
 *   the aggregation's parameter, else the index pattern's `typeMeta.aggs.date_histogram.<field>`,
 *   else the viewer's `dateFormat:tz` (`Browser`: the browser's zone).
 * - data/common/search/search_source/search_source.ts + data/common/query/timefilter/get_time.ts:
 *   the time range as a `range` filter on the index pattern's time field.
 * - vis_type_vega/public/data_model/opensearch_query_parser.ts: a Vega `url` with `%context%`
 *   gets the dashboard's query and filters as `query`, and `%timefield%` adds the time range on
 *   that field to its `bool.must`.
 */

export interface Viewer {
  /** The browser's IANA zone (what `moment.tz.guess()` returns). */
  readonly browserZone: string;
  /** The tenant's advanced settings; `dateFormat:tz` defaults to `Browser`. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface TimeRange {
  readonly from: string;
  readonly to: string;
}

export interface AggState {
  readonly id: string;
  readonly type: string;
  readonly schema: string;
  readonly enabled?: boolean;
  readonly params: Record<string, any>;
}

export interface IndexPatternAttributes {
  readonly title: string;
  readonly timeFieldName?: string;
  readonly typeMeta?: string;
  readonly fields: string;
}

const INTERVALS: Record<string, string> = { h: '1h', d: '1d', w: '1w', M: '1M', y: '1y' };

/** The zone a date histogram buckets in, as date_histogram.ts decides it. */
export function dateHistogramTimeZone(agg: AggState, pattern: IndexPatternAttributes, viewer: Viewer): string {
  if (agg.params.time_zone) return agg.params.time_zone;
  const typeMeta = pattern.typeMeta ? JSON.parse(pattern.typeMeta) : undefined;
  const fromPattern = typeMeta?.aggs?.date_histogram?.[agg.params.field]?.time_zone;
  if (fromPattern) return fromPattern;
  return displayTimeZone(viewer);
}

/** The zone Dashboards formats dates in (the date field format reads `dateFormat:tz`). */
export function displayTimeZone(viewer: Viewer): string {
  const setting = viewer.settings?.['dateFormat:tz'] ?? 'Browser';
  return setting === 'Browser' ? viewer.browserZone : setting;
}

/** The bucket key (epoch ms) as the analyst sees it: the day in the display zone. */
export function dayLabel(key: number, viewer: Viewer): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: displayTimeZone(viewer), year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(key));
}

function metricDsl(agg: AggState): Record<string, unknown> | undefined {
  switch (agg.type) {
    case 'count':
      return undefined;
    case 'sum':
    case 'avg':
    case 'min':
    case 'max':
    case 'cardinality':
      return { [agg.type]: { field: agg.params.field } };
    default:
      throw new Error(`no translation for the metric ${agg.type}`);
  }
}

function bucketDsl(agg: AggState, pattern: IndexPatternAttributes, viewer: Viewer): Record<string, unknown> {
  switch (agg.type) {
    case 'terms': {
      const orderKey = agg.params.orderBy === '_key' ? '_key' : agg.params.orderBy;
      return {
        terms: {
          field: agg.params.field,
          size: agg.params.size,
          order: { [orderKey === '_count' ? '_count' : orderKey]: agg.params.order },
          ...(agg.params.missingBucket && { missing: '__missing__' }),
        },
      };
    }
    case 'date_histogram': {
      const interval = INTERVALS[agg.params.interval];
      if (!interval) throw new Error(`no translation for the interval ${agg.params.interval}`);
      return {
        date_histogram: {
          field: agg.params.field,
          calendar_interval: interval,
          time_zone: dateHistogramTimeZone(agg, pattern, viewer),
          min_doc_count: agg.params.min_doc_count ?? 1,
        },
      };
    }
    default:
      throw new Error(`no translation for the bucket ${agg.type}`);
  }
}

/** The time range filter of the search source, on the index pattern's time field. */
export function timeFilter(field: string, range: TimeRange): Record<string, unknown> {
  return { range: { [field]: { gte: range.from, lte: range.to, format: 'strict_date_optional_time' } } };
}

/**
 * The search body of a standard visualization (table, pie, line). As agg_configs.ts `toDsl`
 * does: metrics go under the innermost bucket, and under every bucket when the visualization is
 * hierarchical (a pie, a table with partial rows); a terms ordered by a metric also gets that
 * metric as its own sub-aggregation (terms.ts `orderAgg`).
 */
export function visualizationQuery(visState: { type?: string; params?: Record<string, any>; aggs: AggState[] }, pattern: IndexPatternAttributes, options: { range: TimeRange; viewer: Viewer }): Record<string, unknown> {
  const enabled = visState.aggs.filter((agg) => agg.enabled !== false);
  const metricAggs = enabled.filter((a) => a.schema === 'metric');
  const metricDslOf = (list: AggState[]) => {
    const out: Record<string, unknown> = {};
    for (const agg of list) {
      const dsl = metricDsl(agg);
      if (dsl) out[agg.id] = dsl;
    }
    return out;
  };
  const hierarchical = visState.type === 'pie' || (visState.type === 'table' && visState.params?.showPartialRows === true);
  const buckets = enabled.filter((a) => a.schema !== 'metric');
  let aggs: Record<string, unknown> = metricDslOf(metricAggs);
  for (let depth = buckets.length - 1; depth >= 0; depth--) {
    const agg = buckets[depth];
    const orderMetric = agg.type === 'terms' ? metricAggs.filter((m) => m.id === agg.params.orderBy) : [];
    const sub = { ...(hierarchical || depth === buckets.length - 1 ? {} : metricDslOf(orderMetric)), ...aggs };
    const level = { [agg.id]: { ...bucketDsl(agg, pattern, options.viewer), ...(Object.keys(sub).length > 0 && { aggs: sub }) } };
    aggs = hierarchical && depth > 0 ? { ...metricDslOf(metricAggs), ...level } : level;
  }
  const filter = pattern.timeFieldName ? [timeFilter(pattern.timeFieldName, options.range)] : [];
  return { size: 0, query: { bool: { must: [], filter, should: [], must_not: [] } }, aggs };
}

/** The request of a Vega spec's `data.url`, with the dashboard context and time range. */
export function vegaQuery(url: Record<string, any>, range: TimeRange): { index: string; body: Record<string, unknown> } {
  const { index, body, '%context%': context, '%timefield%': timeField } = url;
  if (context !== true) throw new Error('a Vega query of the dashboards takes the dashboard context (%context%: true)');
  const must: unknown[] = [{ match_all: {} }];
  if (timeField) must.push(timeFilter(timeField, range));
  return { index, body: { ...body, query: { bool: { must, filter: [], should: [], must_not: [] } } } };
}
