/**
 * The provisioner's fine-grained access control roles against a REAL security plugin: the
 * security-enabled test node (local-stack/opensearch-secure/, OpenSearch 2.19.4 + opensearch-security
 * 2.19.4.0, basic auth over plain HTTP on 127.0.0.1).
 *
 * How principals are mapped. In AWS, the domain sees an IAM principal's role ARN as a *backend
 * role*: `ensureSecurity` puts the indexer's and the analysts' IAM role ARNs into the mappings'
 * `backend_roles`. Here each principal is an internal user whose `backend_roles` hold that same
 * (fake) ARN, so the mappings the provisioner writes are exactly the ones production writes, and
 * a user gets a role only through them. (Mapping the users by name instead would prove nothing
 * about the ARNs in `backend_roles`.)
 *
 * The provisioner runs as a user mapped the way AWS maps the domain's master user (all_access and
 * security_manager), and it runs the real `provisionSearch` (security roles and mappings, then
 * templates, indices and aliases of the five tables and the computations ledger). The indexer runs
 * the real `indexLines` (the ledger's put and get by id, bulk with external versions through each
 * table's alias, refresh, delete_by_query with slices=auto).
 */
import { Client } from '@opensearch-project/opensearch';
import { ensureDashboardsUserRole } from '../support/opensearch-secure';
import { indexLines } from '../../lambdas/indexer/core';
import { provisionSearch } from '../../lambdas/search-provisioner/core';
import {
  analystRole,
  ANALYST_ROLE,
  DASHBOARDS_USER_ROLE,
  ensureSecurity,
  indexerRole,
  INDEXER_ROLE,
  mergeRoleMapping,
  type RoleMapping,
} from '../../lambdas/search-provisioner/security';
import { allAliases, computationsAlias, TABLE_NAMES, tableAlias, TableName } from '../../lambdas/indexer/tables';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';
import { aggregateRows, recordingTelemetry, TableRowInput, tableRows, toNdjson } from '../indexer/fixtures';

const API = '/_plugins/_security/api';
const run = uniqueName('fgac');
/** The deployment's alias prefix: the tables' aliases are `<run>-url-country-daily`, ... */
const prefix = run;
const alias = tableAlias('url_country_daily', prefix);
const ledger = computationsAlias(prefix);
// Outside the serving patterns `<alias>*`, but in the same naming family, so a too-wide pattern shows.
const otherIndex = `${run}-other`;
const arn = (name: string) => `arn:aws:iam::123456789012:role/${run}-${name}`;
const PROVISIONER_ARN = arn('provisioner');
const INDEXER_ARN = arn('indexer');
const ANALYST_ARN = arn('analyst');
const PASSWORD = 'Fgac-Test-Passw0rd!2026';

type Response = { statusCode: number; body: any };

let admin: Client;
let endpoint: string;
const clients: Client[] = [];
const users = { provisioner: `${run}-provisioner`, indexer: `${run}-indexer`, analyst: `${run}-analyst`, outsider: `${run}-outsider` };
let as: Record<keyof typeof users, Client>;

function basicAuthClient(username: string, password: string): Client {
  // The production client builder knows SigV4 and unsigned only; the secured node takes basic auth.
  // Same transport settings as createOpenSearchClient (no client-side retries).
  const client = new Client({ node: endpoint, auth: { username, password }, maxRetries: 0, requestTimeout: 60_000 });
  clients.push(client);
  return client;
}

/** Any request, returning the status instead of throwing on 4xx. */
async function call(client: Client, method: string, path: string, body?: unknown, querystring?: Record<string, unknown>): Promise<Response> {
  // A string body is NDJSON (_bulk, _msearch): sent as it is, with the NDJSON content type.
  const payload = typeof body === 'string' ? { bulkBody: body } : { body: body as any };
  return (await client.transport.request(
    { method, path, querystring, ...payload },
    { ignore: [400, 401, 403, 404, 409] },
  )) as unknown as Response;
}

