/**
 * An independent computation of what the pipeline must produce, written from SPEC §1 and §3 in
 * plain TypeScript. It shares no code with the ingest function or the Spark job on purpose: the
 * end-to-end test compares the two, so a bug in one cannot hide behind the same bug in the other.
 *
 * Input: the messages exactly as produced, with their Kafka coordinates.
 * Output: which messages are valid (and their canonical fields), and the `url_country_daily` rows.
 */

import countries from 'i18n-iso-countries/index';
import englishCountryNames from 'i18n-iso-countries/langs/en.json';

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

/** The fields of a valid message that the aggregation needs (SPEC §1 and §2). */
export interface ValidEvent {
  readonly eventId: string;
  readonly userId: string;
  /** Event time, epoch ms. */
  readonly ts: number;
  readonly pageUrl: string;
  readonly country: string;
  readonly partition: number;
  readonly offset: number;
}

export interface Rejection {
  readonly partition: number;
  readonly offset: number;
  /** Our own short reason; the pipeline's reason codes may be spelled differently. */
  readonly reason: string;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; reason: string };

/** One output row of SPEC §3, without `computed_at`. */
export interface ExpectedRow {
  readonly event_date: string;
  readonly page_url: string;
  readonly country: string;
  readonly clicks: number;
  readonly unique_users: number;
  readonly timed_views: number;
  readonly total_time_spent_seconds: number;
  readonly avg_time_spent_seconds: number | null;
}

const MIN_TS = Date.UTC(2000, 0, 1);
const MAX_AHEAD_OF_RECORD_MS = 24 * 3600 * 1000;
const MAX_USER_ID = 256;
const MAX_URL_BYTES = 8 * 1024;
const MAX_USER_AGENT_BYTES = 4 * 1024;
export const DEFAULT_SESSION_GAP_MS = 30 * 60 * 1000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a field by its snake_case name or its camelCase alias. */
function field(obj: Record<string, unknown>, snake: string, camel?: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, snake)) return obj[snake];
  if (camel !== undefined && Object.prototype.hasOwnProperty.call(obj, camel)) return obj[camel];
  return undefined;
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

