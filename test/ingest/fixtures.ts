/**
 * Builders for MSK events and realistic click events, shared by the ingest tests and the
 * ingest benchmark. Not a test file itself.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { gunzipSync } from 'zlib';

export interface RecordSpec {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset: number;
  /** Kafka record timestamp, epoch ms. @default 2024-05-01T12:00:00Z */
  readonly timestamp?: number;
  /** A JS value is JSON-encoded; a string is sent as its UTF-8 bytes; null is a tombstone. */
  readonly value: unknown;
  readonly key?: string | null;
}

export const DEFAULT_KAFKA_TS = Date.UTC(2024, 4, 1, 12, 0, 0);

function valueBytes(value: unknown): Buffer | null {
  if (value === null) return null;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** An MSK event as the event source mapping builds it: grouped by `topic-partition`, base64 values. */
export function mskEvent(specs: readonly RecordSpec[]): MSKEvent {
  const records: Record<string, MSKRecord[]> = {};
  for (const spec of specs) {
    const topic = spec.topic ?? 'clickstream';
    const partition = spec.partition ?? 0;
    const bytes = valueBytes(spec.value);
    const record = {
      topic,
      partition,
      offset: spec.offset,
      timestamp: spec.timestamp ?? DEFAULT_KAFKA_TS,
      timestampType: 'CREATE_TIME',
      key: spec.key === undefined ? Buffer.from(`k${spec.offset}`).toString('base64') : spec.key,
      // The event source sends `null` for a tombstone although @types/aws-lambda says string.
      value: bytes === null ? null : bytes.toString('base64'),
      headers: [],
    } as unknown as MSKRecord;
    (records[`${topic}-${partition}`] ??= []).push(record);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/test/abc',
    bootstrapServers: 'b-1.test:9098',
    records,
  };
}

/** A valid click event (snake_case), with overrides. */
export function clickEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: 'e-1',
    user_id: 'u-1',
    session_id: 's-1',
    timestamp: '2024-05-01T11:59:00.123Z',
    url: 'https://Shop.Example.com/products/42/?ref=home#top',
    country: 'de',
    city: ' Berlin ',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    referrer: 'https://www.google.com/',
    ...overrides,
  };
}

/** Decodes an object body back into its lines. */
export function ndjsonLines(body: Buffer): Record<string, unknown>[] {
  const text = gunzipSync(body).toString('utf8');
  if (!text.endsWith('\n')) throw new Error('NDJSON body does not end with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const PAGES = ['/', '/products', '/products/42', '/products/1337/reviews', '/cart', '/checkout', '/blog/2024/05/launch', '/search'];
const COUNTRIES = ['de', 'US', 'fr', 'GB', 'jp', 'BR', 'in', '', 'Germany'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];

/** A deterministic pseudo-random generator (mulberry32), so benchmarks and fuzz runs are repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` realistic click events on one topic, spread over `partitions` partitions and a few
 * event hours, as a web front end would send them (mixed key styles, query strings, user agents).
 */
export function realisticBatch(count: number, partitions = 3, seed = 42): { specs: RecordSpec[]; valueBytes: Buffer[] } {
  const rand = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const base = Date.UTC(2024, 4, 1, 10, 0, 0);
  const specs: RecordSpec[] = [];
  const values: Buffer[] = [];
  const offsets = new Array<number>(partitions).fill(1_000_000);
  for (let i = 0; i < count; i++) {
    const partition = i % partitions;
    const eventTime = base + Math.floor(rand() * 3 * 3600_000);
    const camel = rand() < 0.2;
    const user = `user-${Math.floor(rand() * 5000)}`;
    const event: Record<string, unknown> = {
      [camel ? 'eventId' : 'event_id']: `evt-${seed}-${i}-${Math.floor(rand() * 1e9).toString(36)}`,
      [camel ? 'userId' : 'user_id']: user,
      [camel ? 'sessionId' : 'session_id']: `${user}-sess-${Math.floor(rand() * 10)}`,
      [camel ? 'ts' : 'timestamp']: rand() < 0.7 ? new Date(eventTime).toISOString() : eventTime,
      url: `https://www.Example-Shop.com${pick(PAGES)}${rand() < 0.4 ? `?utm_source=news&utm_campaign=c${i % 7}` : ''}`,
      country: pick(COUNTRIES),
      city: rand() < 0.5 ? pick(['Berlin', 'Paris', 'Austin', 'Tokyo', ' Recife ']) : null,
      [camel ? 'userAgent' : 'user_agent']: pick(AGENTS),
      referrer: rand() < 0.5 ? 'https://www.google.com/' : null,
      screen: { w: 1920, h: 1080 },
    };
    const bytes = Buffer.from(JSON.stringify(event), 'utf8');
    values.push(bytes);
    specs.push({ partition, offset: offsets[partition]++, timestamp: eventTime + 1500, value: bytes });
  }
  return { specs, valueBytes: values };
}
