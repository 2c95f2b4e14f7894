/**
 * The ingest core's hand-written hot paths held against the reference implementations they
 * replace, on many generated inputs (seeded): the ISO-8601 parser against `Date.parse`, the ISO
 * formatter against `Date.prototype.toISOString`, the plain-URL normalizer against the WHATWG
 * `URL` parser, the one-call NDJSON serializer against one `JSON.stringify` per line.
 */
import type { CanonicalRecord } from '../../lambdas/ingest/canonical';
import { ndjson, type QuarantineLine } from '../../lambdas/ingest/core';
import { simplePageUrl, whatwgPageUrl } from '../../lambdas/ingest/page-url';
import { formatIsoMillis, MAX_TIME_MS, parseIsoWithZone } from '../../lambdas/ingest/timestamp';
import { seededRandom } from './fixtures';

const rand = seededRandom(20240501);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];

describe('formatIsoMillis', () => {
  it('equals toISOString for 20,000 instants between 1970 and 9999, and at the edges', () => {
    const instants = [0, 951782400000, 951868800000, 4107542399999, 4107542400000, MAX_TIME_MS, 946684800000 - 1];
    for (let i = 0; i < 20_000; i++) instants.push(Math.floor(rand() * MAX_TIME_MS));
    const mismatches = instants.filter((ms) => formatIsoMillis(ms) !== new Date(ms).toISOString());
    expect(mismatches).toEqual([]);
  });

  it('falls back to toISOString beyond the year 9999', () => {
    expect(formatIsoMillis(MAX_TIME_MS + 1)).toBe('+010000-01-01T00:00:00.000Z');
  });
});

