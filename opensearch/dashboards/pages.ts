/**
 * The pages dashboard, over `url_country_daily`: top pages, clicks by country, average time on
 * page (weighted by timed views), entrances and bounce rate per page, and the daily trend.
 *
 * Both rates are ratios of sums over the rows in view, never averages of the rows' rates: average
 * time on page = sum(total_time_spent_seconds) / sum(timed_views) (a page with one 100 s view in
 * one country and 99 views of 2 s in another has 2.98 s, not 51 s), bounce rate of a page =
 * sum(bounces) / sum(entrances). Standard visualizations cannot divide two sums, so those panels
 * are Vega-Lite charts whose query computes the ratio per page with a `bucket_script`.
 */
import type { TableName } from '../../lambdas/indexer/tables';
import {
  dashboard,
  dataTable,
  DATE_HISTOGRAM_TIME_ZONE,
  gridLayout,
  indexPattern,
  lineChart,
  pie,
  SavedObject,
  sum,
  terms,
  TIME_FIELDS,
  utcHistogram,
  VEGA_LITE_SCHEMA,
  vegaData,
  vegaVisualization,
} from './builders';

export const PAGES_IDS = {
  indexPattern: 'clickstream-url-country-daily',
  topPages: 'clickstream-top-pages-by-clicks',
  clicksByCountry: 'clickstream-clicks-by-country',
  avgTimeOnPage: 'clickstream-average-time-on-page',
  entrancesBounceRate: 'clickstream-entrances-and-bounce-rate',
  dailyTrend: 'clickstream-daily-trend',
  // The id of the first dashboard the product shipped, kept so that a redeploy replaces it.
  dashboard: 'clickstream-overview',
} as const;

const TABLE: TableName = 'url_country_daily';

/** The Vega-Lite spec of the average-time panel; its query is what the tests run. */
export function averageTimeOnPageSpec(alias: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Average time on page, seconds (weighted by timed views; 10 most viewed pages)',
    data: vegaData(
      alias,
      TIME_FIELDS[TABLE],
      {
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
      'aggregations.pages.buckets',
    ),
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

/** Entrances per page (15 pages with most), each labelled with its bounce rate. */
export function entrancesBounceRateSpec(alias: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Entrances and bounce rate per page (15 pages with most entrances)',
    data: vegaData(
      alias,
      TIME_FIELDS[TABLE],
      {
        pages: {
          terms: { field: 'page_url', size: 15, order: { entrances: 'desc' } },
          aggs: {
            entrances: { sum: { field: 'entrances' } },
            bounces: { sum: { field: 'bounces' } },
            // A page nobody entered through has no bounce rate.
            has_entrances: { bucket_selector: { buckets_path: { entrances: 'entrances' }, script: 'params.entrances > 0' } },
            bounce_rate: {
              bucket_script: { buckets_path: { bounces: 'bounces', entrances: 'entrances' }, script: 'params.entrances > 0 ? params.bounces / params.entrances : 0' },
            },
          },
        },
      },
      'aggregations.pages.buckets',
    ),
    transform: [
      { calculate: 'datum.entrances.value', as: 'entries' },
      { calculate: 'datum.bounce_rate.value', as: 'rate' },
    ],
    encoding: {
      // In the query's order (most entrances first): one order for both layers.
      y: { field: 'key', type: 'nominal', sort: null, title: 'Page' },
      x: { field: 'entries', type: 'quantitative', stack: null, title: 'Entrances' },
    },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          tooltip: [
            { field: 'key', type: 'nominal', title: 'Page' },
            { field: 'entries', type: 'quantitative', title: 'Entrances' },
            { field: 'bounces.value', type: 'quantitative', title: 'Bounces' },
            { field: 'rate', type: 'quantitative', title: 'Bounce rate', format: '.1%' },
          ],
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { text: { field: 'rate', type: 'quantitative', format: '.0%' } } },
    ],
  };
}

export function pagesObjects(alias: string): SavedObject[] {
  const topPages = dataTable(PAGES_IDS.topPages, TABLE, 'Top pages by clicks', 'The 20 pages with the most clicks in the time range, with their entrances.', [
    sum('1', 'clicks', 'Clicks'),
    sum('3', 'entrances', 'Entrances'),
    terms('2', 'bucket', 'page_url', { orderBy: '1', size: 20, label: 'Page' }),
  ]);
  const clicksByCountry = pie(PAGES_IDS.clicksByCountry, TABLE, 'Clicks by country', 'Clicks per country; the rest grouped as Other.', [
    sum('1', 'clicks', 'Clicks'),
    terms('2', 'segment', 'country', { orderBy: '1', size: 15, label: 'Country', otherLabel: 'Other' }),
  ]);
  const avgTimeOnPage = vegaVisualization(
    PAGES_IDS.avgTimeOnPage,
    'Average time on page',
    'sum(total_time_spent_seconds) / sum(timed_views) per page: a weighted average, exits excluded.',
    averageTimeOnPageSpec(alias),
  );
  const entrances = vegaVisualization(
    PAGES_IDS.entrancesBounceRate,
    'Entrances and bounce rate per page',
    'Sessions that started on the page, and sum(bounces) / sum(entrances) of the page.',
    entrancesBounceRateSpec(alias),
  );
  const dailyTrend = lineChart(PAGES_IDS.dailyTrend, TABLE, 'Daily clicks (UTC)', `Clicks per day (event date, ${DATE_HISTOGRAM_TIME_ZONE}).`, [
    sum('1', 'clicks', 'Clicks'),
    utcHistogram('2', TIME_FIELDS[TABLE], 'd', 'Day (UTC)'),
  ], 'Clicks');
  const visualizations = [topPages, clicksByCountry, avgTimeOnPage, entrances, dailyTrend];
  const layout = gridLayout(visualizations.length);
  layout[4] = { x: 0, y: 30, w: 48, h: 15 };
  return [
    indexPattern(TABLE, alias),
    ...visualizations,
    dashboard({
      id: PAGES_IDS.dashboard,
      title: 'Clickstream: pages',
      description: 'Top pages, countries, time on page, entrances and bounce rate, and the daily trend (days in UTC).',
      panels: visualizations.map((visualization, i) => ({ visualization, layout: layout[i] })),
      timeFrom: 'now-30d',
      timeTo: 'now',
    }),
  ];
}
