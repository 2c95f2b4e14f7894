import { aggregate, computeExpected, diffRows, normalizePageUrl, validateMessage, type ProducedMessage, type ValidEvent } from '../../local/expected';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const MIN = 60_000;

function msg(value: unknown, opts: { offset?: number; timestamp?: number; raw?: Buffer } = {}): ProducedMessage {
  return {
    topic: 'clickstream',
    partition: 0,
    offset: opts.offset ?? 0,
    timestamp: opts.timestamp ?? T0,
    value: opts.raw ?? Buffer.from(JSON.stringify(value)),
  };
}

function ev(userId: string, ts: number, pageUrl: string, extra: Partial<ValidEvent> = {}): ValidEvent {
  return { eventId: extra.eventId ?? `${userId}-${ts}`, userId, ts, pageUrl, country: extra.country ?? 'DE', partition: 0, offset: 0 };
}

const good = { user_id: 'u1', timestamp: '2026-11-20T09:59:00.000Z', url: 'https://Shop.Example.com/a/?q=1#x', country: ' de ' };

describe('validateMessage (SPEC §1)', () => {
  it('accepts a valid message and normalizes country, page_url and the missing event id', () => {
    const v = validateMessage(msg(good, { offset: 42 }));
    expect(v).toEqual({
      ok: true,
      event: { eventId: 'clickstream-0-42', userId: 'u1', ts: Date.UTC(2026, 10, 20, 9, 59), pageUrl: 'https://shop.example.com/a', country: 'DE', partition: 0, offset: 42 },
    });
  });

  it('accepts camelCase aliases, epoch milliseconds and +hh:mm zones', () => {
    const a = validateMessage(msg({ userId: 'u2', ts: T0 - MIN, url: 'http://x.example/', eventId: 'e1' }));
    expect(a.ok && a.event).toMatchObject({ userId: 'u2', ts: T0 - MIN, pageUrl: 'http://x.example/', eventId: 'e1', country: 'unknown' });
    const b = validateMessage(msg({ ...good, timestamp: '2026-11-20T11:30:00.250+02:00' }));
    expect(b.ok && b.event.ts).toBe(Date.UTC(2026, 10, 20, 9, 30, 0, 250));
  });

  it.each([
    ['not UTF-8', null, Buffer.from([0x7b, 0xff, 0x7d]), 'invalid_utf8'],
    ['not JSON', null, Buffer.from('user=1'), 'invalid_json'],
    ['an array', [good], undefined, 'not_a_json_object'],
    ['an empty user id', { ...good, user_id: '' }, undefined, 'bad_user_id'],
    ['a numeric user id', { ...good, user_id: 7 }, undefined, 'bad_user_id'],
    ['a 257-character user id', { ...good, user_id: 'u'.repeat(257) }, undefined, 'user_id_too_long'],
    ['a timestamp without zone', { ...good, timestamp: '2026-11-20T09:59:00' }, undefined, 'timestamp_not_iso_with_zone'],
    ['February 30', { ...good, timestamp: '2026-02-30T09:59:00Z' }, undefined, 'timestamp_not_iso_with_zone'],
    ['a timestamp before 2000', { ...good, timestamp: '1999-12-31T23:59:59.999Z' }, undefined, 'timestamp_before_2000'],
    ['a timestamp 24 h + 1 ms after the record', { ...good, timestamp: T0 + 24 * 60 * MIN + 1 }, undefined, 'timestamp_in_future'],
    ['an ftp url', { ...good, url: 'ftp://x.example/a' }, undefined, 'url_not_absolute_http'],
    ['a relative url', { ...good, url: '/a' }, undefined, 'url_not_absolute_http'],
    ['a url over 8 KiB', { ...good, url: `https://x.example/${'a'.repeat(8192)}` }, undefined, 'url_too_long'],
    ['a user agent over 4 KiB', { ...good, user_agent: 'a'.repeat(4097) }, undefined, 'user_agent_too_long'],
  ])('rejects %s', (_name, value, raw, reason) => {
    expect(validateMessage(msg(value, { raw }))).toEqual({ ok: false, reason });
  });

  it('keeps the limits inclusive: 256 characters, exactly 24 h ahead', () => {
    expect(validateMessage(msg({ ...good, user_id: 'u'.repeat(256) })).ok).toBe(true);
    expect(validateMessage(msg({ ...good, timestamp: T0 + 24 * 60 * MIN })).ok).toBe(true);
  });
});

