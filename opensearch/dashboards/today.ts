/**
 * The today dashboard, over `traffic_hourly` (time field `event_hour`): clicks and sessions by UTC
 * hour, the bot share by hour (sum(bot_clicks) / (sum(clicks) + sum(bot_clicks)): `clicks` counts
 * human events only, so all events are clicks + bot_clicks), and clicks by device type. Its time
 * range is the current day (`now/d`), which the global tenant's `dateFormat:tz` makes the UTC day.
 */
import type { TableName } from '../../lambdas/indexer/tables';
import { dashboard, gridLayout, indexPattern, lineChart, pie, SavedObject, sum, terms, TIME_FIELDS, utcHistogram, VEGA_LITE_SCHEMA, vegaData, vegaVisualization } from './builders';

export const TODAY_IDS = {
  indexPattern: 'clickstream-traffic-hourly',
  clicksSessions: 'clickstream-today-clicks-and-sessions',
  botShare: 'clickstream-today-bot-share',
  devices: 'clickstream-today-devices',
  dashboard: 'clickstream-today',
} as const;

const TABLE: TableName = 'traffic_hourly';

export function botShareSpec(alias: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Bot share of all clicks by hour (UTC)',
    data: vegaData(
      alias,
      TIME_FIELDS[TABLE],
      {
        hours: {
          date_histogram: { field: TIME_FIELDS[TABLE], calendar_interval: '1h', time_zone: 'UTC', min_doc_count: 1 },
          aggs: {
            clicks: { sum: { field: 'clicks' } },
            bot_clicks: { sum: { field: 'bot_clicks' } },
            bot_share: {
              bucket_script: { buckets_path: { bots: 'bot_clicks', humans: 'clicks' }, script: 'params.bots + params.humans > 0 ? params.bots / (params.bots + params.humans) : 0' },
            },
          },
        },
      },
      'aggregations.hours.buckets',
    ),
    transform: [{ calculate: 'datum.bot_share.value', as: 'share' }],
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'key', type: 'temporal', timeUnit: 'utcyearmonthdatehours', title: 'Hour (UTC)', axis: { format: '%H:00' } },
      y: { field: 'share', type: 'quantitative', title: 'Bot share', axis: { format: '%' } },
      tooltip: [
        { field: 'key', type: 'temporal', timeUnit: 'utcyearmonthdatehours', title: 'Hour (UTC)' },
        { field: 'share', type: 'quantitative', title: 'Bot share', format: '.1%' },
        { field: 'bot_clicks.value', type: 'quantitative', title: 'Bot clicks' },
        { field: 'clicks.value', type: 'quantitative', title: 'Human clicks' },
      ],
    },
  };
}

export function todayObjects(alias: string): SavedObject[] {
  const clicksSessions = lineChart(TODAY_IDS.clicksSessions, TABLE, 'Clicks and sessions by hour (UTC)', 'Human clicks and sessions started per UTC hour.', [
    sum('1', 'clicks', 'Clicks'),
    sum('2', 'sessions', 'Sessions'),
    utcHistogram('3', TIME_FIELDS[TABLE], 'h', 'Hour (UTC)'),
  ], 'Count');
  const botShare = vegaVisualization(TODAY_IDS.botShare, 'Bot share by hour (UTC)', 'sum(bot_clicks) / (sum(clicks) + sum(bot_clicks)) per UTC hour.', botShareSpec(alias));
  const devices = pie(TODAY_IDS.devices, TABLE, 'Clicks by device type', 'Human clicks by device type.', [
    sum('1', 'clicks', 'Clicks'),
    terms('2', 'segment', 'device_type', { orderBy: '1', size: 10, label: 'Device type', otherLabel: 'Other' }),
  ]);
  const visualizations = [clicksSessions, botShare, devices];
  const layout = gridLayout(visualizations.length);
  layout[0] = { x: 0, y: 0, w: 48, h: 15 };
  layout[1] = { x: 0, y: 15, w: 24, h: 15 };
  layout[2] = { x: 24, y: 15, w: 24, h: 15 };
  return [
    indexPattern(TABLE, alias),
    ...visualizations,
    dashboard({
      id: TODAY_IDS.dashboard,
      title: 'Clickstream: today',
      description: 'Clicks, sessions and bot share by hour of the current UTC day.',
      panels: visualizations.map((visualization, i) => ({ visualization, layout: layout[i] })),
      timeFrom: 'now/d',
      timeTo: 'now/d',
    }),
  ];
}