/** A bulk request is refused either as a whole (403) or item by item (every item 403). */
function bulkRefused(response: Response): boolean {
  if (response.statusCode === 403) return true;
  const items: any[] = response.body?.items ?? [];
  return items.length > 0 && items.every((item) => (Object.values(item)[0] as { status: number }).status === 403);
}

const forbidden = (response: Response) => ({ status: response.statusCode, type: response.body?.error?.type });
const FORBIDDEN = { status: 403, type: 'security_exception' };

async function index(client: Client, date: string, computedAt: string, count: number, table: TableName = 'url_country_daily') {
  const rows: readonly object[] = table === 'url_country_daily' ? aggregateRows(date, computedAt, count) : tableRows(table, date, computedAt, count);
  async function* body() {
    yield Buffer.from(toNdjson(rows));
  }
  return indexLines(
    // S3 is only used for malformed-row reports, which these rows never produce.
    { s3: s3Client(), openSearch: client, telemetry: recordingTelemetry(), config: { aliasPrefix: prefix, retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 200 } } },
    { bucket: 'unused', key: `aggregates/${table}/event_date=${date}/part-0.json`, table, eventDate: date, source: body() },
  );
}

async function putMapping(role: string, backendRoles: string[]): Promise<void> {
  const current = await call(admin, 'GET', `${API}/rolesmapping/${role}`);
  const existing = current.statusCode === 200 ? (current.body[role] as Partial<RoleMapping>) : undefined;
  const put = await call(admin, 'PUT', `${API}/rolesmapping/${role}`, mergeRoleMapping(existing, backendRoles));
  expect([200, 201]).toContain(put.statusCode);
}

let provisionResult: Awaited<ReturnType<typeof provisionSearch>>;

beforeAll(async () => {
  const endpoints = await ensureEngines(['opensearch-secure']);
  endpoint = endpoints.openSearchSecure.endpoint;
  admin = basicAuthClient(endpoints.openSearchSecure.adminUser, endpoints.openSearchSecure.adminPassword);

  await ensureDashboardsUserRole(admin);

  // The principals: internal users carrying their IAM role ARN as backend role (see the header).
  const backendRoles = { provisioner: [PROVISIONER_ARN], indexer: [INDEXER_ARN], analyst: [ANALYST_ARN], outsider: [arn('unmapped')] };
  for (const [key, name] of Object.entries(users) as Array<[keyof typeof users, string]>) {
    const put = await call(admin, 'PUT', `${API}/internalusers/${name}`, { password: PASSWORD, backend_roles: backendRoles[key] });
    if (put.statusCode !== 200 && put.statusCode !== 201) throw new Error(`creating user ${name}: ${put.statusCode} ${JSON.stringify(put.body)}`);
  }
  as = {
    provisioner: basicAuthClient(users.provisioner, PASSWORD),
    indexer: basicAuthClient(users.indexer, PASSWORD),
    analyst: basicAuthClient(users.analyst, PASSWORD),
    outsider: basicAuthClient(users.outsider, PASSWORD),
  };
  // What AWS does for the domain's master user (the provisioner's IAM role): all_access, plus
  // security_manager, an AWS predefined role for the security REST API that the open-source plugin
  // does not have. Here all_access alone reaches that API (plugins.security.restapi.roles_enabled).
  await putMapping('all_access', [PROVISIONER_ARN]);

  // The real provisioner, as the master user: roles and mappings first, then template, index, alias.
  provisionResult = await provisionSearch(as.provisioner, {
    aliasPrefix: prefix,
    generation: 1,
    replicas: 0,
    configureSecurity: true,
    importDashboards: false,
    indexerRoleArns: [INDEXER_ARN],
    analystRoleArns: [ANALYST_ARN],
    retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
  });

  // An index the clickstream roles must not reach.
  expect((await call(admin, 'PUT', `/${otherIndex}`, { settings: { number_of_replicas: 0 } })).statusCode).toBe(200);
  expect((await call(admin, 'PUT', `/${otherIndex}/_doc/1`, { secret: 'not for the pipeline' }, { refresh: 'true' })).statusCode).toBe(201);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  if (admin) {
    for (const name of allAliases(prefix)) {
      await call(admin, 'DELETE', `/${name}-*`);
      await call(admin, 'DELETE', `/_index_template/${name}`);
    }
    await call(admin, 'DELETE', `/${otherIndex}`);
    for (const name of Object.values(users)) await call(admin, 'DELETE', `${API}/internalusers/${name}`);
  }
  await Promise.all(clients.map((client) => client.close()));
});

