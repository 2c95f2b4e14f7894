/**
 * Where a visit came from (SPEC §2, docs/ingest.md): the `utm_source`, `utm_medium` and
 * `utm_campaign` parameters of `url`, the `referrer_host`, and the `channel`.
 */
import { isUtf8 } from 'buffer';
import { getDomainWithoutSuffix } from 'tldts';
import { BoundedCache, type CacheStats } from './cache';

export interface UtmFields {
  readonly utm_source: string | null;
  readonly utm_medium: string | null;
  readonly utm_campaign: string | null;
}

export type Channel = 'paid' | 'email' | 'social' | 'campaign' | 'direct' | 'internal' | 'search' | 'referral';

/** SPEC §2: a UTM value is cut to its first 256 characters (Unicode code points). */
export const MAX_UTM_CHARS = 256;

const NO_UTM: UtmFields = Object.freeze({ utm_source: null, utm_medium: null, utm_campaign: null });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * A name or value of an `application/x-www-form-urlencoded` query, decoded as the WHATWG URL
 * standard does for `new URL(url).searchParams`: the text as UTF-8 bytes, `+` a space, `%XX` the
 * byte XX, a `%` not followed by two hex digits kept as it is, then the bytes read as UTF-8.
 * **Decision (malformed percent-encoding):** when the decoded bytes are not valid UTF-8 (`%E9`
 * from a Latin-1 page, a cut `%C3`), the text is returned as written, still encoded, where WHATWG
 * would put U+FFFD for each bad sequence: nothing is lost, two different bad values stay
 * different, and nothing throws or rejects the click. `50%off` stays `50%off` either way.
 * (Node's `URLSearchParams(string)` is not used: it differs from the standard when raw non-ASCII
 * text meets an invalid escape.) Exported for the tests.
 */
export function formDecode(text: string): string {
  if (text.indexOf('%') < 0) return text.indexOf('+') < 0 ? text : text.replaceAll('+', ' ');
  const bytes = Buffer.from(text, 'utf8');
  let out = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x2b) {
      bytes[out++] = 0x20;
    } else if (b === 0x25 && i + 2 < bytes.length && hexValue(bytes[i + 1]) >= 0 && hexValue(bytes[i + 2]) >= 0) {
      bytes[out++] = hexValue(bytes[i + 1]) * 16 + hexValue(bytes[i + 2]);
      i += 2;
    } else {
      bytes[out++] = b;
    }
  }
  const decoded = bytes.subarray(0, out);
  return isUtf8(decoded) ? decoded.toString('utf8') : text.indexOf('+') < 0 ? text : text.replaceAll('+', ' ');
}

