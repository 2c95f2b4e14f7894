/**
 * What a web shop's tracker sees of its visitors' software and origins, for the local generator
 * and the ingest benchmark: user agents (thousands of distinct, real-looking strings with a long
 * tail: desktop and mobile browsers, tablets, in-app browsers, smart TVs, consoles, wearables,
 * crawlers, monitors, command-line and HTTP-library clients), referrers (search engines under
 * several public suffixes, social networks and their subdomains, other sites, invalid values),
 * UTM-tagged query strings (mixed case, `+` and percent-encoding, empty and malformed values) and
 * the spellings producers use for a country (codes, lower case, alpha-3, English names, `UK`,
 * garbage).
 *
 * Every function draws from the random source it is given, so the caller's seed decides everything.
 * The strings imitate the shapes real software sends; the enrichment's expectations for them are
 * in the ingest tests, written from SPEC §2, not here.
 */

/** The random source (the generator's `Prng` fits). */
export interface Random {
  next(): number;
  int(minInclusive: number, maxInclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

// ------------------------------------------------------------------------------------------------
// User agents

const ANDROID_PHONES = [
  'Pixel 8', 'Pixel 8 Pro', 'Pixel 7a', 'Pixel 6', 'SM-S918B', 'SM-S911B', 'SM-A546B', 'SM-A155F', 'SM-G991B', 'SM-A325F', 'SM-A137F',
  'M2101K6G', '23021RAAEG', '2201117TY', 'CPH2581', 'CPH2451', 'RMX3771', 'moto g54 5G', 'moto g(30)', 'motorola edge 40', 'V2302',
  'IN2023', 'LE2123', 'NE2213', 'ASUS_AI2302', 'XQ-DQ54', 'Nokia G21', 'TECNO KI5q', 'Infinix X6831', 'HUAWEI VOG-L29', 'ELS-NX9', 'K',
];
const ANDROID_TABLETS = ['SM-X710', 'SM-X810', 'SM-X200', 'SM-T510', 'SM-P613', 'Lenovo TB-X606F', 'Lenovo TB350FU', 'TB-J706F', '2209116AG', 'Pixel Tablet'];
const IOS_VERSIONS = ['15_8', '16_6', '16_7_10', '17_0', '17_4_1', '17_5', '17_6_1', '18_0', '18_1', '18_1_1', '18_2'];
const MAC_VERSIONS = ['10_15_7', '14_6_1', '13_6_9'];
const WINDOWS = ['Windows NT 10.0; Win64; x64', 'Windows NT 10.0; WOW64', 'Windows NT 6.1; Win64; x64'];

function chromeVersion(r: Random, full: boolean): string {
  const major = r.int(109, 131);
  return full ? `${major}.0.${r.int(5000, 6800)}.${r.int(0, 220)}` : `${major}.0.0.0`;
}

function iosSafariVersion(ios: string): string {
  const [major, minor] = ios.split('_');
  return minor === undefined || minor === '0' ? major : `${major}.${minor}`;
}

/** One synthesized user agent of a family drawn by its traffic share. */
function synthesizeUserAgent(r: Random): string {
  const roll = r.next();
  if (roll < 0.2) {
    return `Mozilla/5.0 (Linux; Android ${r.int(10, 15)}; ${r.pick(ANDROID_PHONES)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, r.chance(0.6))} Mobile Safari/537.36`;
  }
  if (roll < 0.3) {
    return `Mozilla/5.0 (Linux; Android ${r.int(11, 14)}; ${r.pick(ANDROID_PHONES.filter((m) => m.startsWith('SM-')))}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${r.int(20, 27)}.0 Chrome/${chromeVersion(r, false)} Mobile Safari/537.36`;
  }
  if (roll < 0.42) {
    const ios = r.pick(IOS_VERSIONS);
    return `Mozilla/5.0 (iPhone; CPU iPhone OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${iosSafariVersion(ios)} Mobile/15E148 Safari/604.1`;
  }
  if (roll < 0.47) {
    // In-app browsers carry build numbers: the longest part of the tail.
    const ios = r.pick(IOS_VERSIONS);
    const device = `iPhone${r.int(12, 17)},${r.int(1, 8)}`;
    return r.chance(0.5)
      ? `Mozilla/5.0 (iPhone; CPU iPhone OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram ${r.int(300, 360)}.0.0.${r.int(10, 40)}.${r.int(10, 120)} (${device}; iOS ${ios}; en_US; en; scale=3.00; 1170x2532; ${r.int(500000000, 699999999)})`
      : `Mozilla/5.0 (iPhone; CPU iPhone OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/${r.int(440, 490)}.0.0.${r.int(20, 60)}.${r.int(100, 120)};FBBV/${r.int(600000000, 699999999)};FBDV/${device};FBMD/iPhone;FBSN/iOS;FBSV/${ios.replace(/_/g, '.')};FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]`;
  }
  if (roll < 0.52) {
    const ios = r.pick(IOS_VERSIONS);
    return r.chance(0.7)
      ? `Mozilla/5.0 (iPad; CPU OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${iosSafariVersion(ios)} Mobile/15E148 Safari/604.1`
      : `Mozilla/5.0 (iPad; CPU OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${chromeVersion(r, true)} Mobile/15E148 Safari/604.1`;
  }
  if (roll < 0.55) {
    return `Mozilla/5.0 (Linux; Android ${r.int(11, 14)}; ${r.pick(ANDROID_TABLETS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, r.chance(0.5))} Safari/537.36`;
  }
  if (roll < 0.72) {
    return `Mozilla/5.0 (${r.pick(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36${r.chance(0.3) ? ` Edg/${chromeVersion(r, true)}` : ''}`;
  }
  if (roll < 0.78) {
    return `Mozilla/5.0 (Macintosh; Intel Mac OS X ${r.pick(MAC_VERSIONS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36`;
  }
  if (roll < 0.83) {
    const v = r.pick(['16.6', '17.4.1', '17.6', '18.0', '18.1', '18.1.1', '18.2']);
    return `Mozilla/5.0 (Macintosh; Intel Mac OS X ${r.pick(MAC_VERSIONS)}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v} Safari/605.1.15`;
  }
  if (roll < 0.89) {
    const rv = r.int(115, 133);
    const platform = r.pick(['Windows NT 10.0; Win64; x64', 'Macintosh; Intel Mac OS X 10.15', 'X11; Linux x86_64', 'X11; Ubuntu; Linux x86_64']);
    return `Mozilla/5.0 (${platform}; rv:${rv}.0) Gecko/20100101 Firefox/${rv}.0`;
  }
  if (roll < 0.91) {
    return r.pick([
      `Mozilla/5.0 (${r.pick(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36 OPR/${r.int(100, 115)}.0.0.0`,
      `Mozilla/5.0 (X11; CrOS x86_64 ${r.int(14000, 16000)}.${r.int(0, 99)}.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36`,
      `Mozilla/5.0 (${r.pick(WINDOWS)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} YaBrowser/24.${r.int(1, 12)}.0.0 Safari/537.36`,
      `Mozilla/5.0 (Android ${r.int(11, 15)}; Mobile; rv:${r.int(115, 133)}.0) Gecko/${r.int(115, 133)}.0 Firefox/${r.int(115, 133)}.0`,
    ]);
  }
  if (roll < 0.935) {
    // Smart TVs, streaming sticks, consoles, watches.
    return r.pick([
      `Mozilla/5.0 (SMART-TV; Linux; Tizen ${r.int(5, 8)}.0) AppleWebKit/537.36 (KHTML, like Gecko) ${r.int(76, 108)}.0.0.0/${r.int(5, 8)}.0 TV Safari/537.36`,
      `Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${r.int(79, 108)}.0.0.0 Safari/537.36 WebAppManager`,
      `Mozilla/5.0 (Linux; Android ${r.int(9, 11)}; AFT${r.pick(['MM', 'KA', 'SSS', 'T'])} Build/PS${r.int(7000, 7999)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Mobile Safari/537.36`,
      `Mozilla/5.0 (Linux; Android 12; Chromecast) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36 CrKey/1.${r.int(50, 60)}.500000`,
      `Mozilla/5.0 (PlayStation; PlayStation 5/${r.int(2, 9)}.${r.int(0, 60)}) AppleWebKit/605.1.15 (KHTML, like Gecko)`,
      `Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox Series X) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, false)} Safari/537.36 Edge/20.02`,
      `Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.${r.int(10, 20)}.${r.int(1, 9)} NintendoBrowser/5.1.0.${r.int(10000, 30000)}`,
      `Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; SAMSUNG SM-R${r.int(700, 799)} Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Version/1.0 Chrome/28.0 Mobile Safari/537.36`,
    ]);
  }
  // Crawlers, monitors, command-line and HTTP-library clients.
  return r.pick([
    'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    `Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chromeVersion(r, true)} Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)`,
    'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
    'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)',
    'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)',
    'DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
    'Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)',
    'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)',
    'Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)',
    'Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)',
    `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/${chromeVersion(r, true)} Safari/537.36`,
    `curl/${r.int(7, 8)}.${r.int(50, 88)}.${r.int(0, 2)}`,
    `Wget/1.${r.int(19, 24)}.${r.int(0, 5)}`,
    `python-requests/2.${r.int(25, 32)}.${r.int(0, 3)}`,
    `Go-http-client/${r.pick(['1.1', '2.0'])}`,
    `okhttp/${r.int(3, 4)}.${r.int(9, 12)}.${r.int(0, 3)}`,
    `axios/1.${r.int(4, 7)}.${r.int(0, 9)}`,
    'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
    `Java/${r.pick(['1.8.0_392', '11.0.21', '17.0.9', '21.0.1'])}`,
    `libwww-perl/6.${r.int(60, 77)}`,
  ]);
}

/** The most common user agents, most frequent first: the head of the distribution. */
const HEAD_USER_AGENTS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
];

/**
 * `size` distinct user agents ordered by popularity (index 0 most common): the head above, then
 * synthesized ones. Pass a random source with a fixed seed for the same population in every run.
 */
export function buildUserAgentPool(r: Random, size = 4000): string[] {
  const pool = new Set<string>(HEAD_USER_AGENTS);
  let attempts = 0;
  while (pool.size < size && attempts++ < size * 50) pool.add(synthesizeUserAgent(r));
  return [...pool];
}

/**
 * Draws user agents from a pool with a long tail: `P(rank i) ~ 1/(i+1)^s`, plus a share `fresh` of
 * newly synthesized strings (in-app browser builds, new versions) that a cache has never seen.
 */
export class UserAgentSampler {
  private readonly cdf: Float64Array;

