import { buildRawObjects, type IngestCoreConfig, type RawObject } from '../../lambdas/ingest/core';
import { REJECTION_REASONS, type RejectionReason } from '../../lambdas/ingest/reasons';
import { clickEvent, DEFAULT_KAFKA_TS, mskEvent, ndjsonLines, type RecordSpec } from './fixtures';

/** Runs one message through the core and returns what became of it. */
function ingestOne(value: unknown, extra: Partial<RecordSpec> = {}, config: IngestCoreConfig = {}) {
  const result = buildRawObjects(mskEvent([{ offset: 7, ...extra, value }]), config);
  expect(result.recordsIn).toBe(1);
  expect(result.objects).toHaveLength(1);
  const [object] = result.objects;
  const [line] = ndjsonLines(object.body);
  return { result, object, line };
}

function stored(value: unknown, extra: Partial<RecordSpec> = {}): Record<string, unknown> {
  const { object, line } = ingestOne(value, extra);
  expect(object.kind).toBe('events');
  return line;
}

function rejected(value: unknown, extra: Partial<RecordSpec> = {}, config: IngestCoreConfig = {}): Record<string, unknown> {
  const { object, line, result } = ingestOne(value, extra, config);
  expect(object.kind).toBe('quarantine');
  expect(result.quarantinedByReason[line.reason as RejectionReason]).toBe(1);
  return line;
}

describe('canonical record (SPEC §2)', () => {
  it('carries exactly the SPEC field set, in order, normalized', () => {
    const line = stored(clickEvent({ unknown_field: 'ignored', nested: { a: 1 } }), { offset: 41, partition: 2 });
    expect(Object.keys(line)).toEqual([
      'event_id', 'user_id', 'session_id', 'ts', 'url', 'page_url', 'country', 'city', 'user_agent', 'referrer', 'kafka',
      'country_raw', 'device_type', 'browser', 'os', 'is_bot', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer_host', 'channel',
    ]);
    expect(line).toEqual({
      event_id: 'e-1',
      user_id: 'u-1',
      session_id: 's-1',
      ts: '2024-05-01T11:59:00.123Z',
      url: 'https://Shop.Example.com/products/42/?ref=home#top',
      page_url: 'https://shop.example.com/products/42',
      country: 'DE',
      city: 'Berlin',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
      referrer: 'https://www.google.com/',
      kafka: { topic: 'clickstream', partition: 2, offset: 41, timestamp: DEFAULT_KAFKA_TS },
      country_raw: null,
      device_type: 'desktop',
      browser: null,
      os: 'Linux',
      is_bot: false,
      utm_source: null,
      utm_medium: null,
      utm_campaign: null,
      referrer_host: 'google.com',
      channel: 'search',
    });
  });

  it('accepts the camelCase aliases', () => {
    const line = stored({
      userId: 'u-9', ts: 1714564000000, url: 'http://a.example/', eventId: 'ev-9', sessionId: 'sess-9', userAgent: 'UA/1',
    });
    expect(line).toMatchObject({
      user_id: 'u-9', ts: new Date(1714564000000).toISOString(), event_id: 'ev-9', session_id: 'sess-9', user_agent: 'UA/1',
    });
  });

  it('prefers the snake_case field when both are given, and falls back to the alias when it is null', () => {
    expect(stored(clickEvent({ user_id: 'snake', userId: 'camel' })).user_id).toBe('snake');
    expect(stored(clickEvent({ user_id: null, userId: 'camel' })).user_id).toBe('camel');
    expect(stored(clickEvent({ timestamp: null, ts: '2024-05-01T10:00:00Z' })).ts).toBe('2024-05-01T10:00:00.000Z');
  });

  it('fills optional fields with null and country with "unknown" when they are missing', () => {
    const line = stored({ user_id: 'u', timestamp: '2024-05-01T10:00:00Z', url: 'https://x.example/a' }, { offset: 12, partition: 3 });
    expect(line).toMatchObject({
      event_id: 'clickstream-3-12', session_id: null, country: 'unknown', city: null, user_agent: null, referrer: null,
    });
  });

  it('assigns <topic>-<partition>-<offset> when event_id is missing, null or blank', () => {
    for (const eventId of [undefined, null, '', '   ']) {
      expect(stored(clickEvent({ event_id: eventId }), { topic: 'clicks.v2', partition: 4, offset: 99 }).event_id).toBe('clicks.v2-4-99');
    }
  });

  it('keeps session_id and referrer exactly as given', () => {
    const line = stored(clickEvent({ session_id: '  S 1 ', referrer: ' not even a URL ' }));
    expect(line.session_id).toBe('  S 1 ');
    expect(line.referrer).toBe(' not even a URL ');
  });

  it('keeps url exactly as received', () => {
    expect(stored(clickEvent({ url: '  HTTP://Example.COM/A/b/  ' })).url).toBe('  HTTP://Example.COM/A/b/  ');
  });

  it('accepts a UTF-8 byte order mark before the JSON', () => {
    expect(stored('\ufeff' + JSON.stringify(clickEvent())).user_id).toBe('u-1');
  });
});

