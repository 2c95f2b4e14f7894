/**
 * The enrichment rules of SPEC §2, each with its edge cases, on the pure functions and through the
 * ingest core (so the stored record is what is checked, not only the helper).
 */
import { buildRawObjects } from '../../lambdas/ingest/core';
import { BoundedCache } from '../../lambdas/ingest/enrich/cache';
import { countryCode, normalizeCountry } from '../../lambdas/ingest/enrich/country';
import { channelOf, classifyHost, isPageHost, referrerHost, simpleHost, utmFields, whatwgHost } from '../../lambdas/ingest/enrich/traffic';
import { Enricher } from '../../lambdas/ingest/enrich';
import { clickEvent, mskEvent, ndjsonLines, seededRandom } from './fixtures';

/** The stored record of one event, through the core with a fresh enricher. */
function stored(overrides: Record<string, unknown>): Record<string, unknown> {
  const result = buildRawObjects(mskEvent([{ offset: 1, value: clickEvent(overrides) }]), { now: () => 0, enricher: new Enricher() });
  expect(result.recordsStored).toBe(1);
  return ndjsonLines(result.objects[0].body)[0];
}

describe('country (SPEC §2)', () => {
  it.each([
    ['de', 'DE'], [' De ', 'DE'], ['US', 'US'], ['XK', 'XK'], ['xk', 'XK'], ['UK', 'GB'], ['uk', 'GB'], [' Uk ', 'GB'],
    ['DEU', 'DE'], ['deu', 'DE'], ['Gbr', 'GB'], ['USA', 'US'], ['BRA', 'BR'], ['JPN', 'JP'],
    ['Germany', 'DE'], ['GERMANY', 'DE'], ['germany', 'DE'], ['  France ', 'FR'], ['United States', 'US'],
    ['united states of america', 'US'], ['United Kingdom', 'GB'], ['Great Britain', 'GB'], ['Kosovo', 'XK'],
    ['Côte d’Ivoire', 'CI'], ["cote d'ivoire", 'CI'], ['Türkiye', 'TR'], ['turkey', 'TR'], ['South Korea', 'KR'], ['Czechia', 'CZ'],
  ])('%j -> %s', (raw, code) => {
    expect(normalizeCountry(raw)).toEqual({ country: code, country_raw: null });
  });

  it.each([
    ['Narnia'], ['N/A'], ['??'], ['12'], ['de-DE'], ['XKX'], ['Deutschland'], ['D'], ['Germany!'], ['ÜK'], ['G B'], ['DEUT'],
  ])('%j is unknown, the original kept in country_raw', (raw) => {
    expect(normalizeCountry(raw)).toEqual({ country: 'unknown', country_raw: raw });
  });

  it('keeps the trimmed original, and null for missing, empty or blank values', () => {
    expect(normalizeCountry('  Atlantis \t')).toEqual({ country: 'unknown', country_raw: 'Atlantis' });
    for (const raw of [null, '', '   ']) expect(normalizeCountry(raw)).toEqual({ country: 'unknown', country_raw: null });
  });

  it('keeps any two ASCII letters upper-cased (user-assigned codes included), and only ASCII letters', () => {
    expect(countryCode('zz')).toBe('ZZ');
    expect(countryCode('QM')).toBe('QM');
    expect(countryCode('1a')).toBeUndefined();
    expect(countryCode('é')).toBeUndefined();
  });

  it('is stored with country_raw by the core', () => {
    expect(stored({ country: ' germany ' })).toMatchObject({ country: 'DE', country_raw: null });
    expect(stored({ country: ' Narnia ' })).toMatchObject({ country: 'unknown', country_raw: 'Narnia' });
    expect(stored({ country: undefined })).toMatchObject({ country: 'unknown', country_raw: null });
    expect(stored({ country: '' })).toMatchObject({ country: 'unknown', country_raw: null });
  });
});