/** Decoded, trimmed, lower-cased, cut to 256 code points; empty → null. */
function utmValue(raw: string): string | null {
  const value = formDecode(raw).trim().toLowerCase();
  if (value === '') return null;
  if (value.length <= MAX_UTM_CHARS) return value;
  let end = 0;
  for (let n = 0; n < MAX_UTM_CHARS && end < value.length; n++) {
    const c = value.charCodeAt(end);
    end += c >= 0xd800 && c <= 0xdbff && end + 1 < value.length && (value.charCodeAt(end + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return value.slice(0, end);
}

/** The query of a URL: after the first `?`, before the first `#`; '' when there is none. */
function queryOf(url: string): string {
  const hash = url.indexOf('#');
  const question = url.indexOf('?');
  if (question < 0 || (hash >= 0 && hash < question)) return '';
  let query = hash < 0 ? url.slice(question + 1) : url.slice(question + 1, hash);
  // The WHATWG URL parser removes every ASCII tab and newline from a URL before parsing it.
  if (/[\t\n\r]/.test(query)) query = query.replace(/[\t\n\r]/g, '');
  return query;
}

/**
 * The three UTM fields of `url` (an absolute http(s) URL, already validated): for each name the
 * first parameter with exactly that name (names are decoded like values, then compared
 * case-sensitively: `UTM_SOURCE` is not `utm_source`), its value as `utmValue` makes it. A later
 * parameter of the same name never replaces an empty first one.
 */
export function utmFields(url: string): UtmFields {
  const question = url.indexOf('?');
  if (question < 0) return NO_UTM;
  if (url.indexOf('utm', question) < 0 && url.indexOf('%', question) < 0) return NO_UTM; // no name can decode to utm_*
  const query = queryOf(url.trim());
  if (query === '') return NO_UTM;
  let source: string | null | undefined;
  let medium: string | null | undefined;
  let campaign: string | null | undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const nameEnd = eq >= 0 && eq < end ? eq : end;
      const name = formDecode(query.slice(start, nameEnd));
      if (name === 'utm_source' || name === 'utm_medium' || name === 'utm_campaign') {
        const value = nameEnd === end ? '' : query.slice(nameEnd + 1, end);
        if (name === 'utm_source') { if (source === undefined) source = utmValue(value); }
        else if (name === 'utm_medium') { if (medium === undefined) medium = utmValue(value); }
        else if (campaign === undefined) campaign = utmValue(value);
        if (source !== undefined && medium !== undefined && campaign !== undefined) break;
      }
    }
    start = end + 1;
  }
  if (source === undefined && medium === undefined && campaign === undefined) return NO_UTM;
  return { utm_source: source ?? null, utm_medium: medium ?? null, utm_campaign: campaign ?? null };
}

// ------------------------------------------------------------------------------------------------
// referrer_host

function isPlainHostChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

function withoutWww(host: string): string {
  return host.startsWith('www.') ? host.slice(4) : host;
}

/**
 * The host of a plain absolute URL without the WHATWG parser: lower-case letters, digits, `-`
 * and `.`, not starting a label with `xn--`, last label not starting with a digit (an IPv4-like
 * host), no empty label, followed by the end, `/`, `?` or `#`. Anything else (upper case, a port,
 * user info, IDN, IP) → undefined, and the caller asks `URL`. With `dropWww`, a leading `www.`
 * is left out of the result (one string built instead of two). Exported for the differential test.
 */
export function simpleHost(text: string, dropWww = false): string | undefined {
  const start = text.charCodeAt(4) === 0x3a ? 7 : 8; // after `http://` or `https://`
  let i = start;
  let labelStart = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isPlainHostChar(c)) break;
    if (c === 0x2e) {
      if (i === labelStart) return undefined;
      labelStart = i + 1;
    } else if (i === labelStart && c === 0x78 && text.charCodeAt(i + 1) === 0x6e && text.charCodeAt(i + 2) === 0x2d && text.charCodeAt(i + 3) === 0x2d) {
      return undefined;
    }
  }
  if (i === labelStart) return undefined; // empty host or trailing dot
  const first = text.charCodeAt(labelStart);
  if (first >= 0x30 && first <= 0x39) return undefined;
  if (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x2f && c !== 0x3f && c !== 0x23) return undefined;
  }
  return dropWww && i - start > 4 && text.startsWith('www.', start) ? text.slice(start + 4, i) : text.slice(start, i);
}

function isHttpUrlStart(text: string): boolean {
  // `http://` or `https://` in any case, not followed by a third `/` or a `\`: the same test as for `url` (page-url.ts).
  if ((text.charCodeAt(0) | 0x20) !== 0x68 || (text.charCodeAt(1) | 0x20) !== 0x74 || (text.charCodeAt(2) | 0x20) !== 0x74 || (text.charCodeAt(3) | 0x20) !== 0x70) return false;
  let i = 4;
  if ((text.charCodeAt(4) | 0x20) === 0x73) i++;
  if (text.charCodeAt(i) !== 0x3a || text.charCodeAt(i + 1) !== 0x2f || text.charCodeAt(i + 2) !== 0x2f) return false;
  const next = text.charCodeAt(i + 3);
  return next !== 0x2f && next !== 0x5c;
}

/** The host name WHATWG gives for an absolute http(s) URL (lower case, punycode, no port), or undefined. */
export function whatwgHost(text: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return undefined;
  }
  return parsed.hostname === '' ? undefined : parsed.hostname;
}

/**
 * `referrer_host`: the host name of `referrer` as the WHATWG URL parser gives it, without one
 * leading `www.`; null when the referrer is missing or not an absolute http(s) URL (the same test
 * as for `url`: scheme, exactly `//`, a host). Surrounding whitespace is ignored.
 */