describe('the provisioner (master user)', () => {
  it('creates both roles, the mappings to the IAM role ARNs, and the serving index behind every alias', async () => {
    expect(provisionResult.securityRoles).toEqual([INDEXER_ROLE, ANALYST_ROLE]);
    for (const name of allAliases(prefix)) expect(provisionResult.indices[name]).toEqual({ template: name, writeIndex: `${name}-v1`, alias: 'created' });

    const role = async (name: string) => (await call(admin, 'GET', `${API}/roles/${name}`)).body[name];
    expect(await role(INDEXER_ROLE)).toMatchObject(indexerRole(prefix));
    expect(await role(ANALYST_ROLE)).toMatchObject(analystRole(prefix));
    for (const [role, roleArn] of [
      [INDEXER_ROLE, INDEXER_ARN],
      [ANALYST_ROLE, ANALYST_ARN],
      [DASHBOARDS_USER_ROLE, ANALYST_ARN],
    ]) {
      expect((await call(admin, 'GET', `${API}/rolesmapping/${role}`)).body[role].backend_roles).toContain(roleArn);
    }
  });

  it('the plugin resolves each principal to exactly its roles through the ARN backend roles', async () => {
    const rolesOf = async (client: Client) => ((await call(client, 'GET', '/_plugins/_security/authinfo')).body.roles as string[]).sort();
    expect(await rolesOf(as.indexer)).toEqual([INDEXER_ROLE]);
    expect(await rolesOf(as.analyst)).toEqual([ANALYST_ROLE, DASHBOARDS_USER_ROLE].sort());
    expect(await rolesOf(as.outsider)).toEqual([]);
  });

  it('is idempotent on the real plugin and keeps an operator\'s own mappings', async () => {
    const operatorArn = arn('operator-added');
    await putMapping(ANALYST_ROLE, [operatorArn]);

    await ensureSecurity(as.provisioner, { aliasPrefix: prefix, indexerRoleArns: [INDEXER_ARN], analystRoleArns: [ANALYST_ARN] });

    const mapping = (await call(admin, 'GET', `${API}/rolesmapping/${ANALYST_ROLE}`)).body[ANALYST_ROLE];
    expect(mapping.backend_roles).toEqual(expect.arrayContaining([ANALYST_ARN, operatorArn]));
    expect((await call(as.analyst, 'POST', `/${alias}/_count`, {})).statusCode).toBe(200);
  });

  it('may not be replaced by an unmapped principal: the security API refuses the outsider', async () => {
    const widened = { ...indexerRole(prefix), index_permissions: [{ index_patterns: ['*'], allowed_actions: ['*'] }] };
    const put = await call(as.outsider, 'PUT', `${API}/roles/${INDEXER_ROLE}`, widened);
    expect(put.statusCode).toBe(403);
  });
});