describe('utm_source, utm_medium, utm_campaign (SPEC §2)', () => {
  const utm = (query: string) => utmFields(`https://shop.example.com/p/1?${query}`);

  it('reads the three parameters, lower-cased and trimmed', () => {
    expect(utm('utm_source=Google&utm_medium=CPC&utm_campaign=Spring_Sale')).toEqual({ utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'spring_sale' });
    expect(utm('utm_source=%20NewsLetter%20&utm_medium=+Email+')).toEqual({ utm_source: 'newsletter', utm_medium: 'email', utm_campaign: null });
  });

  it('percent-decodes (UTF-8) and reads + as a space', () => {
    expect(utm('utm_campaign=Black%20Friday').utm_campaign).toBe('black friday');
    expect(utm('utm_campaign=black+friday').utm_campaign).toBe('black friday');
    expect(utm('utm_campaign=%C3%89T%C3%89').utm_campaign).toBe('été');
    expect(utm('utm_source=a%26b%3Dc').utm_source).toBe('a&b=c');
  });

  it('turns empty and missing values into null', () => {
    expect(utm('utm_source=google&utm_medium=&utm_campaign')).toEqual({ utm_source: 'google', utm_medium: null, utm_campaign: null });
    expect(utm('utm_medium=%20%20')).toEqual({ utm_source: null, utm_medium: null, utm_campaign: null });
    expect(utmFields('https://shop.example.com/')).toEqual({ utm_source: null, utm_medium: null, utm_campaign: null });
  });

  it('takes the first parameter with exactly the name, even when it is empty', () => {
    expect(utm('utm_source=first&utm_source=second').utm_source).toBe('first');
    expect(utm('utm_medium=&utm_medium=cpc').utm_medium).toBeNull();
    expect(utm('UTM_SOURCE=upper&utm_sourcex=longer&xutm_source=prefixed&utm_source=exact').utm_source).toBe('exact');
    // A name is decoded before it is compared, as URLSearchParams does.
    expect(utm('utm%5Fsource=encoded').utm_source).toBe('encoded');
  });

  it('reads the query only: not the path, not the fragment', () => {
    expect(utmFields('https://e.com/utm_source=path?a=1#utm_source=fragment').utm_source).toBeNull();
    expect(utmFields('https://e.com/#x?utm_source=after-hash').utm_source).toBeNull();
    expect(utmFields('https://e.com/p?utm_source=a#utm_medium=b')).toEqual({ utm_source: 'a', utm_medium: null, utm_campaign: null });
    expect(utmFields('  https://e.com/p?utm_source=padded  ').utm_source).toBe('padded');
  });

  it('never throws on malformed percent-encoding: a stray % stays, a value that decodes to invalid UTF-8 stays as written', () => {
    expect(utm('utm_campaign=50%off').utm_campaign).toBe('50%off');
    expect(utm('utm_campaign=%').utm_campaign).toBe('%');
    expect(utm('utm_campaign=%zz%2').utm_campaign).toBe('%zz%2');
    expect(utm('utm_campaign=%E9t%E9').utm_campaign).toBe('%e9t%e9');
    expect(utm('utm_campaign=Caf%E9+Sale').utm_campaign).toBe('caf%e9 sale');
    expect(utm('utm_source=%ED%A0%80').utm_source).toBe('%ed%a0%80');
    expect(utm('utm_source=%C3').utm_source).toBe('%c3');
    expect(utm('utm_source=%C3%A9').utm_source).toBe('é');
  });

  it('agrees with new URL(url).searchParams on 5,000 generated queries whose values decode to UTF-8', () => {
    const rand = seededRandom(77);
    const parts = ['utm_source', 'utm_medium', 'utm_campaign', 'utm%5Fmedium', 'UTM_SOURCE', 'x', '', '=', '&', '%', '%2', '%zz', '%41', '+', ' A ', 'é', '%C3%A9', '%FF', 'Mixed'];
    const mismatches: string[] = [];
    let compared = 0;
    for (let i = 0; i < 5000; i++) {
      const query = Array.from({ length: 1 + Math.floor(rand() * 5) }, () =>
        `${parts[Math.floor(rand() * parts.length)]}=${Array.from({ length: Math.floor(rand() * 4) }, () => parts[Math.floor(rand() * parts.length)]).join('')}`).join('&');
      const url = `https://e.com/p?${query}`;
      const params = new URL(url).searchParams;
      const expected = (name: string) => {
        const v = params.get(name)?.trim().toLowerCase();
        return v === undefined || v === '' ? null : v;
      };
      // Where a value decodes to invalid UTF-8 the standard writes U+FFFD and utmFields keeps the text (tested above).
      if (['utm_source', 'utm_medium', 'utm_campaign'].some((n) => params.get(n)?.includes('\ufffd'))) continue;
      compared++;
      const got = utmFields(url);
      const want = { utm_source: expected('utm_source'), utm_medium: expected('utm_medium'), utm_campaign: expected('utm_campaign') };
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${query}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(2_000);
  });

  it('cuts a value to its first 256 characters, never splitting a character', () => {
    expect(utm(`utm_campaign=${'A'.repeat(300)}`).utm_campaign).toBe('a'.repeat(256));
    const emoji = '\u{1F600}';
    const value = utm(`utm_campaign=${encodeURIComponent(emoji.repeat(300))}`).utm_campaign!;
    expect([...value]).toHaveLength(256);
    expect(value).toBe(emoji.repeat(256));
  });

  it('is stored from url, which keeps its query', () => {
    const line = stored({ url: 'https://Shop.Example.com/p/1?utm_source=News&utm_medium=Email&utm_campaign=Launch' });
    expect(line).toMatchObject({ page_url: 'https://shop.example.com/p/1', utm_source: 'news', utm_medium: 'email', utm_campaign: 'launch', channel: 'email' });
  });
});

describe('referrer_host (SPEC §2)', () => {
  it.each([
    ['https://www.google.com/', 'google.com'],
    ['https://google.com/search?q=x', 'google.com'],
    ['HTTPS://WWW.Google.CO.UK/', 'google.co.uk'],
    ['http://www.example.com:8080/a', 'example.com'],
    ['https://m.facebook.com', 'm.facebook.com'],
    ['https://www.www.example.com/', 'www.example.com'],
    ['https://wwwexample.com/', 'wwwexample.com'],
    ['https://user:pw@www.example.com/', 'example.com'],
    ['https://bücher.example/', 'xn--bcher-kva.example'],
    ['https://192.168.1.20/', '192.168.1.20'],
    ['https://[::1]:3000/', '[::1]'],
    ['  https://www.bing.com/  ', 'bing.com'],
    ['https://example.com.', 'example.com.'],
  ])('%j -> %s', (referrer, host) => {
    expect(referrerHost(referrer)).toBe(host);
  });

  it.each([
    [null], [''], ['   '], ['www.google.com'], ['/relative/path'], ['android-app://com.google.android.gm/'], ['about:blank'],
    ['ftp://files.example.com/'], ['https://'], ['https:///example.com'], ['https:\\\\example.com'], ['http://exa mple.com/'], ['https://www./'],
    ['javascript:alert(1)'], ['https://[::1/'], ['http://999.999.999.999/'],
  ])('%j -> null (missing or not an absolute http(s) URL)', (referrer) => {
    expect(referrerHost(referrer)).toBeNull();
  });

  it('the plain-host scanner agrees with the WHATWG parser on every URL it accepts (20,000 generated)', () => {
    const rand = seededRandom(4242);
    const hosts = ['www.google.com', 'google.co.uk', 'a', 'a-b.c', '-x.com', 'x-.com', 'ex--ample.com', 'xn--bcher-kva.example', 'www.', 'www.x', '1.2.3.4',
      'example.123', 'a.b1', '1a.com', 'example.com.', 'exa_mple.com', 'ex%41mple.com', '..', 'www..x.com', 'W.x.com', 'www.xn--a.com'];
    const tails = ['', '/', '/path', '?q=1', '#frag', ':8080/', '@x', '\\', ' ', '/a b'];
    const wrong: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const url = `${rand() < 0.5 ? 'http' : 'https'}://${hosts[Math.floor(rand() * hosts.length)]}${tails[Math.floor(rand() * tails.length)]}`;
      const fast = simpleHost(url);
      if (fast === undefined) continue;
      accepted++;
      if (fast !== whatwgHost(url)) wrong.push(`${url}: ${fast} vs ${String(whatwgHost(url))}`);
    }
    expect(wrong).toEqual([]);
    expect(accepted).toBeGreaterThan(2_000);
  });
});

