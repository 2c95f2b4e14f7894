/**
 * An independent computation of what the pipeline must produce, written from SPEC §1-§3 in
 * plain TypeScript. It shares no code with the ingest function or the Spark job on purpose: the
 * end-to-end test compares the two, so a bug in one cannot hide behind the same bug in the other.
 * Where the SPEC names a maintained source (the user-agent parser, the bot list, the public suffix
 * list, ISO 3166 names), this file asks the same libraries; every rule around them is written here
 * again, from the SPEC and the decisions in docs/ingest.md.
 *
 * Input: the messages exactly as produced, with their Kafka coordinates.
 * Output: which messages are valid (their canonical and enrichment fields), and the rows of the
 * five tables of SPEC §3 (`computed_at` left out).
 */

import countries from 'i18n-iso-countries/index';
import englishCountryNames from 'i18n-iso-countries/langs/en.json';
import { isbot } from 'isbot';
import { getDomainWithoutSuffix } from 'tldts';
import UAParser from 'ua-parser-js';

countries.registerLocale(englishCountryNames);

/** A message as it sits in Kafka. */
export interface ProducedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Kafka record timestamp, epoch ms. */
  readonly timestamp: number;
  readonly value: Buffer;
}

export type DeviceType = 'bot' | 'mobile' | 'tablet' | 'other' | 'desktop' | 'unknown';

/**
 * The fields of a valid message that the aggregation needs (SPEC §1 and §2). The enrichment
 * fields are optional: left out, they take the SPEC's defaults for records written before the
 * field existed (`unknown` device and channel, null elsewhere, not a bot).
 */
export interface ValidEvent {
  readonly eventId: string;
  readonly userId: string;
  /** Event time, epoch ms. */
  readonly ts: number;
  readonly pageUrl: string;
  readonly country: string;
  /** @default '' (one topic) */
  readonly topic?: string;
  readonly partition: number;
  readonly offset: number;
  readonly city?: string | null;
  readonly deviceType?: DeviceType;
  readonly browser?: string | null;
  readonly os?: string | null;
  readonly isBot?: boolean;
  readonly utmSource?: string | null;
  readonly utmMedium?: string | null;
  readonly utmCampaign?: string | null;
  readonly referrerHost?: string | null;
  readonly channel?: string;
}

export interface Rejection {
  readonly partition: number;
  readonly offset: number;
  /** Our own short reason; the pipeline's reason codes may be spelled differently. */
  readonly reason: string;
}

export type Validation = { ok: true; event: Required<ValidEvent> } | { ok: false; reason: string };

const MIN_TS = Date.UTC(2000, 0, 1);
const MAX_AHEAD_OF_RECORD_MS = 24 * 3600 * 1000;
const MAX_USER_ID = 256;
const MAX_URL_BYTES = 8 * 1024;
const MAX_USER_AGENT_BYTES = 4 * 1024;
const MAX_UTM_CODE_POINTS = 256;
export const DEFAULT_SESSION_GAP_MS = 30 * 60 * 1000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a field by its snake_case name or, when that is missing or null, its camelCase alias. */
function field(obj: Record<string, unknown>, snake: string, camel?: string): unknown {
  const own = (name: string) => (Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined);
  const value = own(snake);
  if (value !== undefined && value !== null) return value;
  return camel === undefined ? value : own(camel) ?? value;
}

// YYYY-MM-DDTHH:MM:SS(.fraction)? followed by Z or +hh:mm / -hh:mm. A zone is required.
const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses the event time (SPEC §1) to epoch ms, or returns a reason. */
function parseTimestamp(raw: unknown): number | string {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return 'timestamp_not_integer_millis';
    return raw;
  }
  if (typeof raw !== 'string') return raw === undefined || raw === null ? 'missing_timestamp' : 'timestamp_bad_type';
  const m = ISO_WITH_ZONE.exec(raw);
  if (!m) return 'timestamp_not_iso_with_zone';
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000 + 1e-9) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  // Reject impossible calendar values (Date.UTC would roll 2026-02-30 over to March).
  const check = new Date(t);
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) ||
      Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return 'timestamp_not_iso_with_zone';
  }
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    t -= offset;
  }
  return t;
}

