/**
 * Every saved object the product ships, checked against the rules OpenSearch Dashboards 2.19
 * applies when it imports, migrates, loads and renders them. No Dashboards server runs here, so
 * each rule is written out from Dashboards' own source (repository
 * opensearch-project/OpenSearch-Dashboards, file named beside each rule), and where OpenSearch
 * itself enforces the rule (the saved-objects index's strict mapping, the fields of the live
 * aliases), the local OpenSearch is asked.
 */
import type { Client } from '@opensearch-project/opensearch';
import { compile } from 'vega-lite';
import { TABLE_NAMES, TableName } from '../../lambdas/indexer/tables';
import { SavedObject, savedObjects } from '../../opensearch/saved-objects';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';
import { localClient } from '../indexer/fixtures';
import { dropFixtureTables, indexFixtureTables } from './dashboard-fixtures';

const prefix = uniqueName('rules');
const aliases = Object.fromEntries(TABLE_NAMES.map((table) => [table, `${prefix}-${table.replace(/_/g, '-')}`])) as Record<TableName, string>;
const savedObjectsIndex = `${prefix}-osd-saved-objects`;
let client: Client;

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch'])).openSearchEndpoint);
  await indexFixtureTables(client, aliases, Object.fromEntries(TABLE_NAMES.map((t) => [t, []])) as any);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropFixtureTables(client, aliases);
  await client.transport.request({ method: 'DELETE', path: `/${savedObjectsIndex}` }, { ignore: [404] });
  await client.close();
});

const objects = savedObjects(aliases);
const visualizations = objects.filter((o) => o.type === 'visualization');
const stateOf = (vis: SavedObject) => JSON.parse(vis.attributes.visState as string);
const standard = visualizations.filter((vis) => stateOf(vis).type !== 'vega');
const vegaPanels = visualizations.filter((vis) => stateOf(vis).type === 'vega');
const patternOf = (vis: SavedObject) => objects.find((o) => o.type === 'index-pattern' && o.id === vis.references[0].id)!;
const compare = (a: string, b: string) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
};

// ------------------------------------------------------------------------------------------------
// Saved-object types: mappings and migrations

/**
 * The saved-objects index mapping: the root of src/core/server/saved_objects/migrations/core/
 * build_active_mappings.ts (`dynamic: 'strict'`) with the types' own mappings:
 * src/plugins/visualizations/server/saved_objects/visualization.ts,
 * src/plugins/dashboard/server/saved_objects/dashboard.ts and
 * src/plugins/data/server/saved_objects/index_patterns.ts (`dynamic: false`: any attribute).
 */
const SAVED_OBJECTS_MAPPING = {
  dynamic: 'strict',
  properties: {
    migrationVersion: { dynamic: 'true', type: 'object' },
    type: { type: 'keyword' },
    namespace: { type: 'keyword' },
    namespaces: { type: 'keyword' },
    originId: { type: 'keyword' },
    updated_at: { type: 'date' },
    references: { type: 'nested', properties: { name: { type: 'keyword' }, type: { type: 'keyword' }, id: { type: 'keyword' } } },
    'index-pattern': { dynamic: false, properties: { title: { type: 'text' }, type: { type: 'keyword' }, dataSource: { type: 'keyword' } } },
    visualization: {
      properties: {
        description: { type: 'text' },
        kibanaSavedObjectMeta: { properties: { searchSourceJSON: { type: 'text', index: false } } },
        savedSearchRefName: { type: 'keyword', index: false, doc_values: false },
        title: { type: 'text' },
        uiStateJSON: { type: 'text', index: false },
        version: { type: 'integer' },
        visState: { type: 'text', index: false },
      },
    },
    dashboard: {
      properties: {
        description: { type: 'text' },
        hits: { type: 'integer', index: false, doc_values: false },
        kibanaSavedObjectMeta: { properties: { searchSourceJSON: { type: 'text', index: false } } },
        optionsJSON: { type: 'text', index: false },
        panelsJSON: { type: 'text', index: false },
        refreshInterval: {
          properties: {
            display: { type: 'keyword', index: false, doc_values: false },
            pause: { type: 'boolean', index: false, doc_values: false },
            section: { type: 'integer', index: false, doc_values: false },
            value: { type: 'integer', index: false, doc_values: false },
          },
        },
        timeFrom: { type: 'keyword', index: false, doc_values: false },
        timeRestore: { type: 'boolean', index: false, doc_values: false },
        timeTo: { type: 'keyword', index: false, doc_values: false },
        title: { type: 'text' },
        version: { type: 'integer' },
      },
    },
  },
};

