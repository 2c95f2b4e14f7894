/**
 * The local OpenSearch node (local-stack/opensearch) is a real OpenSearch 2.19 that can do what the
 * indexer needs: index templates with aliases, _bulk, painless scripts and _delete_by_query.
 *
 * When the node cannot start, beforeAll throws and every test here fails.
 */
import { Client } from '@opensearch-project/opensearch';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';

// Unique per run so that a rerun never sees indices or templates of an earlier one.
const prefix = uniqueName('engine-test-os');

let client: Client | undefined;

beforeAll(async () => {
  const { openSearchEndpoint } = await ensureEngines(['opensearch']);
  client = new Client({ node: openSearchEndpoint, maxRetries: 0, requestTimeout: 30_000 });
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  if (!client) return;
  await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true });
  await client.indices.deleteIndexTemplate({ name: prefix }).catch(() => undefined);
  await client.close();
});

/** The client beforeAll made; a test never runs without it (beforeAll failing fails the tests). */
function os(): Client {
  if (!client) throw new Error('OpenSearch client not created: the engine did not start');
  return client;
}

describe('local OpenSearch engine', () => {
  it('is OpenSearch 2.19 and its cluster is usable', async () => {
    const info = (await os().info()).body;
    expect(info.version.distribution).toBe('opensearch');
    expect(info.version.number).toMatch(/^2\.19\.\d+$/);
    expect(info.cluster_name).toBe('clickstream-local');

    const health = (await os().cluster.health({ wait_for_status: 'yellow', timeout: '10s' })).body;
    expect(health.timed_out).toBe(false);
    expect(['green', 'yellow']).toContain(health.status);
  });

  it('indexes a document and finds it again with a search', async () => {
    const index = `${prefix}-docs`;
    await os().indices.create({ index, body: { settings: { number_of_shards: 1, number_of_replicas: 0 } } });
    await os().index({
      index,
      id: 'doc-1',
      body: { page_url: 'https://shop.example/cart', country: 'DE', clicks: 7 },
    });
    await os().indices.refresh({ index });

    const result = (
      await os().search({ index, body: { query: { match: { page_url: 'cart' } } } })
    ).body;
    expect(result.hits.hits).toHaveLength(1);
    expect(result.hits.hits[0]._id).toBe('doc-1');
    expect(result.hits.hits[0]._source).toEqual({ page_url: 'https://shop.example/cart', country: 'DE', clicks: 7 });
  });

  it('applies an index template with an alias, takes _bulk, and serves the alias', async () => {
    const alias = `${prefix}-alias`;
    await os().indices.putIndexTemplate({
      name: prefix,
      body: {
        index_patterns: [`${prefix}-tpl-*`],
        priority: 500,
        template: {
          settings: { number_of_shards: 1, number_of_replicas: 0 },
          aliases: { [alias]: {} },
          mappings: {
            dynamic: 'strict',
            properties: {
              event_date: { type: 'date', format: 'strict_date' },
              page_url: { type: 'keyword' },
              country: { type: 'keyword' },
              clicks: { type: 'long' },
              avg_time_on_page_s: { type: 'double' },
            },
          },
        },
      },
    });
    const index = `${prefix}-tpl-v1`;
    const rows = [
      { event_date: '2024-05-01', page_url: '/a', country: 'DE', clicks: 3, avg_time_on_page_s: 1.5 },
      { event_date: '2024-05-01', page_url: '/b', country: 'FR', clicks: 5, avg_time_on_page_s: 2.25 },
      { event_date: '2024-05-02', page_url: '/a', country: 'DE', clicks: 11, avg_time_on_page_s: 4 },
    ];
    const bulk = (
      await os().bulk({
        refresh: true,
        body: rows.flatMap((row) => [
          { index: { _index: index, _id: `${row.event_date}|${row.page_url}|${row.country}` } },
          row,
        ]),
      })
    ).body;
    expect(bulk.errors).toBe(false);
    expect(bulk.items).toHaveLength(3);

    // The template, not dynamic mapping, decided the field types.
    const mapping = (await os().indices.getMapping({ index })).body[index].mappings.properties as Record<
      string,
      { type: string }
    >;
    expect(mapping.event_date.type).toBe('date');
    expect(mapping.page_url.type).toBe('keyword');
    expect(mapping.clicks.type).toBe('long');
    expect(mapping.avg_time_on_page_s.type).toBe('double');

    // Strict mapping from the template rejects a field it does not know.
    const rejected = (
      await os().bulk({ body: [{ index: { _index: index } }, { unexpected_field: 1 }] })
    ).body;
    expect(rejected.errors).toBe(true);
    expect(rejected.items[0].index?.error?.type).toBe('strict_dynamic_mapping_exception');

    const viaAlias = (
      await os().search({
        index: alias,
        body: { query: { term: { page_url: '/a' } }, aggs: { clicks: { sum: { field: 'clicks' } } } },
      })
    ).body;
    expect(viaAlias.hits.total).toEqual({ value: 2, relation: 'eq' });
    expect((viaAlias.aggregations?.clicks as { value: number }).value).toBe(14);
  });

  describe('painless and by-query operations', () => {
    const index = `${prefix}-daily`;

    beforeEach(async () => {
      await os().indices.delete({ index, ignore_unavailable: true });
      await os().indices.create({
        index,
        body: {
          settings: { number_of_shards: 1, number_of_replicas: 0 },
          mappings: {
            properties: {
              event_date: { type: 'date', format: 'strict_date' },
              page_url: { type: 'keyword' },
              clicks: { type: 'long' },
            },
          },
        },
      });
      const bulk = (
        await os().bulk({
          refresh: true,
          body: [
            { index: { _index: index, _id: 'd1-a' } },
            { event_date: '2024-05-01', page_url: '/a', clicks: 2 },
            { index: { _index: index, _id: 'd1-b' } },
            { event_date: '2024-05-01', page_url: '/b', clicks: 9 },
            { index: { _index: index, _id: 'd2-a' } },
            { event_date: '2024-05-02', page_url: '/a', clicks: 4 },
          ],
        })
      ).body;
      expect(bulk.errors).toBe(false);
    });

    it('runs a painless scripted update', async () => {
      await os().update({
        index,
        id: 'd1-a',
        refresh: true,
        body: { script: { lang: 'painless', source: 'ctx._source.clicks += params.more', params: { more: 40 } } },
      });
      const doc = (await os().get({ index, id: 'd1-a' })).body;
      expect(doc._source?.clicks).toBe(42);
    });

    it('filters with a painless script query', async () => {
      const result = (
        await os().search({
          index,
          body: {
            query: {
              bool: {
                filter: {
                  script: {
                    script: {
                      lang: 'painless',
                      source: "doc['clicks'].value * params.factor > params.threshold",
                      params: { factor: 2, threshold: 7 },
                    },
                  },
                },
              },
            },
          },
        })
      ).body;
      expect(result.hits.hits.map((hit) => hit._id).sort()).toEqual(['d1-b', 'd2-a']);
    });

    it('runs _update_by_query with a painless script', async () => {
      const response = (
        await os().updateByQuery({
          index,
          refresh: true,
          conflicts: 'proceed',
          body: {
            query: { term: { page_url: '/a' } },
            script: { lang: 'painless', source: 'ctx._source.clicks = ctx._source.clicks * 10' },
          },
        })
      ).body;
      // The body is a union (it is a task id with wait_for_completion=false); match the sync shape.
      expect(response).toMatchObject({ total: 2, updated: 2, failures: [] });
      const a = (await os().get({ index, id: 'd1-a' })).body;
      const b = (await os().get({ index, id: 'd1-b' })).body;
      expect(a._source?.clicks).toBe(20);
      expect(b._source?.clicks).toBe(9);
    });

    it('removes exactly the matching rows with _delete_by_query', async () => {
      const response = (
        await os().deleteByQuery({
          index,
          refresh: true,
          conflicts: 'proceed',
          body: { query: { term: { event_date: '2024-05-01' } } },
        })
      ).body;
      expect(response).toMatchObject({ total: 2, deleted: 2, failures: [] });

      const left = (await os().search({ index, body: { query: { match_all: {} } } })).body;
      expect(left.hits.hits.map((hit) => hit._id)).toEqual(['d2-a']);
    });
  });
});
