/**
 * The parts of the provisioner that only exist on Amazon OpenSearch Service (the security
 * plugin's REST API and the Dashboards saved-objects API): no local engine has them, so their
 * requests are checked here against a recording server: paths, headers and payloads. The last
 * test runs the whole provisioner with those answered by the recorder and everything else by the
 * real local node, to check the order of the steps end to end.
 */
import type { Client } from '@opensearch-project/opensearch';
import { SAVED_OBJECT_IDS, savedObjectsNdjson } from '../../opensearch/saved-objects';
import { configFromProperties, provisionSearch } from '../../lambdas/search-provisioner/core';
import { importSavedObjects, multipartBody } from '../../lambdas/search-provisioner/dashboards';
import { analystRole, ensureSecurity, indexerRole, mergeRoleMapping } from '../../lambdas/search-provisioner/security';
import { computationsAlias, TABLE_ALIASES, TABLE_NAMES, tableAlias, tableAliases } from '../../lambdas/indexer/tables';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';
import { dropServingIndices, forward, localClient, RecordedRequest, recordingServer, TestServer } from '../indexer/fixtures';

const PREFIX = 'clickstream';
const INDEXER_ARN = 'arn:aws:iam::123456789012:role/Indexer';
const ANALYST_ARN = 'arn:aws:iam::123456789012:role/Analyst';
const fast = { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } };

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const json = (request: RecordedRequest) => JSON.parse(request.body.toString('utf8'));
const pathOf = (request: RecordedRequest) => new URL(request.url, 'http://x').pathname;