describe('normalizePageUrl', () => {
  it.each([
    ['HTTPS://Shop.Example.COM/Path/To/?a=1#f', 'https://shop.example.com/Path/To'],
    ['https://shop.example.com/', 'https://shop.example.com/'],
    ['https://shop.example.com', 'https://shop.example.com/'],
    ['https://shop.example.com/?utm=1', 'https://shop.example.com/'],
  ])('%s -> %s', (url, expected) => expect(normalizePageUrl(url)).toBe(expected));
});

describe('aggregate (SPEC §3)', () => {
  it('gives each event the time to the same user\'s next event, and none to the exit', () => {
    const { rows } = aggregate([ev('u1', T0, 'p1'), ev('u1', T0 + 90_000, 'p2'), ev('u1', T0 + 150_500, 'p1'), ev('u2', T0 + 10_000, 'p1')]);
    const p1 = rows.find((r) => r.page_url === 'p1')!;
    const p2 = rows.find((r) => r.page_url === 'p2')!;
    expect(p1).toEqual({ event_date: '2026-11-20', page_url: 'p1', country: 'DE', clicks: 3, unique_users: 2, timed_views: 1, total_time_spent_seconds: 90, avg_time_spent_seconds: 90 });
    expect(p2).toMatchObject({ clicks: 1, timed_views: 1, total_time_spent_seconds: 60.5, avg_time_spent_seconds: 60.5 });
  });

  it('splits sessions on a gap of more than 30 minutes, not on exactly 30', () => {
    const { rows } = aggregate([ev('u1', T0, 'a'), ev('u1', T0 + 30 * MIN, 'b'), ev('u1', T0 + 60 * MIN + 1, 'c')]);
    expect(rows.map((r) => [r.page_url, r.timed_views, r.total_time_spent_seconds])).toEqual([['a', 1, 1800], ['b', 0, 0], ['c', 0, 0]]);
    expect(rows.find((r) => r.page_url === 'b')!.avg_time_spent_seconds).toBeNull();
  });

  it('gives the earlier day the time of a session that crosses midnight', () => {
    const midnight = Date.UTC(2026, 10, 21);
    const { rows } = aggregate([ev('u1', midnight - 5 * MIN, 'a'), ev('u1', midnight + 2 * MIN, 'b')]);
    expect(rows).toEqual([
      expect.objectContaining({ event_date: '2026-11-20', page_url: 'a', timed_views: 1, total_time_spent_seconds: 420 }),
      expect.objectContaining({ event_date: '2026-11-21', page_url: 'b', timed_views: 0 }),
    ]);
  });

  it('counts a duplicated event id once', () => {
    const a = ev('u1', T0, 'a', { eventId: 'same' });
    const { rows, distinct } = aggregate([a, a, ev('u1', T0 + MIN, 'a')]);
    expect(distinct).toBe(2);
    expect(rows[0]).toMatchObject({ clicks: 2, timed_views: 1, total_time_spent_seconds: 60 });
  });

  it('keeps countries apart and groups by the UTC date', () => {
    const { rows } = aggregate([ev('u1', Date.UTC(2026, 10, 20, 23, 0), 'a', { country: 'US' }), ev('u2', Date.UTC(2026, 10, 21, 1, 0), 'a', { country: 'unknown' })]);
    expect(rows.map((r) => `${r.event_date}/${r.country}`)).toEqual(['2026-11-20/US', '2026-11-21/unknown']);
  });
});

describe('computeExpected and diffRows', () => {
  it('separates valid from rejected messages and finds every kind of difference', () => {
    const e = computeExpected([msg(good, { offset: 0 }), msg({ ...good, url: 'nope' }, { offset: 1 })]);
    expect(e.valid.map((v) => v.offset)).toEqual([0]);
    expect(e.rejected).toEqual([{ partition: 0, offset: 1, reason: 'url_not_absolute_http' }]);
    const row = e.rows[0];
    expect(diffRows(e.rows, [{ ...row }])).toEqual([]);
    expect(diffRows(e.rows, [{ ...row, total_time_spent_seconds: row.total_time_spent_seconds + 1e-9 }])).toEqual([]);
    expect(diffRows(e.rows, [{ ...row, clicks: 2 }])).toHaveLength(1);
    expect(diffRows(e.rows, [])).toEqual([{ key: `${row.event_date}|${row.page_url}|${row.country}`, expected: row }]);
    expect(diffRows([], [row])).toHaveLength(1);
    expect(diffRows(e.rows, [row, row]).length).toBe(1);
  });
});