describe('channel (SPEC §2)', () => {
  const hosts = (h: string) => classifyHost(h);
  const page = 'https://shop.example.com/p/1';

  it.each([
    ['cpc', 'paid'], ['ppc', 'paid'], ['paid', 'paid'], ['paidsearch', 'paid'], ['display', 'paid'], ['cpm', 'paid'], ['banner', 'paid'],
    ['email', 'email'], ['e-mail', 'email'], ['newsletter', 'email'],
    ['social', 'social'], ['social-network', 'social'], ['sm', 'social'],
    ['affiliate', 'campaign'], ['referral', 'campaign'], ['organic', 'campaign'], ['paid search', 'campaign'],
  ])('utm_medium %j -> %s, whatever the referrer', (medium, channel) => {
    expect(channelOf(medium, null, page, hosts)).toBe(channel);
    expect(channelOf(medium, 'google.com', page, hosts)).toBe(channel);
    expect(channelOf(medium, 'shop.example.com', page, hosts)).toBe(channel);
  });

  it('without a medium: no referrer is direct, the page\'s own host is internal', () => {
    expect(channelOf(null, null, page, hosts)).toBe('direct');
    expect(channelOf(null, 'shop.example.com', page, hosts)).toBe('internal');
    expect(channelOf(null, 'shop.example.com', 'https://www.shop.example.com/', hosts)).toBe('internal');
    expect(channelOf(null, 'shop.example.com', 'http://shop.example.com:8080/a', hosts)).toBe('internal');
    expect(channelOf(null, 'example.com', page, hosts)).toBe('referral');
    expect(channelOf(null, 'blog.example.com', page, hosts)).toBe('referral');
    expect(channelOf(null, 'shop.example.co', page, hosts)).toBe('referral');
  });

  it.each([
    'google.com', 'google.co.uk', 'google.com.br', 'google.de', 'news.google.com', 'bing.com', 'cn.bing.com', 'duckduckgo.com', 'search.yahoo.com',
    'search.yahoo.co.jp', 'yandex.ru', 'yandex.com.tr', 'baidu.com', 'm.baidu.com', 'ecosia.org',
  ])('search engine %s -> search', (host) => {
    expect(channelOf(null, host, page, hosts)).toBe('search');
  });

  it.each([
    'facebook.com', 'm.facebook.com', 'l.facebook.com', 'fb.com', 'instagram.com', 'l.instagram.com', 't.co', 'twitter.com', 'mobile.twitter.com',
    'x.com', 'linkedin.com', 'de.linkedin.com', 'lnkd.in', 'reddit.com', 'old.reddit.com', 'youtube.com', 'm.youtube.com', 'pinterest.com',
    'pinterest.de', 'pinterest.co.uk', 'de.pinterest.com', 'tiktok.com', 'vm.tiktok.com',
  ])('social network %s -> social', (host) => {
    expect(channelOf(null, host, page, hosts)).toBe('social');
  });

  it.each([
    'news.ycombinator.com', 'notfacebook.com', 'facebook.com.evil.example', 'xx.com', 'co', 'googleapis.net.example', 'google', 'co.uk',
    '192.168.1.20', '[::1]', 'localhost', 'pinterest', 'tco.example', 'mygoogle.com',
  ])('anything else (%s) -> referral', (host) => {
    expect(channelOf(null, host, page, hosts)).toBe('referral');
  });

  it('isPageHost compares whole host names only', () => {
    expect(isPageHost('https://shop.example.com/', 'shop.example.com')).toBe(true);
    expect(isPageHost('https://shop.example.com.evil/', 'shop.example.com')).toBe(false);
    expect(isPageHost('https://[::1]:3000/', '[::1]')).toBe(true);
  });

  it('is stored by the core, with referrer_host', () => {
    expect(stored({ referrer: 'https://www.google.co.uk/' })).toMatchObject({ referrer_host: 'google.co.uk', channel: 'search' });
    expect(stored({ referrer: 'https://l.instagram.com/?u=x' })).toMatchObject({ referrer_host: 'l.instagram.com', channel: 'social' });
    expect(stored({ referrer: 'https://www.shop.example.com/cart' })).toMatchObject({ referrer_host: 'shop.example.com', channel: 'internal' });
    expect(stored({ referrer: 'https://Shop.Example.com/cart' })).toMatchObject({ referrer_host: 'shop.example.com', channel: 'internal' });
    expect(stored({ referrer: 'https://news.ycombinator.com/item?id=1' })).toMatchObject({ referrer_host: 'news.ycombinator.com', channel: 'referral' });
    expect(stored({ referrer: 'android-app://com.google.android.gm/' })).toMatchObject({ referrer_host: null, channel: 'direct' });
    expect(stored({ referrer: undefined })).toMatchObject({ referrer_host: null, channel: 'direct' });
    expect(stored({ referrer: 'https://www.google.com/', url: 'https://shop.example.com/?utm_medium=CPC' })).toMatchObject({ utm_medium: 'cpc', channel: 'paid' });
  });
});

