import { documentId, isCalendarDate, MAX_PAGE_URL_BYTES, parseAggregateKey, parseAggregateRow } from '../../lambdas/indexer/documents';

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
  computed_at: '2026-11-02T03:00:00.000Z',
  ...overrides,
});
/** The same row as a line of the aggregate output. */
const row = (overrides: Record<string, unknown> = {}) => JSON.stringify(rowFields(overrides));

describe('parseAggregateKey', () => {
  it('accepts Spark part files and reads the date partition', () => {
    const key = `${PREFIX}event_date=2026-11-01/part-00000-3f1c2a9e-1b2c-4d5e-8f90-123456789abc.c000.json`;
    expect(parseAggregateKey(key)).toEqual({ key, eventDate: '2026-11-01', fileName: 'part-00000-3f1c2a9e-1b2c-4d5e-8f90-123456789abc.c000.json' });
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
  ])('ignores %s (%s)', (key) => {
    expect(parseAggregateKey(key)).toBeUndefined();
  });

  it('honours a configured prefix literally (no regular expression injection)', () => {
    expect(parseAggregateKey('a.b/event_date=2026-11-01/part-1.json', 'a.b/')?.eventDate).toBe('2026-11-01');
    expect(parseAggregateKey('aXb/event_date=2026-11-01/part-1.json', 'a.b/')).toBeUndefined();
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
    const result = parseAggregateRow(row(), '2026-11-01');
    expect(result).toEqual({
      ok: true,
      computedAtMs: Date.UTC(2026, 10, 2, 3, 0, 0),
      row: rowFields(),
    });
  });

  it('takes the partition date when the row has no event_date (Spark partitionBy drops it)', () => {
    const result = parseAggregateRow(row({ event_date: undefined }), '2026-11-01');
    expect(result.ok && result.row.event_date).toBe('2026-11-01');
  });

  it('treats a missing avg_time_spent_seconds as null (Spark drops null fields)', () => {
    const result = parseAggregateRow(row({ timed_views: 0, total_time_spent_seconds: 0, avg_time_spent_seconds: undefined }), '2026-11-01');
    expect(result.ok && result.row.avg_time_spent_seconds).toBeNull();
  });

  it('cuts sub-millisecond digits and converts offsets to UTC', () => {
    const micro = parseAggregateRow(row({ computed_at: '2026-11-02T03:00:00.123456Z' }), '2026-11-01');
    expect(micro.ok && micro.row.computed_at).toBe('2026-11-02T03:00:00.123Z');
    const offset = parseAggregateRow(row({ computed_at: '2026-11-02T05:00:00+02:00' }), '2026-11-01');
    expect(offset.ok && offset.computedAtMs).toBe(Date.UTC(2026, 10, 2, 3));
  });

  it.each([
    ['{"not":', /not valid JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    [row({ event_date: '2026-11-02' }), /does not match the object's partition 2026-11-01/],
    [row({ event_date: '01/11/2026' }), /event_date must be/],
    [row({ page_url: '' }), /page_url/],
    [row({ page_url: 'x'.repeat(MAX_PAGE_URL_BYTES + 1) }), /longer than 8192 bytes/],
    [row({ country: 7 }), /country/],
    [row({ clicks: -1 }), /clicks must be a non-negative integer/],
    [row({ unique_users: 1.5 }), /unique_users/],
    [row({ timed_views: '7' }), /timed_views/],
    [row({ total_time_spent_seconds: null }), /total_time_spent_seconds/],
    [row({ avg_time_spent_seconds: 'n/a' }), /avg_time_spent_seconds/],
    [row({ computed_at: '2026-11-02 03:00:00' }), /computed_at/],
    [row({ computed_at: '2026-11-02T03:00:00' }), /with a zone/],
  ])('rejects %s', (line, reason) => {
    const result = parseAggregateRow(line, '2026-11-01');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });

  it('accepts a page_url of exactly the limit', () => {
    expect(parseAggregateRow(row({ page_url: 'x'.repeat(MAX_PAGE_URL_BYTES) }), '2026-11-01').ok).toBe(true);
  });
});

describe('documentId', () => {
  it('is a stable 64-character hex digest of the three key fields', () => {
    const id = documentId('2026-11-01', 'https://shop.example/p/1', 'DE');
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(documentId('2026-11-01', 'https://shop.example/p/1', 'DE')).toBe(id);
  });

  it('differs when any part differs, also when parts could be re-split', () => {
    const ids = new Set([
      documentId('2026-11-01', 'https://shop.example/p/1', 'DE'),
      documentId('2026-11-02', 'https://shop.example/p/1', 'DE'),
      documentId('2026-11-01', 'https://shop.example/p/2', 'DE'),
      documentId('2026-11-01', 'https://shop.example/p/1', 'FR'),
      documentId('2026-11-01', 'https://shop.example/p/1|D', 'E'),
      documentId('2026-11-01', 'https://shop.example/p/1', '|DE'),
    ]);
    expect(ids.size).toBe(6);
  });

  it('stays short for the longest URLs (OpenSearch ids are at most 512 bytes)', () => {
    expect(documentId('2026-11-01', `https://shop.example/${'a'.repeat(8000)}`, 'DE')).toHaveLength(64);
  });
});
