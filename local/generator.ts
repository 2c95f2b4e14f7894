/**
 * A realistic, reproducible clickstream for the local pipeline.
 *
 * Everything comes from one seeded PRNG, so the same options give byte-identical messages. The
 * stream looks like what a web shop's tracker would send: many users with sessions of a few to a
 * few dozen page views, a long tail of pages (Zipf), several countries and cities (a few written
 * in lower case, padded, blank, as alpha-3 codes, English names, `UK` or garbage, to exercise
 * normalization), thousands of distinct real-looking user agents with a long tail (browsers,
 * tablets, in-app browsers, smart TVs, consoles, crawlers, monitors, curl and HTTP libraries),
 * referrers (direct, search engines under several public suffixes, social networks, other sites,
 * internal navigation, invalid values), UTM-tagged URLs (local/web-traffic.ts), both the
 * snake_case and camelCase field spellings, three timestamp formats, and a few bad messages:
 * malformed ones of several kinds, exact duplicates (a producer retry), late events for an
 * earlier day (a phone that was offline), sessions crossing midnight, and gaps of exactly 30
 * minutes (the session boundary).
 *
 * The generator only produces messages; it knows nothing about how the pipeline validates or
 * aggregates them (that is `local/expected.ts`, written from the SPEC on its own).
 */

import { buildUserAgentPool, countrySpelling, entryReferrer, UserAgentSampler, utmQuery } from './web-traffic';

/** One Kafka message as it will be produced. */
export interface ClickMessage {
  /** Partition the message is produced to (explicit, so every message's offset is known). */
  readonly partition: number;
  /** Record key (the user, as a tracker keyed by user would send), or null. */
  readonly key: string | null;
  /** The exact bytes of the message value. */
  readonly value: Buffer;
  /** The Kafka record timestamp (CreateTime), epoch milliseconds. */
  readonly timestamp: number;
  /** What the generator meant this message to be; for statistics and tests only, never produced. */
  readonly kind: MessageKind;
}

/** `file` marks a message read from `--events FILE`, whose intent the generator does not know. */
export type MessageKind = 'valid' | 'duplicate' | 'late' | 'file' | `malformed:${MalformedKind}`;