describe('timestamp rules', () => {
  const ts = (timestamp: unknown, kafkaTs = DEFAULT_KAFKA_TS) => stored(clickEvent({ timestamp }), { timestamp: kafkaTs }).ts;
  const reason = (timestamp: unknown, kafkaTs = DEFAULT_KAFKA_TS) => rejected(clickEvent({ timestamp }), { timestamp: kafkaTs }).reason;

  it.each([
    ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00.5Z', '2024-05-01T10:00:00.500Z'],
    ['2024-05-01T10:00:00.123456789Z', '2024-05-01T10:00:00.123Z'],
    ['2024-05-01T10:00:00.999999Z', '2024-05-01T10:00:00.999Z'],
    ['2024-05-01T12:30:00+02:00', '2024-05-01T10:30:00.000Z'],
    ['2024-05-01T05:30:00-0430', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T11:00:00+01', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01t10:00:00z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01 10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00,25Z', '2024-05-01T10:00:00.250Z'],
    ['2024-05-02T00:30:00+01:00', '2024-05-01T23:30:00.000Z'],
    ['2024-02-29T10:00:00Z', '2024-02-29T10:00:00.000Z'],
    ['2000-01-01T00:00:00Z', '2000-01-01T00:00:00.000Z'],
    [1714557600000, '2024-05-01T10:00:00.000Z'],
    [946684800000, '2000-01-01T00:00:00.000Z'],
  ])('accepts %j as %s', (input, expected) => {
    expect(ts(input)).toBe(expected);
  });

  it.each([
    ['2024-05-01T10:00:00'],
    ['2024-05-01'],
    ['2024-05-01T10:00:00.000'],
    ['2024-13-01T10:00:00Z'],
    ['2024-00-10T10:00:00Z'],
    ['2023-02-29T10:00:00Z'],
    ['2024-04-31T10:00:00Z'],
    ['2024-05-01T24:00:00Z'],
    ['2024-05-01T10:60:00Z'],
    ['2016-12-31T23:59:60Z'],
    ['2024-05-01T10:00:00+24:00'],
    ['2024-05-01T10:00:00+02:60'],
    ['Wed, 01 May 2024 10:00:00 GMT'],
    ['1714557600000'],
    [''],
    [1714557600000.5],
    [true],
    [{ iso: '2024-05-01T10:00:00Z' }],
    [[1714557600000]],
  ])('rejects %j as bad_timestamp', (input) => {
    expect(reason(input)).toBe('bad_timestamp');
  });

  it('rejects events before 2000-01-01 as timestamp_too_old (epoch seconds land here too)', () => {
    expect(reason('1999-12-31T23:59:59.999Z')).toBe('timestamp_too_old');
    expect(reason(946684799999)).toBe('timestamp_too_old');
    expect(reason(1714557600)).toBe('timestamp_too_old');
    expect(reason(-1)).toBe('timestamp_too_old');
    expect(reason('0099-05-01T10:00:00Z')).toBe('timestamp_too_old');
  });

  it('allows up to exactly 24 h after the Kafka timestamp and rejects anything later', () => {
    const kafkaTs = Date.UTC(2024, 4, 1, 12, 0, 0);
    expect(ts(kafkaTs + 24 * 3600_000, kafkaTs)).toBe('2024-05-02T12:00:00.000Z');
    expect(reason(kafkaTs + 24 * 3600_000 + 1, kafkaTs)).toBe('timestamp_in_future');
    expect(reason('2024-05-02T12:00:00.001Z', kafkaTs)).toBe('timestamp_in_future');
    expect(reason('9999-12-31T23:59:59Z', kafkaTs)).toBe('timestamp_in_future');
    expect(reason(Number.MAX_SAFE_INTEGER, kafkaTs)).toBe('timestamp_in_future');
  });

  it('reports a missing timestamp (absent or null under both names)', () => {
    expect(reason(undefined)).toBe('missing_timestamp');
    expect(rejected(clickEvent({ timestamp: null, ts: null })).reason).toBe('missing_timestamp');
  });

  it('measures the future bound from the clock when the Kafka record has no valid timestamp', () => {
    const clock = Date.UTC(2024, 6, 1);
    const event = mskEvent([
      { offset: 1, timestamp: -1, value: clickEvent({ timestamp: clock + 3600_000 }) },
      { offset: 2, timestamp: -1, value: clickEvent({ timestamp: clock + 25 * 3600_000 }) },
    ]);
    const result = buildRawObjects(event, { now: () => clock });
    expect(result.recordsStored).toBe(1);
    expect(result.quarantinedByReason).toEqual({ timestamp_in_future: 1 });
    const events = result.objects.find((o) => o.kind === 'events')!;
    expect((ndjsonLines(events.body)[0].kafka as Record<string, unknown>).timestamp).toBe(clock);
    expect(result.objects.find((o) => o.kind === 'quarantine')!.key).toBe('quarantine/dt=2024-07-01/clickstream-0-2-2.ndjson.gz');
  });
});

