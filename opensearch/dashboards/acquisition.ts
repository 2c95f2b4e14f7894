/**
 * The acquisition dashboard, over `traffic_sources_daily`: sessions and bounce rate by channel
 * (bounce rate = sum(bounces) / sum(sessions) per channel, a `bucket_script` in a Vega-Lite
 * query), sessions by channel per UTC day, top referrers and campaigns with source and medium.
 */
import type { TableName } from '../../lambdas/indexer/tables';
import { dashboard, dataTable, gridLayout, indexPattern, lineChart, SavedObject, sum, terms, TIME_FIELDS, utcHistogram, VEGA_LITE_SCHEMA, vegaData, vegaVisualization } from './builders';

export const ACQUISITION_IDS = {
  indexPattern: 'clickstream-traffic-sources-daily',
  channels: 'clickstream-acquisition-channels',
  channelsPerDay: 'clickstream-acquisition-channels-per-day',
  referrers: 'clickstream-acquisition-top-referrers',
  campaigns: 'clickstream-acquisition-campaigns',
  dashboard: 'clickstream-acquisition',
} as const;

const TABLE: TableName = 'traffic_sources_daily';

export function channelsSpec(alias: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Sessions and bounce rate by channel',
    data: vegaData(
      alias,
      TIME_FIELDS[TABLE],
      {
        channels: {
          terms: { field: 'channel', size: 10, order: { sessions: 'desc' } },
          aggs: {
            sessions: { sum: { field: 'sessions' } },
            bounces: { sum: { field: 'bounces' } },
            pageviews: { sum: { field: 'pageviews' } },
            bounce_rate: { bucket_script: { buckets_path: { bounces: 'bounces', sessions: 'sessions' }, script: 'params.sessions > 0 ? params.bounces / params.sessions : 0' } },
          },
        },
      },
      'aggregations.channels.buckets',
    ),
    transform: [
      { calculate: 'datum.sessions.value', as: 'sessions_total' },
      { calculate: 'datum.bounce_rate.value', as: 'rate' },
    ],
    encoding: {
      // In the query's order (most sessions first): one order for both layers.
      y: { field: 'key', type: 'nominal', sort: null, title: 'Channel' },
      x: { field: 'sessions_total', type: 'quantitative', stack: null, title: 'Sessions' },
    },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          tooltip: [
            { field: 'key', type: 'nominal', title: 'Channel' },
            { field: 'sessions_total', type: 'quantitative', title: 'Sessions' },
            { field: 'pageviews.value', type: 'quantitative', title: 'Pageviews' },
            { field: 'rate', type: 'quantitative', title: 'Bounce rate', format: '.1%' },
          ],
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { text: { field: 'rate', type: 'quantitative', format: '.0%' } } },
    ],
  };
}

export function acquisitionObjects(alias: string): SavedObject[] {
  const channels = vegaVisualization(ACQUISITION_IDS.channels, 'Sessions and bounce rate by channel', 'sum(sessions) per channel, labelled with sum(bounces) / sum(sessions).', channelsSpec(alias));
  const perDay = lineChart(ACQUISITION_IDS.channelsPerDay, TABLE, 'Sessions by channel per day (UTC)', 'Sessions per UTC day, one line per channel.', [
    sum('1', 'sessions', 'Sessions'),
    utcHistogram('2', TIME_FIELDS[TABLE], 'd', 'Day (UTC)'),
    terms('3', 'group', 'channel', { orderBy: '1', size: 10, label: 'Channel' }),
  ], 'Sessions');
  const referrers = dataTable(ACQUISITION_IDS.referrers, TABLE, 'Top referrers', 'The 20 referring hosts with the most sessions (sessions without a referrer are not listed).', [
    sum('1', 'sessions', 'Sessions'),
    sum('3', 'pageviews', 'Pageviews'),
    terms('2', 'bucket', 'referrer_host', { orderBy: '1', size: 20, label: 'Referrer' }),
  ]);
  const campaigns = dataTable(ACQUISITION_IDS.campaigns, TABLE, 'Campaigns', 'The 20 campaigns (utm_campaign) with the most sessions, by source and medium.', [
    sum('1', 'sessions', 'Sessions'),
    sum('5', 'pageviews', 'Pageviews'),
    terms('2', 'bucket', 'utm_campaign', { orderBy: '1', size: 20, label: 'Campaign' }),
    terms('3', 'bucket', 'utm_source', { orderBy: '1', size: 5, label: 'Source', missingLabel: '(none)' }),
    terms('4', 'bucket', 'utm_medium', { orderBy: '1', size: 5, label: 'Medium', missingLabel: '(none)' }),
  ]);
  const visualizations = [channels, perDay, referrers, campaigns];
  const layout = gridLayout(visualizations.length);
  return [
    indexPattern(TABLE, alias),
    ...visualizations,
    dashboard({
      id: ACQUISITION_IDS.dashboard,
      title: 'Clickstream: acquisition',
      description: 'Channels, referrers and campaigns of the sessions (days in UTC).',
      panels: visualizations.map((visualization, i) => ({ visualization, layout: layout[i] })),
      timeFrom: 'now-30d',
      timeTo: 'now',
    }),
  ];
}