/**
 * SPEC §2 `page_url`: lower-case scheme and host, path kept, the trailing `/` dropped except for
 * the root, query and fragment dropped. Written with a plain pattern (not the WHATWG URL class),
 * to stay independent of how the pipeline does it.
 */
export function normalizePageUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(url);
  if (!m) throw new Error(`not an absolute URL: ${url}`);
  const scheme = m[1].toLowerCase();
  const host = m[2].toLowerCase();
  let path = m[3];
  if (path === '') path = '/';
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return `${scheme}://${host}${path}`;
}

/** SPEC §2 `country`: two letters upper-cased (UK → GB), alpha-3 codes and English names → alpha-2, else unknown. */
export function normalizeCountry(raw: unknown): string {
  const trimmed = typeof raw === 'string' ? raw.trim() : '';
  if (trimmed === '') return 'unknown';
  if (/^[A-Za-z]{2}$/.test(trimmed)) return trimmed.toUpperCase() === 'UK' ? 'GB' : trimmed.toUpperCase();
  const alpha3 = /^[A-Za-z]{3}$/.test(trimmed) ? countries.alpha3ToAlpha2(trimmed.toUpperCase()) : undefined;
  return alpha3 ?? countries.getAlpha2Code(trimmed.replace(/\u2019/g, "'"), 'en') ?? 'unknown';
}

// ------------------------------------------------------------------------------------------------
// Enrichment (SPEC §2)

/**
 * Command-line and HTTP-library clients, named here from the SPEC's own list of what a bot is,
 * in case the maintained bot list misses one of them.
 */
const CLIENT_LIBRARIES = /^(curl|wget|python-requests|python-urllib|aiohttp|go-http-client|okhttp|axios|node-fetch|undici|java|libwww-perl|apache-httpclient|postmanruntime|httpie|dart)\/|\(dart:io\)|windowspowershell\/|\bjsdom\/|uptime-kuma/i;
const OTHER_DEVICES = new Set(['smarttv', 'console', 'wearable', 'embedded', 'xr']);
/** docs/ingest.md: one name per family. */
const FAMILY_NAMES: Readonly<Record<string, string>> = { 'Mobile Safari': 'Safari', 'Mac OS': 'macOS' };

export interface UserAgentClass {
  readonly deviceType: DeviceType;
  readonly browser: string | null;
  readonly os: string | null;
}

const userAgentClasses = new Map<string, UserAgentClass>();

/** `device_type`, `browser`, `os` of a user agent (SPEC §2); `is_bot` is `deviceType === 'bot'`. */
export function classifyUserAgent(userAgent: string | null): UserAgentClass {
  if (userAgent === null || userAgent.trim() === '') return { deviceType: 'unknown', browser: null, os: null };
  const known = userAgentClasses.get(userAgent);
  if (known) return known;
  const parsed = new UAParser(userAgent).getResult();
  const family = (name: string | undefined) => (name ? FAMILY_NAMES[name] ?? name : null);
  const type = parsed.device.type;
  const deviceType: DeviceType = isbot(userAgent) || CLIENT_LIBRARIES.test(userAgent)
    ? 'bot'
    : type === 'mobile' ? 'mobile' : type === 'tablet' ? 'tablet' : type !== undefined && OTHER_DEVICES.has(type) ? 'other' : 'desktop';
  const result = { deviceType, browser: family(parsed.browser.name), os: family(parsed.os.name) };
  if (userAgentClasses.size < 50_000) userAgentClasses.set(userAgent, result);
  return result;
}

/**
 * Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte, the bytes
 * UTF-8. A `%` without two hex digits stays as it is; when the bytes are not UTF-8 the text stays
 * as written, only `+` read as a space (docs/ingest.md).
 */
function formDecode(text: string): string {
  const spaced = text.split('+').join(' ');
  const bytes: number[] = [];
  let plain = '';
  const flush = () => {
    for (const b of Buffer.from(plain, 'utf8')) bytes.push(b);
    plain = '';
  };
  for (let i = 0; i < spaced.length; i++) {
    if (spaced[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(spaced.slice(i + 1, i + 3))) {
      flush();
      bytes.push(parseInt(spaced.slice(i + 1, i + 3), 16));
      i += 2;
    } else plain += spaced[i];
  }
  flush();
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return spaced;
  }
}

