/**
 * The security plugin's audit logging (docs/operations.md, "Audit logs"). Publishing the domain's
 * AUDIT_LOGS to CloudWatch Logs (lib/search-domain.ts) only opens the channel: the plugin logs
 * nothing until its audit configuration is enabled, which takes a user with the security_manager
 * role, the domain's master user, that is the provisioner.
 *
 * What is logged, chosen for an unattended pipeline whose only writer is one function:
 * - every refused or failed request on the REST and transport layers (FAILED_LOGIN,
 *   MISSING_PRIVILEGES, BAD_HEADERS, SSL_EXCEPTION, attempts on the security index), which is who
 *   tried what they may not do;
 * - every change of the security configuration (roles, mappings, users: compliance `internal_config`);
 * - not the granted requests (AUTHENTICATED, GRANTED_PRIVILEGES are off, the plugin's defaults):
 *   the indexer's hourly bulk writes and the analysts' searches would be most of the volume and
 *   the CloudWatch Logs cost while saying nothing an operator acts on;
 * - no request bodies and no bulk items resolved, for the same reason.
 */
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, withRetries } from '../shared/opensearch-client';

export const AUDIT_CONFIG_PATH = '/_plugins/_security/api/audit/config';

/** The body of `PUT _plugins/_security/api/audit/config` (a full replacement of the configuration). */
export const AUDIT_CONFIG = {
  enabled: true,
  audit: {
    enable_rest: true,
    enable_transport: true,
    disabled_rest_categories: ['AUTHENTICATED', 'GRANTED_PRIVILEGES'],
    disabled_transport_categories: ['AUTHENTICATED', 'GRANTED_PRIVILEGES'],
    ignore_users: [] as string[],
    ignore_requests: [] as string[],
    log_request_body: false,
    resolve_indices: true,
    resolve_bulk_requests: false,
    exclude_sensitive_headers: true,
  },
  compliance: {
    enabled: true,
    internal_config: true,
    external_config: false,
    read_metadata_only: true,
    read_watched_fields: {} as Record<string, string[]>,
    read_ignore_users: [] as string[],
    write_metadata_only: true,
    write_log_diffs: false,
    write_watched_indices: [] as string[],
    write_ignore_users: [] as string[],
  },
} as const;

export interface AuditOptions {
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
}

/** Turns audit logging on with AUDIT_CONFIG and returns the configuration the plugin now holds. Idempotent. */
export async function ensureAuditLogging(client: Client, options: AuditOptions = {}): Promise<Record<string, unknown>> {
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  await withRetries(() => client.transport.request({ method: 'PUT', path: AUDIT_CONFIG_PATH, body: AUDIT_CONFIG }), retry, options.hooks);
  const current = await withRetries(() => client.transport.request({ method: 'GET', path: '/_plugins/_security/api/audit' }), retry, options.hooks);
  return ((current.body as { config?: Record<string, unknown> }).config ?? {}) as Record<string, unknown>;
}