describe('url and page_url', () => {
  const page = (url: string) => stored(clickEvent({ url })).page_url;

  it.each([
    ['https://Shop.Example.COM/Products/42/', 'https://shop.example.com/Products/42'],
    ['HTTPS://EXAMPLE.COM', 'https://example.com/'],
    ['http://example.com/', 'http://example.com/'],
    ['http://example.com/a/b?x=1&y=2#frag', 'http://example.com/a/b'],
    ['http://example.com/a///', 'http://example.com/a'],
    ['http://example.com///', 'http://example.com/'],
    ['http://example.com:80/a', 'http://example.com/a'],
    ['https://example.com:443/a', 'https://example.com/a'],
    ['https://example.com:8443/a/', 'https://example.com:8443/a'],
    ['https://user:secret@example.com/a', 'https://example.com/a'],
    ['https://example.com/a/./b/../c', 'https://example.com/a/c'],
    ['https://example.com/Caf%C3%A9', 'https://example.com/Caf%C3%A9'],
    ['https://example.com/a b', 'https://example.com/a%20b'],
    ['https://bücher.example/x', 'https://xn--bcher-kva.example/x'],
    ['http://127.0.0.1:3000/dash/', 'http://127.0.0.1:3000/dash'],
    ['  https://example.com/padded  ', 'https://example.com/padded'],
    ['https://example.com?only=query', 'https://example.com/'],
  ])('%s -> %s', (url, expected) => {
    expect(page(url)).toBe(expected);
  });

  it.each([
    ['/relative/path'],
    ['example.com/no-scheme'],
    ['ftp://example.com/file'],
    ['javascript:alert(1)'],
    ['mailto:a@example.com'],
    ['http://'],
    ['https:///nohost'],
    ['https:\\\\example.com\\a'],
    ['http:example.com'],
    ['https://exa mple.com/'],
    ['https://[::1/'],
    [''],
  ])('rejects %j as bad_url', (url) => {
    expect(rejected(clickEvent({ url })).reason).toBe('bad_url');
  });

  it('rejects a url that is not a string as bad_url', () => {
    expect(rejected(clickEvent({ url: 42 })).reason).toBe('bad_url');
    expect(rejected(clickEvent({ url: { href: 'https://x.example/' } })).reason).toBe('bad_url');
  });

  it('reports a missing url', () => {
    expect(rejected(clickEvent({ url: undefined })).reason).toBe('missing_url');
    expect(rejected(clickEvent({ url: null })).reason).toBe('missing_url');
  });

  it('limits url to 8 KiB of UTF-8', () => {
    const base = 'https://example.com/';
    expect(stored(clickEvent({ url: base + 'a'.repeat(8192 - base.length) })).page_url).toHaveLength(8192);
    const tooLong = rejected(clickEvent({ url: base + 'a'.repeat(8193 - base.length) }));
    expect(tooLong).toMatchObject({ reason: 'too_large', field: 'url' });
    // 2 characters but 4 bytes each: the limit is in bytes, not characters.
    const emoji = '\u{1F600}';
    const n = Math.floor((8192 - base.length) / 4) + 1;
    expect(rejected(clickEvent({ url: base + emoji.repeat(n) }))).toMatchObject({ reason: 'too_large', field: 'url' });
  });
});

