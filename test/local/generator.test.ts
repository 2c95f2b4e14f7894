import { generateClicks, kindCounts, MALFORMED_KINDS, messagesFromFile, Prng, Zipf } from '../../local/generator';
import { computeExpected, type ProducedMessage } from '../../local/expected';
import { buildRawObjects } from '../../lambdas/ingest/core';
import { Enricher } from '../../lambdas/ingest/enrich';
import { mskEvent, ndjsonLines } from '../ingest/fixtures';

const END = Date.UTC(2026, 10, 27, 12, 0, 0);

function withOffsets(messages: ReturnType<typeof generateClicks>): ProducedMessage[] {
  const next = new Map<number, number>();
  return messages.map((m) => {
    const offset = next.get(m.partition) ?? 0;
    next.set(m.partition, offset + 1);
    return { topic: 't', partition: m.partition, offset, timestamp: m.timestamp, value: m.value };
  });
}

describe('generateClicks', () => {
  const messages = generateClicks({ count: 5000, seed: 'test', endTime: END });

  it('is reproducible from its seed and differs for another seed', () => {
    const again = generateClicks({ count: 5000, seed: 'test', endTime: END });
    expect(again.map((m) => m.value.toString('base64'))).toEqual(messages.map((m) => m.value.toString('base64')));
    const other = generateClicks({ count: 5000, seed: 'other', endTime: END });
    expect(other[0].value.equals(messages[0].value)).toBe(false);
  });

  it('produces exactly the count, ordered by record timestamp, never after endTime', () => {
    expect(messages).toHaveLength(5000);
    for (let i = 1; i < messages.length; i++) expect(messages[i].timestamp).toBeGreaterThanOrEqual(messages[i - 1].timestamp);
    expect(messages[messages.length - 1].timestamp).toBeLessThanOrEqual(END);
    expect(new Set(messages.map((m) => m.partition))).toEqual(new Set([0, 1, 2]));
  });

  it('has every malformed kind, duplicates and late events in the configured shares', () => {
    const counts = kindCounts(messages);
    expect(counts.malformed).toBe(50);
    expect(counts.duplicate).toBe(25);
    expect(counts.late).toBeGreaterThan(40);
    const kinds = new Set(messages.filter((m) => m.kind.startsWith('malformed:')).map((m) => m.kind.slice('malformed:'.length)));
    expect([...kinds].sort()).toEqual([...MALFORMED_KINDS].sort());
  });

  it('makes exactly the malformed messages invalid by SPEC §1, and duplicates count once', () => {
    const produced = withOffsets(messages);
    const expected = computeExpected(produced);
    const validOffsets = new Set(expected.valid.map((v) => `${v.partition}:${v.offset}`));
    const misjudged = messages.filter((m, i) =>
      validOffsets.has(`${produced[i].partition}:${produced[i].offset}`) === m.kind.startsWith('malformed:'));
    expect(misjudged.map((m) => `${m.kind}: ${m.value.toString('utf8').slice(0, 80)}`)).toEqual([]);
    expect(expected.distinctEvents).toBe(expected.valid.length - 25);
  });

  it('exercises normalization, sessions across midnight, several days and the 30-minute boundary', () => {
    const expected = computeExpected(withOffsets(messages));
    const countries = new Set(expected.rows.map((r) => r.country));
    expect(countries.has('unknown')).toBe(true);
    expect([...countries].filter((c) => /^[A-Z]{2}$/.test(c)).length).toBeGreaterThanOrEqual(8);
    const texts = messages.map((m) => m.value.toString('utf8'));
    expect(texts.some((t) => /"country":"[a-z]{2}"/.test(t))).toBe(true);
    expect(texts.some((t) => /"userId":/.test(t))).toBe(true);
    expect(texts.some((t) => /"timestamp":\d{13}/.test(t) || /"ts":\d{13}/.test(t))).toBe(true);
    expect(texts.some((t) => /[+-]\d{2}:\d{2}"/.test(t))).toBe(true);
    expect(new Set(expected.rows.map((r) => r.event_date)).size).toBeGreaterThanOrEqual(3);
    // A user's consecutive events on two UTC dates within 30 minutes: a session across midnight.
    const byUser = new Map<string, number[]>();
    for (const v of expected.valid) byUser.set(v.userId, [...(byUser.get(v.userId) ?? []), v.ts]);
    let crossing = 0;
    let exactBoundary = 0;
    for (const list of byUser.values()) {
      list.sort((a, b) => a - b);
      for (let i = 1; i < list.length; i++) {
        const gap = list[i] - list[i - 1];
        if (gap > 0 && gap <= 30 * 60_000 && new Date(list[i]).getUTCDate() !== new Date(list[i - 1]).getUTCDate()) crossing++;
        if (gap === 30 * 60_000) exactBoundary++;
      }
    }
    expect(crossing).toBeGreaterThan(5);
    expect(exactBoundary).toBeGreaterThan(0);
    // A long tail: the most visited page has many more clicks than the median page.
    const byPage = new Map<string, number>();
    for (const r of expected.rows) byPage.set(r.page_url, (byPage.get(r.page_url) ?? 0) + r.clicks);
    const sorted = [...byPage.values()].sort((a, b) => b - a);
    expect(sorted[0]).toBeGreaterThan(20 * sorted[Math.floor(sorted.length / 2)]);
  });

  it('keeps one user\'s distinct events strictly ordered in time', () => {
    const expected = computeExpected(withOffsets(messages));
    const seen = new Map<string, Map<number, string>>();
    for (const v of expected.valid) {
      const times = seen.get(v.userId) ?? new Map<number, string>();
      const other = times.get(v.ts);
      // Two events at the same instant for one user are only allowed when they are the same event.
      if (other !== undefined) expect(other).toBe(v.eventId);
      times.set(v.ts, v.eventId);
      seen.set(v.userId, times);
    }
  });

  it('gives the enrichment a realistic mix: thousands of user agents with a long tail, every device type and channel, country spellings', () => {
    const big = generateClicks({ count: 40_000, seed: 'enrichment', endTime: END, malformedRate: 0, duplicateRate: 0 });
    const offsets = new Map<number, number>();
    const event = mskEvent(big.map((m) => {
      const offset = offsets.get(m.partition) ?? 0;
      offsets.set(m.partition, offset + 1);
      return { partition: m.partition, offset, timestamp: m.timestamp, value: m.value };
    }));
    const result = buildRawObjects(event, { now: () => END, enricher: new Enricher() });
    expect(result.recordsStored).toBe(big.length);
    const lines = result.objects.flatMap((o) => ndjsonLines(o.body));
    const count = (field: string) => {
      const counts = new Map<unknown, number>();
      for (const l of lines) counts.set(l[field], (counts.get(l[field]) ?? 0) + 1);
      return counts;
    };

    // Thousands of distinct user agents; the most common one is far more frequent than the median one.
    const agents = [...count('user_agent').values()].sort((a, b) => b - a);
    expect(agents.length).toBeGreaterThan(1_500);
    expect(agents[0]).toBeGreaterThan(50 * agents[Math.floor(agents.length / 2)]);
    expect([...count('device_type').keys()].sort()).toEqual(['bot', 'desktop', 'mobile', 'other', 'tablet']);
    const bots = new Set(lines.filter((l) => l.is_bot).map((l) => String(l.user_agent).split('/')[0]));
    for (const client of ['curl', 'Wget', 'python-requests', 'Go-http-client', 'okhttp']) expect([client, bots.has(client)]).toEqual([client, true]);

    expect([...count('channel').keys()].sort()).toEqual(['campaign', 'direct', 'email', 'internal', 'paid', 'referral', 'search', 'social']);
    const searchHosts = new Set(lines.filter((l) => l.channel === 'search').map((l) => l.referrer_host));
    for (const host of ['google.com', 'google.co.uk', 'google.com.br', 'bing.com', 'duckduckgo.com', 'search.yahoo.co.jp', 'yandex.ru', 'baidu.com', 'ecosia.org']) {
      expect([host, searchHosts.has(host)]).toEqual([host, true]);
    }
    const socialHosts = new Set(lines.filter((l) => l.channel === 'social' && l.utm_medium === null).map((l) => l.referrer_host));
    for (const host of ['m.facebook.com', 'l.instagram.com', 't.co', 'pinterest.de']) expect([host, socialHosts.has(host)]).toEqual([host, true]);
    // Invalid referrers (present, but not an absolute http(s) URL).
    expect(lines.some((l) => l.referrer !== null && l.referrer_host === null)).toBe(true);
    // UTM values as tools write them: mixed case, empty medium, malformed percent-encoding.
    const texts = big.map((m) => m.value.toString('utf8'));
    expect(texts.some((t) => t.includes('utm_medium=CPC'))).toBe(true);
    expect(texts.some((t) => /utm_medium=(&|")/.test(t))).toBe(true);
    expect(lines.some((l) => l.utm_campaign === '50%off')).toBe(true);

    // Countries as codes, lower case, alpha-3, names, UK, and garbage kept in country_raw.
    for (const spelling of ['"country":"Germany"', '"country":"DEU"', '"country":"UK"', '"country":"de"', '"country":"XK"']) {
      expect([spelling, texts.some((t) => t.includes(spelling))]).toEqual([spelling, true]);
    }
    expect(count('country_raw').size).toBeGreaterThan(3);
  });

  it('rejects bad options', () => {
    expect(() => generateClicks({ count: -1, seed: 1 })).toThrow(/count/);
    expect(() => generateClicks({ count: 10, seed: 1, days: 8 })).toThrow(/days/);
  });
});

describe('messagesFromFile', () => {
  it('produces each non-empty line exactly as given, spread over partitions', () => {
    const bytes = Buffer.concat([Buffer.from('{"a":1}\r\n\n  {"b":2}  \n'), Buffer.from([0xff, 0x0a]), Buffer.from('last')]);
    const m = messagesFromFile(bytes, 3, 1234);
    expect(m.map((x) => x.value.toString('latin1'))).toEqual(['{"a":1}', '  {"b":2}  ', '\xff', 'last']);
    expect(m.map((x) => x.partition)).toEqual([0, 1, 2, 0]);
    expect(m.every((x) => x.timestamp === 1234 && x.kind === 'file')).toBe(true);
  });
});

describe('Prng and Zipf', () => {
  it('are deterministic and skewed', () => {
    const a = new Prng(7), b = new Prng(7);
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
    const z = new Zipf(100, 1.1);
    const r = new Prng(1);
    const hits = new Array(100).fill(0);
    for (let i = 0; i < 20000; i++) hits[z.sample(r)]++;
    expect(hits[0]).toBeGreaterThan(hits[9] * 5);
    expect(hits[99]).toBeGreaterThan(0);
  });
});
