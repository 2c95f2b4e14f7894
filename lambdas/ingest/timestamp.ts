/**
 * Event-time parsing for the ingest core (SPEC §1: "ISO-8601 with a zone, or epoch milliseconds").
 *
 * `Date.parse` is not used: it accepts strings without a zone (read as local time), RFC 2822
 * dates and other forms the spec does not allow, and its accepted set differs between engines.
 */

/** Earliest accepted event time: 2000-01-01T00:00:00.000Z. */
export const MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1);
/** How far an event may lie after its Kafka record's timestamp. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
/** Last instant of year 9999: beyond it ISO-8601 needs extended years and the `dt=` keys would break. */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const CH_0 = 0x30;
const CH_DASH = 0x2d;
const CH_COLON = 0x3a;
const CH_DOT = 0x2e;
const CH_COMMA = 0x2c;
const CH_PLUS = 0x2b;
const CH_SPACE = 0x20;
const CH_T = 0x54;
const CH_t = 0x74;
const CH_Z = 0x5a;
const CH_z = 0x7a;

/** Value of the `count` decimal digits at `at`, or -1 when any of them is not a digit (or missing). */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - CH_0; // NaN past the end
    if (!(d >= 0 && d <= 9)) return -1;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to the given proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Parses an ISO-8601 date-time with a zone to epoch milliseconds, or returns `undefined` when the
 * text is not of that form or names an impossible instant (month 13, Feb 30, 24:00, a leap
 * second, a zone beyond ±23:59).
 *
 * Accepted: `YYYY-MM-DD`, then `T` (or `t` / a space, as RFC 3339 allows), `hh:mm`, optional
 * `:ss` with an optional fraction of 1-9 digits after `.` or `,`, then a mandatory zone `Z`,
 * `±hh:mm`, `±hhmm` or `±hh`. Sub-millisecond digits are truncated, never rounded, so an event
 * never moves into the next second (or hour partition). Hand-written rather than a regular
 * expression because it runs once per event on the hot path (see bench/ingest-core.bench.ts).
 */
export function parseIsoWithZone(text: string): number | undefined {
  const len = text.length;
  if (len < 17 || len > 40) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const sep = text.charCodeAt(10);
  if (
    year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 ||
    text.charCodeAt(4) !== CH_DASH || text.charCodeAt(7) !== CH_DASH || text.charCodeAt(13) !== CH_COLON ||
    (sep !== CH_T && sep !== CH_t && sep !== CH_SPACE)
  ) {
    return undefined;
  }
  let i = 16;
  let second = 0;
  let millis = 0;
  if (text.charCodeAt(i) === CH_COLON) {
    second = digitsAt(text, i + 1, 2);
    if (second < 0) return undefined;
    i += 3;
    const c = text.charCodeAt(i);
    if (c === CH_DOT || c === CH_COMMA) {
      const start = ++i;
      while (i < len && digitsAt(text, i, 1) >= 0) i++;
      const n = i - start;
      if (n < 1 || n > 9) return undefined;
      millis = digitsAt(text, start, Math.min(n, 3)) * (n === 1 ? 100 : n === 2 ? 10 : 1);
    }
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === CH_Z || zone === CH_z) {
    if (i + 1 !== len) return undefined;
  } else if (zone === CH_PLUS || zone === CH_DASH) {
    const offsetHours = digitsAt(text, i + 1, 2);
    if (offsetHours < 0) return undefined;
    i += 3;
    let offsetMins = 0;
    if (i < len) {
      if (text.charCodeAt(i) === CH_COLON) i++;
      offsetMins = digitsAt(text, i, 2);
      if (offsetMins < 0) return undefined;
      i += 2;
    }
    if (i !== len || offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (zone === CH_DASH ? -1 : 1) * (offsetHours * 60 + offsetMins);
  } else {
    return undefined;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return (
    daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis -
    offsetMinutes * 60_000
  );
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * `Date.prototype.toISOString` for years 0..9999 without allocating a Date (the same output:
 * `YYYY-MM-DDThh:mm:ss.sssZ`); other years fall back to it.
 */
export function formatIsoMillis(epochMs: number): string {
  const days = Math.floor(epochMs / 86_400_000);
  let rest = epochMs - days * 86_400_000;
  // Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return new Date(epochMs).toISOString();
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const millis = rest - second * 1000;
  const yyyy = year >= 1000 ? `${year}` : `000${year}`.slice(-4);
  const sss = millis >= 100 ? `${millis}` : millis >= 10 ? `0${millis}` : `00${millis}`;
  return `${yyyy}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${sss}Z`;
}

/** True when `text` is already exactly what `formatIsoMillis` would produce for it (given that it parsed). */
function isCanonicalIso(text: string): boolean {
  return text.length === 24 && text.charCodeAt(10) === CH_T && text.charCodeAt(19) === CH_DOT && text.charCodeAt(23) === CH_Z;
}

/** Why a timestamp was refused. */
export interface TimestampRejection {
  readonly reason: 'bad_timestamp' | 'timestamp_too_old' | 'timestamp_in_future';
  readonly detail: string;
}

/**
 * Reads the event's timestamp (already known to be present) and checks SPEC §1's bounds:
 * not before 2000-01-01, not more than 24 h after `referenceMs` (the Kafka record's timestamp).
 * Returns the canonical `ts` (ISO-8601 UTC with milliseconds), or why the timestamp is refused.
 * (A string or an object rather than a result wrapper: this runs once per event.)
 */
export function readEventTime(value: unknown, referenceMs: number): string | TimestampRejection {
  let epochMs: number | undefined;
  let iso: string | undefined;
  if (typeof value === 'string') {
    epochMs = parseIsoWithZone(value);
    if (epochMs === undefined) {
      return { reason: 'bad_timestamp', detail: 'timestamp is a string but not ISO-8601 with a zone' };
    }
    // Browsers send `toISOString()` output: reuse it instead of formatting the same text again.
    if (isCanonicalIso(value)) iso = value;
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      return { reason: 'bad_timestamp', detail: 'timestamp is a number but not integer epoch milliseconds' };
    }
    epochMs = value;
  } else {
    return { reason: 'bad_timestamp', detail: `timestamp is a ${jsonType(value)}, not a string or a number` };
  }
  if (epochMs < MIN_EVENT_TIME_MS) {
    return { reason: 'timestamp_too_old', detail: 'timestamp is before 2000-01-01T00:00:00Z' };
  }
  if (epochMs > referenceMs + MAX_FUTURE_SKEW_MS) {
    return { reason: 'timestamp_in_future', detail: "timestamp is more than 24 h after the Kafka record's timestamp" };
  }
  if (epochMs > MAX_TIME_MS) {
    return { reason: 'bad_timestamp', detail: 'timestamp is after the year 9999' };
  }
  return iso ?? formatIsoMillis(epochMs);
}

/** JSON type name of a parsed value, for messages. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