export function referrerHost(referrer: string | null): string | null {
  if (referrer === null) return null;
  const text = referrer.trim();
  if (!isHttpUrlStart(text)) return null;
  const plain = simpleHost(text, true);
  if (plain !== undefined) return plain;
  const host = whatwgHost(text);
  if (host === undefined) return null;
  const stripped = withoutWww(host);
  return stripped === '' ? null : stripped;
}

/** Whether `host` (without `www.`) is the host of `pageUrl` (`scheme://host[:port]/path`) without a leading `www.`. */
export function isPageHost(pageUrl: string, host: string): boolean {
  let start = pageUrl.indexOf('//') + 2;
  if (pageUrl.startsWith('www.', start)) start += 4;
  if (!pageUrl.startsWith(host, start)) return false;
  const after = pageUrl.charCodeAt(start + host.length);
  return after === 0x2f || after === 0x3a; // `/` or a port
}

// ------------------------------------------------------------------------------------------------
// channel

const PAID_MEDIUMS = new Set(['cpc', 'ppc', 'paid', 'paidsearch', 'display', 'cpm', 'banner']);
const EMAIL_MEDIUMS = new Set(['email', 'e-mail', 'newsletter']);
const SOCIAL_MEDIUMS = new Set(['social', 'social-network', 'sm']);
/** Registrable names (the label before the public suffix) of the search engines. */
export const SEARCH_ENGINE_NAMES: ReadonlySet<string> = new Set(['google', 'bing', 'duckduckgo', 'yahoo', 'yandex', 'baidu', 'ecosia']);
/** Social networks by domain (the domain itself and every subdomain). */
export const SOCIAL_DOMAINS: readonly string[] = [
  'facebook.com', 'fb.com', 'instagram.com', 't.co', 'twitter.com', 'x.com', 'linkedin.com', 'lnkd.in', 'reddit.com', 'youtube.com', 'tiktok.com',
];
/** Social networks by registrable name under any public suffix (`pinterest.*`). */
const SOCIAL_NAMES: ReadonlySet<string> = new Set(['pinterest']);

export type HostClass = 'search' | 'social' | 'other';

/** Whether a referrer host is a search engine, a social network, or neither (uncached). */
export function classifyHost(host: string): HostClass {
  for (const domain of SOCIAL_DOMAINS) {
    if (host === domain || (host.endsWith(domain) && host.charCodeAt(host.length - domain.length - 1) === 0x2e)) return 'social';
  }
  // The registrable name under the ICANN section of the public suffix list: `google` for
  // `www.google.co.uk`, `yahoo` for `search.yahoo.co.jp`; null for an IP or a bare suffix.
  const name = getDomainWithoutSuffix(host);
  if (name === null || name === '') return 'other';
  if (SEARCH_ENGINE_NAMES.has(name)) return 'search';
  if (SOCIAL_NAMES.has(name)) return 'social';
  return 'other';
}

/** Referrer hosts kept with their class. */
export const DEFAULT_HOST_CACHE_SIZE = 10_000;

/** `classifyHost` behind a bounded cache: a public-suffix lookup per event would be wasted work. */
export class HostClassifier {
  private readonly cache: BoundedCache<HostClass>;

  constructor(capacity = DEFAULT_HOST_CACHE_SIZE) {
    this.cache = new BoundedCache(capacity, classifyHost, 256);
  }

  classify(host: string): HostClass {
    return this.cache.get(host);
  }

  stats(): CacheStats {
    return this.cache.stats();
  }

  clear(): void {
    this.cache.clear();
  }
}

/**
 * `channel`, the first SPEC §2 rule that matches: a UTM medium decides (paid, email, social, any
 * other → campaign); then no referrer → direct; the page's own host → internal; a search engine →
 * search; a social network → social; anything else → referral.
 */
export function channelOf(utmMedium: string | null, referrer: string | null, pageUrl: string, hosts: (host: string) => HostClass): Channel {
  if (utmMedium !== null) {
    if (PAID_MEDIUMS.has(utmMedium)) return 'paid';
    if (EMAIL_MEDIUMS.has(utmMedium)) return 'email';
    if (SOCIAL_MEDIUMS.has(utmMedium)) return 'social';
    return 'campaign';
  }
  if (referrer === null) return 'direct';
  if (isPageHost(pageUrl, referrer)) return 'internal';
  const kind = hosts(referrer);
  return kind === 'search' ? 'search' : kind === 'social' ? 'social' : 'referral';
}
