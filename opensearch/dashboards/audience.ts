/**
 * The audience dashboard, over `sessions_daily` (and `geo_daily` for cities): sessions, bounce
 * rate and average session duration, their daily trend, device types, browsers, operating systems
 * and the top cities.
 *
 * Bounce rate = sum(bounces) / sum(sessions) and average session duration =
 * sum(total_duration_seconds) / sum(sessions) over the rows in view: ratios of sums (`bucket_script`
 * in a Vega-Lite panel's query), never averages of the rows' `bounce_rate` or
 * `avg_duration_seconds`.
 */
import type { TableName } from '../../lambdas/indexer/tables';
import { dashboard, dataTable, gridLayout, indexPattern, pie, SavedObject, sum, terms, TIME_FIELDS, VEGA_LITE_SCHEMA, vegaData, vegaVisualization } from './builders';

export const AUDIENCE_IDS = {
  sessionsIndexPattern: 'clickstream-sessions-daily',
  geoIndexPattern: 'clickstream-geo-daily',
  summary: 'clickstream-audience-summary',
  dailySessions: 'clickstream-audience-daily-sessions',
  deviceTypes: 'clickstream-audience-device-types',
  browsers: 'clickstream-audience-browsers',
  operatingSystems: 'clickstream-audience-operating-systems',
  topCities: 'clickstream-audience-top-cities',
  dashboard: 'clickstream-audience',
} as const;

const SESSIONS: TableName = 'sessions_daily';
const GEO: TableName = 'geo_daily';

/** The sums and ratios of sums of every audience panel, per bucket. */
export const SESSION_METRICS: Record<string, unknown> = {
  sessions: { sum: { field: 'sessions' } },
  bounces: { sum: { field: 'bounces' } },
  duration: { sum: { field: 'total_duration_seconds' } },
  pageviews: { sum: { field: 'pageviews' } },
  bounce_rate: { bucket_script: { buckets_path: { bounces: 'bounces', sessions: 'sessions' }, script: 'params.sessions > 0 ? params.bounces / params.sessions : 0' } },
  avg_duration: { bucket_script: { buckets_path: { duration: 'duration', sessions: 'sessions' }, script: 'params.sessions > 0 ? params.duration / params.sessions : 0' } },
};

/** Sessions, bounce rate and average session duration over the time range: one bucket of everything. */
export function audienceSummarySpec(alias: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Sessions, bounce rate and average session duration',
    // `filters` with one match_all: a single bucket the ratios can be computed in.
    data: vegaData(alias, TIME_FIELDS[SESSIONS], { all: { filters: { filters: [{ match_all: {} }] }, aggs: SESSION_METRICS } }, 'aggregations.all.buckets'),
    // One view (Dashboards sizes single views to the panel; concatenated views it cannot fit):
    // the three figures side by side as text marks.
    transform: [
      { calculate: "format(datum.sessions.value, ',.0f')", as: 'sessions_text' },
      { calculate: "format(datum.bounce_rate.value, '.1%')", as: 'bounce_rate_text' },
      { calculate: "format(datum.avg_duration.value, ',.1f') + ' s'", as: 'duration_text' },
      { fold: ['sessions_text', 'bounce_rate_text', 'duration_text'], as: ['figure', 'display'] },
      {
        calculate: "datum.figure === 'sessions_text' ? 'Sessions' : datum.figure === 'bounce_rate_text' ? 'Bounce rate' : 'Avg session duration'",
        as: 'label',
      },
    ],
    mark: { type: 'text', fontSize: 28, fontWeight: 'bold' },
    encoding: {
      x: { field: 'label', type: 'nominal', sort: null, title: null, axis: { orient: 'top', labelAngle: 0, labelFontSize: 13, domain: false, ticks: false } },
      text: { field: 'display', type: 'nominal' },
    },
  };
}

/** Sessions per UTC day (bars) and that day's bounce rate (line). */
export function dailySessionsSpec(alias: string): Record<string, unknown> {
  const x = { field: 'key', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'Day (UTC)', axis: { format: '%Y-%m-%d' } };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Sessions and bounce rate per day (UTC)',
    data: vegaData(
      alias,
      TIME_FIELDS[SESSIONS],
      { days: { date_histogram: { field: TIME_FIELDS[SESSIONS], calendar_interval: '1d', time_zone: 'UTC', min_doc_count: 1 }, aggs: SESSION_METRICS } },
      'aggregations.days.buckets',
    ),
    transform: [
      { calculate: 'datum.sessions.value', as: 'sessions_total' },
      { calculate: 'datum.bounce_rate.value', as: 'rate' },
    ],
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: { x, y: { field: 'sessions_total', type: 'quantitative', title: 'Sessions' } },
      },
      {
        mark: { type: 'line', point: true, color: '#E7664C', tooltip: true },
        encoding: { x, y: { field: 'rate', type: 'quantitative', title: 'Bounce rate', axis: { format: '%' } } },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

export function audienceObjects(aliases: Readonly<Record<TableName, string>>): SavedObject[] {
  const summary = vegaVisualization(
    AUDIENCE_IDS.summary,
    'Audience summary',
    'sum(sessions); sum(bounces) / sum(sessions); sum(total_duration_seconds) / sum(sessions).',
    audienceSummarySpec(aliases.sessions_daily),
  );
  const daily = vegaVisualization(AUDIENCE_IDS.dailySessions, 'Sessions and bounce rate per day (UTC)', 'Sessions per UTC day and sum(bounces) / sum(sessions) of the day.', dailySessionsSpec(aliases.sessions_daily));
  const breakdown = (id: string, field: string, title: string, label: string) =>
    pie(id, SESSIONS, title, `Sessions by the ${label.toLowerCase()} of their entry event.`, [
      sum('1', 'sessions', 'Sessions'),
      terms('2', 'segment', field, { orderBy: '1', size: 10, label, otherLabel: 'Other', missingLabel: 'Unknown' }),
    ]);
  const devices = breakdown(AUDIENCE_IDS.deviceTypes, 'device_type', 'Sessions by device type', 'Device type');
  const browsers = breakdown(AUDIENCE_IDS.browsers, 'browser', 'Sessions by browser', 'Browser');
  const systems = breakdown(AUDIENCE_IDS.operatingSystems, 'os', 'Sessions by operating system', 'Operating system');
  const cities = dataTable(AUDIENCE_IDS.topCities, GEO, 'Top cities', 'The 20 cities with the most sessions (sessions that started there), with their clicks.', [
    sum('1', 'sessions', 'Sessions'),
    sum('4', 'clicks', 'Clicks'),
    terms('2', 'bucket', 'city', { orderBy: '1', size: 20, label: 'City', missingLabel: '(unknown)' }),
    terms('3', 'bucket', 'country', { orderBy: '1', size: 3, label: 'Country' }),
  ]);
  const visualizations = [summary, daily, devices, browsers, systems, cities];
  const layout = gridLayout(visualizations.length);
  layout[0] = { ...layout[0], h: 8 };
  return [
    indexPattern(SESSIONS, aliases.sessions_daily),
    indexPattern(GEO, aliases.geo_daily),
    ...visualizations,
    dashboard({
      id: AUDIENCE_IDS.dashboard,
      title: 'Clickstream: audience',
      description: 'Sessions, bounce rate, session duration, devices, browsers, operating systems and cities (days in UTC).',
      panels: visualizations.map((visualization, i) => ({ visualization, layout: layout[i] })),
      timeFrom: 'now-30d',
      timeTo: 'now',
    }),
  ];
}