describe('parseIsoWithZone', () => {
  it('equals Date.parse on 20,000 valid ISO-8601 strings with Z or ±hh:mm', () => {
    const mismatches: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const year = int(1970, 9999);
      const month = int(1, 12);
      const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
      const dim = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
      const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(int(1, dim), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}`;
      const seconds = rand() < 0.8 ? `:${pad(int(0, 59), 2)}${rand() < 0.7 ? `.${pad(int(0, 999), 3)}` : ''}` : '';
      const zone = rand() < 0.5 ? 'Z' : `${pick(['+', '-'])}${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}`;
      const text = `${date}${seconds}${zone}`;
      if (parseIsoWithZone(text) !== Date.parse(text)) mismatches.push(text);
    }
    expect(mismatches).toEqual([]);
  });

  it('never accepts a string Date.parse rejects, for 20,000 mutated ISO strings', () => {
    const base = '2024-05-01T10:20:30.456+02:00';
    const alphabet = '0123456789-:T.Z+ ,tz';
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const chars = base.split('');
      for (let k = int(1, 3); k > 0; k--) {
        const at = int(0, chars.length - 1);
        const op = rand();
        if (op < 0.4) chars[at] = alphabet[int(0, alphabet.length - 1)];
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[int(0, alphabet.length - 1)]);
      }
      const text = chars.join('');
      const ours = parseIsoWithZone(text);
      // Forms we accept that V8 does not (space, lower case, comma, ±hhmm, ±hh) are checked in core.test.ts.
      if (ours !== undefined && /^[0-9-]+T[0-9:.]+(Z|[+-]\d\d:\d\d)$/.test(text) && ours !== Date.parse(text)) wrong.push(text);
    }
    expect(wrong).toEqual([]);
  });
});

describe('simplePageUrl', () => {
  const schemes = ['http', 'https', 'HTTP', 'Https'];
  const hosts = [
    'example.com', 'Shop.Example.COM', 'a', 'a-b.c-d.e', '-lead.example', 'trail-.example', 'x--y.example', 'xn--bcher-kva.example',
    'XN--BCHER-KVA.example', 'xn--invalid.example', '127.0.0.1', '1.2.3', '0x7f.1', 'example.123', 'example.0x1', 'a.b1', '1a.com',
    'example.com.', 'ex_ample.com', 'exa%41mple.com', 'ex ample.com', 'example..com', 'user@example.com', 'user:pw@example.com',
    '[::1]', 'bücher.example', 'ex\tample.com', '999999999999',
  ];
  const ports = ['', ':80', ':443', ':8080', ':080', ':0', ':65535', ':65536', ':99999', ':', ':8a'];
  const segments = [
    'a', 'A', 'products', '42', '.', '..', '%2e', '%2E%2e', '.%2e', '.hidden', 'a.b', '%41', '%zz', '%', "!$&'()*+,;=:@",
    '~user', 'a b', 'é', '"', '<x>', '`', '{}', '|', '^', '\\', 'a\tb', 'a\nb', '', '\u0001',
  ];
  const tails = ['', '?', '?a=1&b=2', '?q=x#frag', '#frag', '#', '?a=%zz', '? spaced #x', '?\u0000', '?/../'];

  it('agrees with the WHATWG parser on every URL it accepts (30,000 generated URLs)', () => {
    const disagreements: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 30_000; i++) {
      const path = rand() < 0.15 ? '' : Array.from({ length: int(1, 4) }, () => `/${pick(segments)}`).join('') + (rand() < 0.3 ? '/' : '');
      const url = `${pick(schemes)}://${pick(hosts)}${pick(ports)}${path}${pick(tails)}`;
      const fast = simplePageUrl(url);
      if (fast === undefined) continue;
      accepted++;
      const reference = whatwgPageUrl(url);
      if (fast !== reference) disagreements.push(`${JSON.stringify(url)}: fast ${fast}, WHATWG ${String(reference)}`);
    }
    expect(disagreements).toEqual([]);
    // The fast path must actually cover a good share of the generated URLs, or this proves nothing.
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('takes the common browser URL and leaves unusual ones to WHATWG', () => {
    expect(simplePageUrl('https://www.Example-Shop.com/products/42/?utm_source=x')).toBe('https://www.example-shop.com/products/42');
    expect(simplePageUrl('http://example.com:80')).toBe('http://example.com/');
    for (const unusual of ['https://127.0.0.1/', 'https://xn--bcher-kva.example/', 'https://e.com/a/../b', 'https://e.com/%2e/', 'https://u@e.com/']) {
      expect(simplePageUrl(unusual)).toBeUndefined();
    }
  });
});

describe('ndjson', () => {
  // Strings built to look like the line separator the serializer replaces, plus escapes.
  const TRICKY = ['},{"event_id":', '}},{"event_id":"x', '\\},{"reason":', '"', '\\', '\n', '\u2028', '\ud83d\ude00', '\ud800', '{', '}', ',', 'event_id', 'reason'];
  const trickyString = (): string => Array.from({ length: int(0, 6) }, () => pick(TRICKY)).join('');
  const maybeNull = (): string | null => (rand() < 0.2 ? null : trickyString());

  const record = (offset: number): CanonicalRecord => ({
    event_id: trickyString(), user_id: trickyString(), session_id: maybeNull(), ts: '2024-05-01T12:00:00.000Z',
    url: trickyString(), page_url: trickyString(), country: trickyString(), city: maybeNull(), user_agent: maybeNull(),
    referrer: maybeNull(), kafka: { topic: 'clicks', partition: 0, offset, timestamp: 1714564800000 },
    country_raw: maybeNull(), device_type: 'desktop', browser: maybeNull(), os: maybeNull(), is_bot: rand() < 0.5,
    utm_source: maybeNull(), utm_medium: maybeNull(), utm_campaign: maybeNull(), referrer_host: maybeNull(), channel: 'referral',
  });
  const quarantineLine = (offset: number): QuarantineLine => ({
    reason: 'invalid_json', field: null, detail: trickyString(), topic: 'clicks', partition: 0, offset,
    kafka_timestamp: 1714564800000, key: maybeNull(), value: maybeNull(), encoding: 'utf8',
  });
  const perLine = (lines: readonly unknown[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');

  it('equals one JSON.stringify per line for 2,000 batches of canonical records with separator-like strings', () => {
    for (let batch = 0; batch < 2_000; batch++) {
      const lines = Array.from({ length: int(1, 8) }, (_, i) => record(i));
      expect(ndjson(lines).toString('utf8')).toBe(perLine(lines));
    }
  });

  it('equals one JSON.stringify per line for 2,000 batches of quarantine lines', () => {
    for (let batch = 0; batch < 2_000; batch++) {
      const lines = Array.from({ length: int(1, 8) }, (_, i) => quarantineLine(i));
      expect(ndjson(lines).toString('utf8')).toBe(perLine(lines));
    }
  });

  it('is empty for no lines', () => {
    expect(ndjson([])).toHaveLength(0);
  });

  it('gives one line per element, each parsing back to it', () => {
    const lines = Array.from({ length: 50 }, (_, i) => record(i));
    const text = ndjson(lines).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(lines);
  });
});