describe('country and city', () => {
  it.each([
    ['de', 'DE'],
    [' us ', 'US'],
    ['Fr', 'FR'],
    ['Germany', 'DE'],
    ['usa', 'US'],
    ['  Côte d’Ivoire ', 'CI'],
    ['Atlantis', 'unknown'],
    ['', 'unknown'],
    ['   ', 'unknown'],
    [null, 'unknown'],
    [undefined, 'unknown'],
  ])('country %j -> %j', (country, expected) => {
    expect(stored(clickEvent({ country })).country).toBe(expected);
  });

  it.each([
    [' Berlin ', 'Berlin'],
    ['São Paulo', 'São Paulo'],
    ['', null],
    ['  ', null],
    [null, null],
    [undefined, null],
  ])('city %j -> %j', (city, expected) => {
    expect(stored(clickEvent({ city })).city).toBe(expected);
  });
});

describe('field types and limits', () => {
  it.each([
    ['country', 49],
    ['city', ['Berlin']],
    ['user_agent', { ua: 'x' }],
    ['userAgent', 5],
    ['event_id', 12345],
    ['eventId', true],
    ['session_id', 7],
    ['sessionId', ['s']],
    ['referrer', false],
  ])('rejects a %s of the wrong type as bad_field_type naming the field', (field, value) => {
    const line = rejected({ ...clickEvent(), user_agent: undefined, event_id: undefined, session_id: undefined, [field]: value });
    expect(line.reason).toBe('bad_field_type');
    expect(line.field).toBe(field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  });

  it('limits user_agent to 4 KiB of UTF-8', () => {
    expect(stored(clickEvent({ user_agent: 'u'.repeat(4096) })).user_agent).toHaveLength(4096);
    expect(rejected(clickEvent({ user_agent: 'u'.repeat(4097) }))).toMatchObject({ reason: 'too_large', field: 'user_agent' });
    expect(rejected(clickEvent({ user_agent: 'é'.repeat(2049) }))).toMatchObject({ reason: 'too_large', field: 'user_agent' });
  });

  it('requires a non-empty user id of at most 256 characters', () => {
    expect(rejected(clickEvent({ user_id: undefined })).reason).toBe('missing_user_id');
    expect(rejected(clickEvent({ user_id: null })).reason).toBe('missing_user_id');
    expect(rejected(clickEvent({ user_id: 12345 })).reason).toBe('bad_user_id');
    expect(rejected(clickEvent({ user_id: '' })).reason).toBe('bad_user_id');
    expect(rejected(clickEvent({ user_id: ' \t ' })).reason).toBe('bad_user_id');
    expect(stored(clickEvent({ user_id: 'x'.repeat(256) })).user_id).toHaveLength(256);
    expect(rejected(clickEvent({ user_id: 'x'.repeat(257) }))).toMatchObject({ reason: 'too_large', field: 'user_id' });
    // 256 characters outside the BMP are 512 UTF-16 units but still 256 characters.
    expect(stored(clickEvent({ user_id: '\u{1F600}'.repeat(256) })).user_id).toBe('\u{1F600}'.repeat(256));
    expect(rejected(clickEvent({ user_id: '\u{1F600}'.repeat(257) })).reason).toBe('too_large');
  });

  it('checks required fields in the order user_id, timestamp, url', () => {
    expect(rejected({ url: 'nope' }).reason).toBe('missing_user_id');
    expect(rejected({ user_id: 'u', url: 'nope' }).reason).toBe('missing_timestamp');
    expect(rejected({ user_id: 'u', timestamp: '2024-05-01T10:00:00Z' }).reason).toBe('missing_url');
  });
});

describe('undecodable messages', () => {
  it('quarantines a tombstone (null value)', () => {
    expect(rejected(null)).toMatchObject({ reason: 'null_value', value: null, encoding: null });
  });

  it('quarantines invalid UTF-8 with the value in base64', () => {
    const bytes = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    const line = rejected(bytes);
    expect(line).toMatchObject({ reason: 'invalid_utf8', encoding: 'base64' });
    expect(Buffer.from(line.value as string, 'base64').equals(bytes)).toBe(true);
  });

  it.each([['not json'], [''], ['{"user_id": "u",'], ['{user_id: "u"}']])('quarantines %j as invalid_json, keeping the text', (text) => {
    expect(rejected(text)).toMatchObject({ reason: 'invalid_json', value: text, encoding: 'utf8' });
  });

  it.each([['[1,2]'], ['"a string"'], ['42'], ['null'], ['true']])('quarantines the JSON %s as not_an_object', (text) => {
    expect(rejected(text).reason).toBe('not_an_object');
  });
});

describe('quarantine lines', () => {
  it('carry reason, field, origin, key and the original value as text', () => {
    const value = JSON.stringify(clickEvent({ url: 'ftp://x' }));
    const line = rejected(value, { offset: 17, partition: 1, timestamp: Date.UTC(2024, 4, 3, 8), key: 'a2V5' });
    expect(line).toEqual({
      reason: 'bad_url',
      field: 'url',
      detail: 'url is not an absolute http(s) URL',
      topic: 'clickstream',
      partition: 1,
      offset: 17,
      kafka_timestamp: Date.UTC(2024, 4, 3, 8),
      key: 'a2V5',
      value,
      encoding: 'utf8',
    });
  });

  it('are partitioned by the date of the Kafka timestamp, not the event time', () => {
    const { object } = ingestOne(clickEvent({ user_id: '' }), { timestamp: Date.UTC(2024, 0, 2, 23, 59), offset: 3 });
    expect(object.key).toBe('quarantine/dt=2024-01-02/clickstream-0-3-3.ndjson.gz');
  });

  it('record a missing key as null', () => {
    expect(rejected('x', { key: null }).key).toBeNull();
  });
});

describe('every rejection reason', () => {
  const examples: Record<RejectionReason, unknown> = {
    null_value: null,
    invalid_utf8: Buffer.from([0xff]),
    invalid_json: '{',
    not_an_object: '[]',
    missing_user_id: clickEvent({ user_id: undefined }),
    bad_user_id: clickEvent({ user_id: 1 }),
    missing_timestamp: clickEvent({ timestamp: undefined }),
    bad_timestamp: clickEvent({ timestamp: 'yesterday' }),
    timestamp_too_old: clickEvent({ timestamp: '1999-01-01T00:00:00Z' }),
    timestamp_in_future: clickEvent({ timestamp: '2030-01-01T00:00:00Z' }),
    missing_url: clickEvent({ url: undefined }),
    bad_url: clickEvent({ url: 'not a url' }),
    too_large: clickEvent({ user_agent: 'x'.repeat(5000) }),
    bad_field_type: clickEvent({ city: 1 }),
    timestamp_older_than_max_age: clickEvent({ timestamp: '2024-03-01T00:00:00Z' }),
  };
  // The maximum age is a deployment setting: its example runs with one (30 days before the record).
  const configs: Partial<Record<RejectionReason, IngestCoreConfig>> = {
    timestamp_older_than_max_age: { maxEventAgeDays: 30, now: () => DEFAULT_KAFKA_TS },
  };

  it.each(REJECTION_REASONS.map((r) => [r]))('%s is produced by its example and counted', (reason) => {
    expect(rejected(examples[reason], {}, configs[reason]).reason).toBe(reason);
  });
});

describe('objects and keys (SPEC §2)', () => {
  const hourTs = (h: number, m = 0) => new Date(Date.UTC(2024, 4, 1, h, m)).toISOString();

  it('groups a mixed batch by partition and event hour, keyed by the offsets in each object', () => {
    const specs: RecordSpec[] = [
      { partition: 0, offset: 100, value: clickEvent({ event_id: 'a', timestamp: hourTs(9, 5) }) },
      { partition: 0, offset: 101, value: clickEvent({ event_id: 'b', timestamp: hourTs(10, 1) }) },
      { partition: 0, offset: 102, value: 'garbage' },
      { partition: 0, offset: 103, value: clickEvent({ event_id: 'c', timestamp: hourTs(9, 59) }) },
      { partition: 0, offset: 104, value: clickEvent({ event_id: 'd', timestamp: hourTs(10, 30) }) },
      { partition: 1, offset: 7, value: clickEvent({ event_id: 'e', timestamp: hourTs(9, 0) }) },
      { partition: 1, offset: 8, value: clickEvent({ event_id: 'f', url: 'nope' }) },
      { topic: 'other', partition: 0, offset: 1, value: clickEvent({ event_id: 'g', timestamp: hourTs(11) }) },
    ];
    const result = buildRawObjects(mskEvent(specs));
    expect(result.objects.map((o) => [o.key, o.recordCount])).toEqual([
      ['events/dt=2024-05-01/hr=09/clickstream-0-100-103.ndjson.gz', 2],
      ['events/dt=2024-05-01/hr=09/clickstream-1-7-7.ndjson.gz', 1],
      ['events/dt=2024-05-01/hr=10/clickstream-0-101-104.ndjson.gz', 2],
      ['events/dt=2024-05-01/hr=11/other-0-1-1.ndjson.gz', 1],
      ['quarantine/dt=2024-05-01/clickstream-0-102-102.ndjson.gz', 1],
      ['quarantine/dt=2024-05-01/clickstream-1-8-8.ndjson.gz', 1],
    ]);
    expect(ndjsonLines(result.objects[0].body).map((l) => l.event_id)).toEqual(['a', 'c']);
    expect(ndjsonLines(result.objects[2].body).map((l) => l.event_id)).toEqual(['b', 'd']);
    expect(result).toMatchObject({ recordsIn: 8, recordsStored: 6, recordsQuarantined: 2 });
    expect(result.quarantinedByReason).toEqual({ invalid_json: 1, bad_url: 1 });
  });

  it('partitions by the UTC date and hour of the event, across midnight', () => {
    const result = buildRawObjects(
      mskEvent([
        { offset: 1, value: clickEvent({ timestamp: '2024-05-01T00:30:00+02:00' }) },
        { offset: 2, value: clickEvent({ timestamp: '2024-04-30T23:59:59.999Z' }) },
        { offset: 3, value: clickEvent({ timestamp: '2024-05-01T00:00:00Z' }) },
      ]),
    );
    expect(result.objects.map((o) => o.key)).toEqual([
      'events/dt=2024-04-30/hr=22/clickstream-0-1-1.ndjson.gz',
      'events/dt=2024-04-30/hr=23/clickstream-0-2-2.ndjson.gz',
      'events/dt=2024-05-01/hr=00/clickstream-0-3-3.ndjson.gz',
    ]);
  });

  it('gives a redelivered batch byte-identical objects under the same keys', () => {
    const specs: RecordSpec[] = Array.from({ length: 50 }, (_, i) => ({
      partition: i % 3,
      offset: 1000 + i,
      value: i % 7 === 0 ? 'bad' : clickEvent({ event_id: `e${i}`, timestamp: hourTs(8 + (i % 4)) }),
    }));
    const first = buildRawObjects(mskEvent(specs));
    const again = buildRawObjects(mskEvent(specs));
    const shuffled = buildRawObjects(mskEvent([...specs].reverse()));
    const view = (objects: RawObject[]) => objects.map((o) => [o.key, o.body.toString('base64')]);
    expect(view(again.objects)).toEqual(view(first.objects));
    expect(view(shuffled.objects)).toEqual(view(first.objects));
  });

  it('gives a batch redelivered with other boundaries other keys but the same event ids (Spark dedupes them)', () => {
    const specs: RecordSpec[] = Array.from({ length: 10 }, (_, i) => ({ offset: i, value: clickEvent({ event_id: `e${i}` }) }));
    const whole = buildRawObjects(mskEvent(specs));
    const halves = [buildRawObjects(mskEvent(specs.slice(0, 5))), buildRawObjects(mskEvent(specs.slice(5)))];
    expect(whole.objects.map((o) => o.key)).toEqual(['events/dt=2024-05-01/hr=11/clickstream-0-0-9.ndjson.gz']);
    expect(halves.flatMap((h) => h.objects.map((o) => o.key))).toEqual([
      'events/dt=2024-05-01/hr=11/clickstream-0-0-4.ndjson.gz',
      'events/dt=2024-05-01/hr=11/clickstream-0-5-9.ndjson.gz',
    ]);
    const ids = (objects: RawObject[]) => objects.flatMap((o) => ndjsonLines(o.body).map((l) => l.event_id)).sort();
    expect(ids(halves.flatMap((h) => h.objects))).toEqual(ids(whole.objects));
  });

  it('uses the configured prefixes, adding the slash when it is missing', () => {
    const result = buildRawObjects(mskEvent([{ offset: 1, value: clickEvent() }, { offset: 2, value: 'x' }]), {
      eventsPrefix: 'raw/ev',
      quarantinePrefix: 'raw/bad/',
    });
    expect(result.objects.map((o) => o.key)).toEqual([
      'raw/bad/dt=2024-05-01/clickstream-0-2-2.ndjson.gz',
      'raw/ev/dt=2024-05-01/hr=11/clickstream-0-1-1.ndjson.gz',
    ]);
  });

  it('returns nothing for an empty event', () => {
    expect(buildRawObjects(mskEvent([]))).toMatchObject({ objects: [], recordsIn: 0, recordsStored: 0, recordsQuarantined: 0 });
  });

  it('counts the decoded value bytes', () => {
    expect(buildRawObjects(mskEvent([{ offset: 1, value: 'abc' }, { offset: 2, value: null }])).valueBytesIn).toBe(3);
  });

  it('refuses an event whose origin Kafka could not have produced', () => {
    const event = mskEvent([{ offset: 1, value: clickEvent() }]);
    event.records['clickstream-0'][0].topic = '../../etc';
    expect(() => buildRawObjects(event)).toThrow(/invalid topic name/);
    const negative = mskEvent([{ offset: -5, value: clickEvent() }]);
    expect(() => buildRawObjects(negative)).toThrow(/invalid offset/);
  });
});
