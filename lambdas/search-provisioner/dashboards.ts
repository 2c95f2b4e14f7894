/**
 * Imports the dashboard's saved objects through the Dashboards API of the domain
 * (`<endpoint>/_dashboards/api/saved_objects/_import`), signed with SigV4 like any other request.
 *
 * - `overwrite=true` and fixed object ids: a redeploy replaces the objects, never duplicates them.
 * - If the service ignores the query string (it documents that parameters of signed POST URLs
 *   may be dropped), the import reports conflicts instead; they are then resolved with
 *   `_resolve_import_errors`, whose `overwrite` travels in the form body.
 * - `securitytenant: global`: with fine-grained access control the objects go to the tenant all
 *   analysts share, not to the provisioner's private tenant.
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

/** Imports the NDJSON of saved objects, overwriting objects of the same ids. */
export async function importSavedObjects(client: Client, ndjson: string, options: ImportOptions = {}): Promise<ImportResponse> {
  const basePath = options.basePath ?? '/_dashboards';
  const headers = { 'osd-xsrf': 'true', securitytenant: options.tenant ?? 'global' };
  const expected = ndjson.split('\n').filter((line) => line.trim() !== '').length;
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
  const conflicts = (result.errors ?? []).filter((error) => error.error.type === 'conflict');
  if (!result.success && conflicts.length > 0 && conflicts.length === (result.errors ?? []).length) {
    const retries = conflicts.map(({ type, id }) => ({ type, id, overwrite: true, replaceReferences: [] }));
    const resolved = (await post(`${basePath}/api/saved_objects/_resolve_import_errors`, [file, { name: 'retries', value: JSON.stringify(retries) }]))
      .body as ImportResponse;
    result = { success: resolved.success, successCount: result.successCount + resolved.successCount, errors: resolved.errors };
  }
  if (!result.success || result.successCount !== expected) {
    throw new Error(`saved objects import failed (${result.successCount}/${expected} imported): ${JSON.stringify(result.errors ?? [])}`);
  }
  return result;
}