describe('the indexer role', () => {
  const date = '2026-10-01';

  it('runs the real indexer: ledger, bulk with external versions through the alias, refresh, delete_by_query', async () => {
    const first = await index(as.indexer, date, '2026-10-02T01:00:00.000Z', 8);
    expect(first).toMatchObject({ status: 'indexed', rows: 8, indexed: 8, failed: 0, staleDeleted: 0 });

    // A newer computation with fewer rows: the 3 rows it no longer has are deleted (delete_by_query).
    const second = await index(as.indexer, date, '2026-10-02T02:00:00.000Z', 5);
    expect(second).toMatchObject({ status: 'indexed', rows: 5, indexed: 5, failed: 0, staleDeleted: 3 });

    // The same computation again: external versions answer 409 per item, counted as unchanged.
    const again = await index(as.indexer, date, '2026-10-02T02:00:00.000Z', 5);
    expect(again).toMatchObject({ status: 'indexed', indexed: 0, unchanged: 5, failed: 0, staleDeleted: 0 });

    // An older computation arriving late: the ledger (put and get by id) supersedes it, and its
    // date is cleaned up all the same.
    const late = await index(as.indexer, date, '2026-10-02T00:30:00.000Z', 8);
    expect(late).toMatchObject({ status: 'superseded', failed: 0, staleDeleted: 0 });

    const count = await call(admin, 'POST', `/${alias}/_count`, { query: { term: { event_date: date } } });
    expect(count.body.count).toBe(5);
    expect((await call(admin, 'GET', `/${ledger}/_doc/url_country_daily.${date}`)).body._version).toBe(Date.parse('2026-10-02T02:00:00.000Z'));
  });

  it('writes and cleans up every table through its own alias', async () => {
    for (const table of TABLE_NAMES.filter((name) => name !== 'url_country_daily')) {
      expect(await index(as.indexer, date, '2026-10-02T01:00:00.000Z', 4, table)).toMatchObject({ table, status: 'indexed', indexed: 4, failed: 0 });
      expect(await index(as.indexer, date, '2026-10-02T02:00:00.000Z', 2, table)).toMatchObject({ table, status: 'indexed', indexed: 2, staleDeleted: 2 });
      const count = await call(admin, 'POST', `/${tableAlias(table, prefix)}/_count`, { query: { term: { event_date: date } } });
      expect([table, count.body.count]).toEqual([table, 2]);
    }
  });

  it('is refused on an index outside the serving pattern (403)', async () => {
    const doc = { event_date: date, page_url: 'https://shop.example/x', country: 'DE', clicks: 1 };
    expect(forbidden(await call(as.indexer, 'PUT', `/${otherIndex}/_doc/2`, doc))).toEqual(FORBIDDEN);
    const bulk = await call(as.indexer, 'POST', '/_bulk', `${JSON.stringify({ index: { _index: otherIndex, _id: '3' } })}\n${JSON.stringify(doc)}\n`);
    expect(bulkRefused(bulk)).toBe(true);
    expect(forbidden(await call(as.indexer, 'POST', `/${otherIndex}/_search`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'POST', `/${otherIndex}/_delete_by_query`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'POST', `/${otherIndex}/_refresh`))).toEqual(FORBIDDEN);
    expect((await call(admin, 'POST', `/${otherIndex}/_count`)).body.count).toBe(1);
  });

  it('cannot administer the serving indices: no index creation, mapping change, deletion, alias or template change', async () => {
    expect(forbidden(await call(as.indexer, 'DELETE', `/${ledger}-v1`))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'PUT', `/${ledger}-v1/_mapping`, { properties: { extra: { type: 'keyword' } } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'PUT', `/${alias}-v9`))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'PUT', `/${alias}-v1/_mapping`, { properties: { extra: { type: 'keyword' } } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'DELETE', `/${alias}-v1`))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'POST', '/_aliases', { actions: [{ remove: { index: `${alias}-v1`, alias } }] }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.indexer, 'PUT', `/_index_template/${alias}`, { index_patterns: [`${alias}-v*`] }))).toEqual(FORBIDDEN);
  });
});

