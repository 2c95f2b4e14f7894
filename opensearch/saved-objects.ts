/**
 * The OpenSearch Dashboards saved objects analysts find after deployment (SPEC section 4): one
 * index pattern per table alias and four dashboards, pages, audience, acquisition and today
 * (opensearch/dashboards/*.ts; docs/serving.md describes every panel).
 *
 * Every object has a fixed id, so the provisioner's import with overwrite replaces the objects of
 * an earlier deployment instead of adding copies. Dates and hours are UTC for every viewer: each
 * date histogram says so itself and in its index pattern's `typeMeta`, and the provisioner sets
 * the global tenant's `dateFormat:tz` (lambdas/search-provisioner/dashboards.ts).
 *
 * Run `npx tsx opensearch/saved-objects.ts > clickstream.ndjson` for a file to import by hand
 * (Dashboards > Management > Saved objects > Import).
 */
import { TABLE_ALIASES, TableName } from '../lambdas/indexer/tables';
import { ACQUISITION_IDS, acquisitionObjects } from './dashboards/acquisition';
import { AUDIENCE_IDS, audienceObjects } from './dashboards/audience';
import type { SavedObject } from './dashboards/builders';
import { PAGES_IDS, pagesObjects } from './dashboards/pages';
import { TODAY_IDS, todayObjects } from './dashboards/today';

export type { SavedObject } from './dashboards/builders';
export { DATE_HISTOGRAM_TIME_ZONE } from './dashboards/builders';
export { averageTimeOnPageSpec } from './dashboards/pages';
export { ACQUISITION_IDS, AUDIENCE_IDS, PAGES_IDS, TODAY_IDS };

/** The ids of the pages dashboard's objects (the first dashboard the product shipped). */
export const SAVED_OBJECT_IDS = PAGES_IDS;

/** The dashboards, by name, with their ids. */
export const DASHBOARD_IDS = {
  pages: PAGES_IDS.dashboard,
  audience: AUDIENCE_IDS.dashboard,
  acquisition: ACQUISITION_IDS.dashboard,
  today: TODAY_IDS.dashboard,
} as const;

/** The aliases the objects read; any table not given takes its default alias. */
export type ServingAliases = Partial<Readonly<Record<TableName, string>>>;

/** Every saved object, dependencies (index patterns, visualizations) before their dashboard. */
export function savedObjects(aliases: ServingAliases = {}): SavedObject[] {
  const all = { ...TABLE_ALIASES, ...aliases };
  const objects = [
    ...pagesObjects(all.url_country_daily),
    ...audienceObjects(all),
    ...acquisitionObjects(all.traffic_sources_daily),
    ...todayObjects(all.traffic_hourly),
  ];
  const seen = new Set<string>();
  for (const object of objects) {
    const key = `${object.type}:${object.id}`;
    if (seen.has(key)) throw new Error(`two saved objects are ${key}`);
    seen.add(key);
  }
  return objects;
}

/** The objects as the NDJSON the saved-objects import API takes. */
export function savedObjectsNdjson(aliases: ServingAliases = {}): string {
  return savedObjects(aliases).map((object) => JSON.stringify(object)).join('\n') + '\n';
}

if (require.main === module) {
  process.stdout.write(savedObjectsNdjson());
}
