/**
 * One message → one canonical record (SPEC §1 rules, §2 field set) or one rejection.
 * Pure and synchronous; it never throws for any parsed JSON value.
 */
import { channelOf, countryCode, referrerHost, UNKNOWN_COUNTRY, utmFields, type Channel, type DeviceType, type Enricher } from './enrich';
import { normalizePageUrl } from './page-url';
import type { RejectionReason } from './reasons';
import { jsonType, readEventTime } from './timestamp';

/** Where a message came from; copied into the record as `kafka`. */
export interface KafkaCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The Kafka record's timestamp, epoch ms. */
  readonly timestamp: number;
}

/** The SPEC §2 fields every record had before enrichment, in this order. */
export interface BaseCanonicalRecord {
  readonly event_id: string;
  readonly user_id: string;
  readonly session_id: string | null;
  /** ISO-8601 UTC with milliseconds, e.g. `2024-05-01T12:00:00.000Z`. */
  readonly ts: string;
  readonly url: string;
  readonly page_url: string;
  readonly country: string;
  readonly city: string | null;
  readonly user_agent: string | null;
  readonly referrer: string | null;
  readonly kafka: KafkaCoordinates;
}

/** The enrichment fields of SPEC §2 (after `kafka`, in the spec's order; `country` is above). */
export interface EnrichmentFields {
  /** The trimmed original `country` when it named no country (then `country` is `unknown`), else null. */
  readonly country_raw: string | null;
  readonly device_type: DeviceType;
  readonly browser: string | null;
  readonly os: string | null;
  readonly is_bot: boolean;
  readonly utm_source: string | null;
  readonly utm_medium: string | null;
  readonly utm_campaign: string | null;
  readonly referrer_host: string | null;
  readonly channel: Channel;
}

/** A stored event: exactly the SPEC §2 field set, in this order (docs/ingest.md shows one). */
export type CanonicalRecord = BaseCanonicalRecord & EnrichmentFields;

/** How `canonicalize` builds a record; grows with the stages of the record (one object, so the
 *  core's config passes it through unchanged). */
export interface CanonicalOptions {
  /**
   * Computes the enrichment fields and holds their caches. `null` leaves the enrichment fields
   * out (a record of the `BaseCanonicalRecord` shape): only for measuring what enrichment costs
   * in the benchmark; the deployed function always enriches.
   */
  readonly enricher: Enricher | null;
}

/** Why a message is quarantined. A class, so that `instanceof` tells it from a record. */
export class Rejection {
  constructor(
    readonly reason: RejectionReason,
    /** The offending field (canonical name), when the reason is about one field. */
    readonly field: string | null,
    /** A human-readable explanation for the operator. */
    readonly detail: string,
  ) {}
}

/** SPEC §1 limits. */
export const MAX_USER_ID_CHARS = 256;
export const MAX_URL_BYTES = 8 * 1024;
export const MAX_USER_AGENT_BYTES = 4 * 1024;

function reject(reason: RejectionReason, field: string | null, detail: string): Rejection {
  return new Rejection(reason, field, detail);
}

/** The canonical field when present and not null, else its camelCase alias (SPEC §1). */
function pick(obj: Record<string, unknown>, canonical: string, alias?: string): unknown {
  const value = obj[canonical];
  if (value !== undefined && value !== null) return value;
  return alias === undefined ? value : obj[alias];
}

/** Number of Unicode code points, without allocating for the common short case. */
function codePointLength(text: string, limit: number): number {
  if (text.length <= limit) return text.length; // code points <= UTF-16 units
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** UTF-8 byte length is at least the UTF-16 length and at most three times it. */
function exceedsUtf8Bytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return Buffer.byteLength(text, 'utf8') > limit;
}