/** Same matching as the security plugin: `*` is any run of characters. */
const matches = (pattern: string, index: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`).test(index);

/** The parts of a multipart/form-data body, by field name. */
function formParts(request: RecordedRequest): Map<string, { headers: string; value: string }> {
  const boundary = /boundary=(.+)$/.exec(String(request.headers['content-type']))![1];
  const parts = new Map<string, { headers: string; value: string }>();
  for (const chunk of request.body.toString('utf8').split(`--${boundary}`).slice(1, -1)) {
    const [headers, ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    const name = /name="([^"]+)"/.exec(headers)![1];
    parts.set(name, { headers, value: rest.join('\r\n\r\n').replace(/\r\n$/, '') });
  }
  return parts;
}

/** Every index of a default deployment: each alias, and generations behind it. */
const SERVING = [...Object.values(TABLE_ALIASES), 'clickstream-computations'].flatMap((alias) => [alias, `${alias}-v1`, `${alias}-v2`]);
const OTHERS = ['.kibana', '.opendistro_security', 'clickstream-other', 'clickstream', 'logs-2026', 'clickstream-url-country', 'clickstream-geo'];

describe('security roles', () => {
  it('lets the indexer write, delete-by-query, search and refresh the five tables and the ledger, and nothing else', () => {
    const role = indexerRole(PREFIX);
    expect(role.index_permissions).toHaveLength(1);
    const [permission] = role.index_permissions;
    for (const index of SERVING) expect([index, permission.index_patterns.some((p) => matches(p, index))]).toEqual([index, true]);
    for (const index of OTHERS) expect([index, permission.index_patterns.some((p) => matches(p, index))]).toEqual([index, false]);
    expect(permission.allowed_actions).toEqual(
      expect.arrayContaining([
        'indices:data/write/bulk*',
        'indices:data/write/index',
        'indices:data/write/delete/byquery',
        'indices:admin/refresh*',
        'indices:data/read/search*',
        'indices:data/read/get*',
      ]),
    );
    // Nothing administrative beyond refresh and the shard lookup of delete_by_query with slices=auto
    // (a read-only action; security-roles.test.ts showed the cleanup refused without it), no
    // cluster-wide write.
    expect(permission.allowed_actions.filter((a) => a.startsWith('indices:admin/')).sort()).toEqual(['indices:admin/refresh*', 'indices:admin/shards/search_shards']);
    expect(role.cluster_permissions).toEqual(['indices:data/write/bulk', 'indices:data/read/mget', 'indices:data/read/scroll*']);
  });

  it('gives analysts read access to the five tables only (not the ledger)', () => {
    const role = analystRole(PREFIX);
    expect(role.index_permissions).toEqual([
      { index_patterns: TABLE_NAMES.map((table) => `${tableAlias(table, PREFIX)}*`), allowed_actions: ['read', 'indices:admin/mappings/get'] },
    ]);
    const [permission] = role.index_permissions;
    for (const index of SERVING.filter((name) => !name.startsWith(computationsAlias(PREFIX)))) {
      expect([index, permission.index_patterns.some((p) => matches(p, index))]).toEqual([index, true]);
    }
    for (const index of [...OTHERS, computationsAlias(PREFIX), `${computationsAlias(PREFIX)}-v1`]) {
      expect([index, permission.index_patterns.some((p) => matches(p, index))]).toEqual([index, false]);
    }
    expect(role.cluster_permissions).toEqual(['cluster_composite_ops_ro']);
    expect(role.tenant_permissions).toEqual([{ tenant_patterns: ['global_tenant'], allowed_actions: ['kibana_all_read'] }]);
  });

  it('merges backend roles into an existing mapping without dropping anything', () => {
    expect(mergeRoleMapping({ backend_roles: ['b', 'a'], users: ['bob'], hosts: ['h'] }, ['c', 'a'])).toEqual({
      backend_roles: ['a', 'b', 'c'],
      users: ['bob'],
      hosts: ['h'],
    });
    expect(mergeRoleMapping(undefined, ['x'])).toEqual({ backend_roles: ['x'], users: [], hosts: [] });
  });

  it('PUTs both roles and merges the three role mappings through the security REST API', async () => {
    server = await recordingServer((request) => {
      if (request.method === 'GET' && pathOf(request).endsWith('/rolesmapping/opensearch_dashboards_user')) {
        return { status: 200, body: { opensearch_dashboards_user: { reserved: false, backend_roles: ['arn:aws:iam::123456789012:role/Existing'], users: ['alice'], hosts: [] } } };
      }
      if (request.method === 'GET') return { status: 404, body: { status: 'NOT_FOUND', message: 'not found' } };
      return { status: 200, body: { status: 'OK' } };
    });
    client = createOpenSearchClient({ endpoint: server.url });

    await ensureSecurity(client, { aliasPrefix: PREFIX, indexerRoleArns: [INDEXER_ARN], analystRoleArns: [ANALYST_ARN], ...fast });

    const calls = server.requests.map((r) => `${r.method} ${pathOf(r)}`);
    expect(calls).toEqual([
      'PUT /_plugins/_security/api/roles/clickstream_indexer',
      'PUT /_plugins/_security/api/roles/clickstream_analyst',
      'GET /_plugins/_security/api/rolesmapping/clickstream_indexer',
      'PUT /_plugins/_security/api/rolesmapping/clickstream_indexer',
      'GET /_plugins/_security/api/rolesmapping/clickstream_analyst',
      'PUT /_plugins/_security/api/rolesmapping/clickstream_analyst',
      'GET /_plugins/_security/api/rolesmapping/opensearch_dashboards_user',
      'PUT /_plugins/_security/api/rolesmapping/opensearch_dashboards_user',
    ]);
    expect(json(server.requests[0])).toEqual(indexerRole(PREFIX));
    expect(json(server.requests[1])).toEqual(analystRole(PREFIX));
    expect(json(server.requests[3])).toEqual({ backend_roles: [INDEXER_ARN], users: [], hosts: [] });
    expect(json(server.requests[7])).toEqual({ backend_roles: [ANALYST_ARN, 'arn:aws:iam::123456789012:role/Existing'].sort(), users: ['alice'], hosts: [] });
  });
});

describe('Dashboards saved objects import', () => {
  const objects = savedObjectsNdjson(tableAliases(PREFIX));
  const count = objects.trim().split('\n').length;

  it('builds a well-formed multipart body', () => {
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'f.ndjson', contentType: 'application/ndjson', value: 'a\nb\n' }], 'XyZ');
    expect(contentType).toBe('multipart/form-data; boundary=XyZ');
    expect(body.toString()).toBe('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.ndjson"\r\nContent-Type: application/ndjson\r\n\r\na\nb\n\r\n--XyZ--\r\n');
  });

  it('posts the NDJSON as a file to the import API of the global tenant, overwriting by id', async () => {
    server = await recordingServer(() => ({ status: 200, body: { success: true, successCount: count } }));
    client = createOpenSearchClient({ endpoint: server.url });

    const result = await importSavedObjects(client, objects, fast);

    expect(result.successCount).toBe(count);
    const [request] = server.requests;
    const url = new URL(request.url, server.url);
    expect(`${request.method} ${url.pathname}`).toBe('POST /_dashboards/api/saved_objects/_import');
    expect(url.searchParams.get('overwrite')).toBe('true');
    expect(request.headers['osd-xsrf']).toBe('true');
    expect(request.headers.securitytenant).toBe('global');
    const file = formParts(request).get('file')!;
    expect(file.headers).toContain('filename="clickstream-dashboard.ndjson"');
    expect(file.value).toBe(objects);
  });

  it('resolves conflicts by overwriting when the overwrite flag did not arrive', async () => {
    const conflicts = objects
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .map(({ type, id }) => ({ type, id, title: id, error: { type: 'conflict' } }));
    server = await recordingServer((request) =>
      pathOf(request).endsWith('/_import')
        ? { status: 200, body: { success: false, successCount: 0, errors: conflicts } }
        : { status: 200, body: { success: true, successCount: count } },
    );
    client = createOpenSearchClient({ endpoint: server.url });

    await importSavedObjects(client, objects, fast);

    expect(server.requests.map(pathOf)).toEqual(['/_dashboards/api/saved_objects/_import', '/_dashboards/api/saved_objects/_resolve_import_errors']);
    const parts = formParts(server.requests[1]);
    expect(parts.get('file')!.value).toBe(objects);
    expect(JSON.parse(parts.get('retries')!.value)).toEqual(conflicts.map(({ type, id }) => ({ type, id, overwrite: true, replaceReferences: [] })));
  });

  it('fails loudly on any other import error', async () => {
    server = await recordingServer(() => ({
      status: 200,
      body: { success: false, successCount: count - 1, errors: [{ type: 'visualization', id: SAVED_OBJECT_IDS.topPages, error: { type: 'missing_references' } }] },
    }));
    client = createOpenSearchClient({ endpoint: server.url });
    await expect(importSavedObjects(client, objects, fast)).rejects.toThrow(new RegExp(`saved objects import failed \\(${count - 1}/${count} imported\\).*missing_references`));
  });
});

describe('custom resource properties', () => {
  const valid = {
    ServiceToken: 'arn:x',
    AliasPrefix: PREFIX,
    IndexGeneration: '2',
    Replicas: '1',
    ConfigureSecurity: 'true',
    ImportDashboards: 'false',
    IndexerRoleArns: [INDEXER_ARN],
    AnalystRoleArns: [ANALYST_ARN],
    AssetsHash: 'abc',
  };

  it('reads CloudFormation\'s string properties strictly', () => {
    expect(configFromProperties(valid)).toEqual({
      aliasPrefix: PREFIX,
      generation: 2,
      replicas: 1,
      configureSecurity: true,
      importDashboards: false,
      auditLogs: false,
      indexerRoleArns: [INDEXER_ARN],
      analystRoleArns: [ANALYST_ARN],
    });
    expect(configFromProperties({ ...valid, AuditLogs: 'true' }).auditLogs).toBe(true);
  });

  it.each([
    [{ AliasPrefix: undefined }, /AliasPrefix is required/],
    [{ IndexGeneration: '0' }, /IndexGeneration must be an integer >= 1/],
    [{ Replicas: 'one' }, /Replicas/],
    [{ ConfigureSecurity: 'yes' }, /ConfigureSecurity must be "true" or "false"/],
    [{ IndexerRoleArns: 'arn' }, /IndexerRoleArns must be a list/],
    [{ AuditLogs: 'on' }, /AuditLogs must be "true" or "false"/],
  ])('rejects %j', (change, message) => {
    expect(() => configFromProperties({ ...valid, ...change })).toThrow(message);
  });
});

describe('the whole provisioner', () => {
  let local: Client;
  let upstream: string;
  const prefix = uniqueName('prov-full');
  const alias = tableAlias('url_country_daily', prefix);
  beforeAll(async () => {
    upstream = (await ensureEngines(['opensearch'])).openSearchEndpoint;
    local = localClient(upstream);
  }, ENGINE_START_TIMEOUT_MS);
  afterAll(async () => {
    await dropServingIndices(local, prefix);
    await local.close();
  });

  it('configures security before it creates the aliases, then imports the dashboards for those aliases', async () => {
    const objects = savedObjectsNdjson(tableAliases(prefix));
    server = await recordingServer(async (request) => {
      const path = pathOf(request);
      if (path.startsWith('/_plugins/_security/')) return request.method === 'GET' ? { status: 404, body: {} } : { status: 200, body: { status: 'OK' } };
      if (path === '/_dashboards/api/opensearch-dashboards/settings') return { status: 200, body: { settings: { 'dateFormat:tz': { userValue: 'UTC' } } } };
      if (path.startsWith('/_dashboards/')) return { status: 200, body: { success: true, successCount: objects.trim().split('\n').length } };
      const answer = await forward(upstream, request);
      return { status: answer.status, body: answer.body.toString('utf8') };
    });
    client = createOpenSearchClient({ endpoint: server.url });

    const result = await provisionSearch(client, {
      aliasPrefix: prefix,
      generation: 1,
      replicas: 0,
      configureSecurity: true,
      importDashboards: true,
      indexerRoleArns: [INDEXER_ARN],
      analystRoleArns: [ANALYST_ARN],
      ...fast,
    });

    const order = server.requests.map((r) => `${r.method} ${pathOf(r)}`);
    const lastSecurity = order.map((c) => c.includes('/_plugins/_security/')).lastIndexOf(true);
    const created = [computationsAlias(prefix), ...TABLE_NAMES.map((table) => tableAlias(table, prefix))].map((name) => order.indexOf(`PUT /${name}-v1`));
    const dashboards = order.indexOf('POST /_dashboards/api/saved_objects/_import');
    // The ledger first (the indexer announces a computation before writing rows), then the tables.
    expect(created.every((position, i) => position > lastSecurity && (i === 0 || position > created[i - 1]))).toBe(true);
    expect(created[created.length - 1]).toBeLessThan(dashboards);
    expect(result.indices[alias].writeIndex).toBe(`${alias}-v1`);
    expect(formParts(server.requests[dashboards]).get('file')!.value).toBe(objects);
    // The dashboards' index patterns name the aliases that now exist on the node.
    const patterns = objects.trim().split('\n').map((line) => JSON.parse(line)).filter((object) => object.type === 'index-pattern');
    expect(patterns.map((pattern) => pattern.attributes.title).sort()).toEqual(TABLE_NAMES.map((table) => tableAlias(table, prefix)).sort());
    for (const table of TABLE_NAMES) {
      expect((await local.transport.request({ method: 'HEAD', path: `/_alias/${tableAlias(table, prefix)}` }, { ignore: [404] })).statusCode).toBe(200);
    }
  });
});
