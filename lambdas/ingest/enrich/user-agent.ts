/**
 * `device_type`, `browser`, `os` and `is_bot` from `user_agent` (SPEC §2, docs/ingest.md).
 *
 * - Bots: isbot 5 (Unlicense), a maintained list of crawlers, spiders, monitors and HTTP
 *   libraries, plus `SUPPLEMENTARY_BOT_PATTERN` for the few command-line and HTTP-library clients
 *   it misses. Checked first: a crawler that pretends to be a phone is a bot.
 * - Everything else: ua-parser-js 1.0.41 (MIT; the 2.x releases are AGPL-3.0 and must not be
 *   used). Its device type `mobile` → `mobile`, `tablet` → `tablet`, `smarttv`, `console`,
 *   `wearable`, `embedded`, `xr` → `other`, no type (what it reports for a PC) → `desktop`.
 * - No user agent (missing, null, empty or blank) → `unknown`.
 *
 * `browser` and `os` are the parser's family names, with two renamings so that one family has one
 * name (`Mobile Safari` → `Safari`, `Mac OS` → `macOS`); null when the parser does not know them.
 * Parsing takes tens of microseconds, so results are cached (`UserAgentClassifier`).
 */
import { createIsbot, getPattern } from 'isbot';
import UAParser from 'ua-parser-js';
import { BoundedCache, type CacheStats } from './cache';

export type DeviceType = 'bot' | 'mobile' | 'tablet' | 'other' | 'desktop' | 'unknown';

export interface UserAgentFields {
  readonly device_type: DeviceType;
  readonly browser: string | null;
  readonly os: string | null;
  readonly is_bot: boolean;
}

/**
 * Command-line and HTTP-library clients that isbot 5.2.3 does not list (checked by the user-agent
 * table in test/ingest/enrich-user-agent.test.ts): Dart's `dart:io` client, Windows PowerShell's
 * `Invoke-WebRequest`, jsdom, and the Uptime Kuma monitor. Everything else in that
 * table (curl, Wget, python-requests, Go-http-client, okhttp, axios, node-fetch, Java,
 * libwww-perl, Apache-HttpClient, PostmanRuntime, ...) isbot already knows.
 */
export const SUPPLEMENTARY_BOT_PATTERN = '^dart\\/|\\(dart:io\\)|windowspowershell\\/|\\bjsdom\\/|uptime-kuma';

const isBot = createIsbot(new RegExp(`${getPattern().source}|${SUPPLEMENTARY_BOT_PATTERN}`, 'i'));

const OTHER_DEVICE_TYPES = new Set(['smarttv', 'console', 'wearable', 'embedded', 'xr']);
const RENAMED: Readonly<Record<string, string>> = { 'Mobile Safari': 'Safari', 'Mac OS': 'macOS' };

const UNKNOWN: UserAgentFields = Object.freeze({ device_type: 'unknown', browser: null, os: null, is_bot: false });

function familyName(name: string | undefined): string | null {
  if (name === undefined || name === '') return null;
  return RENAMED[name] ?? name;
}

const parser = new UAParser();

/** The classification of one user agent, uncached. */
export function classifyUserAgent(userAgent: string | null): UserAgentFields {
  if (userAgent === null || userAgent.trim() === '') return UNKNOWN;
  parser.setUA(userAgent);
  const browser = familyName(parser.getBrowser().name);
  const os = familyName(parser.getOS().name);
  if (isBot(userAgent)) return Object.freeze({ device_type: 'bot', browser, os, is_bot: true });
  const type = parser.getDevice().type;
  const deviceType: DeviceType =
    type === 'mobile' ? 'mobile' : type === 'tablet' ? 'tablet' : type !== undefined && OTHER_DEVICE_TYPES.has(type) ? 'other' : 'desktop';
  return Object.freeze({ device_type: deviceType, browser, os, is_bot: false });
}

/** Most user agents kept (about 0.3 KB each with its result). */
export const DEFAULT_USER_AGENT_CACHE_SIZE = 10_000;

/** `classifyUserAgent` behind a bounded cache; user agents repeat a lot. */
export class UserAgentClassifier {
  private readonly cache: BoundedCache<UserAgentFields>;

  constructor(capacity = DEFAULT_USER_AGENT_CACHE_SIZE) {
    this.cache = new BoundedCache(capacity, classifyUserAgent);
  }

  classify(userAgent: string | null): UserAgentFields {
    return userAgent === null ? UNKNOWN : this.cache.get(userAgent);
  }

  stats(): CacheStats {
    return this.cache.stats();
  }

  clear(): void {
    this.cache.clear();
  }
}
