/**
 * A known data set of the five tables (SPEC section 3 columns) for the dashboards' and the
 * report's tests, and the helpers that put it into the local OpenSearch under test aliases, with
 * the index templates' mappings (lambdas/indexer/tables.ts, opensearch/index-template.ts).
 *
 * Rows are chosen so that a rate averaged over rows differs from the ratio of sums: e.g. in
 * sessions_daily one row has 1 session that bounced (rate 1.0) and another 99 sessions of which
 * 9 bounced (rate 0.09): their bounce rate is 10 / 100 = 0.1, not 0.545.
 */
import type { Client } from '@opensearch-project/opensearch';
import { TABLE_NAMES, TableName } from '../../lambdas/indexer/tables';
import { tableMappings } from '../../opensearch/index-template';

export type Row = Record<string, string | number | null>;

const COMPUTED_AT = '2026-07-04T01:00:00.000Z';

function pagesRow(event_date: string, page: string, country: string, clicks: number, timed_views: number, total_time_spent_seconds: number, entrances: number, bounces: number, bot_clicks = 0): Row {
  return {
    event_date,
    page_url: `https://shop.example${page}`,
    country,
    clicks,
    unique_users: Math.ceil(clicks / 2),
    timed_views,
    total_time_spent_seconds,
    avg_time_spent_seconds: timed_views === 0 ? null : total_time_spent_seconds / timed_views,
    entrances,
    bounces,
    bot_clicks,
    computed_at: COMPUTED_AT,
  };
}

function sessionsRow(event_date: string, country: string, device_type: string, browser: string | null, os: string | null, channel: string, sessions: number, bounces: number, pageviews: number, total_duration_seconds: number): Row {
  return {
    event_date,
    country,
    device_type,
    browser,
    os,
    channel,
    sessions,
    bounces,
    pageviews,
    users: sessions,
    total_duration_seconds,
    avg_duration_seconds: total_duration_seconds / sessions,
    bounce_rate: bounces / sessions,
    computed_at: COMPUTED_AT,
  };
}

function sourcesRow(event_date: string, channel: string, referrer_host: string | null, utm: [string | null, string | null, string | null] | null, country: string, sessions: number, bounces: number, pageviews: number): Row {
  return {
    event_date,
    channel,
    referrer_host,
    utm_source: utm?.[0] ?? null,
    utm_medium: utm?.[1] ?? null,
    utm_campaign: utm?.[2] ?? null,
    country,
    sessions,
    bounces,
    pageviews,
    users: sessions,
    computed_at: COMPUTED_AT,
  };
}

function geoRow(event_date: string, country: string, city: string | null, clicks: number, sessions: number, bot_clicks: number): Row {
  return { event_date, country, city, clicks, unique_users: Math.ceil(clicks / 3), sessions, bot_clicks, computed_at: COMPUTED_AT };
}

function hourlyRow(hour: string, country: string, device_type: string, clicks: number, sessions: number, bot_clicks: number): Row {
  const event_hour = `${hour}:00:00.000Z`;
  return { event_date: event_hour.slice(0, 10), event_hour, country, device_type, clicks, unique_users: Math.ceil(clicks / 2), sessions, bot_clicks, computed_at: COMPUTED_AT };
}

