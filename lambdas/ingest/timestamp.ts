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
/** Largest epoch-ms a JavaScript Date can hold; anything beyond is not an instant. */
export const MAX_DATE_MS = 8.64e15;

/**
 * Date and time, `T` (or `t` / a space, as RFC 3339 allows), seconds and fraction optional,
 * and a mandatory zone: `Z`, `±hh:mm`, `±hhmm` or `±hh`.
 */
const ISO_8601_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses an ISO-8601 date-time with a zone to epoch milliseconds, or returns `undefined` when the
 * text is not of that form or names an impossible instant (month 13, Feb 30, 24:00, a leap
 * second, a zone beyond ±23:59). Sub-millisecond digits are truncated, never rounded, so an event
 * never moves into the next second (or hour partition).
 */
export function parseIsoWithZone(text: string): number | undefined {
  const m = ISO_8601_WITH_ZONE.exec(text);
  if (m === null) return undefined;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  const hour = +m[4];
  const minute = +m[5];
  const second = m[6] === undefined ? 0 : +m[6];
  const millis = m[7] === undefined ? 0 : +(m[7] + '00').slice(0, 3);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = +m[10];
    const offsetMins = m[11] === undefined ? 0 : +m[11];
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear keeps the year as written.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year);
  return date.getTime() - offsetMinutes * 60_000;
}

export type TimestampResult =
  | { readonly ok: true; readonly epochMs: number }
  | { readonly ok: false; readonly reason: 'bad_timestamp' | 'timestamp_too_old' | 'timestamp_in_future'; readonly detail: string };

/**
 * Reads the event's timestamp (already known to be present) and checks SPEC §1's bounds:
 * not before 2000-01-01, not more than 24 h after `referenceMs` (the Kafka record's timestamp).
 */
export function readEventTime(value: unknown, referenceMs: number): TimestampResult {
  let epochMs: number | undefined;
  if (typeof value === 'string') {
    epochMs = parseIsoWithZone(value);
    if (epochMs === undefined) {
      return { ok: false, reason: 'bad_timestamp', detail: 'timestamp is a string but not ISO-8601 with a zone' };
    }
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      return { ok: false, reason: 'bad_timestamp', detail: 'timestamp is a number but not integer epoch milliseconds' };
    }
    epochMs = value;
  } else {
    return { ok: false, reason: 'bad_timestamp', detail: `timestamp is a ${jsonType(value)}, not a string or a number` };
  }
  if (epochMs < MIN_EVENT_TIME_MS) {
    return { ok: false, reason: 'timestamp_too_old', detail: 'timestamp is before 2000-01-01T00:00:00Z' };
  }
  if (epochMs > referenceMs + MAX_FUTURE_SKEW_MS) {
    return { ok: false, reason: 'timestamp_in_future', detail: "timestamp is more than 24 h after the Kafka record's timestamp" };
  }
  if (epochMs > MAX_DATE_MS) {
    return { ok: false, reason: 'bad_timestamp', detail: 'timestamp is beyond the representable date range' };
  }
  return { ok: true, epochMs };
}

/** JSON type name of a parsed value, for messages. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