  constructor(private readonly pool: readonly string[], s = 1.0, private readonly fresh = 0.01) {
    this.cdf = new Float64Array(pool.length);
    let sum = 0;
    for (let i = 0; i < pool.length; i++) this.cdf[i] = sum += 1 / Math.pow(i + 1, s);
    for (let i = 0; i < pool.length; i++) this.cdf[i] /= sum;
  }

  sample(r: Random): string {
    if (r.chance(this.fresh)) return synthesizeUserAgent(r);
    const u = r.next();
    let lo = 0, hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    return this.pool[lo];
  }
}

// ------------------------------------------------------------------------------------------------
// Referrers and campaigns

const SEARCH_REFERRERS = [
  'https://www.google.com/', 'https://www.google.com/', 'https://www.google.com/', 'https://www.google.co.uk/', 'https://www.google.de/',
  'https://www.google.com.br/', 'https://www.google.co.in/', 'https://www.google.co.jp/', 'https://www.google.fr/', 'https://www.google.es/',
  'https://www.google.ca/', 'https://www.bing.com/', 'https://www.bing.com/search?q=winter+jacket', 'https://duckduckgo.com/',
  'https://search.yahoo.com/', 'https://search.yahoo.co.jp/', 'https://yandex.ru/', 'https://www.baidu.com/link?url=abc', 'https://www.ecosia.org/',
];
const SOCIAL_REFERRERS = [
  'https://m.facebook.com/', 'https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F', 'https://www.facebook.com/', 'https://l.instagram.com/',
  'https://t.co/', 'https://x.com/', 'https://www.linkedin.com/', 'https://lnkd.in/', 'https://www.reddit.com/', 'https://old.reddit.com/',
  'https://www.youtube.com/', 'https://www.pinterest.de/', 'https://www.pinterest.com/', 'https://www.tiktok.com/',
];
const OTHER_REFERRERS = [
  'https://news.ycombinator.com/item?id=42', 'https://en.wikipedia.org/wiki/Shoe', 'https://www.trustpilot.com/review/shop.example.com',
  'https://forum.outdoor-friends.net/t/best-boots/311', 'https://deals.example.org/', 'https://Blog.Example-Reviews.COM:8443/best-bags',
  'http://localhost:3000/', 'https://xn--bcher-kva.example/', 'https://192.168.1.20/', 'https://mail.yahoo.com/',
];
const INVALID_REFERRERS = ['android-app://com.google.android.gm/', '', 'about:blank', 'www.google.com', '/relative/path', 'https://'];

/**
 * Where a session comes from, as its first page's referrer: null (direct), a search engine, a
 * social network, another site, or an invalid value. Internal navigation (the previous page) is
 * the caller's: it knows the pages.
 */
export function entryReferrer(r: Random): string | null {
  const roll = r.next();
  if (roll < 0.45) return null;
  if (roll < 0.75) return r.pick(SEARCH_REFERRERS);
  if (roll < 0.88) return r.pick(SOCIAL_REFERRERS);
  if (roll < 0.97) return r.pick(OTHER_REFERRERS);
  return r.pick(INVALID_REFERRERS);
}

const UTM_SOURCES = ['google', 'Google', 'newsletter', 'facebook', 'instagram', 'twitter', 'linkedin', 'bing', 'partner-blog', 'Spring+Promo', 'caf%C3%A9-news'];
const UTM_MEDIUMS = ['cpc', 'CPC', 'ppc', 'email', 'Email', 'newsletter', 'social', 'sm', 'display', 'banner', 'affiliate', 'referral', 'paid', ''];
const UTM_CAMPAIGNS = ['spring_sale', 'Black%20Friday', 'black+friday', 'winter-2026', 'launch', 'retargeting_q4', '50%off', 'brand', '%E9t%E9', 'welcome'];

/** A UTM-tagged query string (without `?`) as campaign tools write them, sometimes sloppily. */
export function utmQuery(r: Random): string {
  const params: string[] = [];
  params.push(`utm_source=${r.pick(UTM_SOURCES)}`);
  if (r.chance(0.9)) params.push(`utm_medium=${r.pick(UTM_MEDIUMS)}`);
  if (r.chance(0.8)) params.push(`utm_campaign=${r.pick(UTM_CAMPAIGNS)}`);
  if (r.chance(0.2)) params.push(`utm_content=${r.pick(['hero', 'footer', 'v2'])}`);
  if (r.chance(0.1)) params.push(`gclid=${r.int(100000, 999999)}`);
  // Order varies between tools.
  for (let i = params.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [params[i], params[j]] = [params[j], params[i]];
  }
  return params.join('&');
}

// ------------------------------------------------------------------------------------------------
// Country spellings

/** English names and alpha-3 codes of the countries the generator places users in. */
const COUNTRY_SPELLINGS: Readonly<Record<string, readonly string[]>> = {
  US: ['United States', 'USA', 'united states of america'],
  DE: ['Germany', 'DEU', 'germany'],
  GB: ['UK', 'United Kingdom', 'GBR', 'uk'],
  FR: ['France', 'FRA'],
  IN: ['India', 'IND'],
  BR: ['Brazil', 'BRA'],
  JP: ['Japan', 'JPN'],
  ES: ['Spain', 'ESP'],
  CA: ['Canada', 'CAN'],
  XK: ['Kosovo'],
};
const GARBAGE_COUNTRIES = ['Narnia', 'N/A', '??', 'Earth', '12', 'de-DE'];

/**
 * The `country` field as producers write it for a user in `alpha2`: mostly the code, sometimes
 * lower case or padded, an alpha-3 code, an English name, `UK`, or something that is no country.
 * Blank and missing values are the caller's.
 */
export function countrySpelling(r: Random, alpha2: string): string {
  const roll = r.next();
  if (roll < 0.8) return alpha2;
  if (roll < 0.86) return alpha2.toLowerCase();
  if (roll < 0.88) return ` ${alpha2} `;
  if (roll < 0.985) return r.pick(COUNTRY_SPELLINGS[alpha2] ?? [alpha2]);
  return r.pick(GARBAGE_COUNTRIES);
}
