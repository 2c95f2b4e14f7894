/**
 * Imports the dashboard's saved objects through the Dashboards API of the domain
 * (`<endpoint>/_dashboards/api/saved_objects/_import`), signed with SigV4 like any other request.
 *
 * - `overwrite=true` and fixed object ids: a redeploy replaces the objects, never duplicates them.
 * - If the service ignores the query string (it documents that parameters of signed POST URLs
 *   may be dropped), the import reports conflicts instead; they are then resolved with
 *   `_resolve_import_errors`, whose `overwrite` travels in the form body. Its retries list every
 *   object of the file: Dashboards imports only the listed ones, and an import with any conflict
 *   created none of them.
 * - `securitytenant: global`: with fine-grained access control the objects go to the tenant all
 *   analysts share, not to the provisioner's private tenant.
 * - The global tenant's advanced setting `dateFormat:tz` is set to `UTC`, so that dates and hours
 *   are bucketed and labelled in UTC whatever the viewer's browser zone (docs/serving.md).
 *
 * No Dashboards runs locally, so this is exercised against a recording HTTP server in tests.
 */
import type { Client } from '@opensearch-project/opensearch';
import { randomBytes } from 'crypto';
import { DEFAULT_RETRY_POLICY, RetryHooks, RetryPolicy, withRetries } from '../shared/opensearch-client';

export interface ImportOptions {
  /** Base path of Dashboards on the domain. @default `/_dashboards` */
  readonly basePath?: string;
  /** Tenant the objects go to. @default `global` */
  readonly tenant?: string;
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
}

export interface ImportError {
  readonly id: string;
  readonly type: string;
  readonly title?: string;
  readonly error: { readonly type: string; readonly [key: string]: unknown };
}

export interface ImportResponse {
  readonly success: boolean;
  readonly successCount: number;
  readonly errors?: ImportError[];
}

export interface MultipartField {
  readonly name: string;
  readonly value: string;
  /** Sent as a file part when set. */
  readonly filename?: string;
  readonly contentType?: string;
}

/** A multipart/form-data body (RFC 7578). */
export function multipartBody(fields: readonly MultipartField[], boundary: string = `----clickstream${randomBytes(12).toString('hex')}`): { body: Buffer; contentType: string } {
  const parts = fields.map((field) => {
    const disposition = `form-data; name="${field.name}"${field.filename ? `; filename="${field.filename}"` : ''}`;
    const type = field.contentType ? `\r\nContent-Type: ${field.contentType}` : '';
    return `--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n${field.value}\r\n`;
  });
  return { body: Buffer.from(parts.join('') + `--${boundary}--\r\n`, 'utf8'), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The advanced settings the dashboards need in their tenant. */
export const DASHBOARD_UI_SETTINGS: Readonly<Record<string, string>> = { 'dateFormat:tz': 'UTC' };

export interface ProvisionDashboardsResult {
  readonly settings: Record<string, unknown>;
  readonly savedObjects: ImportResponse;
}

/** Sets the tenant's advanced settings, then imports the saved objects. */
export async function provisionDashboards(client: Client, ndjson: string, options: ImportOptions = {}): Promise<ProvisionDashboardsResult> {
  const settings = await setUiSettings(client, DASHBOARD_UI_SETTINGS, options);
  const savedObjects = await importSavedObjects(client, ndjson, options);
  return { settings, savedObjects };
}

/**
 * Sets advanced settings of the tenant (`POST <basePath>/api/opensearch-dashboards/settings`,
 * src/core/server/ui_settings/routes/set_many.ts) and checks that Dashboards kept them.
 */
export async function setUiSettings(client: Client, changes: Readonly<Record<string, string>>, options: ImportOptions = {}): Promise<Record<string, unknown>> {
  const basePath = options.basePath ?? '/_dashboards';
  const headers = { 'osd-xsrf': 'true', securitytenant: options.tenant ?? 'global' };
  const response = await withRetries(
    () => client.transport.request({ method: 'POST', path: `${basePath}/api/opensearch-dashboards/settings`, body: { changes } }, { headers }),
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.hooks,
  );
  const settings = ((response.body ?? {}) as { settings?: Record<string, { userValue?: unknown }> }).settings ?? {};
  for (const [key, value] of Object.entries(changes)) {
    if (settings[key]?.userValue !== value) {
      throw new Error(`Dashboards did not keep the advanced setting ${key}=${value}: ${JSON.stringify(settings[key] ?? null)}`);
    }
  }
  return settings;
}

/** Type and id of every object of an NDJSON file, in file order. */
export function objectKeys(ndjson: string): Array<{ type: string; id: string }> {
  return ndjson
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const { type, id } = JSON.parse(line) as { type?: unknown; id?: unknown };
      if (typeof type !== 'string' || typeof id !== 'string') throw new Error(`saved object on line ${i + 1} has no type or id`);
      return { type, id };
    });
}

/** Imports the NDJSON of saved objects, overwriting objects of the same ids. */
export async function importSavedObjects(client: Client, ndjson: string, options: ImportOptions = {}): Promise<ImportResponse> {
  const basePath = options.basePath ?? '/_dashboards';
  const headers = { 'osd-xsrf': 'true', securitytenant: options.tenant ?? 'global' };
  const expected = objectKeys(ndjson).length;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const post = (path: string, fields: MultipartField[], querystring?: Record<string, string>) => {
    const { body, contentType } = multipartBody(fields);
    return withRetries(
      () => client.transport.request({ method: 'POST', path, querystring, body }, { headers: { ...headers, 'content-type': contentType } }),
      retry,
      options.hooks,
    );
  };
  const file: MultipartField = { name: 'file', filename: 'clickstream-dashboard.ndjson', contentType: 'application/ndjson', value: ndjson };

  let result = (await post(`${basePath}/api/saved_objects/_import`, [file], { overwrite: 'true' })).body as ImportResponse;
  const errors = result.errors ?? [];
  if (!result.success && errors.length > 0 && errors.every((error) => error.error.type === 'conflict')) {
    // Dashboards creates nothing when any object conflicts (create_saved_objects.ts skips the bulk
    // create while a resolvable error exists, yet counts the other objects as successes), and
    // `_resolve_import_errors` imports only the objects its retries list: so every object of the
    // file is listed, with overwrite, not only the conflicting ones.
    const retries = objectKeys(ndjson).map(({ type, id }) => ({ type, id, overwrite: true, replaceReferences: [] }));
    result = (await post(`${basePath}/api/saved_objects/_resolve_import_errors`, [file, { name: 'retries', value: JSON.stringify(retries) }]))
      .body as ImportResponse;
  }
  if (!result.success || result.successCount !== expected) {
    throw new Error(`saved objects import failed (${result.successCount}/${expected} imported): ${JSON.stringify(result.errors ?? [])}`);
  }
  return result;
}
