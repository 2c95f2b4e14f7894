/**
 * The core of `npm run smoke` (scripts/smoke.ts): a few hundred test clicks with a unique marker,
 * followed through every stage of a deployment (or of the local stack) and counted at the end in
 * every aggregate table's alias.
 *
 * - `planSmoke`: the clicks (today, UTC, a distinct time each) and what each of the five tables
 *   (SPEC section 3, lambdas/indexer/tables.ts) must then say, per row of its grain. The marker is
 *   in each click's page path, in its `utm_campaign` and in its `city`, and its users are
 *   `<marker>-u<n>`: the rows of `url_country_daily`, `traffic_sources_daily` and `geo_daily`
 *   that carry the marker hold the run's clicks and nothing else. `sessions_daily` and
 *   `traffic_hourly` have no field a click can mark; their rows mix the run's clicks with any other
 *   traffic of the same grain.
 * - `runSmoke`: runs the steps in order, prints each with its timing, and on a failure names the
 *   step and where its logs are. The steps themselves are arguments (scripts/deploy/smoke-aws.ts
 *   for a deployment, scripts/deploy/smoke-local.ts for the local stack).
 * - `compareTable`: a table's served rows against the plan, exactly where the rows hold the run's
 *   clicks alone, or as lower bounds where other traffic shares them.
 * The smoke test proves the pipeline is connected end to end and that each table counts the run's
 * clicks; the rules themselves (sessions, bots, enrichment) are the unit and end-to-end tests' job.
 */
import { randomBytes } from 'crypto';
import { TABLE_NAMES, TABLES, type TableName } from '../../lambdas/indexer/tables';

export interface SmokeClick {
  /** The message value, a JSON click (SPEC section 1). */
  readonly value: string;
  /** Partition to produce to (the local stack); a deployment lets the producer choose. */
  readonly partition: number;
  readonly key: string;
  readonly timestamp: number;
}

/** Served counts of one row, by field. */
export type RowCounts = Readonly<Record<string, number>>;

export interface SmokePlan {
  /** Lower-case letters, digits and dashes; in every URL, campaign, city and user of the run. */
  readonly marker: string;
  /** Event date of every click, YYYY-MM-DD (UTC). */
  readonly date: string;
  readonly clicks: readonly SmokeClick[];
  /** Per table: the expected rows, by `rowKey` (the grain without `event_date`), with their counts. */
  readonly expected: Readonly<Record<TableName, ReadonlyMap<string, RowCounts>>>;
}

export interface PlanOptions {
  /** @default 300 */
  readonly count?: number;
  /** @default now */
  readonly now?: Date;
  /** @default `smoke-<utc time>-<random hex>` */
  readonly marker?: string;
  /** Partitions to spread the clicks over. @default 3 */
  readonly partitions?: number;
}

/** Host of every smoke click's URL. */
export const SMOKE_HOST = 'smoke.example.com';
/** `utm_source` and `utm_medium` of every click: a medium of no known kind, so `channel` is `campaign` (SPEC section 2). */
export const SMOKE_UTM = 'smoke';
export const SMOKE_CHANNEL = 'campaign';
/** No user agent: `device_type` is `unknown`, `browser` and `os` null, and the clicks are human. */
export const SMOKE_DEVICE = 'unknown';
export const SMOKE_COUNTRIES = ['DE', 'FR', 'US'] as const;
const PAGES = 7;
const USERS = 23;

/**
 * The field of each table whose value carries the marker, so that the rows holding it are the
 * run's alone; none for the tables whose grain has no such field.
 */
export const MARKED_BY: Readonly<Record<TableName, 'page_url' | 'utm_campaign' | 'city' | undefined>> = {
  url_country_daily: 'page_url',
  sessions_daily: undefined,
  traffic_sources_daily: 'utm_campaign',
  geo_daily: 'city',
  traffic_hourly: undefined,
};

/** The counts the smoke test compares, per table (each table's other fields follow from these). */
export const CHECKED_COUNTS: Readonly<Record<TableName, readonly string[]>> = {
  url_country_daily: ['clicks', 'unique_users', 'timed_views', 'entrances', 'bounces', 'bot_clicks'],
  sessions_daily: ['sessions', 'bounces', 'pageviews', 'users'],
  traffic_sources_daily: ['sessions', 'bounces', 'pageviews', 'users'],
  geo_daily: ['clicks', 'unique_users', 'sessions', 'bot_clicks'],
  traffic_hourly: ['clicks', 'unique_users', 'sessions', 'bot_clicks'],
};

