/**
 * From aggregate output to OpenSearch documents: which S3 keys are aggregate part files (and of
 * which table), how a row is validated, and the document id and version of a row.
 */
import * as crypto from 'crypto';
import { isTableName, TABLE_NAMES, TABLES, TableName } from './tables';

/** Where the aggregation job writes, below the aggregates bucket: `<prefix><table>/event_date=D/` (SPEC section 3). */
export const DEFAULT_AGGREGATES_PREFIX = 'aggregates/';

/** Where malformed-row reports go, in the same bucket (outside the notification's prefix): `<prefix><table>/event_date=D/`. */
export const DEFAULT_ERRORS_PREFIX = 'errors/';

/**
 * The object the job writes instead of a date's part files when the date has no rows left in a
 * table (docs/processing.md, "Output contract"): one JSON line
 * `{"computed_at":...,"event_date":...,"rows":0,"table":...}`.
 */
export const EMPTY_MARKER = '_empty.json';

/** An aggregate part file `<prefix><table>/event_date=YYYY-MM-DD/part-<...>.json`, or a date's empty marker. */
export interface AggregateObjectKey {
  readonly key: string;
  /** `part`: rows of the table; `empty`: the date has no rows (EMPTY_MARKER). */
  readonly kind: 'part' | 'empty';
  /** The table the key's folder names. */
  readonly table: TableName;
  /** The date partition the key names. */
  readonly eventDate: string;
  /** The part file's name, e.g. `part-00000-<uuid>.c000.json`. */
  readonly fileName: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const keyPatterns = new Map<string, RegExp>();
function keyPattern(prefix: string): RegExp {
  let pattern = keyPatterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(`^${escapeRegExp(prefix)}(${TABLE_NAMES.join('|')})/event_date=(\\d{4}-\\d{2}-\\d{2})/(part-[^/]+\\.json|${escapeRegExp(EMPTY_MARKER)})$`);
    keyPatterns.set(prefix, pattern);
  }
  return pattern;
}

/**
 * Recognises aggregate part files of the five tables. Anything else below the prefix is not data
 * and returns undefined: a folder of another table, Spark's `_SUCCESS` marker, `.crc` checksums,
 * and the files of its staging folders (`_temporary/...`, `.spark-staging-.../event_date=.../part-...`),
 * which sit one level deeper.
 */
export function parseAggregateKey(key: string, prefix: string = DEFAULT_AGGREGATES_PREFIX): AggregateObjectKey | undefined {
  const match = keyPattern(prefix).exec(key);
  if (!match || !isTableName(match[1]) || !isCalendarDate(match[2])) return undefined;
  return { key, kind: match[3] === EMPTY_MARKER ? 'empty' : 'part', table: match[1], eventDate: match[2], fileName: match[3] };
}

/** True for an existing `YYYY-MM-DD` calendar date (no 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const time = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().startsWith(text);
}

/**
 * A `url_country_daily` document (the pages table), as readers get it back. The SPEC's newer
 * counts are optional: documents indexed before they existed lack them until their date is
 * recomputed.
 */
export interface AggregateRow {
  readonly event_date: string;
  readonly page_url: string;
  readonly country: string;
  readonly clicks: number;
  readonly unique_users: number;
  readonly timed_views: number;
  readonly total_time_spent_seconds: number;
  readonly avg_time_spent_seconds: number | null;
  readonly entrances?: number;
  readonly bounces?: number;
  readonly bot_clicks?: number;
  /** ISO-8601 UTC with milliseconds. */
  readonly computed_at: string;
}

/** One document as it is indexed (its `_source`): the table's fields, in its declared order. */
export type AggregateDocument = Record<string, string | number | null>;

export type RowResult =
  | { readonly ok: true; readonly row: AggregateDocument; readonly id: string; readonly computedAtMs: number }
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

const HOUR_MS = 3_600_000;

/** How each field of a table is checked, precomputed once per table (hot path). */
type Check = (value: unknown, name: string, expectedDate: string) => { value: string | number | null } | string;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isSeconds = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

const checks: Record<'keyword' | 'nullableKeyword' | 'count' | 'double' | 'nullableDouble' | 'eventDate' | 'eventHour', Check> = {
  keyword: (v, name) => (typeof v === 'string' && v !== '' ? { value: v } : `${name} must be a non-empty string`),
  // Null (or absent: Spark's JSON writer may drop nulls) is a value of its own, never "" or "null".
  nullableKeyword: (v, name) => (v === undefined || v === null ? { value: null } : typeof v === 'string' ? { value: v } : `${name} must be a string or null`),
  count: (v, name) => (isCount(v) ? { value: v } : `${name} must be a non-negative integer`),
  double: (v, name) => (isSeconds(v) ? { value: v } : `${name} must be a non-negative number`),
  nullableDouble: (v, name) => (v === undefined || v === null ? { value: null } : isSeconds(v) ? { value: v } : `${name} must be a non-negative number or null`),
  eventDate: (v, _name, expectedDate) => {
    // Spark's `partitionBy` leaves the partition column out of the files: the key's date is the row's.
    if (v === undefined || v === expectedDate) return { value: expectedDate };
    if (typeof v !== 'string' || !isCalendarDate(v)) return 'event_date must be a YYYY-MM-DD date';
    return `event_date ${v} does not match the object's partition ${expectedDate}`;
  },
  eventHour: (v, _name, expectedDate) => {
    const ms = typeof v === 'string' ? parseInstant(v) : undefined;
    if (ms === undefined || ms % HOUR_MS !== 0) return 'event_hour must be an ISO-8601 instant on a whole UTC hour';
    const iso = new Date(ms).toISOString();
    return iso.startsWith(expectedDate) ? { value: iso } : `event_hour ${iso} is not in the object's partition ${expectedDate}`;
  },
};

