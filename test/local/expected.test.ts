import {
  aggregate,
  channelOf,
  classifyUserAgent,
  computeExpected,
  diffRows,
  diffTable,
  normalizePageUrl,
  referrerHostOf,
  utmParameters,
  validateMessage,
  type ProducedMessage,
  type TableRow,
  type ValidEvent,
} from '../../local/expected';

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

let nextOffset = 0;
function ev(userId: string, ts: number, pageUrl: string, extra: Partial<ValidEvent> = {}): ValidEvent {
  return { eventId: `${userId}-${ts}`, userId, ts, pageUrl, country: 'DE', partition: 0, offset: nextOffset++, deviceType: 'desktop', channel: 'direct', ...extra };
}
const bot = (userId: string, ts: number, pageUrl: string, extra: Partial<ValidEvent> = {}) => ev(userId, ts, pageUrl, { deviceType: 'bot', isBot: true, ...extra });

/** The rows of a table whose grain fields match `where`. */
function find(rows: readonly TableRow[], where: Record<string, string | null>): TableRow[] {
  return rows.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
}

const good = { user_id: 'u1', timestamp: '2026-11-20T09:59:00.000Z', url: 'https://Shop.Example.com/a/?q=1#x', country: ' de ' };
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

describe('validateMessage (SPEC §1)', () => {
  it('accepts a valid message and normalizes country, page_url and the missing event id', () => {
    const v = validateMessage(msg(good, { offset: 42 }));
    expect(v).toEqual({
      ok: true,
      event: {
        eventId: 'clickstream-0-42', userId: 'u1', ts: Date.UTC(2026, 10, 20, 9, 59), pageUrl: 'https://shop.example.com/a', country: 'DE',
        topic: 'clickstream', partition: 0, offset: 42, city: null, deviceType: 'unknown', browser: null, os: null, isBot: false,
        utmSource: null, utmMedium: null, utmCampaign: null, referrerHost: null, channel: 'direct',
      },
    });
  });

  it('accepts camelCase aliases, epoch milliseconds and +hh:mm zones', () => {
    const a = validateMessage(msg({ userId: 'u2', ts: T0 - MIN, url: 'http://x.example/', eventId: 'e1', userAgent: IPHONE }));
    expect(a.ok && a.event).toMatchObject({ userId: 'u2', ts: T0 - MIN, pageUrl: 'http://x.example/', eventId: 'e1', country: 'unknown', deviceType: 'mobile' });
    const b = validateMessage(msg({ ...good, timestamp: '2026-11-20T11:30:00.250+02:00' }));
    expect(b.ok && b.event.ts).toBe(Date.UTC(2026, 10, 20, 9, 30, 0, 250));
  });

  it('reads a snake_case field that is null from its camelCase alias, and a blank event id as missing', () => {
    const v = validateMessage(msg({ ...good, user_id: null, userId: 'u9', event_id: '  ' }, { offset: 7 }));
    expect(v.ok && [v.event.userId, v.event.eventId]).toEqual(['u9', 'clickstream-0-7']);
  });

  it.each([
    ['not UTF-8', null, Buffer.from([0x7b, 0xff, 0x7d]), 'invalid_utf8'],
    ['not JSON', null, Buffer.from('user=1'), 'invalid_json'],
    ['an array', [good], undefined, 'not_a_json_object'],
    ['an empty user id', { ...good, user_id: '' }, undefined, 'bad_user_id'],
    ['a blank user id', { ...good, user_id: '  ' }, undefined, 'bad_user_id'],
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
    ['a numeric city', { ...good, city: 12 }, undefined, 'bad_city'],
    ['an object referrer', { ...good, referrer: {} }, undefined, 'bad_referrer'],
  ])('rejects %s', (_name, value, raw, reason) => {
    expect(validateMessage(msg(value, { raw }))).toEqual({ ok: false, reason });
  });

  it('keeps the limits inclusive: 256 characters (code points), exactly 24 h ahead', () => {
    expect(validateMessage(msg({ ...good, user_id: 'u'.repeat(256) })).ok).toBe(true);
    expect(validateMessage(msg({ ...good, user_id: '😀'.repeat(256) })).ok).toBe(true);
    expect(validateMessage(msg({ ...good, timestamp: T0 + 24 * 60 * MIN })).ok).toBe(true);
  });

  it('enriches: city trimmed (blank is null), country names and codes, campaign, referrer and channel', () => {
    const v = validateMessage(msg({
      ...good, city: '  Berlin ', country: 'Germany', url: 'https://shop.example.com/p?utm_source=News&utm_medium=CPC', referrer: 'https://www.google.co.uk/search', user_agent: IPHONE,
    }));
    expect(v.ok && v.event).toMatchObject({
      city: 'Berlin', country: 'DE', utmSource: 'news', utmMedium: 'cpc', utmCampaign: null, referrerHost: 'google.co.uk', channel: 'paid',
      deviceType: 'mobile', browser: 'Safari', os: 'iOS', isBot: false,
    });
    const blank = validateMessage(msg({ ...good, city: '   ', country: 'GBR' }));
    expect(blank.ok && [blank.event.city, blank.event.country]).toEqual([null, 'GB']);
    const narnia = validateMessage(msg({ ...good, country: 'Narnia' }));
    expect(narnia.ok && narnia.event.country).toBe('unknown');
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

describe('enrichment rules (SPEC §2)', () => {
  it.each([
    ['https://s.example/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring%20Sale', ['google', 'cpc', 'spring sale']],
    ['https://s.example/?utm_campaign=black+friday#utm_source=x', [null, null, 'black friday']],
    // The first parameter of a name wins, even an empty one; names are case-sensitive.
    ['https://s.example/?utm_source=&utm_source=b&UTM_MEDIUM=email', [null, null, null]],
    ['https://s.example/?utm_source=a&utm_source=b', ['a', null, null]],
    // Malformed encodings are kept as written: `%` without two hex digits, bytes that are not UTF-8.
    ['https://s.example/?utm_campaign=50%off&utm_source=%E9t%E9', ['%e9t%e9', null, '50%off']],
    ['https://s.example/?utm_medium=%20%20Caf%C3%A9%20', [null, 'café', null]],
    ['https://s.example/?utm%5Fsource=encoded-name', ['encoded-name', null, null]],
    ['https://s.example/p', [null, null, null]],
  ])('utm of %s', (url, expected) => {
    const u = utmParameters(url);
    expect([u.utmSource, u.utmMedium, u.utmCampaign]).toEqual(expected);
  });

  it('cuts a UTM value to its first 256 code points, after lower-casing', () => {
    expect(utmParameters(`https://s.example/?utm_source=${'A'.repeat(300)}`).utmSource).toBe('a'.repeat(256));
    expect([...utmParameters(`https://s.example/?utm_source=${'%F0%9F%98%80'.repeat(257)}`).utmSource!]).toHaveLength(256);
  });

  it.each([
    ['https://www.Google.co.uk:8443/search?q=1', 'google.co.uk'],
    ['http://news.example.org', 'news.example.org'],
    ['https://bücher.example/', 'xn--bcher-kva.example'],
    ['  https://www.example.com/  ', 'example.com'],
    ['https://www./', null],
    ['www.google.com', null],
    ['android-app://com.google.android.gm/', null],
    ['https://', null],
    ['https:///path', null],
    ['', null],
    [null, null],
  ])('referrer_host of %s is %s', (referrer, host) => expect(referrerHostOf(referrer)).toBe(host));

  it.each([
    ['cpc', 'google.com', 'paid'],
    ['newsletter', null, 'email'],
    ['sm', 'example.org', 'social'],
    ['affiliate', 'google.com', 'campaign'],
    [null, null, 'direct'],
    [null, 'shop.example.com', 'internal'],
    [null, 'blog.shop.example.com', 'referral'],
    [null, 'google.co.uk', 'search'],
    [null, 'search.yahoo.co.jp', 'search'],
    [null, 'mail.google.com', 'search'],
    [null, 'l.facebook.com', 'social'],
    [null, 't.co', 'social'],
    [null, 'pinterest.de', 'social'],
    [null, 'notfacebook.com', 'referral'],
    [null, '192.168.1.20', 'referral'],
  ])('channel of medium %s and referrer %s is %s', (medium, host, channel) => {
    expect(channelOf(medium, host, 'https://www.shop.example.com:8080/p')).toBe(channel);
  });

  it.each([
    [null, 'unknown', null, null],
    ['   ', 'unknown', null, null],
    [IPHONE, 'mobile', 'Safari', 'iOS'],
    ['Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'tablet', 'Safari', 'iOS'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'desktop', 'Chrome', 'macOS'],
    ['Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)', 'other', undefined, undefined],
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot', undefined, undefined],
    ['curl/8.5.0', 'bot', undefined, undefined],
    ['Dart/3.2 (dart:io)', 'bot', undefined, undefined],
  ])('user agent %s is a %s device', (ua, device, browser, os) => {
    const c = classifyUserAgent(ua);
    expect(c.deviceType).toBe(device);
    if (browser !== undefined) expect([c.browser, c.os]).toEqual([browser, os]);
  });
});

describe('aggregate (SPEC §3)', () => {
  it('gives each event the time to the same user\'s next event, and none to the exit', () => {
    const { rows } = aggregate([ev('u1', T0, 'p1'), ev('u1', T0 + 90_000, 'p2'), ev('u1', T0 + 150_500, 'p1'), ev('u2', T0 + 10_000, 'p1')]);
    const p1 = rows.find((r) => r.page_url === 'p1')!;
    const p2 = rows.find((r) => r.page_url === 'p2')!;
    // u1's session enters on p1 (3 events), u2's session is one event on p1: a bounce.
    expect(p1).toEqual({
      event_date: '2026-11-20', page_url: 'p1', country: 'DE', clicks: 3, unique_users: 2, timed_views: 1, total_time_spent_seconds: 90, avg_time_spent_seconds: 90,
      entrances: 2, bounces: 1, bot_clicks: 0,
    });
    expect(p2).toMatchObject({ clicks: 1, timed_views: 1, total_time_spent_seconds: 60.5, avg_time_spent_seconds: 60.5, entrances: 0, bounces: 0 });
  });

  it('splits sessions on a gap of more than 30 minutes: 30:00.000 stays, 30:00.001 splits', () => {
    const { rows, tables } = aggregate([ev('u1', T0, 'a'), ev('u1', T0 + 30 * MIN, 'b'), ev('u1', T0 + 60 * MIN + 1, 'c')]);
    expect(rows.map((r) => [r.page_url, r.timed_views, r.total_time_spent_seconds, r.entrances, r.bounces])).toEqual([['a', 1, 1800, 1, 0], ['b', 0, 0, 0, 0], ['c', 0, 0, 1, 1]]);
    expect(rows.find((r) => r.page_url === 'b')!.avg_time_spent_seconds).toBeNull();
    expect(tables.sessions_daily).toEqual([expect.objectContaining({ sessions: 2, bounces: 1, pageviews: 3, users: 1, total_duration_seconds: 1800, avg_duration_seconds: 900, bounce_rate: 0.5 })]);
  });

  it('ends every session at midnight UTC: the last event of a date is an exit, the first of the next an entry', () => {
    const midnight = Date.UTC(2026, 10, 21);
    const { rows, tables } = aggregate([ev('u1', midnight - 5 * MIN, 'a'), ev('u1', midnight - 1, 'b'), ev('u1', midnight + 2 * MIN, 'c')]);
    expect(rows.map((r) => [r.event_date, r.page_url, r.timed_views, r.total_time_spent_seconds, r.entrances, r.bounces])).toEqual([
      ['2026-11-20', 'a', 1, 299.999, 1, 0],
      ['2026-11-20', 'b', 0, 0, 0, 0],
      ['2026-11-21', 'c', 0, 0, 1, 1],
    ]);
    expect(tables.sessions_daily.map((r) => [r.event_date, r.sessions, r.pageviews, r.total_duration_seconds, r.bounces])).toEqual([
      ['2026-11-20', 1, 2, 299.999, 0],
      ['2026-11-21', 1, 1, 0, 1],
    ]);
  });

  it('counts a duplicated event id once per date, keeping the copy with the lowest (topic, partition, offset)', () => {
    const copy = (page: string, topic: string, partition: number, offset: number) => ev('u1', T0, page, { eventId: 'same', topic, partition, offset });
    const { rows, distinct } = aggregate([copy('late-copy', 'b', 0, 1), copy('kept', 'a', 1, 5), copy('other', 'a', 1, 9), copy('p0', 'b', 0, 0), ev('u1', T0 + MIN, 'next')]);
    expect(distinct).toBe(2);
    expect(rows.map((r) => [r.page_url, r.clicks])).toEqual([['kept', 1], ['next', 1]]);
    expect(rows[0]).toMatchObject({ timed_views: 1, total_time_spent_seconds: 60 });
  });

  it('keeps copies of one id on two dates: they are different clicks', () => {
    const { rows, distinct } = aggregate([ev('u1', T0, 'a', { eventId: 'x' }), ev('u1', T0 + 24 * 60 * MIN, 'a', { eventId: 'x' })]);
    expect(distinct).toBe(2);
    expect(rows.map((r) => [r.event_date, r.clicks, r.entrances])).toEqual([['2026-11-20', 1, 1], ['2026-11-21', 1, 1]]);
  });

  it('counts bots only as bot_clicks: they neither split nor extend a session, and a row may exist through bot_clicks alone', () => {
    const { tables } = aggregate([
      ev('u1', T0, 'home', { city: 'Berlin' }),
      bot('u1', T0 + 10 * MIN, 'robots', { city: 'Berlin' }),
      ev('u1', T0 + 25 * MIN, 'cart', { city: 'Berlin' }),
      bot('crawler', T0 + 40 * MIN, 'home', { country: 'US' }),
      bot('u1', T0 + 50 * MIN, 'cart', { city: 'Berlin' }),
    ]);
    const pages = tables.url_country_daily;
    expect(find(pages, { page_url: 'home', country: 'DE' })).toEqual([expect.objectContaining({ clicks: 1, unique_users: 1, timed_views: 1, total_time_spent_seconds: 1500, entrances: 1, bounces: 0, bot_clicks: 0 })]);
    expect(find(pages, { page_url: 'cart' })).toEqual([expect.objectContaining({ clicks: 1, timed_views: 0, entrances: 0, bot_clicks: 1 })]);
    expect(find(pages, { page_url: 'robots' })).toEqual([expect.objectContaining({ clicks: 0, unique_users: 0, timed_views: 0, total_time_spent_seconds: 0, avg_time_spent_seconds: null, entrances: 0, bot_clicks: 1 })]);
    expect(find(pages, { page_url: 'home', country: 'US' })).toEqual([expect.objectContaining({ clicks: 0, unique_users: 0, bot_clicks: 1 })]);
    expect(tables.sessions_daily).toEqual([expect.objectContaining({ device_type: 'desktop', sessions: 1, pageviews: 2, users: 1, total_duration_seconds: 1500, bounces: 0 })]);
    expect(tables.geo_daily.map((r) => [r.country, r.city, r.clicks, r.unique_users, r.sessions, r.bot_clicks])).toEqual([['DE', 'Berlin', 2, 1, 1, 2], ['US', null, 0, 0, 0, 1]]);
    expect(tables.traffic_hourly.map((r) => [r.event_hour, r.country, r.device_type, r.clicks, r.unique_users, r.sessions, r.bot_clicks])).toEqual([
      ['2026-11-20T10:00:00.000Z', 'DE', 'bot', 0, 0, 0, 2],
      ['2026-11-20T10:00:00.000Z', 'DE', 'desktop', 2, 1, 1, 0],
      ['2026-11-20T10:00:00.000Z', 'US', 'bot', 0, 0, 0, 1],
    ]);
  });

  it('gives a session the country, device, browser, os, channel, referrer and campaign of its entry event', () => {
    const entry = { country: 'FR', deviceType: 'mobile' as const, browser: 'Safari', os: 'iOS', channel: 'paid', referrerHost: 'google.com', utmSource: 'google', utmMedium: 'cpc', utmCampaign: 'spring' };
    const { tables } = aggregate([
      ev('u1', T0, 'a', entry),
      ev('u1', T0 + 5 * MIN, 'b', { country: 'DE', browser: null, channel: 'internal', referrerHost: 'shop.example.com' }),
      ev('u2', T0 + 59 * MIN, 'a', { ...entry, browser: null, os: null, utmCampaign: null }),
      ev('u2', T0 + 61 * MIN, 'a', { ...entry, browser: null, os: null, utmCampaign: null }),
    ]);
    expect(tables.sessions_daily.map((r) => [r.country, r.device_type, r.browser, r.os, r.channel, r.sessions, r.pageviews, r.users, r.total_duration_seconds])).toEqual([
      ['FR', 'mobile', 'Safari', 'iOS', 'paid', 1, 2, 1, 300],
      ['FR', 'mobile', null, null, 'paid', 1, 2, 1, 120],
    ]);
    expect(tables.traffic_sources_daily.map((r) => [r.channel, r.referrer_host, r.utm_source, r.utm_medium, r.utm_campaign, r.country, r.sessions, r.bounces, r.pageviews, r.users])).toEqual([
      ['paid', 'google.com', 'google', 'cpc', 'spring', 'FR', 1, 0, 2, 1],
      ['paid', 'google.com', 'google', 'cpc', null, 'FR', 1, 0, 2, 1],
    ]);
    // Per-event tables keep each event's own country; the session is entered in FR.
    expect(tables.url_country_daily.map((r) => [r.page_url, r.country, r.clicks, r.entrances])).toEqual([['a', 'FR', 3, 2], ['b', 'DE', 1, 0]]);
    // traffic_hourly: sessions by the hour of their entry event.
    expect(tables.traffic_hourly.map((r) => [r.event_hour, r.country, r.device_type, r.clicks, r.sessions])).toEqual([
      ['2026-11-20T10:00:00.000Z', 'DE', 'desktop', 1, 0],
      ['2026-11-20T10:00:00.000Z', 'FR', 'mobile', 2, 2],
      ['2026-11-20T11:00:00.000Z', 'FR', 'mobile', 1, 0],
    ]);
  });

  it('counts users once per row however many sessions they have, and orders ties by event id', () => {
    const { tables, rows } = aggregate([
      ev('u1', T0, 'a', { eventId: 'e2' }), ev('u1', T0, 'b', { eventId: 'e1' }), ev('u1', T0 + 2 * 60 * MIN, 'a'), ev('u2', T0, 'a'),
    ]);
    // e1 (page b) comes first at the same instant: it is the entry and has 0 s on page.
    expect(rows.map((r) => [r.page_url, r.clicks, r.unique_users, r.entrances, r.bounces, r.timed_views])).toEqual([['a', 3, 2, 2, 2, 0], ['b', 1, 1, 1, 0, 1]]);
    expect(tables.sessions_daily).toEqual([expect.objectContaining({ sessions: 3, bounces: 2, pageviews: 4, users: 2, bounce_rate: 2 / 3 })]);
    expect(tables.geo_daily).toEqual([expect.objectContaining({ clicks: 4, unique_users: 2, sessions: 3 })]);
  });

  it('reads events without enrichment fields with the SPEC defaults', () => {
    const { tables } = aggregate([{ eventId: 'x', userId: 'u', ts: T0, pageUrl: 'p', country: 'unknown', partition: 0, offset: 0 }]);
    expect(tables.sessions_daily).toEqual([expect.objectContaining({ country: 'unknown', device_type: 'unknown', browser: null, os: null, channel: 'unknown', sessions: 1 })]);
    expect(tables.traffic_sources_daily).toEqual([expect.objectContaining({ channel: 'unknown', referrer_host: null, utm_source: null, utm_medium: null, utm_campaign: null })]);
    expect(tables.geo_daily).toEqual([expect.objectContaining({ city: null, clicks: 1 })]);
  });

  it('uses a configurable gap', () => {
    const { rows } = aggregate([ev('u1', T0, 'a'), ev('u1', T0 + 11 * MIN, 'b')], 10 * MIN);
    expect(rows.map((r) => r.entrances)).toEqual([1, 1]);
  });
});

describe('computeExpected, diffTable and diffRows', () => {
  it('separates valid from rejected messages and finds every kind of difference', () => {
    const e = computeExpected([msg(good, { offset: 0 }), msg({ ...good, url: 'nope' }, { offset: 1 })]);
    expect(e.valid.map((v) => v.offset)).toEqual([0]);
    expect(e.rejected).toEqual([{ partition: 0, offset: 1, reason: 'url_not_absolute_http' }]);
    expect(e.tables.url_country_daily).toBe(e.rows);
    const row = e.rows[0];
    expect(diffRows(e.rows, [{ ...row, computed_at: '2026-11-21T00:00:00.000Z' }])).toEqual([]);
    expect(diffRows(e.rows, [{ ...row, total_time_spent_seconds: row.total_time_spent_seconds + 1e-9 }])).toEqual([]);
    expect(diffRows(e.rows, [{ ...row, clicks: 2 }])).toEqual([expect.objectContaining({ fields: ['clicks'] })]);
    expect(diffRows(e.rows, [{ ...row, bounces: 0 }])).toEqual([expect.objectContaining({ fields: ['bounces'] })]);
    expect(diffRows(e.rows, [])).toEqual([{ key: `${row.event_date}|${row.page_url}|${row.country}`, expected: row }]);
    expect(diffRows([], [row])).toHaveLength(1);
    expect(diffRows(e.rows, [row, row]).length).toBe(1);
  });

  it('matches a null grain value with a missing field, never with the text "null", and compares ratios within a tolerance', () => {
    const { tables } = aggregate([ev('u1', T0, 'a'), ev('u1', T0 + 1000, 'b'), ev('u2', T0, 'a')]);
    const sessions = tables.sessions_daily;
    expect(sessions[0].browser).toBeNull();
    const served = sessions.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
    expect(diffTable('sessions_daily', sessions, served)).toEqual([]);
    expect(diffTable('sessions_daily', sessions, sessions.map((r) => ({ ...r, browser: 'null' })))).toHaveLength(2);
    expect(diffTable('sessions_daily', sessions, sessions.map((r) => ({ ...r, bounce_rate: Number(r.bounce_rate) * (1 + 1e-9) })))).toEqual([]);
    expect(diffTable('sessions_daily', sessions, sessions.map((r) => ({ ...r, avg_duration_seconds: Number(r.avg_duration_seconds) + 0.01 })))).toEqual([
      expect.objectContaining({ fields: ['avg_duration_seconds'] }),
    ]);
  });
});