describe('the analyst role', () => {
  const date = '2026-10-05';

  beforeAll(async () => {
    // Indexed as admin, so that an indexer failure does not show up here as well.
    for (const table of TABLE_NAMES) {
      const indexed = await index(admin, date, '2026-10-06T01:00:00.000Z', 6, table);
      expect(indexed).toMatchObject({ status: 'indexed', indexed: 6 });
    }
  });

  it('reads every table through its alias, and not the computations ledger', async () => {
    for (const table of TABLE_NAMES) {
      const count = await call(as.analyst, 'POST', `/${tableAlias(table, prefix)}/_count`, { query: { term: { event_date: date } } });
      expect([table, count.statusCode, count.body.count]).toEqual([table, 200, 6]);
    }
    const rows: TableRowInput[] = (await call(as.analyst, 'POST', `/${tableAlias('traffic_hourly', prefix)}/_search`, { query: { term: { event_date: date } } })).body.hits.hits.map((hit: { _source: TableRowInput }) => hit._source);
    expect(rows.map((row) => row.event_hour).sort()).toEqual(tableRows('traffic_hourly', date, '', 6).map((row) => row.event_hour).sort());
    expect(forbidden(await call(as.analyst, 'POST', `/${ledger}/_search`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
  });

  it('reads the serving indices the way Dashboards does: search, msearch, count, get, mappings, field caps, resolve', async () => {
    const search = await call(as.analyst, 'POST', `/${alias}/_search`, {
      size: 0,
      query: { term: { event_date: date } },
      aggs: { clicks: { sum: { field: 'clicks' } } },
    });
    expect(search.statusCode).toBe(200);
    expect(search.body.hits.total.value).toBe(6);

    const msearch = await call(as.analyst, 'POST', '/_msearch', `${JSON.stringify({ index: alias })}\n${JSON.stringify({ size: 0, query: { term: { event_date: date } } })}\n`);
    expect(msearch.statusCode).toBe(200);
    expect(msearch.body.responses[0].hits.total.value).toBe(6);

    expect((await call(as.analyst, 'POST', `/${alias}/_count`, { query: { term: { event_date: date } } })).body.count).toBe(6);
    const hit = (await call(as.analyst, 'POST', `/${alias}/_search`, { size: 1, query: { term: { event_date: date } } })).body.hits.hits[0];
    expect((await call(as.analyst, 'GET', `/${hit._index}/_doc/${encodeURIComponent(hit._id)}`)).statusCode).toBe(200);
    expect((await call(as.analyst, 'GET', `/${alias}/_mapping`)).statusCode).toBe(200);
    expect((await call(as.analyst, 'GET', `/${alias}/_field_caps`, undefined, { fields: '*' })).statusCode).toBe(200);
    expect((await call(as.analyst, 'GET', `/_resolve/index/${alias}*`)).statusCode).toBe(200);
  });

  it('cannot index, delete, or change mappings, and cannot read other indices (403)', async () => {
    const doc = { event_date: date, page_url: 'https://shop.example/forged', country: 'DE', clicks: 999 };
    expect(forbidden(await call(as.analyst, 'POST', `/${alias}/_doc`, doc))).toEqual(FORBIDDEN);
    const bulk = await call(as.analyst, 'POST', '/_bulk', `${JSON.stringify({ index: { _index: alias, _id: 'forged' } })}\n${JSON.stringify(doc)}\n`);
    expect(bulkRefused(bulk)).toBe(true);
    const hit = (await call(as.analyst, 'POST', `/${alias}/_search`, { size: 1, query: { term: { event_date: date } } })).body.hits.hits[0];
    expect(forbidden(await call(as.analyst, 'DELETE', `/${hit._index}/_doc/${encodeURIComponent(hit._id)}`))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.analyst, 'POST', `/${alias}/_delete_by_query`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.analyst, 'PUT', `/${alias}-v1/_mapping`, { properties: { extra: { type: 'keyword' } } }))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.analyst, 'DELETE', `/${alias}-v1`))).toEqual(FORBIDDEN);
    expect(forbidden(await call(as.analyst, 'POST', `/${otherIndex}/_search`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
    // Nothing changed.
    expect((await call(admin, 'POST', `/${alias}/_count`, { query: { term: { event_date: date } } })).body.count).toBe(6);
  });

  it('reads the global Dashboards tenant (where the dashboard lives) and may not write to it', async () => {
    // authinfo lists the tenants a user may open: true = read/write, false = read only.
    const tenants = async (client: Client) => (await call(client, 'GET', '/_plugins/_security/authinfo')).body.tenants as Record<string, boolean>;
    expect((await tenants(as.analyst)).global_tenant).toBe(false);
    expect(await tenants(as.outsider)).not.toHaveProperty('global_tenant');
  });
});

describe('a principal without a mapped role', () => {
  it('is authenticated but may not read the serving indices (403)', async () => {
    expect(forbidden(await call(as.outsider, 'POST', `/${alias}/_search`, { query: { match_all: {} } }))).toEqual(FORBIDDEN);
  });
});