/** The UTM parameters of `url` (SPEC §2): the first parameter of each name, decoded, trimmed, lower case, at most 256 code points. */
export function utmParameters(url: string): { utmSource: string | null; utmMedium: string | null; utmCampaign: string | null } {
  const withoutFragment = url.replace(/[\t\n\r]/g, '').split('#')[0];
  const q = withoutFragment.indexOf('?');
  const found = new Map<string, string>();
  if (q >= 0) {
    for (const part of withoutFragment.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = formDecode(eq < 0 ? part : part.slice(0, eq));
      if (!found.has(name)) found.set(name, eq < 0 ? '' : formDecode(part.slice(eq + 1)));
    }
  }
  const value = (name: string) => {
    const v = found.get(name);
    if (v === undefined) return null;
    const cut = [...v.trim().toLowerCase()].slice(0, MAX_UTM_CODE_POINTS).join('');
    return cut === '' ? null : cut;
  };
  return { utmSource: value('utm_source'), utmMedium: value('utm_medium'), utmCampaign: value('utm_campaign') };
}

/** SPEC §2 `referrer_host`: the WHATWG host name without a leading `www.`; null unless an absolute http(s) URL. */
export function referrerHostOf(referrer: string | null): string | null {
  if (referrer === null) return null;
  const text = referrer.trim();
  if (!/^https?:\/\/[^/?#\\]/i.test(text)) return null;
  let host: string;
  try {
    host = new URL(text).hostname;
  } catch {
    return null;
  }
  const stripped = host.startsWith('www.') ? host.slice(4) : host;
  return stripped === '' ? null : stripped;
}

const PAID = ['cpc', 'ppc', 'paid', 'paidsearch', 'display', 'cpm', 'banner'];
const EMAIL = ['email', 'e-mail', 'newsletter'];
const SOCIAL = ['social', 'social-network', 'sm'];
const SEARCH_ENGINES = ['google', 'bing', 'duckduckgo', 'yahoo', 'yandex', 'baidu', 'ecosia'];
const SOCIAL_HOSTS = ['facebook.com', 'fb.com', 'instagram.com', 't.co', 'twitter.com', 'x.com', 'linkedin.com', 'lnkd.in', 'reddit.com', 'youtube.com', 'tiktok.com'];

/** SPEC §2 `channel`, the first rule that matches. */
export function channelOf(utmMedium: string | null, referrerHost: string | null, pageUrl: string): string {
  if (utmMedium !== null) {
    if (PAID.includes(utmMedium)) return 'paid';
    if (EMAIL.includes(utmMedium)) return 'email';
    if (SOCIAL.includes(utmMedium)) return 'social';
    return 'campaign';
  }
  if (referrerHost === null) return 'direct';
  const pageHost = new URL(pageUrl).hostname;
  if (referrerHost === (pageHost.startsWith('www.') ? pageHost.slice(4) : pageHost)) return 'internal';
  const name = getDomainWithoutSuffix(referrerHost);
  if (name !== null && SEARCH_ENGINES.includes(name)) return 'search';
  if (SOCIAL_HOSTS.some((h) => referrerHost === h || referrerHost.endsWith(`.${h}`)) || name === 'pinterest') return 'social';
  return 'referral';
}

// ------------------------------------------------------------------------------------------------
// Validation (SPEC §1)

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

/** SPEC §1 validation of one message, and its enrichment (SPEC §2). */
export function validateMessage(msg: ProducedMessage): Validation {
  let text: string;
  try {
    text = utf8.decode(msg.value);
  } catch {
    return { ok: false, reason: 'invalid_utf8' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, reason: 'not_a_json_object' };
  const obj = parsed as Record<string, unknown>;

  const userId = field(obj, 'user_id', 'userId');
  if (typeof userId !== 'string' || userId.trim().length === 0) return { ok: false, reason: 'bad_user_id' };
  if ([...userId].length > MAX_USER_ID) return { ok: false, reason: 'user_id_too_long' };

  const ts = parseTimestamp(field(obj, 'timestamp', 'ts'));
  if (typeof ts === 'string') return { ok: false, reason: ts };
  if (ts < MIN_TS) return { ok: false, reason: 'timestamp_before_2000' };
  if (ts > msg.timestamp + MAX_AHEAD_OF_RECORD_MS) return { ok: false, reason: 'timestamp_in_future' };

  const url = field(obj, 'url');
  if (typeof url !== 'string') return { ok: false, reason: 'bad_url' };
  if (Buffer.byteLength(url, 'utf8') > MAX_URL_BYTES) return { ok: false, reason: 'url_too_long' };
  if (!/^https?:\/\/[^/?#\s]+/i.test(url)) return { ok: false, reason: 'url_not_absolute_http' };

  const optional = {
    country: field(obj, 'country'),
    city: field(obj, 'city'),
    userAgent: field(obj, 'user_agent', 'userAgent'),
    eventId: field(obj, 'event_id', 'eventId'),
    sessionId: field(obj, 'session_id', 'sessionId'),
    referrer: field(obj, 'referrer'),
  };
  for (const [name, value] of Object.entries(optional)) if (!optionalString(value)) return { ok: false, reason: `bad_${name}` };
  const ua = typeof optional.userAgent === 'string' ? optional.userAgent : null;
  if (ua !== null && Buffer.byteLength(ua, 'utf8') > MAX_USER_AGENT_BYTES) return { ok: false, reason: 'user_agent_too_long' };

  const rawEventId = optional.eventId;
  const eventId = typeof rawEventId === 'string' && rawEventId.trim() !== '' ? rawEventId : `${msg.topic}-${msg.partition}-${msg.offset}`;
  const city = typeof optional.city === 'string' && optional.city.trim() !== '' ? optional.city.trim() : null;
  const pageUrl = normalizePageUrl(url);
  const agent = classifyUserAgent(ua);
  const utm = utmParameters(url);
  const referrerHost = referrerHostOf(typeof optional.referrer === 'string' ? optional.referrer : null);

  return {
    ok: true,
    event: {
      eventId,
      userId,
      ts,
      pageUrl,
      country: normalizeCountry(optional.country),
      topic: msg.topic,
      partition: msg.partition,
      offset: msg.offset,
      city,
      deviceType: agent.deviceType,
      browser: agent.browser,
      os: agent.os,
      isBot: agent.deviceType === 'bot',
      ...utm,
      referrerHost,
      channel: channelOf(utm.utmMedium, referrerHost, pageUrl),
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Aggregation (SPEC §3)

export const TABLE_NAMES = ['url_country_daily', 'sessions_daily', 'traffic_sources_daily', 'geo_daily', 'traffic_hourly'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** A row of a table, without `computed_at`: grain fields (strings or null) and figures. */
export type TableRow = Readonly<Record<string, string | number | null>>;
export type Tables = Readonly<Record<TableName, TableRow[]>>;

/** The grain of each table (SPEC §3) and its figures; doubles are compared within a tolerance. */
export const TABLE_SHAPES: Readonly<Record<TableName, { grain: readonly string[]; counts: readonly string[]; doubles: readonly string[] }>> = {
  url_country_daily: {
    grain: ['event_date', 'page_url', 'country'],
    counts: ['clicks', 'unique_users', 'timed_views', 'entrances', 'bounces', 'bot_clicks'],
    doubles: ['total_time_spent_seconds', 'avg_time_spent_seconds'],
  },
  sessions_daily: {
    grain: ['event_date', 'country', 'device_type', 'browser', 'os', 'channel'],
    counts: ['sessions', 'bounces', 'pageviews', 'users'],
    doubles: ['total_duration_seconds', 'avg_duration_seconds', 'bounce_rate'],
  },
  traffic_sources_daily: {
    grain: ['event_date', 'channel', 'referrer_host', 'utm_source', 'utm_medium', 'utm_campaign', 'country'],
    counts: ['sessions', 'bounces', 'pageviews', 'users'],
    doubles: [],
  },
  geo_daily: { grain: ['event_date', 'country', 'city'], counts: ['clicks', 'unique_users', 'sessions', 'bot_clicks'], doubles: [] },
  traffic_hourly: { grain: ['event_date', 'event_hour', 'country', 'device_type'], counts: ['clicks', 'unique_users', 'sessions', 'bot_clicks'], doubles: [] },
};

/** One `url_country_daily` row (SPEC §3), without `computed_at`. */
export interface ExpectedRow {
  readonly event_date: string;
  readonly page_url: string;
  readonly country: string;
  readonly clicks: number;
  readonly unique_users: number;
  readonly timed_views: number;
  readonly total_time_spent_seconds: number;
  readonly avg_time_spent_seconds: number | null;
  readonly entrances: number;
  readonly bounces: number;
  readonly bot_clicks: number;
}

export interface Expectation {
  readonly valid: Array<Required<ValidEvent>>;
  readonly rejected: Rejection[];
  /** Distinct events after removing duplicates (same `event_id` on the same date). */
  readonly distinctEvents: number;
  /** The `url_country_daily` rows, sorted by event_date, page_url, country. */
  readonly rows: ExpectedRow[];
  /** Every table's rows, each sorted by its grain. */
  readonly tables: Tables;
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function utcHour(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 13)}:00:00.000Z`;
}

/** Row key of a `url_country_daily` row, used to compare rows from anywhere. */
export function rowKey(r: { event_date: string; page_url: string; country: string }): string {
  return `${r.event_date}|${r.page_url}|${r.country}`;
}

/** The key of a row of `table`: its grain values, null written as `∅` (no grain value is that). */
export function tableRowKey(table: TableName, row: Readonly<Record<string, unknown>>): string {
  return TABLE_SHAPES[table].grain.map((g) => (row[g] === null || row[g] === undefined ? '\u2205' : String(row[g]))).join('|');
}

interface Defaults {
  readonly topic: string;
  readonly city: string | null;
  readonly deviceType: DeviceType;
  readonly browser: string | null;
  readonly os: string | null;
  readonly isBot: boolean;
  readonly utmSource: string | null;
  readonly utmMedium: string | null;
  readonly utmCampaign: string | null;
  readonly referrerHost: string | null;
  readonly channel: string;
}

/** SPEC §2: the values of records written before the enrichment fields existed. */
const DEFAULTS: Defaults = {
  topic: '', city: null, deviceType: 'unknown', browser: null, os: null, isBot: false,
  utmSource: null, utmMedium: null, utmCampaign: null, referrerHost: null, channel: 'unknown',
};

type Event = Required<ValidEvent> & { readonly date: string };

function complete(e: ValidEvent): Event {
  const filled = { ...DEFAULTS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) if (v !== undefined) filled[k] = v;
  if (e.deviceType === undefined && e.isBot === true) filled.deviceType = 'bot';
  filled.isBot = filled.deviceType === 'bot' || filled.isBot === true;
  filled.date = utcDate(e.ts);
  return filled as Event;
}

const compare = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

/** A group of rows under one key: counters and distinct users. */
class Groups {
  private readonly groups = new Map<string, { grain: Record<string, string | null>; sums: Record<string, number>; users: Set<string> }>();

  add(grain: Record<string, string | null>, userId: string | null, sums: Record<string, number>): void {
    const key = JSON.stringify(grain);
    let g = this.groups.get(key);
    if (!g) {
      g = { grain, sums: {}, users: new Set() };
      this.groups.set(key, g);
    }
    if (userId !== null) g.users.add(userId);
    for (const [k, v] of Object.entries(sums)) g.sums[k] = (g.sums[k] ?? 0) + v;
  }

  rows(make: (grain: Record<string, string | null>, sums: Record<string, number>, users: number) => TableRow): TableRow[] {
    return [...this.groups.values()].map((g) => make(g.grain, g.sums, g.users.size));
  }
}

/**
 * SPEC §3 over valid events: duplicates removed, sessions of human events, and the five tables.
 * `rows` is `url_country_daily` with its named fields.
 */
export function aggregate(events: readonly ValidEvent[], sessionGapMs = DEFAULT_SESSION_GAP_MS): { rows: ExpectedRow[]; tables: Tables; distinct: number } {
  // Duplicates: the same event_id on the same date; the copy with the lowest (topic, partition, offset) is kept.
  const byId = new Map<string, Event>();
  for (const raw of events) {
    const e = complete(raw);
    const key = `${e.date}|${e.eventId}`;
    const kept = byId.get(key);
    if (!kept || (compare(e.topic, kept.topic) || compare(e.partition, kept.partition) || compare(e.offset, kept.offset)) < 0) byId.set(key, e);
  }

  const pages = new Groups();
  const sessions = new Groups();
  const sources = new Groups();
  const geo = new Groups();
  const hourly = new Groups();

  // Every figure of a date depends on that date's events alone: sessions are per user and date.
  const byUserDate = new Map<string, Event[]>();
  for (const e of byId.values()) {
    const key = `${e.userId}\u0000${e.date}`;
    const list = byUserDate.get(key);
    if (list) list.push(e); else byUserDate.set(key, [e]);
  }
  for (const list of byUserDate.values()) {
    const bots = list.filter((e) => e.isBot);
    for (const b of bots) {
      pages.add({ event_date: b.date, page_url: b.pageUrl, country: b.country }, null, { bot_clicks: 1 });
      geo.add({ event_date: b.date, country: b.country, city: b.city }, null, { bot_clicks: 1 });
      hourly.add({ event_date: b.date, event_hour: utcHour(b.ts), country: b.country, device_type: b.deviceType }, null, { bot_clicks: 1 });
    }
    const human = list.filter((e) => !e.isBot).sort((a, b) => a.ts - b.ts || compare(a.eventId, b.eventId));
    // Split into sessions: a gap of more than the limit starts a new one.
    const split: Event[][] = [];
    for (let i = 0; i < human.length; i++) {
      if (i === 0 || human[i].ts - human[i - 1].ts > sessionGapMs) split.push([]);
      split[split.length - 1].push(human[i]);
    }
    for (const session of split) {
      const entry = session[0];
      const bounce = session.length === 1 ? 1 : 0;
      session.forEach((e, i) => {
        const next = session[i + 1];
        const isEntry = i === 0 ? 1 : 0;
        const timed: Record<string, number> = next === undefined ? {} : { timed_views: 1, time_ms: next.ts - e.ts };
        pages.add({ event_date: e.date, page_url: e.pageUrl, country: e.country }, e.userId, {
          clicks: 1, ...timed, entrances: isEntry, bounces: isEntry * bounce,
        });
        geo.add({ event_date: e.date, country: e.country, city: e.city }, e.userId, { clicks: 1, sessions: isEntry });
        hourly.add({ event_date: e.date, event_hour: utcHour(e.ts), country: e.country, device_type: e.deviceType }, e.userId, { clicks: 1, sessions: isEntry });
      });
      const figures = { sessions: 1, bounces: bounce, pageviews: session.length, duration_ms: session[session.length - 1].ts - entry.ts };
      sessions.add({ event_date: entry.date, country: entry.country, device_type: entry.deviceType, browser: entry.browser, os: entry.os, channel: entry.channel }, entry.userId, figures);
      sources.add({
        event_date: entry.date, channel: entry.channel, referrer_host: entry.referrerHost,
        utm_source: entry.utmSource, utm_medium: entry.utmMedium, utm_campaign: entry.utmCampaign, country: entry.country,
      }, entry.userId, figures);
    }
  }

  const n = (sums: Record<string, number>, name: string) => sums[name] ?? 0;
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
  const tables: Record<TableName, TableRow[]> = {
    url_country_daily: pages.rows((g, s, users) => ({
      ...g,
      clicks: n(s, 'clicks'),
      unique_users: users,
      timed_views: n(s, 'timed_views'),
      total_time_spent_seconds: n(s, 'time_ms') / 1000,
      avg_time_spent_seconds: ratio(n(s, 'time_ms') / 1000, n(s, 'timed_views')),
      entrances: n(s, 'entrances'),
      bounces: n(s, 'bounces'),
      bot_clicks: n(s, 'bot_clicks'),
    })),
    sessions_daily: sessions.rows((g, s, users) => ({
      ...g,
      sessions: n(s, 'sessions'),
      bounces: n(s, 'bounces'),
      pageviews: n(s, 'pageviews'),
      users,
      total_duration_seconds: n(s, 'duration_ms') / 1000,
      avg_duration_seconds: ratio(n(s, 'duration_ms') / 1000, n(s, 'sessions')),
      bounce_rate: ratio(n(s, 'bounces'), n(s, 'sessions')),
    })),
    traffic_sources_daily: sources.rows((g, s, users) => ({ ...g, sessions: n(s, 'sessions'), bounces: n(s, 'bounces'), pageviews: n(s, 'pageviews'), users })),
    geo_daily: geo.rows((g, s, users) => ({ ...g, clicks: n(s, 'clicks'), unique_users: users, sessions: n(s, 'sessions'), bot_clicks: n(s, 'bot_clicks') })),
    traffic_hourly: hourly.rows((g, s, users) => ({ ...g, clicks: n(s, 'clicks'), unique_users: users, sessions: n(s, 'sessions'), bot_clicks: n(s, 'bot_clicks') })),
  };
  for (const table of TABLE_NAMES) tables[table].sort((a, b) => compare(tableRowKey(table, a), tableRowKey(table, b)));
  return { rows: tables.url_country_daily as unknown as ExpectedRow[], tables, distinct: byId.size };
}

/** Validates every message and aggregates the valid ones. */
export function computeExpected(messages: readonly ProducedMessage[], sessionGapMs = DEFAULT_SESSION_GAP_MS): Expectation {
  const valid: Array<Required<ValidEvent>> = [];
  const rejected: Rejection[] = [];
  for (const m of messages) {
    const v = validateMessage(m);
    if (v.ok) valid.push(v.event);
    else rejected.push({ partition: m.partition, offset: m.offset, reason: v.reason });
  }
  const { rows, tables, distinct } = aggregate(valid, sessionGapMs);
  return { valid, rejected, distinctEvents: distinct, rows, tables };
}

// ------------------------------------------------------------------------------------------------
// Comparing with what the pipeline serves

/** A `url_country_daily` row as the pipeline serves it (extra fields such as computed_at are ignored). */
export interface ServedRow {
  event_date: string;
  page_url: string;
  country: string;
  clicks: number;
  unique_users: number;
  timed_views: number;
  total_time_spent_seconds: number;
  avg_time_spent_seconds: number | null;
}

export interface RowDifference {
  readonly key: string;
  readonly expected?: Readonly<Record<string, unknown>>;
  readonly actual?: Readonly<Record<string, unknown>>;
  /** The figures that differ. */
  readonly fields?: string[];
}

/**
 * Compares served documents of `table` with expected rows: the same set of grain keys (a
 * missing field is null), equal counts, doubles equal within a relative tolerance (sums of
 * doubles in another order differ in the last bits). Fields beyond the table's are ignored.
 */
export function diffTable(table: TableName, expected: readonly TableRow[], actual: ReadonlyArray<Readonly<Record<string, unknown>>>, tolerance = 1e-6): RowDifference[] {
  const shape = TABLE_SHAPES[table];
  const diffs: RowDifference[] = [];
  const act = new Map<string, Readonly<Record<string, unknown>>>();
  for (const a of actual) {
    const k = tableRowKey(table, a);
    if (act.has(k)) diffs.push({ key: `${k} (served twice)`, actual: a });
    act.set(k, a);
  }
  const value = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  const close = (x: number | null, y: number | null) =>
    x === null || y === null ? x === y : Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(x), Math.abs(y));
  for (const e of expected) {
    const k = tableRowKey(table, e);
    const a = act.get(k);
    act.delete(k);
    if (!a) {
      diffs.push({ key: k, expected: e });
      continue;
    }
    const fields = [
      ...shape.counts.filter((f) => value(a[f]) !== value(e[f])),
      ...shape.doubles.filter((f) => !close(value(a[f]), value(e[f]))),
    ];
    if (fields.length > 0) diffs.push({ key: k, expected: e, actual: a, fields });
  }
  for (const [k, a] of act) diffs.push({ key: k, actual: a });
  return diffs;
}

/** `diffTable` of `url_country_daily`. */
export function diffRows(expected: readonly ExpectedRow[], actual: ReadonlyArray<ServedRow | Readonly<Record<string, unknown>>>, tolerance = 1e-6): RowDifference[] {
  return diffTable('url_country_daily', expected as unknown as TableRow[], actual as ReadonlyArray<Readonly<Record<string, unknown>>>, tolerance);
}
