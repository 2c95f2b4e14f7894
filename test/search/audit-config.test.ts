/**
 * The provisioner's audit configuration (lambdas/search-provisioner/audit.ts) against a REAL
 * security plugin: the security-enabled test node (local-stack/opensearch-secure/). The plugin
 * validates the body (unknown fields, wrong types and unknown categories are refused), so a
 * payload it accepts and reads back is one the domain's plugin accepts too.
 */
import { Client } from '@opensearch-project/opensearch';
import { AUDIT_CONFIG, AUDIT_CONFIG_PATH, ensureAuditLogging } from '../../lambdas/search-provisioner/audit';
import { provisionSearch } from '../../lambdas/search-provisioner/core';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';

let admin: Client;
let endpoint: string;
const clients: Client[] = [];
const client = (username: string, password: string) => {
  const c = new Client({ node: endpoint, auth: { username, password }, maxRetries: 0, requestTimeout: 60_000 });
  clients.push(c);
  return c;
};
const API = '/_plugins/_security/api';
let before: unknown;

beforeAll(async () => {
  const endpoints = await ensureEngines(['opensearch-secure']);
  endpoint = endpoints.openSearchSecure.endpoint;
  admin = client(endpoints.openSearchSecure.adminUser, endpoints.openSearchSecure.adminPassword);
  before = ((await admin.transport.request({ method: 'GET', path: `${API}/audit` })).body as { config: unknown }).config;
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  // The node is shared: put back the audit configuration it had.
  if (before) await admin.transport.request({ method: 'PUT', path: AUDIT_CONFIG_PATH, body: before as Record<string, unknown> });
  await Promise.all(clients.map((c) => c.close()));
});

test('the plugin accepts the configuration and holds exactly it afterwards', async () => {
  const held = await ensureAuditLogging(admin, { retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 100 } });
  expect(held).toMatchObject({
    enabled: true,
    audit: { ...AUDIT_CONFIG.audit, disabled_rest_categories: expect.arrayContaining([...AUDIT_CONFIG.audit.disabled_rest_categories]) },
    compliance: { enabled: true, internal_config: true, external_config: false, write_log_diffs: false },
  });
  // Idempotent: a second run changes nothing.
  expect(await ensureAuditLogging(admin)).toEqual(held);
});

test('a misspelled field is refused by the plugin (the check above is a real validation)', async () => {
  const response = await admin.transport.request(
    { method: 'PUT', path: AUDIT_CONFIG_PATH, body: { ...AUDIT_CONFIG, audit: { ...AUDIT_CONFIG.audit, enable_rests: true } } },
    { ignore: [400] },
  );
  expect(response.statusCode).toBe(400);
});

test('the provisioner turns audit logging on only when asked to', async () => {
  await admin.transport.request({ method: 'PUT', path: AUDIT_CONFIG_PATH, body: { ...AUDIT_CONFIG, enabled: false } });
  const base = {
    aliasPrefix: uniqueName('audit'), generation: 1, replicas: 0, configureSecurity: false, importDashboards: false,
    indexerRoleArns: [], analystRoleArns: [],
  };
  const enabled = async () => ((await admin.transport.request({ method: 'GET', path: `${API}/audit` })).body as { config: { enabled: boolean } }).config.enabled;
  const without = await provisionSearch(admin, { ...base, auditLogs: false });
  expect(without.auditLogging).toBeUndefined();
  expect(await enabled()).toBe(false);
  const withAudit = await provisionSearch(admin, { ...base, auditLogs: true });
  expect(withAudit.auditLogging).toMatchObject({ enabled: true });
  expect(await enabled()).toBe(true);
});