export const MALFORMED_KINDS = [
  'not_json',
  'truncated_json',
  'empty_value',
  'not_an_object',
  'missing_user_id',
  'empty_user_id',
  'user_id_not_string',
  'user_id_too_long',
  'missing_timestamp',
  'timestamp_without_zone',
  'timestamp_garbage',
  'timestamp_before_2000',
  'timestamp_in_future',
  'missing_url',
  'url_not_http',
  'url_relative',
  'url_too_long',
  'user_agent_too_long',
  'invalid_utf8',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface GeneratorOptions {
  /** Total number of messages, bad ones included. */
  readonly count: number;
  /** Seed of the PRNG; any string or number. */
  readonly seed: string | number;
  /** Latest Kafka record timestamp of the stream (epoch ms). @default now, floored to the second */
  readonly endTime?: number;
  /** Days of traffic before `endTime`. At most 6 (Kafka's default retention is 7 days of record time). @default 3 */
  readonly days?: number;
  /** Number of partitions of the topic. @default 3 */
  readonly partitions?: number;
  /** Share of malformed messages. @default 0.01 */
  readonly malformedRate?: number;
  /** Share of exact duplicates. @default 0.005 */
  readonly duplicateRate?: number;
  /** Share of valid events that arrive late (2 to 30 hours after they happened). @default 0.02 */
  readonly lateRate?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SESSION_GAP = 30 * MINUTE;

// ------------------------------------------------------------------------------------------------
// PRNG: sfc32 seeded through a string hash (cyrb128). Small, fast, good enough statistically.

function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string | number) {
    [this.a, this.b, this.c, this.d] = cyrb128(String(seed));
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a >>>= 0; this.b >>>= 0; this.c >>>= 0; this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  int(minInclusive: number, maxInclusive: number): number {
    return minInclusive + Math.floor(this.next() * (maxInclusive - minInclusive + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  hex(chars: number): string {
    let out = '';
    while (out.length < chars) out += Math.floor(this.next() * 0x10000).toString(16).padStart(4, '0');
    return out.slice(0, chars);
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** Log-normal: exp(N(mu, sigma)). */
  logNormal(mu: number, sigma: number): number {
    const u1 = Math.max(this.next(), 1e-12);
    const u2 = this.next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.exp(mu + sigma * z);
  }
}

/** Samples indexes 0..n-1 with P(i) proportional to 1/(i+1)^s (a long tail). */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += 1 / Math.pow(i + 1, s);
      this.cdf[i] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i] /= sum;
  }

  sample(rng: Prng): number {
    const u = rng.next();
    let lo = 0, hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

// ------------------------------------------------------------------------------------------------
// The world: countries, cities, pages, user agents.

interface Place {
  readonly country: string;
  readonly cities: readonly string[];
  readonly weight: number;
  /** UTC offset in hours, used for the `+hh:mm` timestamp spelling of this country's users. */
  readonly utcOffset: number;
}

const PLACES: readonly Place[] = [
  { country: 'US', cities: ['New York', 'San Francisco', 'Chicago', 'Austin'], weight: 30, utcOffset: -5 },
  { country: 'DE', cities: ['Berlin', 'Munich', 'Hamburg'], weight: 15, utcOffset: 1 },
  { country: 'GB', cities: ['London', 'Manchester'], weight: 12, utcOffset: 0 },
  { country: 'FR', cities: ['Paris', 'Lyon', 'Marseille'], weight: 10, utcOffset: 1 },
  { country: 'IN', cities: ['Bengaluru', 'Mumbai', 'Delhi'], weight: 10, utcOffset: 5.5 },
  { country: 'BR', cities: ['São Paulo', 'Rio de Janeiro'], weight: 8, utcOffset: -3 },
  { country: 'JP', cities: ['Tokyo', 'Osaka'], weight: 8, utcOffset: 9 },
  { country: 'ES', cities: ['Madrid', 'Barcelona'], weight: 4, utcOffset: 1 },
  { country: 'CA', cities: ['Toronto', 'Montréal'], weight: 3, utcOffset: -5 },
  // A user-assigned code (Kosovo): kept as it is by the ingest's country rule.
  { country: 'XK', cities: ['Pristina'], weight: 1, utcOffset: 1 },
];

/** Distinct user agents in the population; the same in every run (their own fixed seed), so two
 *  runs share their users' software the way two days of one site do. */
const USER_AGENT_POOL_SIZE = 4000;
let userAgentSampler: UserAgentSampler | undefined;

function userAgents(): UserAgentSampler {
  userAgentSampler ??= new UserAgentSampler(buildUserAgentPool(new Prng('clickstream:user-agents'), USER_AGENT_POOL_SIZE), 0.8);
  return userAgentSampler;
}

const CATEGORIES = ['shoes', 'jackets', 'bags', 'watches', 'outdoor', 'kitchen', 'books', 'toys', 'garden', 'audio'];
const BLOG_WORDS = ['how', 'to', 'choose', 'the', 'best', 'winter', 'running', 'guide', 'care', 'tips', 'gift', 'ideas', 'review'];

/** The page catalogue: canonical URLs, most popular first (the Zipf rank). */
function buildPages(rng: Prng, n: number): string[] {
  const fixed = [
    'https://shop.example.com/',
    'https://shop.example.com/search',
    'https://shop.example.com/cart',
    'https://shop.example.com/checkout',
    ...CATEGORIES.map((c) => `https://shop.example.com/c/${c}`),
    'https://blog.example.com/',
  ];
  const pages = new Set<string>(fixed);
  while (pages.size < n) {
    const r = rng.next();
    if (r < 0.75) {
      pages.add(`https://shop.example.com/p/${rng.pick(CATEGORIES)}/${rng.int(1000, 99999)}`);
    } else if (r < 0.95) {
      const words = Array.from({ length: rng.int(3, 6) }, () => rng.pick(BLOG_WORDS));
      pages.add(`https://blog.example.com/posts/${words.join('-')}`);
    } else {
      pages.add(`https://help.example.com/articles/${rng.int(100, 999)}`);
    }
  }
  // Keep the fixed pages at the head (most visited), shuffle the tail deterministically.
  const tail = [...pages].slice(fixed.length);
  for (let i = tail.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [tail[i], tail[j]] = [tail[j], tail[i]];
  }
  return [...fixed, ...tail];
}

/** Variants a real tracker sends for the same page: query strings, fragments, case, trailing slash. */
function urlVariant(rng: Prng, page: string): string {
  const r = rng.next();
  if (r < 0.7) return page;
  if (r < 0.8) return `${page}?${utmQuery(rng)}`;
  if (r < 0.86) return `${page}#${rng.pick(['reviews', 'details', 'top'])}`;
  if (r < 0.93) return page.endsWith('/') ? page : `${page}/`;
  // Upper-case host (and sometimes scheme): the host part is case-insensitive.
  const m = /^(https?):\/\/([^/]+)(.*)$/.exec(page)!;
  const scheme = rng.chance(0.3) ? m[1].toUpperCase() : m[1];
  const host = m[2].split('.').map((p) => (rng.chance(0.5) ? p.toUpperCase() : p[0].toUpperCase() + p.slice(1))).join('.');
  return `${scheme}://${host}${m[3]}`;
}

interface User {
  readonly id: string;
  readonly place: Place;
  readonly city: string | null;
  /** The user's devices: the first for most sessions, the second (a phone beside a laptop) for some. */
  readonly userAgents: readonly [string, string];
  /** How this user's tracker spells fields: snake_case or camelCase. */
  readonly camelCase: boolean;
  /** Busy intervals [start, end] of this user's sessions, to keep one user's clicks strictly ordered. */
  readonly busy: Array<[number, number]>;
}

/** A valid event before it is serialized. */
interface Click {
  user: User;
  ts: number;
  url: string;
  sessionId: string;
  /** The device of the click's session. */
  userAgent: string;
  referrer: string | null;
  eventId: string | null;
  arrival: number;
  late: boolean;
}

function pickPlace(rng: Prng): Place {
  const total = PLACES.reduce((s, p) => s + p.weight, 0);
  let r = rng.next() * total;
  for (const p of PLACES) {
    r -= p.weight;
    if (r < 0) return p;
  }
  return PLACES[PLACES.length - 1];
}

function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** ISO-8601 in the given offset from UTC, e.g. 2026-11-25T11:00:00.123+01:00. */
function isoWithOffset(ms: number, offsetHours: number): string {
  const local = new Date(ms + offsetHours * HOUR).toISOString().slice(0, -1);
  const sign = offsetHours < 0 ? '-' : '+';
  const abs = Math.abs(offsetHours);
  const hh = String(Math.floor(abs)).padStart(2, '0');
  const mm = String(Math.round((abs % 1) * 60)).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}

/** The country field as this tracker writes it: mostly the code, else lower-case, padded, alpha-3,
 *  a name, `UK`, garbage (`countrySpelling`), blank or missing. */
function countryField(rng: Prng, country: string): { present: boolean; value: string | null } {
  const r = rng.next();
  if (r < 0.96) return { present: true, value: countrySpelling(rng, country) };
  if (r < 0.975) return { present: true, value: '' };
  if (r < 0.985) return { present: true, value: '   ' };
  if (r < 0.993) return { present: true, value: null };
  return { present: false, value: null };
}

function serializeClick(rng: Prng, c: Click): Buffer {
  const u = c.user;
  const tsRoll = rng.next();
  const ts: string | number =
    tsRoll < 0.7 ? isoUtc(c.ts) : tsRoll < 0.85 ? c.ts : isoWithOffset(c.ts, u.place.utcOffset);
  const obj: Record<string, unknown> = {};
  const name = (snake: string, camel: string) => (u.camelCase ? camel : snake);
  if (c.eventId !== null) obj[name('event_id', 'eventId')] = c.eventId;
  obj[name('user_id', 'userId')] = u.id;
  obj[name('session_id', 'sessionId')] = c.sessionId;
  obj[name('timestamp', 'ts')] = ts;
  obj.url = c.url;
  const country = countryField(rng, u.place.country);
  if (country.present) obj.country = country.value;
  const cityRoll = rng.next();
  if (cityRoll < 0.85) obj.city = u.city;
  else if (cityRoll < 0.9) obj.city = u.city === null ? null : `  ${u.city} `;
  else if (cityRoll < 0.95) obj.city = null;
  obj[name('user_agent', 'userAgent')] = c.userAgent;
  if (c.referrer !== null) obj.referrer = c.referrer;
  // Unknown fields are ignored by the pipeline; a real tracker sends some.
  if (rng.chance(0.3)) obj.screen = rng.pick(['1920x1080', '390x844', '1440x900', '412x915']);
  if (rng.chance(0.1)) obj.experiment = { id: 'checkout-v2', variant: rng.pick(['a', 'b']) };
  return Buffer.from(JSON.stringify(obj), 'utf8');
}

/** A malformed message of the given kind, built around a plausible click. */
function malformed(rng: Prng, kind: MalformedKind, base: Click): { value: Buffer; arrival: number } {
  const good = (): Record<string, unknown> => ({
    event_id: base.eventId ?? rng.uuid(),
    user_id: base.user.id,
    session_id: base.sessionId,
    timestamp: isoUtc(base.ts),
    url: base.url,
    country: base.user.place.country,
    city: base.user.city,
    user_agent: base.userAgent,
  });
  const json = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8');
  const arrival = base.arrival;
  switch (kind) {
    case 'not_json':
      return { value: Buffer.from(rng.pick(['GET /index.html HTTP/1.1', 'user_id=u1&url=https://shop.example.com/', "{'user_id': 'u1'}"]), 'utf8'), arrival };
    case 'truncated_json': {
      const text = JSON.stringify(good());
      return { value: Buffer.from(text.slice(0, rng.int(5, text.length - 2)), 'utf8'), arrival };
    }
    case 'empty_value':
      return { value: Buffer.alloc(0), arrival };
    case 'not_an_object':
      return { value: json(rng.pick<unknown>([[good()], 'click', 42, null, true])), arrival };
    case 'missing_user_id': {
      const o = good(); delete o.user_id; return { value: json(o), arrival };
    }
    case 'empty_user_id':
      return { value: json({ ...good(), user_id: '' }), arrival };
    case 'user_id_not_string':
      return { value: json({ ...good(), user_id: rng.int(1, 99999) }), arrival };
    case 'user_id_too_long':
      return { value: json({ ...good(), user_id: 'u'.repeat(300) }), arrival };
    case 'missing_timestamp': {
      const o = good(); delete o.timestamp; return { value: json(o), arrival };
    }
    case 'timestamp_without_zone':
      return { value: json({ ...good(), timestamp: isoUtc(base.ts).slice(0, 19) }), arrival };
    case 'timestamp_garbage':
      return { value: json({ ...good(), timestamp: rng.pick(['yesterday', '25/11/2026 10:00', '', 'NaN']) }), arrival };
    case 'timestamp_before_2000':
      return { value: json({ ...good(), timestamp: rng.pick(['1999-12-31T23:59:59.000Z', '1970-01-01T00:00:00Z']) }), arrival };
    case 'timestamp_in_future':
      // A device clock set days ahead: more than 24 h after the record's own timestamp.
      return { value: json({ ...good(), timestamp: isoUtc(arrival + rng.int(26, 96) * HOUR) }), arrival };
    case 'missing_url': {
      const o = good(); delete o.url; return { value: json(o), arrival };
    }
    case 'url_not_http':
      return { value: json({ ...good(), url: rng.pick(['ftp://files.example.com/catalog.pdf', 'javascript:void(0)', 'mailto:help@example.com', 'file:///C:/index.html']) }), arrival };
    case 'url_relative':
      return { value: json({ ...good(), url: rng.pick(['/p/shoes/1234', 'shop.example.com/cart', '']) }), arrival };
    case 'url_too_long':
      return { value: json({ ...good(), url: `https://shop.example.com/search?q=${'x'.repeat(9000)}` }), arrival };
    case 'user_agent_too_long':
      return { value: json({ ...good(), user_agent: `Mozilla/5.0 ${'A'.repeat(5000)}` }), arrival };
    case 'invalid_utf8': {
      const text = JSON.stringify({ ...good(), city: 'XCITYX' });
      const [before, after] = text.split('XCITYX');
      return { value: Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(after, 'utf8')]), arrival };
    }
  }
}

/** Stable partition of a key (FNV-1a), like a keyed producer would pick. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/**
 * Generates `count` messages ordered by arrival (Kafka record timestamp), which is the order a
 * producer would send them in.
 */
export function generateClicks(options: GeneratorOptions): ClickMessage[] {
  const count = Math.floor(options.count);
  if (!(count >= 0)) throw new Error(`count must be a non-negative number, got ${options.count}`);
  const days = options.days ?? 3;
  if (!(days > 0 && days <= 6)) throw new Error(`days must be in (0, 6], got ${days}`);
  const partitions = options.partitions ?? 3;
  const endTime = options.endTime ?? Math.floor(Date.now() / 1000) * 1000;
  const malformedRate = options.malformedRate ?? 0.01;
  const duplicateRate = options.duplicateRate ?? 0.005;
  const lateRate = options.lateRate ?? 0.02;
  const rng = new Prng(`clickstream:${options.seed}`);
  const runTag = rng.hex(6);

  // Late arrivals are bounded by endTime, so the window of event times ends a bit before it.
  const windowStart = endTime - days * DAY;
  const windowEnd = endTime - 5 * MINUTE;

  const nMalformed = Math.round(count * malformedRate);
  const nDuplicates = Math.round(count * duplicateRate);
  const nValid = count - nMalformed - nDuplicates;

  const users: User[] = Array.from({ length: Math.max(20, Math.ceil(nValid / 12)) }, (_, i) => {
    const place = pickPlace(rng);
    return {
      id: `u-${runTag}-${i.toString(36)}-${rng.hex(4)}`,
      place,
      city: rng.chance(0.92) ? rng.pick(place.cities) : null,
      userAgents: [userAgents().sample(rng), userAgents().sample(rng)],
      camelCase: rng.chance(0.15),
      busy: [],
    };
  });
  const userRank = new Zipf(users.length, 0.6);
  const pages = buildPages(rng, Math.max(40, Math.ceil(nValid / 15)));
  const pageRank = new Zipf(pages.length, 1.05);

  const maxSessionsPerUser = Math.ceil(days * 12);
  const midnights: number[] = [];
  for (let m = Math.ceil(windowStart / DAY) * DAY; m < windowEnd; m += DAY) midnights.push(m);

  // Sessions until the valid budget is used up.
  const clicks: Click[] = [];
  while (clicks.length < nValid) {
    // Busy users are picked more often, up to a realistic number of sessions a day; beyond it
    // another user is picked (this also keeps the overlap check below short).
    let user = users[userRank.sample(rng)];
    if (user.busy.length >= maxSessionsPerUser) user = users[rng.int(0, users.length - 1)];
    const remaining = nValid - clicks.length;
    const length = Math.min(remaining, 1 + Math.floor(rng.logNormal(1.4, 0.8)));
    // Gaps inside a session: mostly seconds to minutes, sometimes long reads, rarely exactly the
    // 30-minute boundary (still the same session) or just past it (a new session).
    const gaps: number[] = [];
    for (let i = 1; i < length; i++) {
      const r = rng.next();
      let gap: number;
      if (r < 0.004) gap = SESSION_GAP;
      else if (r < 0.008) gap = SESSION_GAP + 1;
      else if (r < 0.02) gap = rng.int(31, 90) * MINUTE;
      else gap = Math.min(Math.round(rng.logNormal(10.3, 1.1)), SESSION_GAP - 1000);
      gaps.push(Math.max(gap, 1));
    }
    const span = gaps.reduce((a, b) => a + b, 0);
    // A few sessions are placed just before a midnight so that they cross it.
    let start: number;
    if (rng.chance(0.03) && midnights.length > 0 && span > 0) {
      const midnight = rng.pick(midnights);
      start = midnight - rng.int(1, Math.max(1, Math.min(span, 25 * MINUTE)));
    } else {
      start = windowStart + Math.floor(rng.next() * (windowEnd - windowStart - span));
    }
    const end = start + span;
    if (start < windowStart || end > windowEnd) continue;
    // One user's sessions never overlap and stay more than 30 minutes apart, so each user's
    // clicks are strictly ordered in time (ties would make "the next event" ambiguous).
    if (user.busy.some(([s, e]) => start <= e + SESSION_GAP + 1 && end >= s - SESSION_GAP - 1)) continue;
    user.busy.push([start, end]);
    const sessionId = `s-${rng.hex(12)}`;
    const userAgent = user.userAgents[rng.chance(0.3) ? 1 : 0];
    // The session's entry referrer; each later click's referrer is the page before it (internal navigation).
    let referrer: string | null = entryReferrer(rng);
    let ts = start;
    for (let i = 0; i < length; i++) {
      if (i > 0) ts += gaps[i - 1];
      const page = pages[pageRank.sample(rng)];
      const late = rng.chance(lateRate);
      // Normal delivery: under two seconds; a phone that was offline: hours later (still before endTime).
      let arrival = late ? ts + rng.int(2 * 60, 30 * 60) * MINUTE : ts + rng.int(5, 2000);
      arrival = Math.min(arrival, endTime);
      clicks.push({
        user,
        ts,
        url: urlVariant(rng, page),
        sessionId,
        userAgent,
        referrer,
        // Most trackers send an event id; some do not (the pipeline then assigns one).
        eventId: rng.chance(0.95) ? rng.uuid() : null,
        arrival,
        late: late && arrival - ts > HOUR,
      });
      referrer = page;
    }
  }

  type Pending = { partition: number; key: string | null; value: Buffer; timestamp: number; kind: MessageKind; order: number };
  const out: Pending[] = [];
  let order = 0;
  for (const c of clicks) {
    out.push({
      partition: partitionOf(c.user.id, partitions),
      key: c.user.id,
      value: serializeClick(rng, c),
      timestamp: c.arrival,
      kind: c.late ? 'late' : 'valid',
      order: order++,
    });
  }
  // Exact duplicates: a producer retry resends the same bytes (same event id) a little later.
  const withId = out.filter((m) => clicks[m.order].eventId !== null);
  for (let i = 0; i < nDuplicates && withId.length > 0; i++) {
    const original = rng.pick(withId);
    out.push({ ...original, timestamp: Math.min(original.timestamp + rng.int(50, 60_000), endTime), kind: 'duplicate', order: order++ });
  }
  for (let i = 0; i < nMalformed; i++) {
    const kind = MALFORMED_KINDS[i % MALFORMED_KINDS.length];
    const base = clicks.length > 0 ? rng.pick(clicks) : {
      user: users[0], ts: windowEnd - HOUR, url: pages[0], sessionId: 's-0', userAgent: users[0].userAgents[0], referrer: null, eventId: null, arrival: windowEnd - HOUR, late: false,
    };
    const { value, arrival } = malformed(rng, kind, base);
    // Bad messages come from any producer; spread them over partitions.
    out.push({ partition: rng.int(0, partitions - 1), key: rng.chance(0.5) ? base.user.id : null, value, timestamp: arrival, kind: `malformed:${kind}`, order: order++ });
  }
  out.sort((a, b) => a.timestamp - b.timestamp || a.order - b.order);
  return out.map(({ partition, key, value, timestamp, kind }) => ({ partition, key, value, timestamp, kind }));
}

/**
 * Messages from a file: one message value per line, produced exactly as given (the bytes of the
 * line without its line end). Empty lines are skipped: they separate nothing and carry no message.
 * A `\r` before the `\n` is part of the line end, so Windows files work too. Lines are spread over
 * the partitions round-robin; every record gets the same timestamp (when it is produced).
 */
export function messagesFromFile(bytes: Buffer, partitions: number, timestamp = Date.now()): ClickMessage[] {
  const out: ClickMessage[] = [];
  let start = 0;
  let n = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    let lineEnd = end;
    if (lineEnd > start && bytes[lineEnd - 1] === 0x0d) lineEnd--;
    if (lineEnd > start) {
      out.push({ partition: n % partitions, key: null, value: Buffer.from(bytes.subarray(start, lineEnd)), timestamp, kind: 'file' });
      n++;
    }
    start = end + 1;
  }
  return out;
}

/** Counts of each kind, for the progress output. */
export function kindCounts(messages: readonly ClickMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) {
    const k = m.kind.startsWith('malformed:') ? 'malformed' : m.kind;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
