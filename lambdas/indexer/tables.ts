/**
 * The five aggregate tables (SPEC section 3) as the serving side sees them: their aliases, their
 * grain (which makes a document's `_id`) and the type of every field (which makes the index
 * templates' mappings). One place for all of it: the indexer, the search provisioner, the
 * Dashboards saved objects, the local report and the CDK stack import it.
 *
 * No runtime dependencies: CDK synthesis and the local report load this file too.
 */

/** The tables, in the order the SPEC lists them. */
export const TABLE_NAMES = ['url_country_daily', 'sessions_daily', 'traffic_sources_daily', 'geo_daily', 'traffic_hourly'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** The prefix of every alias: `<prefix>-<table with "-" for "_">`. */
export const DEFAULT_ALIAS_PREFIX = 'clickstream';

/**
 * The alias of a table: `clickstream-url-country-daily`, `clickstream-sessions-daily`,
 * `clickstream-traffic-sources-daily`, `clickstream-geo-daily`, `clickstream-traffic-hourly`.
 * No alias is a prefix of another, so `<alias>*` names one table's indices and nothing else.
 */
export function tableAlias(table: TableName, prefix: string = DEFAULT_ALIAS_PREFIX): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(prefix)) throw new Error(`alias prefix "${prefix}" must be lower case letters, digits, "-" and "_"`);
  return `${prefix}-${table.replace(/_/g, '-')}`;
}

/** Every table's alias under `prefix`. */
export function tableAliases(prefix: string = DEFAULT_ALIAS_PREFIX): Readonly<Record<TableName, string>> {
  return Object.fromEntries(TABLE_NAMES.map((table) => [table, tableAlias(table, prefix)])) as Record<TableName, string>;
}

/** The aliases of a deployment with the default prefix (what analysts, dashboards and reports use). */
export const TABLE_ALIASES: Readonly<Record<TableName, string>> = tableAliases(DEFAULT_ALIAS_PREFIX);

/**
 * A field of a document. `date` fields are `event_date` (`YYYY-MM-DD`), `event_hour`
 * (`YYYY-MM-DDTHH:00:00.000Z`) and `computed_at`. `nullable`: the job may write null (or leave
 * the field out: Spark's JSON writer drops nulls unless told otherwise).
 */
export interface FieldSpec {
  readonly type: 'date' | 'keyword' | 'long' | 'double';
  readonly nullable?: boolean;
}

export interface TableSpec {
  readonly name: TableName;
  /** The fields that make one row (and the document's `_id`), in the SPEC's order. */
  readonly grain: readonly string[];
  /** Every field of a document, `event_date` and `computed_at` included. */
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

const DATE: FieldSpec = { type: 'date' };
const KEYWORD: FieldSpec = { type: 'keyword' };
const NULLABLE_KEYWORD: FieldSpec = { type: 'keyword', nullable: true };
const COUNT: FieldSpec = { type: 'long' };
const SECONDS: FieldSpec = { type: 'double' };
/** Averages and rates: null when their denominator is 0. */
const RATIO: FieldSpec = { type: 'double', nullable: true };

function table(name: TableName, grain: readonly string[], fields: Record<string, FieldSpec>): TableSpec {
  const all: Record<string, FieldSpec> = { event_date: DATE, ...fields, computed_at: DATE };
  for (const field of grain) if (!(field in all)) throw new Error(`grain field ${field} of ${name} has no type`);
  return { name, grain, fields: all };
}

export const TABLES: Readonly<Record<TableName, TableSpec>> = {
  url_country_daily: table('url_country_daily', ['event_date', 'page_url', 'country'], {
    page_url: KEYWORD,
    country: KEYWORD,
    clicks: COUNT,
    unique_users: COUNT,
    timed_views: COUNT,
    total_time_spent_seconds: SECONDS,
    avg_time_spent_seconds: RATIO,
    entrances: COUNT,
    bounces: COUNT,
    bot_clicks: COUNT,
  }),
  sessions_daily: table('sessions_daily', ['event_date', 'country', 'device_type', 'browser', 'os', 'channel'], {
    country: KEYWORD,
    device_type: KEYWORD,
    browser: NULLABLE_KEYWORD,
    os: NULLABLE_KEYWORD,
    channel: KEYWORD,
    sessions: COUNT,
    bounces: COUNT,
    pageviews: COUNT,
    users: COUNT,
    total_duration_seconds: SECONDS,
    avg_duration_seconds: RATIO,
    bounce_rate: RATIO,
  }),
  traffic_sources_daily: table('traffic_sources_daily', ['event_date', 'channel', 'referrer_host', 'utm_source', 'utm_medium', 'utm_campaign', 'country'], {
    channel: KEYWORD,
    referrer_host: NULLABLE_KEYWORD,
    utm_source: NULLABLE_KEYWORD,
    utm_medium: NULLABLE_KEYWORD,
    utm_campaign: NULLABLE_KEYWORD,
    country: KEYWORD,
    sessions: COUNT,
    bounces: COUNT,
    pageviews: COUNT,
    users: COUNT,
  }),
  geo_daily: table('geo_daily', ['event_date', 'country', 'city'], {
    country: KEYWORD,
    city: NULLABLE_KEYWORD,
    clicks: COUNT,
    unique_users: COUNT,
    sessions: COUNT,
    bot_clicks: COUNT,
  }),
  // Partitioned by the hour's event_date, which every document carries (the cleanup is per date).
  traffic_hourly: table('traffic_hourly', ['event_hour', 'country', 'device_type'], {
    event_hour: DATE,
    country: KEYWORD,
    device_type: KEYWORD,
    clicks: COUNT,
    unique_users: COUNT,
    sessions: COUNT,
    bot_clicks: COUNT,
  }),
};

export function isTableName(name: string): name is TableName {
  return (TABLE_NAMES as readonly string[]).includes(name);
}

/**
 * The computations ledger's alias: `<prefix>-computations`. One entry per table and date with the
 * `computed_at` of its newest computation (lambdas/indexer/freshness.ts, docs/serving.md "No stale
 * rows"). Written by the indexer only; no analyst needs it.
 */
export function computationsAlias(prefix: string = DEFAULT_ALIAS_PREFIX): string {
  tableAlias('url_country_daily', prefix); // validates the prefix
  return `${prefix}-computations`;
}

/** The fields of a ledger entry (its id is `<table>.<event_date>`, its version `computed_at` in ms). */
export const COMPUTATION_FIELDS: Readonly<Record<string, FieldSpec>> = {
  table: KEYWORD,
  event_date: DATE,
  computed_at: DATE,
  rows: COUNT,
};

/** Every alias of a deployment: the five tables' and the ledger's. */
export function allAliases(prefix: string = DEFAULT_ALIAS_PREFIX): string[] {
  return [...TABLE_NAMES.map((table) => tableAlias(table, prefix)), computationsAlias(prefix)];
}
