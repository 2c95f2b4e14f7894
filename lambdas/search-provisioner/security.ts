/**
 * Fine-grained access control of the domain (the security plugin's REST API).
 *
 * The provisioner's own IAM role is the domain's master user, so it may manage roles. It creates:
 * - `clickstream_indexer`: write, delete-by-query, search and refresh on the five tables' indices
 *   and the computations ledger only, mapped to the indexer function's IAM role;
 * - `clickstream_analyst`: read-only on the five tables' indices and read on the global Dashboards
 *   tenant (where the dashboard is imported), mapped to the analysts' IAM role (the Cognito
 *   identity pool's authenticated role); that role is also added to the built-in
 *   `opensearch_dashboards_user` role, which lets it use Dashboards at all.
 *
 * The main local node has no security plugin: test/search/provisioner-payloads.test.ts checks the
 * payloads against a recording server, and test/search/security-roles.test.ts runs these roles on
 * the security-enabled test node (local-stack/opensearch-secure/) and proves what each principal
 * may and may not do.
 */
import type { Client } from '@opensearch-project/opensearch';
import { computationsAlias, TABLE_NAMES, tableAlias } from '../indexer/tables';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, withRetries } from '../shared/opensearch-client';

export const INDEXER_ROLE = 'clickstream_indexer';
export const ANALYST_ROLE = 'clickstream_analyst';
export const DASHBOARDS_USER_ROLE = 'opensearch_dashboards_user';

export interface SecurityRole {
  readonly cluster_permissions: string[];
  readonly index_permissions: Array<{ index_patterns: string[]; allowed_actions: string[] }>;
  readonly tenant_permissions: Array<{ tenant_patterns: string[]; allowed_actions: string[] }>;
  readonly description: string;
}

/**
 * `<alias>*` covers the alias and every generation `<alias>-vN` behind it, and nothing else (no
 * alias is a prefix of another): one pattern per table.
 */
export const tableIndexPatterns = (aliasPrefix: string): string[] => TABLE_NAMES.map((table) => `${tableAlias(table, aliasPrefix)}*`);

export function indexerRole(aliasPrefix: string): SecurityRole {
  return {
    description: 'Clickstream indexer: writes the five aggregate tables and the computations ledger, removes older computations of a date.',
    // Bulk and multi-get are checked at cluster level as well as per index (the real plugin
    // refuses the ledger's mget without it); delete-by-query scrolls internally.
    cluster_permissions: ['indices:data/write/bulk', 'indices:data/read/mget', 'indices:data/read/scroll*'],
    index_permissions: [
      {
        index_patterns: [...tableIndexPatterns(aliasPrefix), `${computationsAlias(aliasPrefix)}*`],
        allowed_actions: [
          'indices:data/write/bulk*',
          'indices:data/write/index',
          'indices:data/write/delete',
          'indices:data/write/delete/byquery',
          // delete_by_query with slices=auto (freshness.ts) first asks which shards the index has;
          // without this the cleanup is refused (403), found on the real security plugin.
          'indices:admin/shards/search_shards',
          'indices:data/read/search*',
          // The ledger is read by id, with a multi-get (freshness.ts).
          'indices:data/read/mget*',
          'indices:data/read/get*',
          'indices:data/read/scroll*',
          'indices:admin/refresh*',
        ],
      },
    ],
    tenant_permissions: [],
  };
}

export function analystRole(aliasPrefix: string): SecurityRole {
  return {
    description: 'Clickstream analysts: read the five aggregate tables and the shared dashboards.',
    cluster_permissions: ['cluster_composite_ops_ro'],
    index_permissions: [{ index_patterns: tableIndexPatterns(aliasPrefix), allowed_actions: ['read', 'indices:admin/mappings/get'] }],
    tenant_permissions: [{ tenant_patterns: ['global_tenant'], allowed_actions: ['kibana_all_read'] }],
  };
}

export interface RoleMapping {
  backend_roles: string[];
  hosts: string[];
  users: string[];
}

export interface SecurityOptions {
  /** Prefix of every alias (lambdas/indexer/tables.ts). */
  readonly aliasPrefix: string;
  /** IAM role ARNs of the indexer function(s). */
  readonly indexerRoleArns: readonly string[];
  /** IAM role ARNs analysts come with (the Cognito authenticated role). */
  readonly analystRoleArns: readonly string[];
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
}

const API = '/_plugins/_security/api';

/**
 * Adds backend roles to a role mapping, keeping what is mapped already (an operator's own
 * additions, the domain's defaults) instead of replacing the mapping.
 */
export function mergeRoleMapping(existing: Partial<RoleMapping> | undefined, backendRoles: readonly string[]): RoleMapping {
  const union = (a: readonly string[] = [], b: readonly string[] = []) => [...new Set([...a, ...b])].sort();
  return {
    backend_roles: union(existing?.backend_roles, backendRoles),
    hosts: [...(existing?.hosts ?? [])],
    users: [...(existing?.users ?? [])],
  };
}

/** Creates or updates the roles and their mappings. Idempotent. */
export async function ensureSecurity(client: Client, options: SecurityOptions): Promise<{ roles: string[]; mappings: Record<string, RoleMapping> }> {
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const request = (params: Parameters<Client['transport']['request']>[0], ignore?: number[]) =>
    withRetries(() => client.transport.request(params, { ignore }), retry, options.hooks);

  const roles: Array<[string, SecurityRole]> = [
    [INDEXER_ROLE, indexerRole(options.aliasPrefix)],
    [ANALYST_ROLE, analystRole(options.aliasPrefix)],
  ];
  for (const [name, role] of roles) {
    await request({ method: 'PUT', path: `${API}/roles/${name}`, body: role });
  }

  const wanted: Array<[string, readonly string[]]> = [
    [INDEXER_ROLE, options.indexerRoleArns],
    [ANALYST_ROLE, options.analystRoleArns],
    [DASHBOARDS_USER_ROLE, options.analystRoleArns],
  ];
  const mappings: Record<string, RoleMapping> = {};
  for (const [role, arns] of wanted) {
    if (arns.length === 0) continue;
    const current = await request({ method: 'GET', path: `${API}/rolesmapping/${role}` }, [404]);
    const existing = current.statusCode === 404 ? undefined : (current.body as Record<string, Partial<RoleMapping>>)[role];
    const mapping = mergeRoleMapping(existing, arns);
    await request({ method: 'PUT', path: `${API}/rolesmapping/${role}`, body: mapping });
    mappings[role] = mapping;
  }
  return { roles: roles.map(([name]) => name), mappings };
}