/** The latest migration of each type: the last key of its migrations map in
 *  visualization_migrations.ts, dashboard_migrations.ts and index_pattern_migrations.ts. */
const LATEST_MIGRATION: Record<string, string> = { visualization: '7.10.0', dashboard: '7.9.3', 'index-pattern': '7.6.0' };

describe('saved-object types', () => {
  it('every object is of a type Dashboards imports (importableAndExportable), with a title', () => {
    for (const object of objects) {
      expect(Object.keys(LATEST_MIGRATION)).toContain(object.type);
      expect(typeof object.attributes.title).toBe('string');
      expect(Object.keys(object).sort()).toEqual(['attributes', 'id', 'migrationVersion', 'references', 'type']);
    }
  });

  it('every object is stored by the strict saved-objects mapping as Dashboards stores it (serialization/serializer.ts)', async () => {
    await client.transport.request({ method: 'PUT', path: `/${savedObjectsIndex}`, body: { settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: SAVED_OBJECTS_MAPPING } });
    for (const object of objects) {
      const raw = { type: object.type, [object.type]: object.attributes, references: object.references, migrationVersion: object.migrationVersion, updated_at: '2026-07-01T00:00:00.000Z' };
      const response = await client.transport.request({ method: 'PUT', path: `/${savedObjectsIndex}/_doc/${encodeURIComponent(`${object.type}:${object.id}`)}`, body: raw }, { ignore: [400] });
      expect([object.id, response.statusCode, (response.body as any).error?.reason]).toEqual([object.id, 201, undefined]);
    }
    // The rule bites: an attribute outside a type's mapping is refused.
    const bad = { type: 'visualization', visualization: { title: 'x', params: '{}' } };
    const refused = await client.transport.request({ method: 'PUT', path: `/${savedObjectsIndex}/_doc/bad`, body: bad }, { ignore: [400] });
    expect((refused.body as any).error.type).toBe('strict_dynamic_mapping_exception');
  });

  it('no migrationVersion is newer than the type\'s latest migration (document_migrator.ts refuses those), none older (no migration rewrites them)', () => {
    for (const object of objects) {
      expect([object.id, object.migrationVersion[object.type]]).toEqual([object.id, LATEST_MIGRATION[object.type]]);
    }
    // Older than 7.0.1, the visualization migration removeDateHistogramTimeZones
    // (visualization_migrations.ts) would drop the UTC zone of every date histogram.
    expect(compare(LATEST_MIGRATION.visualization, '7.0.1')).toBeGreaterThan(0);
  });

  it('references: every one resolves within the file, panels and search sources name theirs as Dashboards extracts them', () => {
    const keys = new Set(objects.map((o) => `${o.type}:${o.id}`));
    for (const object of objects) for (const ref of object.references) expect(keys).toContain(`${ref.type}:${ref.id}`);
    // src/plugins/visualizations/public/saved_visualizations/_saved_vis.ts: the index pattern is
    // referenced as kibanaSavedObjectMeta.searchSourceJSON.index and named in indexRefName.
    for (const vis of standard) {
      const source = JSON.parse((vis.attributes.kibanaSavedObjectMeta as any).searchSourceJSON);
      expect(vis.references).toEqual([{ name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern', id: expect.any(String) }]);
      expect(source.indexRefName).toBe('kibanaSavedObjectMeta.searchSourceJSON.index');
      expect(source.index).toBeUndefined();
    }
    // src/plugins/dashboard/server/saved_objects/migrations_730.ts and dashboard's
    // extract_references: panels name their visualization by panelRefName = panel_<i>.
    for (const dashboard of objects.filter((o) => o.type === 'dashboard')) {
      const panels = JSON.parse(dashboard.attributes.panelsJSON as string);
      expect(dashboard.references.map((ref) => ref.name)).toEqual(panels.map((_: unknown, i: number) => `panel_${i}`));
      for (const panel of panels) {
        expect(panel.id).toBeUndefined();
        expect(panel.type).toBeUndefined();
      }
    }
  });

  it('dashboard panels fit the 48-column grid without overlapping (dashboard/public/application/embeddable/dashboard_constants.ts)', () => {
    for (const dashboard of objects.filter((o) => o.type === 'dashboard')) {
      const panels = JSON.parse(dashboard.attributes.panelsJSON as string);
      const cells = new Set<string>();
      for (const { gridData } of panels) {
        expect(gridData.x + gridData.w).toBeLessThanOrEqual(48);
        expect(gridData.w).toBeGreaterThan(0);
        expect(gridData.h).toBeGreaterThan(0);
        for (let x = gridData.x; x < gridData.x + gridData.w; x++) {
          for (let y = gridData.y; y < gridData.y + gridData.h; y++) {
            expect(cells.has(`${x},${y}`)).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
      expect(new Set(panels.map((p: any) => p.panelIndex)).size).toBe(panels.length);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// visState

/** Schemas per visualization type: name -> [min, max, accepted agg types (! = refused)]. */
const SCHEMAS: Record<string, Record<string, { min: number; max: number; aggFilter: string[] }>> = {
  // src/plugins/vis_type_table/public/table_vis_type.ts
  table: {
    metric: { min: 1, max: Infinity, aggFilter: ['!geo_centroid', '!geo_bounds'] },
    bucket: { min: 0, max: Infinity, aggFilter: ['!filter'] },
    split: { min: 0, max: 1, aggFilter: ['!filter'] },
  },
  // src/plugins/vis_type_vislib/public/pie.ts
  pie: {
    metric: { min: 1, max: 1, aggFilter: ['sum', 'count', 'cardinality', 'top_hits'] },
    segment: { min: 0, max: Infinity, aggFilter: ['!geohash_grid', '!geotile_grid', '!filter'] },
    split: { min: 0, max: 1, aggFilter: ['!geohash_grid', '!geotile_grid', '!filter'] },
  },
  // src/plugins/vis_type_vislib/public/line.ts
  line: {
    metric: { min: 1, max: Infinity, aggFilter: ['!geo_centroid', '!geo_bounds'] },
    radius: { min: 0, max: 1, aggFilter: ['count', 'avg', 'sum', 'min', 'max', 'cardinality', 'top_hits'] },
    segment: { min: 0, max: 1, aggFilter: ['!geohash_grid', '!geotile_grid', '!filter'] },
    group: { min: 0, max: 3, aggFilter: ['!geohash_grid', '!geotile_grid', '!filter'] },
    split: { min: 0, max: 1, aggFilter: ['!geohash_grid', '!geotile_grid', '!filter'] },
  },
};

/** Field types each aggregation accepts (`filterFieldTypes` of its `field` param):
 *  data/common/search/aggs/metrics/sum.ts, buckets/terms.ts, buckets/date_histogram.ts. */
const FIELD_TYPES: Record<string, string[]> = {
  sum: ['number'],
  terms: ['number', 'boolean', 'date', 'ip', 'string'],
  date_histogram: ['date'],
};

/** src/plugins/vis_default_editor/public/components/agg_filters / utils: `propFilter` semantics. */
function accepts(aggFilter: string[], type: string): boolean {
  const allowed = aggFilter.filter((f) => !f.startsWith('!'));
  if (aggFilter.includes(`!${type}`)) return false;
  return allowed.length === 0 || allowed.includes(type);
}

describe('visState of the standard visualizations', () => {
  it.each(standard.map((vis) => [vis.id, vis] as const))('%s: schemas and their limits (the vis type\'s editorConfig.schemas)', (_id, vis) => {
    const state = stateOf(vis);
    const schemas = SCHEMAS[state.type];
    expect(schemas).toBeDefined();
    expect(state.title).toBe(vis.attributes.title);
    for (const [name, rule] of Object.entries(schemas)) {
      const aggs = state.aggs.filter((agg: any) => agg.schema === name);
      expect(aggs.length).toBeGreaterThanOrEqual(rule.min);
      expect(aggs.length).toBeLessThanOrEqual(rule.max);
      for (const agg of aggs) expect([agg.type, accepts(rule.aggFilter, agg.type)]).toEqual([agg.type, true]);
    }
    for (const agg of state.aggs) expect(Object.keys(schemas)).toContain(agg.schema);
    // agg_config.ts: ids are unique (responses are keyed by them).
    expect(new Set(state.aggs.map((agg: any) => agg.id)).size).toBe(state.aggs.length);
  });

  it.each(standard.map((vis) => [vis.id, vis] as const))('%s: orderBy and series ids name metrics of the visualization (terms.ts, vislib point_series)', (_id, vis) => {
    const state = stateOf(vis);
    const metricIds = state.aggs.filter((agg: any) => agg.schema === 'metric' || agg.schema === 'radius').map((agg: any) => agg.id);
    for (const agg of state.aggs.filter((a: any) => a.type === 'terms')) {
      expect(['_key', ...metricIds]).toContain(agg.params.orderBy);
      expect(['asc', 'desc']).toContain(agg.params.order);
      expect(agg.params.size).toBeGreaterThan(0);
    }
    if (state.type === 'line') {
      const axes = state.params.valueAxes.map((axis: any) => axis.id);
      expect(state.params.seriesParams.map((series: any) => series.data.id).sort()).toEqual(metricIds.filter((id: string) => state.aggs.find((a: any) => a.id === id).schema === 'metric').sort());
      for (const series of state.params.seriesParams) expect(axes).toContain(series.valueAxis);
    }
  });

  it.each(standard.map((vis) => [vis.id, vis] as const))('%s: every aggregated field is aggregatable and of an accepted type, in the index pattern and on the live alias', async (_id, vis) => {
    const state = stateOf(vis);
    const pattern = patternOf(vis);
    const fields = JSON.parse(pattern.attributes.fields as string) as Array<{ name: string; type: string; aggregatable: boolean }>;
    const caps = (await client.transport.request({ method: 'GET', path: `/${pattern.attributes.title}/_field_caps`, querystring: { fields: '*' } })).body as any;
    for (const agg of state.aggs) {
      if (agg.type === 'count') continue;
      const field = fields.find((f) => f.name === agg.params.field);
      expect([agg.params.field, field?.aggregatable]).toEqual([agg.params.field, true]);
      expect(FIELD_TYPES[agg.type]).toContain(field!.type);
      const live = Object.entries<any>(caps.fields[agg.params.field] ?? {});
      expect(live).toHaveLength(1);
      expect(live[0][1].aggregatable).toBe(true);
    }
  });

  it('every date histogram names its UTC zone and an interval Dashboards knows (buckets/_interval_options.ts)', () => {
    for (const vis of standard) {
      for (const agg of stateOf(vis).aggs.filter((a: any) => a.type === 'date_histogram')) {
        expect(agg.params.time_zone).toBe('UTC');
        expect(['auto', 'ms', 's', 'm', 'h', 'd', 'w', 'M', 'y']).toContain(agg.params.interval);
        expect(agg.params.field).toBe(patternOf(vis).attributes.timeFieldName);
      }
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Index patterns

describe('index patterns', () => {
  it.each(TABLE_NAMES.map((t) => [t] as const))('%s: its fields are the live alias\'s fields, as Dashboards reads them from _field_caps (index_patterns/fetcher/lib/field_capabilities)', async (table) => {
    const pattern = objects.find((o) => o.type === 'index-pattern' && o.attributes.title === aliases[table])!;
    const fields = JSON.parse(pattern.attributes.fields as string) as Array<{ name: string; type: string; esTypes?: string[]; aggregatable: boolean; searchable: boolean }>;
    const caps = (await client.transport.request({ method: 'GET', path: `/${aliases[table]}/_field_caps`, querystring: { fields: '*' } })).body as any;
    const mapped = Object.entries<any>(caps.fields).filter(([name]) => !name.startsWith('_'));
    expect(mapped.length).toBeGreaterThan(3);
    // data/common/osd_field_types: castOpenSearchToOsdFieldTypeName.
    const osdType = (es: string) => (es === 'keyword' ? 'string' : es === 'date' ? 'date' : ['long', 'double'].includes(es) ? 'number' : `unknown ${es}`);
    const expected = mapped.map(([name, byType]) => {
      const [[esType, cap]] = Object.entries<any>(byType);
      return { name, type: osdType(esType), esTypes: [esType], aggregatable: cap.aggregatable, searchable: cap.searchable };
    });
    const got = fields.filter((f) => !f.name.startsWith('_')).map(({ name, type, esTypes, aggregatable, searchable }) => ({ name, type, esTypes, aggregatable, searchable }));
    expect(got.sort((a, b) => a.name.localeCompare(b.name))).toEqual(expected.sort((a, b) => a.name.localeCompare(b.name)));
    // The metaFields advanced setting's defaults (ui_settings: _source, _id, _type, _index, _score).
    for (const meta of ['_id', '_index', '_source', '_score']) expect(fields.map((f) => f.name)).toContain(meta);
    expect(pattern.attributes.timeFieldName).toBe(expected.find((f) => f.name === pattern.attributes.timeFieldName && f.type === 'date')?.name);
    // typeMeta is read by savedObjectToSpec (data/common/index_patterns/index_patterns/index_patterns.ts) as JSON.
    expect(JSON.parse(pattern.attributes.typeMeta as string).aggs.date_histogram).toBeDefined();
  });
});

// ------------------------------------------------------------------------------------------------
// Vega

/** The aggregations of a query body, flattened. */
function queryAggs(aggs: Record<string, any>, out: Array<[string, any]> = []): Array<[string, any]> {
  for (const [, agg] of Object.entries(aggs ?? {})) {
    for (const [type, body] of Object.entries<any>(agg)) if (type !== 'aggs') out.push([type, body]);
    if (agg.aggs) queryAggs(agg.aggs, out);
  }
  return out;
}

describe('Vega panels', () => {
  it.each(vegaPanels.map((vis) => [vis.id, vis] as const))('%s: the spec compiles without a warning with Vega-Lite 5.6.0, the version range Dashboards 2.x bundles (vis_type_vega/public/lib/vega.js)', (_id, vis) => {
    const state = stateOf(vis);
    expect(state.aggs).toEqual([]);
    const spec = JSON.parse(state.params.spec);
    expect(spec.$schema).toBe('https://vega.github.io/schema/vega-lite/v5.json');
    const warnings: string[] = [];
    const logger = { level: () => logger, error: (...m: unknown[]) => void warnings.push(`error ${m.join(' ')}`), warn: (...m: unknown[]) => void warnings.push(`warn ${m.join(' ')}`), info: () => logger, debug: () => logger } as any;
    // As vis_type_vega/public/data_model/vega_parser.ts `_calcSizing` does before compiling: fit
    // the panel (autosize fit, width and height "container"); Vega-Lite warns when it cannot.
    const compiled = compile({ ...spec, autosize: { type: 'fit', contains: 'padding' }, width: 'container', height: 'container' }, { logger });
    expect(compiled.spec.data!.length).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
    expect(require('vega-lite/package.json').version).toBe('5.6.0');
  });

  it.each(vegaPanels.map((vis) => [vis.id, vis] as const))('%s: its query reads an alias, in the dashboard context, with aggregatable fields of accepted types (vis_type_vega/public/data_model/opensearch_query_parser.ts)', async (_id, vis) => {
    const { url, format } = JSON.parse(stateOf(vis).params.spec).data;
    expect(Object.values(aliases)).toContain(url.index);
    expect(url['%context%']).toBe(true);
    expect(url.body.query).toBeUndefined(); // with %context% Dashboards refuses a query of its own
    expect(format.property).toMatch(/^aggregations\./);
    const caps = (await client.transport.request({ method: 'GET', path: `/${url.index}/_field_caps`, querystring: { fields: '*' } })).body as any;
    const typeOf = (field: string) => Object.keys(caps.fields[field] ?? {})[0];
    expect(typeOf(url['%timefield%'])).toBe('date');
    for (const [type, body] of queryAggs(url.body.aggs)) {
      if (type === 'bucket_script' || type === 'bucket_selector' || type === 'filters') continue;
      expect([type, body.field, caps.fields[body.field]?.[typeOf(body.field)]?.aggregatable]).toEqual([type, body.field, true]);
      if (type === 'sum') expect(['long', 'double']).toContain(typeOf(body.field));
      if (type === 'terms') expect(typeOf(body.field)).toBe('keyword');
      if (type === 'date_histogram') expect([typeOf(body.field), body.time_zone]).toEqual(['date', 'UTC']);
    }
  });
});
