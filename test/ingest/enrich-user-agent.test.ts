/**
 * `device_type`, `browser`, `os`, `is_bot` (SPEC §2) on a table of real user agents: current
 * desktop and mobile browsers, tablets, in-app browsers, smart TVs, consoles, wearables, major
 * crawlers, uptime monitors, command-line and HTTP-library clients, and no user agent at all.
 * The expectations are written from the spec, not copied from the parser's output.
 */
import { isbot } from 'isbot';
import { buildRawObjects } from '../../lambdas/ingest/core';
import { Enricher } from '../../lambdas/ingest/enrich';
import { classifyUserAgent, SUPPLEMENTARY_BOT_PATTERN, UserAgentClassifier, type DeviceType } from '../../lambdas/ingest/enrich/user-agent';
import { clickEvent, mskEvent, ndjsonLines } from './fixtures';

type Row = [label: string, userAgent: string | null, deviceType: DeviceType, browser?: string | null, os?: string | null];

const TABLE: Row[] = [
  // Desktop browsers
  ['Chrome 131, Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'desktop', 'Chrome', 'Windows'],
  ['Chrome 131, macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'desktop', 'Chrome', 'macOS'],
  ['Chrome, Linux', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'desktop', 'Chrome', 'Linux'],
  ['Chrome, ChromeOS', 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'desktop', 'Chrome', 'Chromium OS'],
  ['Firefox 133, Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'desktop', 'Firefox', 'Windows'],
  ['Firefox, macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0', 'desktop', 'Firefox', 'macOS'],
  ['Firefox, Ubuntu', 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'desktop', 'Firefox', 'Ubuntu'],
  ['Safari 18, macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'desktop', 'Safari', 'macOS'],
  ['Edge 131, Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.51', 'desktop', 'Edge', 'Windows'],
  ['Opera, Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0', 'desktop', 'Opera', 'Windows'],
  // Phones
  ['Safari, iPhone iOS 18', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'mobile', 'Safari', 'iOS'],
  ['Chrome, iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1', 'mobile', 'Chrome', 'iOS'],
  ['Chrome, Android phone (Pixel 8)', 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36', 'mobile', 'Chrome', 'Android'],
  ['Chrome, Android reduced UA', 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'mobile', 'Chrome', 'Android'],
  ['Samsung Internet, Galaxy S23', 'Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36', 'mobile', 'Samsung Internet', 'Android'],
  ['Firefox, Android', 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0', 'mobile', 'Firefox', 'Android'],
  ['Instagram in-app, iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 320.0.2.34.90 (iPhone14,5; iOS 17_4; en_US; en; scale=3.00; 1170x2532; 561937524)', 'mobile', 'Instagram', 'iOS'],
  ['Facebook in-app, iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/450.0.0.38.108;FBBV/564431005;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]', 'mobile', undefined, 'iOS'],
  // Tablets
  ['Safari, iPad', 'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1', 'tablet', 'Safari', 'iOS'],
  ['Chrome, Galaxy Tab S9', 'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'tablet', 'Chrome', 'Android'],
  ['Chrome, Lenovo tablet', 'Mozilla/5.0 (Linux; Android 12; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'tablet', 'Chrome', 'Android'],
  // Smart TVs, streaming sticks, consoles, wearables
  ['Samsung smart TV (Tizen)', 'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36', 'other', undefined, 'Tizen'],
  ['LG smart TV (webOS)', 'Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 WebAppManager', 'other'],
  ['Fire TV stick', 'Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36', 'other'],
  ['Chromecast', 'Mozilla/5.0 (Linux; Android 12; Chromecast) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 CrKey/1.56.500000', 'other'],
  ['PlayStation 5', 'Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)', 'other', undefined, 'PlayStation'],
  ['Xbox Series X', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox Series X) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edge/20.02', 'other'],
  ['Nintendo Switch', 'Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393', 'other'],
  ['Galaxy Gear watch', 'Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; SAMSUNG SM-R750 Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Version/1.0 Chrome/28.0 Mobile Safari/537.36', 'other'],
  // Crawlers (also ones that look like a phone)
  ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot'],
  ['Googlebot smartphone', 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot'],
  ['Bingbot', 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'bot'],
  ['YandexBot', 'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', 'bot'],
  ['Baiduspider', 'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)', 'bot'],
  ['DuckDuckBot', 'DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)', 'bot'],
  ['facebookexternalhit', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'bot'],
  ['Applebot', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)', 'bot'],
  ['GPTBot', 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)', 'bot'],
  ['AhrefsBot', 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 'bot'],
  ['Headless Chrome', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36', 'bot'],
  // Uptime monitors and health checks
  ['UptimeRobot', 'Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)', 'bot'],
  ['Pingdom', 'Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)', 'bot'],
  ['Datadog Synthetics', 'Datadog/Synthetics', 'bot'],
  ['ELB health checker', 'ELB-HealthChecker/2.0', 'bot'],
  ['Uptime Kuma (supplementary pattern)', 'Mozilla/5.0 (compatible; Uptime-Kuma/1.23.11)', 'bot'],
  ['HetrixTools', 'Mozilla/5.0 (compatible; HetrixTools Uptime Monitoring Bot. https://hetrix.tools/)', 'bot'],
  // Command-line and HTTP-library clients
  ['curl', 'curl/8.5.0', 'bot'],
  ['Wget', 'Wget/1.21.4', 'bot'],
  ['python-requests', 'python-requests/2.31.0', 'bot'],
  ['python urllib', 'Python-urllib/3.11', 'bot'],
  ['aiohttp', 'Python/3.11 aiohttp/3.9.1', 'bot'],
  ['Go-http-client', 'Go-http-client/1.1', 'bot'],
  ['Go-http-client 2', 'Go-http-client/2.0', 'bot'],
  ['okhttp', 'okhttp/4.12.0', 'bot'],
  ['axios', 'axios/1.6.8', 'bot'],
  ['node-fetch', 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)', 'bot'],
  ['undici (Node fetch)', 'undici', 'bot'],
  ['Java', 'Java/17.0.2', 'bot'],
  ['Apache HttpClient', 'Apache-HttpClient/4.5.14 (Java/17.0.9)', 'bot'],
  ['libwww-perl', 'libwww-perl/6.72', 'bot'],
  ['PostmanRuntime', 'PostmanRuntime/7.36.0', 'bot'],
  ['HTTPie', 'HTTPie/3.2.2', 'bot'],
  ['Dart (supplementary pattern)', 'Dart/3.2 (dart:io)', 'bot'],
  ['PowerShell (supplementary pattern)', 'Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803', 'bot'],
  ['jsdom (supplementary pattern)', 'Mozilla/5.0 (linux) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/22.1.0', 'bot'],
  // No user agent
  ['null', null, 'unknown', null, null],
  ['empty', '', 'unknown', null, null],
  ['blank', '   ', 'unknown', null, null],
];

describe('user agent classification (SPEC §2)', () => {
  it('has a table of at least 30 real user agents covering every device type', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(30);
    expect(new Set(TABLE.map((r) => r[2]))).toEqual(new Set(['desktop', 'mobile', 'tablet', 'other', 'bot', 'unknown']));
  });

  it.each(TABLE.map((row) => ({ label: row[0], row })))('$label', ({ row }) => {
    const [, userAgent, deviceType, browser, os] = row;
    const fields = classifyUserAgent(userAgent);
    expect(fields.device_type).toBe(deviceType);
    expect(fields.is_bot).toBe(deviceType === 'bot');
    if (browser !== undefined) expect(fields.browser).toBe(browser);
    if (os !== undefined) expect(fields.os).toBe(os);
  });

  it('needs the supplementary pattern only where isbot misses, and the pattern catches no browser', () => {
    const supplementary = new RegExp(SUPPLEMENTARY_BOT_PATTERN, 'i');
    for (const [label, userAgent, deviceType] of TABLE) {
      if (userAgent === null || deviceType !== 'bot') continue;
      // Every row the supplementary pattern is needed for says so in its label, and no other row needs it.
      expect([label, isbot(userAgent)]).toEqual([label, !label.includes('supplementary pattern')]);
    }
    for (const [, userAgent, deviceType] of TABLE) {
      if (userAgent !== null && deviceType !== 'bot') expect([userAgent, supplementary.test(userAgent)]).toEqual([userAgent, false]);
    }
  });

  it('gives null browser and os for what the parser does not know', () => {
    expect(classifyUserAgent('hello')).toMatchObject({ browser: null, os: null });
    expect(classifyUserAgent('Mozilla/5.0 (Unknown; Nothing) Thing/1.0')).toMatchObject({ device_type: expect.any(String), browser: null, os: null });
  });

  it('caches: one parse per distinct user agent, hits counted', () => {
    // The cache keeps at least half its capacity of the most recently used keys (BoundedCache).
    const classifier = new UserAgentClassifier(200);
    const agents = TABLE.map((r) => r[1]).filter((ua): ua is string => ua !== null);
    for (let round = 0; round < 3; round++) for (const ua of agents) classifier.classify(ua);
    expect(classifier.stats()).toMatchObject({ misses: agents.length, hits: 2 * agents.length });
    expect(classifier.classify(agents[0])).toBe(classifier.classify(agents[0]));
  });

  it('stores the fields on the record, through the core', () => {
    const specs = TABLE.map(([, userAgent], i) => ({ offset: i, value: clickEvent({ user_agent: userAgent }) }));
    const result = buildRawObjects(mskEvent(specs), { now: () => 0, enricher: new Enricher() });
    const lines = result.objects.flatMap((o) => ndjsonLines(o.body));
    expect(lines).toHaveLength(TABLE.length);
    expect(lines.map((l) => [l.device_type, l.is_bot])).toEqual(TABLE.map((r) => [r[2], r[2] === 'bot']));
  });
});
