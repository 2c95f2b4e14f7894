/**
 * From aggregate output to OpenSearch documents: which S3 keys are aggregate part files, how a
 * row is validated, and the document id and version of a row.
 */
import * as crypto from 'crypto';

/** Where the aggregation job writes, below the aggregates bucket (SPEC section 3). */
export const DEFAULT_AGGREGATES_PREFIX = 'aggregates/url_country_daily/';

/** Where malformed-row reports go, in the same bucket (outside the notification's prefix). */
export const DEFAULT_ERRORS_PREFIX = 'errors/url_country_daily/';

/** SPEC section 1: URLs are at most 8 KiB; `page_url` is derived from one and never longer. */
export const MAX_PAGE_URL_BYTES = 8 * 1024;

/** An aggregate part file: `<prefix>event_date=YYYY-MM-DD/part-<...>.json`. */
export interface AggregateObjectKey {
  readonly key: string;
  /** The date partition the key names. */
  readonly eventDate: string;
  /** The part file's name, e.g. `part-00000-<uuid>.c000.json`. */
  readonly fileName: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Recognises aggregate part files. Anything else below the prefix is not data and returns
 * undefined: Spark's `_SUCCESS` marker, `.crc` checksums, and the files of its staging folders
 * (`_temporary/...`, `.spark-staging-.../event_date=.../part-...`), which sit one level deeper.
 */
export function parseAggregateKey(key: string, prefix: string = DEFAULT_AGGREGATES_PREFIX): AggregateObjectKey | undefined {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}event_date=(\\d{4}-\\d{2}-\\d{2})/(part-[^/]+\\.json)$`);
  const match = pattern.exec(key);
  if (!match || !isCalendarDate(match[1])) return undefined;
  return { key, eventDate: match[1], fileName: match[2] };
}

/** True for an existing `YYYY-MM-DD` calendar date (no 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const time = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().startsWith(text);
}

/** One row of the aggregate output as it is indexed (the document's `_source`). */
export interface AggregateRow {
  readonly event_date: string;
  readonly page_url: string;
  readonly country: string;
  readonly clicks: number;
  readonly unique_users: number;
  readonly timed_views: number;
  readonly total_time_spent_seconds: number;
  readonly avg_time_spent_seconds: number | null;
  /** ISO-8601 UTC with milliseconds, normalised from the row. */
  readonly computed_at: string;
}

export type RowResult =
  | { readonly ok: true; readonly row: AggregateRow; readonly computedAtMs: number }
  | { readonly ok: false; readonly reason: string };

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function parseInstant(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value)) return undefined;
  // JavaScript dates hold milliseconds; digits beyond them are cut, not rounded, like OpenSearch.
  const trimmed = value.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

// Every row of a run has the same computed_at: parse it once, not per row (hot path).
let lastInstant: { value: unknown; ms: number | undefined; iso: string | undefined } = { value: undefined, ms: undefined, iso: undefined };
function instantOf(value: unknown): { ms: number | undefined; iso: string | undefined } {
  if (value !== lastInstant.value || typeof value === 'object') {
    const ms = parseInstant(value);
    lastInstant = { value, ms, iso: ms === undefined ? undefined : new Date(ms).toISOString() };
  }
  return lastInstant;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isSeconds = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Validates one NDJSON line of aggregate output. `expectedDate` is the date partition of the
 * object; a row of another date in it is an error (it would be cleaned up as the wrong date).
 * A row without `event_date` takes the partition's date: Spark's `partitionBy` leaves the column
 * out of the files. A missing `avg_time_spent_seconds` is null: Spark's JSON writer drops nulls.
 */
export function parseAggregateRow(line: string, expectedDate: string): RowResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const r = value as Record<string, unknown>;
  const eventDate = r.event_date === undefined ? expectedDate : r.event_date;
  // expectedDate comes from a validated key; only a different value needs checking (and refusing).
  if (eventDate !== expectedDate) {
    if (typeof eventDate !== 'string' || !isCalendarDate(eventDate)) return { ok: false, reason: 'event_date must be a YYYY-MM-DD date' };
    return { ok: false, reason: `event_date ${eventDate} does not match the object's partition ${expectedDate}` };
  }
  if (typeof r.page_url !== 'string' || r.page_url === '') return { ok: false, reason: 'page_url must be a non-empty string' };
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long URLs need measuring.
  if (r.page_url.length * 3 > MAX_PAGE_URL_BYTES && Buffer.byteLength(r.page_url, 'utf8') > MAX_PAGE_URL_BYTES) {
    return { ok: false, reason: `page_url is longer than ${MAX_PAGE_URL_BYTES} bytes` };
  }
  if (typeof r.country !== 'string' || r.country === '') return { ok: false, reason: 'country must be a non-empty string' };
  for (const field of ['clicks', 'unique_users', 'timed_views'] as const) {
    if (!isCount(r[field])) return { ok: false, reason: `${field} must be a non-negative integer` };
  }
  if (!isSeconds(r.total_time_spent_seconds)) {
    return { ok: false, reason: 'total_time_spent_seconds must be a non-negative number' };
  }
  const avg = r.avg_time_spent_seconds === undefined ? null : r.avg_time_spent_seconds;
  if (avg !== null && !isSeconds(avg)) {
    return { ok: false, reason: 'avg_time_spent_seconds must be a non-negative number or null' };
  }
  const { ms: computedAtMs, iso: computedAtIso } = instantOf(r.computed_at);
  if (computedAtMs === undefined || computedAtIso === undefined) {
    return { ok: false, reason: 'computed_at must be an ISO-8601 timestamp with a zone' };
  }
  return {
    ok: true,
    computedAtMs,
    row: {
      event_date: eventDate,
      page_url: r.page_url,
      country: r.country,
      clicks: r.clicks as number,
      unique_users: r.unique_users as number,
      timed_views: r.timed_views as number,
      total_time_spent_seconds: r.total_time_spent_seconds,
      avg_time_spent_seconds: avg,
      computed_at: computedAtIso,
    },
  };
}

/**
 * The document id of a row: SHA-256 (hex, 64 characters) of the canonical JSON array
 * `[event_date, page_url, country]`. A JSON array keeps the parts apart unambiguously (no
 * separator can be forged inside a URL), and hashing keeps ids far below OpenSearch's 512-byte
 * limit whatever the URL's length.
 */
export function documentId(eventDate: string, pageUrl: string, country: string): string {
  const canonical = JSON.stringify([eventDate, pageUrl, country]);
  // One-shot hashing (Node >= 20.12) is several times cheaper than a Hash object per document.
  return oneShotHash ? oneShotHash('sha256', canonical, 'hex') : crypto.createHash('sha256').update(canonical).digest('hex');
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