/** A row's grain without `event_date`, joined by `|` (a null or missing value as `null`). */
export function rowKey(table: TableName, row: Readonly<Record<string, unknown>>): string {
  return TABLES[table].grain.filter((f) => f !== 'event_date').map((f) => (row[f] === null || row[f] === undefined ? 'null' : String(row[f]))).join('|');
}

export function planSmoke(options: PlanOptions = {}): SmokePlan {
  const count = options.count ?? 300;
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error(`smoke: count must be 1-100000, got ${count}`);
  const now = (options.now ?? new Date()).getTime();
  const marker = options.marker ?? `smoke-${new Date(now).toISOString().replace(/[-:TZ.]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9-]{6,64}$/.test(marker)) throw new Error(`smoke: the marker must be 6-64 of a-z, 0-9 and "-", got ${marker}`);
  const date = new Date(now).toISOString().slice(0, 10);
  const startOfDay = Date.parse(`${date}T00:00:00.000Z`);
  // A second apart and ending now; shortly after midnight, closer together from midnight on (and,
  // in the first `count` milliseconds of a day, a millisecond apart, up to `count` ms ahead of now,
  // which the ingest accepts). Every click is today's, and no two share a time, so the order of a
  // user's clicks, and with it each session, is the order of the plan.
  const first = Math.max(startOfDay, now - count * 1000);
  const step = Math.max(1, Math.floor((now - first) / count));
  const partitions = options.partitions ?? 3;
  const users = Math.min(USERS, count);
  const clicks: SmokeClick[] = [];
  const planned: Array<{ user: number; page: string; country: string; timestamp: number }> = [];
  for (let i = 0; i < count; i++) {
    const user = i % users;
    const page = `https://${SMOKE_HOST}/${marker}/p/${i % PAGES}`;
    // A user's clicks all come from one country: a session's country is its entry click's.
    const country = SMOKE_COUNTRIES[user % SMOKE_COUNTRIES.length];
    const timestamp = first + i * step;
    const url = `${page}?utm_source=${SMOKE_UTM}&utm_medium=${SMOKE_UTM}&utm_campaign=${marker}`;
    clicks.push({
      value: JSON.stringify({ user_id: `${marker}-u${user}`, timestamp: new Date(timestamp).toISOString(), url, country, city: marker }),
      partition: i % partitions,
      key: `${marker}-u${user}`,
      timestamp,
    });
    planned.push({ user, page, country, timestamp });
  }
  return { marker, date, clicks, expected: expectedTables(planned, marker) };
}

/**
 * What each table must hold for the planned clicks (SPEC section 3): a user's clicks are one
 * session (they are at most `users` seconds apart, under any session gap setting, and all of one
 * date); its entry is the user's first click, its exit the last, a bounce when it has one click.
 */
function expectedTables(planned: ReadonlyArray<{ user: number; page: string; country: string; timestamp: number }>, marker: string): SmokePlan['expected'] {
  const sessionLength = new Map<number, number>();
  for (const c of planned) sessionLength.set(c.user, (sessionLength.get(c.user) ?? 0) + 1);
  const tables = Object.fromEntries(TABLE_NAMES.map((t) => [t, new Map<string, { counts: Record<string, number>; users: Set<number> }>()])) as Record<TableName, Map<string, { counts: Record<string, number>; users: Set<number> }>>;
  const add = (table: TableName, grain: Record<string, unknown>, user: number, counts: Record<string, number>, usersField?: string) => {
    const key = rowKey(table, grain);
    const row = tables[table].get(key) ?? { counts: Object.fromEntries(CHECKED_COUNTS[table].map((f) => [f, 0])), users: new Set<number>() };
    for (const [field, n] of Object.entries(counts)) row.counts[field] += n;
    row.users.add(user);
    if (usersField) row.counts[usersField] = row.users.size;
    tables[table].set(key, row);
  };
  const seen = new Map<number, number>();
  for (const c of planned) {
    const index = seen.get(c.user) ?? 0;
    seen.set(c.user, index + 1);
    const length = sessionLength.get(c.user)!;
    const entry = index === 0 ? 1 : 0;
    const exit = index === length - 1;
    const bounce = entry && length === 1 ? 1 : 0;
    const hour = new Date(c.timestamp - (c.timestamp % 3_600_000)).toISOString();
    add('url_country_daily', { page_url: c.page, country: c.country }, c.user,
      { clicks: 1, timed_views: exit ? 0 : 1, entrances: entry, bounces: bounce, bot_clicks: 0 }, 'unique_users');
    add('geo_daily', { country: c.country, city: marker }, c.user, { clicks: 1, sessions: entry, bot_clicks: 0 }, 'unique_users');
    add('traffic_hourly', { event_hour: hour, country: c.country, device_type: SMOKE_DEVICE }, c.user, { clicks: 1, sessions: entry, bot_clicks: 0 }, 'unique_users');
    if (entry) {
      const session = { sessions: 1, bounces: bounce, pageviews: length };
      add('sessions_daily', { country: c.country, device_type: SMOKE_DEVICE, browser: null, os: null, channel: SMOKE_CHANNEL }, c.user, session, 'users');
      add('traffic_sources_daily', { channel: SMOKE_CHANNEL, referrer_host: null, utm_source: SMOKE_UTM, utm_medium: SMOKE_UTM, utm_campaign: marker, country: c.country }, c.user, session, 'users');
    }
  }
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, new Map([...tables[t]].map(([key, row]) => [key, row.counts as RowCounts]))])) as unknown as SmokePlan['expected'];
}