/** SPEC §1 validation of one message. */
export function validateMessage(msg: ProducedMessage): Validation {
  let text: string;
  try {
    text = utf8.decode(msg.value);
  } catch {
    return { ok: false, reason: 'invalid_utf8' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, reason: 'not_a_json_object' };
  const obj = parsed as Record<string, unknown>;

  const userId = field(obj, 'user_id', 'userId');
  if (typeof userId !== 'string' || userId.length === 0) return { ok: false, reason: 'bad_user_id' };
  if (userId.length > MAX_USER_ID) return { ok: false, reason: 'user_id_too_long' };

  const ts = parseTimestamp(field(obj, 'timestamp', 'ts'));
  if (typeof ts === 'string') return { ok: false, reason: ts };
  if (ts < MIN_TS) return { ok: false, reason: 'timestamp_before_2000' };
  if (ts > msg.timestamp + MAX_AHEAD_OF_RECORD_MS) return { ok: false, reason: 'timestamp_in_future' };

  const url = field(obj, 'url');
  if (typeof url !== 'string') return { ok: false, reason: 'bad_url' };
  if (!/^https?:\/\/[^/?#\s]+/i.test(url)) return { ok: false, reason: 'url_not_absolute_http' };
  if (Buffer.byteLength(url, 'utf8') > MAX_URL_BYTES) return { ok: false, reason: 'url_too_long' };

  const ua = field(obj, 'user_agent', 'userAgent');
  if (ua !== undefined && ua !== null) {
    if (typeof ua !== 'string') return { ok: false, reason: 'bad_user_agent' };
    if (Buffer.byteLength(ua, 'utf8') > MAX_USER_AGENT_BYTES) return { ok: false, reason: 'user_agent_too_long' };
  }

  // SPEC §2: two letters upper-cased (UK → GB), alpha-3 codes and English names → alpha-2, else unknown.
  const rawCountry = field(obj, 'country');
  const trimmedCountry = typeof rawCountry === 'string' ? rawCountry.trim() : '';
  let country: string;
  if (trimmedCountry === '') country = 'unknown';
  else if (/^[A-Za-z]{2}$/.test(trimmedCountry)) country = trimmedCountry.toUpperCase() === 'UK' ? 'GB' : trimmedCountry.toUpperCase();
  else {
    const alpha3 = /^[A-Za-z]{3}$/.test(trimmedCountry) ? countries.alpha3ToAlpha2(trimmedCountry.toUpperCase()) : undefined;
    country = alpha3 ?? countries.getAlpha2Code(trimmedCountry, 'en') ?? 'unknown';
  }

  const rawEventId = field(obj, 'event_id', 'eventId');
  if (rawEventId !== undefined && rawEventId !== null && typeof rawEventId !== 'string') return { ok: false, reason: 'bad_event_id' };
  const eventId = typeof rawEventId === 'string' && rawEventId !== '' ? rawEventId : `${msg.topic}-${msg.partition}-${msg.offset}`;

  return {
    ok: true,
    event: { eventId, userId, ts, pageUrl: normalizePageUrl(url), country, partition: msg.partition, offset: msg.offset },
  };
}

export interface Expectation {
  readonly valid: ValidEvent[];
  readonly rejected: Rejection[];
  /** Distinct events after removing duplicates by `event_id`. */
  readonly distinctEvents: number;
  /** Rows sorted by event_date, page_url, country. */
  readonly rows: ExpectedRow[];
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Row key used to compare rows from anywhere. */
export function rowKey(r: { event_date: string; page_url: string; country: string }): string {
  return `${r.event_date}|${r.page_url}|${r.country}`;
}

/** SPEC §3 over every valid, distinct event. */
export function aggregate(events: readonly ValidEvent[], sessionGapMs = DEFAULT_SESSION_GAP_MS): { rows: ExpectedRow[]; distinct: number } {
  // Duplicates (same event_id) count once; the first seen is kept.
  const byId = new Map<string, ValidEvent>();
  for (const e of events) if (!byId.has(e.eventId)) byId.set(e.eventId, e);

  const byUser = new Map<string, ValidEvent[]>();
  for (const e of byId.values()) {
    const list = byUser.get(e.userId);
    if (list) list.push(e); else byUser.set(e.userId, [e]);
  }

  interface Acc { clicks: number; users: Set<string>; timed: number; total: number; date: string; page: string; country: string }
  const acc = new Map<string, Acc>();
  for (const [userId, list] of byUser) {
    list.sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      const next = list[i + 1];
      // The next event of the same user is in the same session unless the gap is more than the limit.
      const timeOnPage = next !== undefined && next.ts - e.ts <= sessionGapMs ? (next.ts - e.ts) / 1000 : null;
      const date = utcDate(e.ts);
      const key = `${date}|${e.pageUrl}|${e.country}`;
      let a = acc.get(key);
      if (!a) {
        a = { clicks: 0, users: new Set(), timed: 0, total: 0, date, page: e.pageUrl, country: e.country };
        acc.set(key, a);
      }
      a.clicks++;
      a.users.add(userId);
      if (timeOnPage !== null) {
        a.timed++;
        a.total += timeOnPage;
      }
    }
  }
  const rows = [...acc.values()].map((a): ExpectedRow => ({
    event_date: a.date,
    page_url: a.page,
    country: a.country,
    clicks: a.clicks,
    unique_users: a.users.size,
    timed_views: a.timed,
    total_time_spent_seconds: a.total,
    avg_time_spent_seconds: a.timed === 0 ? null : a.total / a.timed,
  }));
  rows.sort((x, y) => (rowKey(x) < rowKey(y) ? -1 : rowKey(x) > rowKey(y) ? 1 : 0));
  return { rows, distinct: byId.size };
}

/** Validates every message and aggregates the valid ones. */
export function computeExpected(messages: readonly ProducedMessage[], sessionGapMs = DEFAULT_SESSION_GAP_MS): Expectation {
  const valid: ValidEvent[] = [];
  const rejected: Rejection[] = [];
  for (const m of messages) {
    const v = validateMessage(m);
    if (v.ok) valid.push(v.event);
    else rejected.push({ partition: m.partition, offset: m.offset, reason: v.reason });
  }
  const { rows, distinct } = aggregate(valid, sessionGapMs);
  return { valid, rejected, distinctEvents: distinct, rows };
}

/** A row as the pipeline serves it (extra fields such as computed_at are ignored). */
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
  readonly expected?: ExpectedRow;
  readonly actual?: ServedRow;
}

/**
 * Compares served rows with expected rows: same set of keys, equal counts, times equal within
 * a tolerance (sums of doubles in another order differ in the last bits).
 */
export function diffRows(expected: readonly ExpectedRow[], actual: readonly ServedRow[], tolerance = 1e-6): RowDifference[] {
  const diffs: RowDifference[] = [];
  const act = new Map<string, ServedRow>();
  for (const a of actual) {
    const k = rowKey(a);
    if (act.has(k)) diffs.push({ key: `${k} (served twice)`, actual: a });
    act.set(k, a);
  }
  const close = (x: number | null, y: number | null) =>
    x === null || y === null ? x === y : Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(x), Math.abs(y));
  for (const e of expected) {
    const k = rowKey(e);
    const a = act.get(k);
    act.delete(k);
    if (!a) {
      diffs.push({ key: k, expected: e });
      continue;
    }
    const avgA = a.avg_time_spent_seconds === undefined ? null : a.avg_time_spent_seconds;
    if (a.clicks !== e.clicks || a.unique_users !== e.unique_users || a.timed_views !== e.timed_views ||
        !close(a.total_time_spent_seconds, e.total_time_spent_seconds) || !close(avgA, e.avg_time_spent_seconds)) {
      diffs.push({ key: k, expected: e, actual: a });
    }
  }
  for (const [k, a] of act) diffs.push({ key: k, actual: a });
  return diffs;
}
