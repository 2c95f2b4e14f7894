import { createHash } from 'crypto';
import { documentId, isCalendarDate, parseAggregateKey, parseAggregateRow, parseEmptyMarker, rowDocumentId } from '../../lambdas/indexer/documents';
import { TABLE_NAMES } from '../../lambdas/indexer/tables';
import { tableRow } from './fixtures';

const PREFIX = 'aggregates/url_country_daily/';
/** A valid aggregate row of 2026-11-01 with `overrides` (a field set to undefined is left out of the line). */
const rowFields = (overrides: Record<string, unknown> = {}) => ({
  event_date: '2026-11-01',
  page_url: 'https://shop.example/p/1',
  country: 'DE',
  clicks: 10,
  unique_users: 4,
  timed_views: 7,
  total_time_spent_seconds: 123.4,
  avg_time_spent_seconds: 17.63,
  entrances: 3,
  bounces: 1,
  bot_clicks: 2,
  computed_at: '2026-11-02T03:00:00.000Z',
  ...overrides,
});
/** The same row as a line of the aggregate output. */
const row = (overrides: Record<string, unknown> = {}) => JSON.stringify(rowFields(overrides));

describe('parseAggregateKey', () => {
  it('accepts Spark part files and reads the date partition', () => {
    const key = `${PREFIX}event_date=2026-11-01/part-00000-3f1c2a9e-1b2c-4d5e-8f90-123456789abc.c000.json`;
    expect(parseAggregateKey(key)).toEqual({ key, kind: 'part', table: 'url_country_daily', eventDate: '2026-11-01', fileName: 'part-00000-3f1c2a9e-1b2c-4d5e-8f90-123456789abc.c000.json' });
  });

  it.each(TABLE_NAMES.map((table) => [table]))('reads the table %s from the folder below the prefix', (table) => {
    expect(parseAggregateKey(`aggregates/${table}/event_date=2026-11-01/part-00000-x.c000.json`)?.table).toBe(table);
  });

  it("recognises a date's empty marker", () => {
    const key = 'aggregates/geo_daily/event_date=2026-11-01/_empty.json';
    expect(parseAggregateKey(key)).toEqual({ key, kind: 'empty', table: 'geo_daily', eventDate: '2026-11-01', fileName: '_empty.json' });
  });

  it.each([
    [`${PREFIX}_SUCCESS`, 'success marker'],
    [`${PREFIX}event_date=2026-11-01/.part-00000-x.c000.json.crc`, 'checksum file'],
    [`${PREFIX}event_date=2026-11-01/_SUCCESS`, 'marker inside a partition'],
    [`${PREFIX}.spark-staging-4a2b/event_date=2026-11-01/part-00000-x.c000.json`, 'dynamic-overwrite staging file'],
    [`${PREFIX}_temporary/0/_temporary/attempt_1/event_date=2026-11-01/part-00000-x.json`, 'committer temporary file'],
    [`${PREFIX}event_date=2026-02-30/part-00000-x.json`, 'impossible date'],
    [`${PREFIX}event_date=2026-11-01/part-00000-x.csv`, 'not JSON'],
    [`other/url_country_daily/event_date=2026-11-01/part-00000-x.json`, 'other prefix'],
    ['aggregates/unknown_table/event_date=2026-11-01/part-00000-x.json', 'a folder that is no table'],
    ['aggregates/event_date=2026-11-01/part-00000-x.json', 'no table folder'],
    [`${PREFIX}event_date=2026-11-01/_empty.json.tmp`, 'not the marker'],
  ])('ignores %s (%s)', (key) => {
    expect(parseAggregateKey(key)).toBeUndefined();
  });

  it('honours a configured prefix literally (no regular expression injection)', () => {
    expect(parseAggregateKey('a.b/geo_daily/event_date=2026-11-01/part-1.json', 'a.b/')?.eventDate).toBe('2026-11-01');
    expect(parseAggregateKey('aXb/geo_daily/event_date=2026-11-01/part-1.json', 'a.b/')).toBeUndefined();
  });
});