interface TableParser {
  readonly fields: ReadonlyArray<readonly [string, Check]>;
  readonly grain: readonly string[];
}

const parsers = Object.fromEntries(
  TABLE_NAMES.map((table): [TableName, TableParser] => {
    const spec = TABLES[table];
    const fields = Object.entries(spec.fields)
      .filter(([name]) => name !== 'computed_at')
      .map(([name, field]): [string, Check] => {
        if (name === 'event_date') return [name, checks.eventDate];
        if (name === 'event_hour') return [name, checks.eventHour];
        if (field.type === 'keyword') return [name, field.nullable ? checks.nullableKeyword : checks.keyword];
        if (field.type === 'long') return [name, checks.count];
        if (field.type === 'double') return [name, field.nullable ? checks.nullableDouble : checks.double];
        throw new Error(`no check for ${table}.${name} (${field.type})`);
      });
    return [table, { fields, grain: spec.grain }];
  }),
) as Record<TableName, TableParser>;

/**
 * Validates one NDJSON line of a table's output and builds its document. `expectedDate` is the
 * date partition of the object; a row of another date in it is an error (it would be cleaned up
 * as the wrong date). A row without `event_date` takes the partition's date. A missing nullable
 * field is null. Fields the table does not declare are left out of the document (the mappings
 * are strict). No length limit on strings: the index takes any value (docs/serving.md, "Long values").
 */
export function parseAggregateRow(table: TableName, line: string, expectedDate: string): RowResult {
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
  const parser = parsers[table];
  const row: AggregateDocument = {};
  for (const [name, check] of parser.fields) {
    const result = check(r[name], name, expectedDate);
    if (typeof result === 'string') return { ok: false, reason: result };
    row[name] = result.value;
  }
  const { ms: computedAtMs, iso: computedAtIso } = instantOf(r.computed_at);
  if (computedAtMs === undefined || computedAtIso === undefined) {
    return { ok: false, reason: 'computed_at must be an ISO-8601 timestamp with a zone' };
  }
  row.computed_at = computedAtIso;
  return { ok: true, row, id: documentId(parser.grain.map((name) => row[name])), computedAtMs };
}

/**
 * The document id of a row: SHA-256 (hex, 64 characters) of the canonical JSON array of its grain
 * values, in the table's grain order (for `url_country_daily`: `[event_date, page_url, country]`).
 * A JSON array keeps the parts apart unambiguously (no separator can be forged inside a value),
 * keeps null apart from `"null"` and `""`, and hashing keeps ids far below OpenSearch's 512-byte
 * limit whatever the values' length.
 */
export function documentId(grainValues: ReadonlyArray<string | number | null>): string {
  const canonical = JSON.stringify(grainValues);
  // One-shot hashing (Node >= 20.12) is several times cheaper than a Hash object per document.
  return oneShotHash ? oneShotHash('sha256', canonical, 'hex') : crypto.createHash('sha256').update(canonical).digest('hex');
}

/**
 * Validates the content of an empty marker (one JSON line) against its key; returns the
 * computation's `computed_at` in epoch ms, or why the marker is unusable.
 */
export function parseEmptyMarker(text: string, table: TableName, expectedDate: string): { ok: true; computedAtMs: number } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `empty marker is not valid JSON (${(error as Error).message})` };
  }
  const r = (value ?? {}) as Record<string, unknown>;
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'empty marker is not a JSON object' };
  if (r.table !== table) return { ok: false, reason: `empty marker names table ${String(r.table)}, its key ${table}` };
  if (r.event_date !== expectedDate) return { ok: false, reason: `empty marker names date ${String(r.event_date)}, its key ${expectedDate}` };
  if (r.rows !== 0) return { ok: false, reason: 'empty marker must say rows: 0' };
  const ms = parseInstant(r.computed_at);
  if (ms === undefined) return { ok: false, reason: 'empty marker: computed_at must be an ISO-8601 timestamp with a zone' };
  return { ok: true, computedAtMs: ms };
}

/** The id of a table's document from its fields (tests, tools). */
export function rowDocumentId(table: TableName, row: object): string {
  const fields = row as Readonly<Record<string, unknown>>;
  return documentId(TABLES[table].grain.map((name) => (fields[name] ?? null) as string | number | null));
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