/** Optional string field: null when missing or null, the string itself, or a type error. */
function optionalString(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Validates and normalizes one parsed message. `kafka` is the message's origin; `referenceMs` is
 * the instant the 24 h future bound is measured from (the Kafka record's timestamp).
 */
export function canonicalize(parsed: unknown, kafka: KafkaCoordinates, referenceMs: number, options: CanonicalOptions): CanonicalRecord | Rejection {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('not_an_object', null, `value is a JSON ${jsonType(parsed)}, not an object`);
  }
  const obj = parsed as Record<string, unknown>;

  const userId = pick(obj, 'user_id', 'userId');
  if (userId === undefined || userId === null) return reject('missing_user_id', 'user_id', 'user_id is missing');
  if (typeof userId !== 'string') return reject('bad_user_id', 'user_id', `user_id is a ${jsonType(userId)}, not a string`);
  if (userId.trim() === '') return reject('bad_user_id', 'user_id', 'user_id is empty');
  if (codePointLength(userId, MAX_USER_ID_CHARS) > MAX_USER_ID_CHARS) {
    return reject('too_large', 'user_id', `user_id is longer than ${MAX_USER_ID_CHARS} characters`);
  }

  const rawTime = pick(obj, 'timestamp', 'ts');
  if (rawTime === undefined || rawTime === null) return reject('missing_timestamp', 'timestamp', 'timestamp is missing');
  const ts = readEventTime(rawTime, referenceMs);
  if (typeof ts !== 'string') return reject(ts.reason, 'timestamp', ts.detail);

  const url = obj.url;
  if (url === undefined || url === null) return reject('missing_url', 'url', 'url is missing');
  if (typeof url !== 'string') return reject('bad_url', 'url', `url is a ${jsonType(url)}, not a string`);
  if (exceedsUtf8Bytes(url, MAX_URL_BYTES)) return reject('too_large', 'url', `url is longer than ${MAX_URL_BYTES} bytes`);
  const pageUrl = normalizePageUrl(url);
  if (pageUrl === undefined) return reject('bad_url', 'url', 'url is not an absolute http(s) URL');

  const rawCountry = pick(obj, 'country');
  let country = UNKNOWN_COUNTRY;
  let countryRaw: string | null = null;
  if (rawCountry !== undefined && rawCountry !== null) {
    if (typeof rawCountry !== 'string') {
      return reject('bad_field_type', 'country', `country is a ${jsonType(rawCountry)}, not a string`);
    }
    const trimmed = rawCountry.trim();
    if (trimmed !== '') {
      const code = countryCode(trimmed);
      if (code === undefined) countryRaw = trimmed;
      else country = code;
    }
  }

  const rawCity = optionalString(obj.city);
  if (rawCity === undefined) return reject('bad_field_type', 'city', `city is a ${jsonType(obj.city)}, not a string`);
  const trimmedCity = rawCity === null ? null : rawCity.trim();
  const city = trimmedCity === '' ? null : trimmedCity;

  const rawUserAgent = pick(obj, 'user_agent', 'userAgent');
  const userAgent = optionalString(rawUserAgent);
  if (userAgent === undefined) {
    return reject('bad_field_type', 'user_agent', `user_agent is a ${jsonType(rawUserAgent)}, not a string`);
  }
  if (userAgent !== null && exceedsUtf8Bytes(userAgent, MAX_USER_AGENT_BYTES)) {
    return reject('too_large', 'user_agent', `user_agent is longer than ${MAX_USER_AGENT_BYTES} bytes`);
  }

  const rawEventId = pick(obj, 'event_id', 'eventId');
  const givenEventId = optionalString(rawEventId);
  if (givenEventId === undefined) {
    return reject('bad_field_type', 'event_id', `event_id is a ${jsonType(rawEventId)}, not a string`);
  }
  // An empty id would make every id-less event a duplicate of every other one downstream.
  const eventId =
    givenEventId === null || givenEventId.trim() === '' ? `${kafka.topic}-${kafka.partition}-${kafka.offset}` : givenEventId;

  const rawSessionId = pick(obj, 'session_id', 'sessionId');
  const sessionId = optionalString(rawSessionId);
  if (sessionId === undefined) {
    return reject('bad_field_type', 'session_id', `session_id is a ${jsonType(rawSessionId)}, not a string`);
  }

  const referrer = optionalString(obj.referrer);
  if (referrer === undefined) {
    return reject('bad_field_type', 'referrer', `referrer is a ${jsonType(obj.referrer)}, not a string`);
  }

  const enricher = options.enricher;
  if (enricher === null) {
    const base: BaseCanonicalRecord = {
      event_id: eventId, user_id: userId, session_id: sessionId, ts, url, page_url: pageUrl, country, city, user_agent: userAgent, referrer, kafka,
    };
    return base as CanonicalRecord; // the benchmark's measurement without enrichment (CanonicalOptions)
  }
  const agent = enricher.userAgents.classify(userAgent);
  const utm = utmFields(url);
  const fromHost = referrerHost(referrer);
  return {
    event_id: eventId,
    user_id: userId,
    session_id: sessionId,
    ts,
    url,
    page_url: pageUrl,
    country,
    city,
    user_agent: userAgent,
    referrer,
    // The caller's coordinates object itself, not a copy: one allocation less per event.
    kafka,
    country_raw: countryRaw,
    device_type: agent.device_type,
    browser: agent.browser,
    os: agent.os,
    is_bot: agent.is_bot,
    utm_source: utm.utm_source,
    utm_medium: utm.utm_medium,
    utm_campaign: utm.utm_campaign,
    referrer_host: fromHost,
    channel: channelOf(utm.utm_medium, fromHost, pageUrl, enricher.classifyHost),
  };
}

