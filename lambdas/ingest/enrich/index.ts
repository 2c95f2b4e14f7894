/**
 * Enrichment at ingest (SPEC §2 "Enrichment"): the fields computed once per event and stored on
 * the canonical record. The rules live in the small modules next to this one; `Enricher` holds
 * the caches their expensive lookups go through, so one instance should live as long as the
 * Lambda container (`sharedEnricher`), not one invocation.
 */
import type { CacheStats } from './cache';
import { HostClassifier, DEFAULT_HOST_CACHE_SIZE } from './traffic';
import { DEFAULT_USER_AGENT_CACHE_SIZE, UserAgentClassifier } from './user-agent';

export { normalizeCountry, countryCode, UNKNOWN_COUNTRY, type CountryFields } from './country';
export { classifyUserAgent, type DeviceType, type UserAgentFields } from './user-agent';
export { channelOf, classifyHost, isPageHost, referrerHost, utmFields, type Channel, type UtmFields } from './traffic';

export interface EnricherOptions {
  /** User agents whose classification is kept. @default DEFAULT_USER_AGENT_CACHE_SIZE (10,000) */
  readonly userAgentCacheSize?: number;
  /** Referrer hosts whose search/social class is kept. @default DEFAULT_HOST_CACHE_SIZE (10,000) */
  readonly hostCacheSize?: number;
}

export interface EnricherStats {
  readonly userAgents: CacheStats;
  readonly hosts: CacheStats;
}

export class Enricher {
  readonly userAgents: UserAgentClassifier;
  readonly hosts: HostClassifier;
  /** `hosts.classify`, bound once (it is passed to `channelOf` for every event). */
  readonly classifyHost: HostClassifier['classify'];

  constructor(options: EnricherOptions = {}) {
    this.userAgents = new UserAgentClassifier(options.userAgentCacheSize ?? DEFAULT_USER_AGENT_CACHE_SIZE);
    this.hosts = new HostClassifier(options.hostCacheSize ?? DEFAULT_HOST_CACHE_SIZE);
    this.classifyHost = (host) => this.hosts.classify(host);
  }

  stats(): EnricherStats {
    return { userAgents: this.userAgents.stats(), hosts: this.hosts.stats() };
  }

  clear(): void {
    this.userAgents.clear();
    this.hosts.clear();
  }
}

/** The enricher the ingest core uses unless told otherwise; its caches live as long as the process. */
export const sharedEnricher = new Enricher();