export const FIXTURE_ROWS: Readonly<Record<TableName, readonly Row[]>> = {
  url_country_daily: [
    // /p/1: one view of 100 s in DE, 99 views of 2 s in FR: weighted 2.98 s, average of averages 51 s.
    pagesRow('2026-07-01', '/p/1', 'DE', 2, 1, 100, 1, 1),
    pagesRow('2026-07-01', '/p/1', 'FR', 120, 99, 198, 40, 4, 7),
    pagesRow('2026-07-01', '/home', 'DE', 300, 250, 5000, 150, 30, 12),
    pagesRow('2026-07-01', '/home', 'US', 80, 60, 600, 50, 25),
    pagesRow('2026-07-02', '/home', 'DE', 200, 150, 2250, 100, 10),
    pagesRow('2026-07-02', '/p/2', 'US', 40, 30, 900, 0, 0),
    pagesRow('2026-07-02', '/cart', 'FR', 15, 0, 0, 15, 15), // every view an exit: no time on page
    pagesRow('2026-07-03', '/p/2', 'DE', 60, 45, 450, 20, 5, 3),
    pagesRow('2026-07-03', '/p/1', 'US', 9, 5, 50, 3, 0),
    pagesRow('2026-07-03', '/cart', 'DE', 25, 0, 0, 0, 0),
  ],
  sessions_daily: [
    sessionsRow('2026-07-01', 'DE', 'desktop', 'Chrome', 'Windows', 'organic_search', 1, 1, 1, 0),
    sessionsRow('2026-07-01', 'DE', 'desktop', 'Firefox', 'Linux', 'organic_search', 99, 9, 400, 9900),
    sessionsRow('2026-07-01', 'US', 'mobile', 'Mobile Safari', 'iOS', 'direct', 50, 20, 120, 3000),
    sessionsRow('2026-07-02', 'FR', 'mobile', 'Chrome', 'Android', 'social', 30, 15, 60, 900),
    sessionsRow('2026-07-02', 'DE', 'tablet', null, null, 'referral', 10, 5, 20, 100),
    sessionsRow('2026-07-03', 'US', 'desktop', 'Chrome', 'macOS', 'paid_search', 40, 4, 160, 4800),
    sessionsRow('2026-07-03', 'FR', 'desktop', 'Chrome', 'Windows', 'email', 20, 10, 30, 200),
  ],
  traffic_sources_daily: [
    sourcesRow('2026-07-01', 'organic_search', 'www.google.com', null, 'DE', 100, 10, 401),
    sourcesRow('2026-07-01', 'direct', null, null, 'US', 50, 20, 120),
    sourcesRow('2026-07-02', 'social', 'www.facebook.com', ['facebook', 'social', 'summer_sale'], 'FR', 30, 15, 60),
    sourcesRow('2026-07-02', 'referral', 'blog.example.org', null, 'DE', 10, 5, 20),
    sourcesRow('2026-07-03', 'paid_search', 'www.google.com', ['google', 'cpc', 'summer_sale'], 'US', 40, 4, 160),
    sourcesRow('2026-07-03', 'email', null, ['newsletter', 'email', 'july_news'], 'FR', 20, 10, 30),
    sourcesRow('2026-07-03', 'email', null, ['newsletter', null, 'july_news'], 'DE', 5, 1, 9),
  ],
  geo_daily: [
    geoRow('2026-07-01', 'DE', 'Berlin', 250, 90, 10),
    geoRow('2026-07-01', 'US', 'New York', 80, 50, 0),
    geoRow('2026-07-01', 'DE', null, 52, 10, 2),
    geoRow('2026-07-02', 'FR', 'Paris', 135, 40, 1),
    geoRow('2026-07-02', 'DE', 'Berlin', 200, 10, 0),
    geoRow('2026-07-03', 'US', 'Paris', 9, 5, 0),
    geoRow('2026-07-03', 'DE', 'Munich', 85, 20, 3),
  ],
  traffic_hourly: [
    hourlyRow('2026-07-02T23', 'DE', 'desktop', 70, 20, 30), // the day before: outside "today"
    hourlyRow('2026-07-03T00', 'DE', 'desktop', 30, 10, 10),
    hourlyRow('2026-07-03T00', 'US', 'mobile', 10, 5, 0),
    hourlyRow('2026-07-03T09', 'FR', 'mobile', 50, 12, 50),
    hourlyRow('2026-07-03T09', 'DE', 'tablet', 0, 0, 5), // only bots this hour in DE tablets
    hourlyRow('2026-07-03T17', 'US', 'desktop', 94, 30, 6),
  ],
};

/** The time range every dashboard test uses: the three UTC days of the data set. */
export const FIXTURE_RANGE = { from: '2026-07-01T00:00:00.000Z', to: '2026-07-03T23:59:59.999Z' };
/** The "today" of the data set. */
export const FIXTURE_TODAY = { from: '2026-07-03T00:00:00.000Z', to: '2026-07-03T23:59:59.999Z' };

/** The rows as the job writes them: a null is left out of the JSON line (Spark drops nulls). */
export function withoutNulls(row: Row): Row {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null));
}

/**
 * Creates `<alias>-v1` with the table's mappings behind each alias and indexes the rows (ids as
 * the row's position: the tests only read). Returns when everything is searchable.
 */
export async function indexFixtureTables(client: Client, aliases: Readonly<Record<TableName, string>>, rows: Readonly<Record<TableName, readonly Row[]>> = FIXTURE_ROWS): Promise<void> {
  for (const table of TABLE_NAMES) {
    const index = `${aliases[table]}-v1`;
    await client.transport.request({
      method: 'PUT',
      path: `/${index}`,
      body: { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } }, mappings: tableMappings(table), aliases: { [aliases[table]]: {} } },
    });
    const body = rows[table].flatMap((row, i) => [{ index: { _index: index, _id: String(i) } }, withoutNulls(row)]);
    if (body.length === 0) continue;
    const response = await client.transport.request({ method: 'POST', path: '/_bulk', querystring: { refresh: 'true' }, body: body.map((line) => JSON.stringify(line)).join('\n') + '\n' });
    const result = response.body as { errors: boolean; items: unknown[] };
    if (result.errors) throw new Error(`fixture rows of ${table} were refused: ${JSON.stringify(result.items).slice(0, 2000)}`);
  }
}

export async function dropFixtureTables(client: Client, aliases: Readonly<Record<TableName, string>>): Promise<void> {
  for (const table of TABLE_NAMES) await client.transport.request({ method: 'DELETE', path: `/${aliases[table]}-v1` }, { ignore: [404] });
}