describe('BoundedCache', () => {
  it('computes once per key while the key is held, never holds more than its capacity, and counts hits', () => {
    let computed = 0;
    const cache = new BoundedCache(10, (k) => { computed++; return k.length; });
    for (let round = 0; round < 3; round++) for (const k of ['a', 'bb', 'ccc']) expect(cache.get(k)).toBe(k.length);
    expect(computed).toBe(3);
    expect(cache.stats()).toEqual({ hits: 6, misses: 3, size: 3, capacity: 10 });
    for (let i = 0; i < 1000; i++) cache.get(`k${i}`);
    expect(cache.stats().size).toBeLessThanOrEqual(10);
    cache.clear();
    expect(cache.stats()).toEqual({ hits: 0, misses: 0, size: 0, capacity: 10 });
  });

  it('keeps a key that keeps being used while others stream through', () => {
    let computed = 0;
    const cache = new BoundedCache(8, (k) => { if (k === 'hot') computed++; return k; });
    for (let i = 0; i < 1000; i++) {
      cache.get('hot');
      cache.get(`cold-${i}`);
    }
    expect(computed).toBe(1);
  });

  it('does not store keys beyond its key-length bound', () => {
    const cache = new BoundedCache(8, (k) => k.length, 4);
    cache.get('12345');
    cache.get('12345');
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, size: 0 });
  });

  it('refuses a capacity below 2', () => {
    expect(() => new BoundedCache(1, (k) => k)).toThrow(/capacity/);
  });
});