/**
 * Differences between a table's served rows and the plan; empty when they agree.
 * `exact`: the rows hold the run's clicks alone (a marked table, or a local run with indices of its
 * own), so every count must equal the plan's and no other row may exist. Otherwise each planned
 * row must exist with counts at least the plan's (other traffic of the same grain adds to them).
 */
export function compareTable(plan: SmokePlan, table: TableName, rows: ReadonlyArray<Readonly<Record<string, unknown>>>, exact: boolean): string[] {
  const served = new Map<string, Record<string, number>>();
  for (const row of rows) {
    const key = rowKey(table, row);
    const counts = served.get(key) ?? {};
    for (const field of CHECKED_COUNTS[table]) counts[field] = (counts[field] ?? 0) + Number(row[field] ?? 0);
    served.set(key, counts);
  }
  const problems: string[] = [];
  for (const [key, want] of plan.expected[table]) {
    const got = served.get(key);
    if (!got) {
      problems.push(`${key}: no row`);
      continue;
    }
    const wrong = Object.entries(want).filter(([field, n]) => (exact ? got[field] !== n : !(got[field] >= n)));
    if (wrong.length > 0) problems.push(`${key}: ${wrong.map(([field, n]) => `${field} ${got[field]} served, ${exact ? '' : 'at least '}${n} expected`).join(', ')}`);
  }
  if (exact) for (const key of served.keys()) if (!plan.expected[table].has(key)) problems.push(`${key}: served but never sent`);
  return problems;
}

/** Clicks of `url_country_daily` rows. */
export const totalClicks = (rows: ReadonlyArray<Readonly<Record<string, unknown>>>) => rows.reduce((n, r) => n + Number(r.clicks ?? 0), 0);

/** One step of a smoke run: what it does and where to look when it fails. */
export interface SmokeStep {
  readonly name: string;
  /** The log group (or local file) to read when the step fails. */
  readonly logs: string;
  /** Does the step; resolves with a one-line result, throws with what went wrong. */
  readonly run: () => Promise<string>;
}

export interface StepReport {
  readonly name: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly detail: string;
}

export interface SmokeReport {
  readonly ok: boolean;
  readonly steps: readonly StepReport[];
  /** The failed step, with its logs. */
  readonly failed?: { readonly step: string; readonly error: string; readonly logs: string };
}

/** Runs the steps in order until one fails; prints each with its timing as it finishes. */
export async function runSmoke(steps: readonly SmokeStep[], log: (line: string) => void, now: () => number = Date.now): Promise<SmokeReport> {
  const reports: StepReport[] = [];
  for (const step of steps) {
    const started = now();
    log(`[${step.name}] ...`);
    try {
      const detail = await step.run();
      const seconds = (now() - started) / 1000;
      reports.push({ name: step.name, ok: true, seconds, detail });
      log(`[${step.name}] ok in ${seconds.toFixed(1)} s: ${detail}`);
    } catch (error) {
      const seconds = (now() - started) / 1000;
      const message = error instanceof Error ? error.message : String(error);
      reports.push({ name: step.name, ok: false, seconds, detail: message });
      log(`[${step.name}] FAILED after ${seconds.toFixed(1)} s: ${message}`);
      log(`  read: ${step.logs}`);
      return { ok: false, steps: reports, failed: { step: step.name, error: message, logs: step.logs } };
    }
  }
  const total = reports.reduce((s, r) => s + r.seconds, 0);
  log(`smoke test passed: ${reports.length} steps in ${total.toFixed(1)} s`);
  return { ok: true, steps: reports };
}

/** Polls `probe` until it returns a value, with growing pauses, up to `timeoutMs`; then throws `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)), now: () => number = Date.now): Promise<T> {
  const deadline = now() + timeoutMs;
  let delay = 1000;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (now() + delay > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${what}: not after ${Math.round(timeoutMs / 1000)} s${why}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 15_000);
  }
}