describe('isCalendarDate', () => {
  it('rejects dates that do not exist and accepts leap days', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    expect(isCalendarDate('2026-02-29')).toBe(false);
    expect(isCalendarDate('2026-13-01')).toBe(false);
    expect(isCalendarDate('2026-1-01')).toBe(false);
  });
});

describe('parseAggregateRow', () => {
  it('returns the row with computed_at normalised and its epoch millis', () => {
    const result = parseAggregateRow('url_country_daily', row(), '2026-11-01');
    expect(result).toEqual({
      ok: true,
      computedAtMs: Date.UTC(2026, 10, 2, 3, 0, 0),
      row: rowFields(),
      id: documentId(['2026-11-01', 'https://shop.example/p/1', 'DE']),
    });
  });

  it('takes the partition date when the row has no event_date (Spark partitionBy drops it)', () => {
    const result = parseAggregateRow('url_country_daily', row({ event_date: undefined }), '2026-11-01');
    expect(result.ok && result.row.event_date).toBe('2026-11-01');
  });

  it('treats a missing avg_time_spent_seconds as null (Spark drops null fields)', () => {
    const result = parseAggregateRow('url_country_daily', row({ timed_views: 0, total_time_spent_seconds: 0, avg_time_spent_seconds: undefined }), '2026-11-01');
    expect(result.ok && result.row.avg_time_spent_seconds).toBeNull();
  });

  it('cuts sub-millisecond digits and converts offsets to UTC', () => {
    const micro = parseAggregateRow('url_country_daily', row({ computed_at: '2026-11-02T03:00:00.123456Z' }), '2026-11-01');
    expect(micro.ok && micro.row.computed_at).toBe('2026-11-02T03:00:00.123Z');
    const offset = parseAggregateRow('url_country_daily', row({ computed_at: '2026-11-02T05:00:00+02:00' }), '2026-11-01');
    expect(offset.ok && offset.computedAtMs).toBe(Date.UTC(2026, 10, 2, 3));
  });

  it.each([
    ['{"not":', /not valid JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    [row({ event_date: '2026-11-02' }), /does not match the object's partition 2026-11-01/],
    [row({ event_date: '01/11/2026' }), /event_date must be/],
    [row({ page_url: '' }), /page_url/],
    [row({ page_url: null }), /page_url/],
    [row({ country: undefined }), /country/],
    [row({ country: 7 }), /country/],
    [row({ clicks: -1 }), /clicks must be a non-negative integer/],
    [row({ unique_users: 1.5 }), /unique_users/],
    [row({ timed_views: '7' }), /timed_views/],
    [row({ total_time_spent_seconds: null }), /total_time_spent_seconds/],
    [row({ avg_time_spent_seconds: 'n/a' }), /avg_time_spent_seconds/],
    [row({ entrances: undefined }), /entrances/],
    [row({ bot_clicks: -2 }), /bot_clicks/],
    [row({ computed_at: '2026-11-02 03:00:00' }), /computed_at/],
    [row({ computed_at: '2026-11-02T03:00:00' }), /with a zone/],
  ])('rejects %s', (line, reason) => {
    const result = parseAggregateRow('url_country_daily', line, '2026-11-01');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });

  it('accepts a page_url of any length: the index takes every row the job can write', () => {
    const long = `https://shop.example/${'%E6%96%87'.repeat(4000)}`;
    const result = parseAggregateRow('url_country_daily', row({ page_url: long }), '2026-11-01');
    expect(result.ok && result.row.page_url).toBe(long);
  });

  it('leaves fields the table does not declare out of the document', () => {
    const result = parseAggregateRow('url_country_daily', row({ extra: 1 }), '2026-11-01');
    expect(result.ok && Object.keys(result.row)).toEqual(Object.keys(rowFields()));
  });

  it.each(TABLE_NAMES.map((table) => [table]))('accepts the rows of %s, nulls in nullable grain fields included', (table) => {
    for (let n = 1; n <= 4; n++) {
      const input = tableRow(table, '2026-11-01', '2026-11-02T03:00:00.000Z', n);
      const result = parseAggregateRow(table, JSON.stringify(input), '2026-11-01');
      expect(result).toEqual({ ok: true, row: input, computedAtMs: Date.UTC(2026, 10, 2, 3), id: rowDocumentId(table, input) });
    }
  });

  it('reads a missing nullable grain field as null, and refuses a missing required one', () => {
    const input = tableRow('sessions_daily', '2026-11-01', '2026-11-02T03:00:00.000Z', 3);
    const withoutBrowser = parseAggregateRow('sessions_daily', JSON.stringify({ ...input, browser: undefined }), '2026-11-01');
    expect(withoutBrowser.ok && withoutBrowser.row.browser).toBeNull();
    const withoutChannel = parseAggregateRow('sessions_daily', JSON.stringify({ ...input, channel: undefined }), '2026-11-01');
    expect(!withoutChannel.ok && withoutChannel.reason).toBe('channel must be a non-empty string');
  });

  it('normalises event_hour and checks it is a whole hour of the partition date', () => {
    const input = tableRow('traffic_hourly', '2026-11-01', '2026-11-02T03:00:00.000Z', 5);
    const parse = (eventHour: string) => parseAggregateRow('traffic_hourly', JSON.stringify({ ...input, event_hour: eventHour }), '2026-11-01');
    const offset = parse('2026-11-01T07:00:00+02:00');
    expect(offset.ok && offset.row.event_hour).toBe('2026-11-01T05:00:00.000Z');
    expect(offset.ok && offset.id).toBe(rowDocumentId('traffic_hourly', { ...input, event_hour: '2026-11-01T05:00:00.000Z' }));
    expect(parse('2026-11-01T05:30:00.000Z').ok).toBe(false);
    expect(parse('2026-10-31T23:00:00.000Z')).toEqual({ ok: false, reason: "event_hour 2026-10-31T23:00:00.000Z is not in the object's partition 2026-11-01" });
  });
});

describe('parseEmptyMarker', () => {
  const marker = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({ computed_at: '2026-11-02T03:00:00.000Z', event_date: '2026-11-01', rows: 0, table: 'geo_daily', ...overrides });

  it("returns the computation's instant of a marker as the job writes it", () => {
    expect(parseEmptyMarker(marker(), 'geo_daily', '2026-11-01')).toEqual({ ok: true, computedAtMs: Date.UTC(2026, 10, 2, 3) });
  });

  it.each([
    ['', /not valid JSON/],
    [marker({ table: 'sessions_daily' }), /names table sessions_daily/],
    [marker({ event_date: '2026-11-02' }), /names date 2026-11-02/],
    [marker({ rows: 3 }), /rows: 0/],
    [marker({ computed_at: 'yesterday' }), /computed_at/],
  ])('refuses %s', (text, reason) => {
    const result = parseEmptyMarker(text, 'geo_daily', '2026-11-01');
    expect(!result.ok && result.reason).toMatch(reason);
  });
});

describe('documentId', () => {
  it('is a stable 64-character hex digest of the grain values', () => {
    const id = documentId(['2026-11-01', 'https://shop.example/p/1', 'DE']);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(documentId(['2026-11-01', 'https://shop.example/p/1', 'DE'])).toBe(id);
  });

  it('is the id documents of url_country_daily always had: sha256 of [event_date, page_url, country]', () => {
    const expected = createHash('sha256').update(JSON.stringify(['2026-11-01', 'https://shop.example/p/1', 'DE'])).digest('hex');
    expect(rowDocumentId('url_country_daily', rowFields())).toBe(expected);
  });

  it('differs when any part differs, also when parts could be re-split', () => {
    const ids = new Set([
      documentId(['2026-11-01', 'https://shop.example/p/1', 'DE']),
      documentId(['2026-11-02', 'https://shop.example/p/1', 'DE']),
      documentId(['2026-11-01', 'https://shop.example/p/2', 'DE']),
      documentId(['2026-11-01', 'https://shop.example/p/1', 'FR']),
      documentId(['2026-11-01', 'https://shop.example/p/1|D', 'E']),
      documentId(['2026-11-01', 'https://shop.example/p/1', '|DE']),
    ]);
    expect(ids.size).toBe(6);
  });

  it('keeps null apart from "null" and from the empty string', () => {
    const ids = new Set([documentId(['2026-11-01', 'DE', null]), documentId(['2026-11-01', 'DE', 'null']), documentId(['2026-11-01', 'DE', ''])]);
    expect(ids.size).toBe(3);
  });

  it('stays short for the longest values (OpenSearch ids are at most 512 bytes)', () => {
    expect(documentId(['2026-11-01', `https://shop.example/${'%E6%96%87'.repeat(3000)}`, 'DE'])).toHaveLength(64);
  });
});

describe("the aggregation job's output, as it writes it (glue-scripts/clickstream_job, local Spark run)", () => {
  // One line of each table and an empty marker, verbatim from a run of the job (docs/serving.md).
  const written: Array<[string, string]> = [
    [
      'aggregates/url_country_daily/event_date=2026-11-01/part-00000-683bd126-5f33-4428-acc6-b9171b190522-c000.json',
      '{"event_date":"2026-11-01","page_url":"https://shop.example.com/home","country":"DE","clicks":1,"unique_users":1,"timed_views":0,"total_time_spent_seconds":0.0,"avg_time_spent_seconds":null,"entrances":1,"bounces":1,"bot_clicks":0,"computed_at":"2026-12-01T12:37:17.486Z"}',
    ],
    [
      'aggregates/sessions_daily/event_date=2026-11-01/part-00000-efc3b17a-1b95-4c82-9616-ca76d76f2cfe-c000.json',
      '{"event_date":"2026-11-01","country":"DE","device_type":"desktop","browser":null,"os":null,"channel":"email","sessions":1,"bounces":1,"pageviews":1,"users":1,"total_duration_seconds":0.0,"avg_duration_seconds":0.0,"bounce_rate":1.0,"computed_at":"2026-12-01T12:37:17.486Z"}',
    ],
    [
      'aggregates/traffic_sources_daily/event_date=2026-11-01/part-00000-d58a488b-6e87-482c-8f33-5bd090fc4a4b-c000.json',
      '{"event_date":"2026-11-01","channel":"email","referrer_host":null,"utm_source":"mail","utm_medium":"email","utm_campaign":null,"country":"DE","sessions":1,"bounces":1,"pageviews":1,"users":1,"computed_at":"2026-12-01T12:37:17.486Z"}',
    ],
    [
      'aggregates/geo_daily/event_date=2026-11-01/part-00000-9df07786-f0d4-442a-920d-de62299fc3a7-c000.json',
      '{"event_date":"2026-11-01","country":"DE","city":"Austin","clicks":1,"unique_users":1,"sessions":1,"bot_clicks":0,"computed_at":"2026-12-01T12:37:17.486Z"}',
    ],
    [
      'aggregates/traffic_hourly/event_date=2026-11-01/part-00000-a7cae63e-c8e7-409c-8378-8322c9ff868c-c000.json',
      '{"event_date":"2026-11-01","event_hour":"2026-11-01T10:00:00.000Z","country":"US","device_type":"desktop","clicks":2,"unique_users":1,"sessions":1,"bot_clicks":0,"computed_at":"2026-12-01T12:37:17.486Z"}',
    ],
  ];

  it.each(written)('%s is a part file of its table, and its row is valid and kept whole', (key, line) => {
    const parsed = parseAggregateKey(key);
    expect(parsed).toMatchObject({ kind: 'part', eventDate: '2026-11-01' });
    const result = parseAggregateRow(parsed!.table, line, parsed!.eventDate);
    expect(result).toEqual({ ok: true, row: JSON.parse(line), computedAtMs: Date.parse('2026-12-01T12:37:17.486Z'), id: rowDocumentId(parsed!.table, JSON.parse(line)) });
  });

  it("reads the job's empty marker (Python's json.dumps with sorted keys)", () => {
    const key = 'aggregates/geo_daily/event_date=2026-11-01/_empty.json';
    const text = '{"computed_at": "2026-12-01T12:37:07.117Z", "event_date": "2026-11-01", "rows": 0, "table": "geo_daily"}';
    const parsed = parseAggregateKey(key)!;
    expect(parseEmptyMarker(text, parsed.table, parsed.eventDate)).toEqual({ ok: true, computedAtMs: Date.parse('2026-12-01T12:37:07.117Z') });
  });
});
