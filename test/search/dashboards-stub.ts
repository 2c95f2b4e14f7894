/**
 * A stand-in for the parts of OpenSearch Dashboards 2.x the provisioner talks to, answering as
 * Dashboards does (no Dashboards server runs here). Each rule names the source file it follows
 * (repository opensearch-project/OpenSearch-Dashboards):
 *
 * - `POST /api/saved_objects/_import[?overwrite=true]`
 *   (src/core/server/saved_objects/import/import_saved_objects.ts): without `overwrite`, an object
 *   whose type and id exist is a `conflict` (check_conflicts.ts). If any conflict or missing
 *   reference was found, `create_saved_objects.ts` skips the bulk create altogether, yet reports
 *   the other objects as created: `successCount` counts them, and nothing is stored.
 * - `POST /api/saved_objects/_resolve_import_errors` (resolve_import_errors.ts): only the objects
 *   the `retries` list are read from the file (create_objects_filter.ts); an existing object
 *   whose retry lacks `overwrite` is a conflict, and the same all-or-nothing create applies.
 * - `POST /api/opensearch-dashboards/settings` (src/core/server/ui_settings/routes/set_many.ts):
 *   stores the changes and answers with every user-provided setting as `{ userValue }`.
 *
 * Objects and settings are kept per tenant (the `securitytenant` header, as the security plugin
 * routes them). `ignoreQueryString` drops the query string of every request, as a proxy that
 * loses the parameters of a signed POST would.
 */
import { recordingServer, RecordedRequest, TestServer } from '../indexer/fixtures';

export interface StoredObject {
  readonly type: string;
  readonly id: string;
  readonly attributes: Record<string, unknown>;
  readonly references: ReadonlyArray<{ name: string; type: string; id: string }>;
}

export interface DashboardsStub extends TestServer {
  /** Objects by tenant, then by `type:id`. */
  readonly objects: Map<string, Map<string, StoredObject>>;
  readonly settings: Map<string, Record<string, unknown>>;
  tenant(name: string): Map<string, StoredObject>;
}

export interface DashboardsStubOptions {
  readonly ignoreQueryString?: boolean;
  readonly basePath?: string;
}

const key = (object: { type: string; id: string }) => `${object.type}:${object.id}`;

/** The fields of a multipart/form-data body by name. */
export function formFields(request: RecordedRequest): Map<string, string> {
  const boundary = /boundary=(.+)$/.exec(String(request.headers['content-type']))?.[1];
  if (!boundary) throw new Error('not a multipart/form-data request');
  const fields = new Map<string, string>();
  for (const chunk of request.body.toString('utf8').split(`--${boundary}`).slice(1, -1)) {
    const [headers, ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    fields.set(/name="([^"]+)"/.exec(headers)![1], rest.join('\r\n\r\n').replace(/\r\n$/, ''));
  }
  return fields;
}

function parseObjects(ndjson: string): StoredObject[] {
  return ndjson
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as StoredObject);
}

export async function dashboardsStub(options: DashboardsStubOptions = {}): Promise<DashboardsStub> {
  const basePath = options.basePath ?? '/_dashboards';
  const objects = new Map<string, Map<string, StoredObject>>();
  const settings = new Map<string, Record<string, unknown>>();
  const tenant = (name: string) => {
    if (!objects.has(name)) objects.set(name, new Map());
    return objects.get(name)!;
  };

  /** Conflict and reference checks, then the all-or-nothing create of create_saved_objects.ts. */
  function create(store: Map<string, StoredObject>, candidates: StoredObject[], overwrite: (object: StoredObject) => boolean) {
    const errors: unknown[] = [];
    for (const object of candidates) {
      if (store.has(key(object)) && !overwrite(object)) errors.push({ type: object.type, id: object.id, title: object.attributes.title, error: { type: 'conflict' } });
    }
    const known = new Set([...store.keys(), ...candidates.map(key)]);
    for (const object of candidates) {
      const missing = object.references.filter((ref) => !known.has(key(ref)));
      if (missing.length > 0) {
        errors.push({ type: object.type, id: object.id, error: { type: 'missing_references', references: missing.map(({ type, id }) => ({ type, id })) } });
      }
    }
    const failed = new Set(errors.map((error) => key(error as StoredObject)));
    const created = candidates.filter((object) => !failed.has(key(object)));
    if (errors.length === 0) for (const object of created) store.set(key(object), object);
    return { success: errors.length === 0, successCount: created.length, ...(errors.length > 0 && { errors }) };
  }

  const server = await recordingServer((request) => {
    const url = new URL(request.url, 'http://dashboards');
    const query = options.ignoreQueryString ? new URLSearchParams() : url.searchParams;
    const store = tenant(String(request.headers.securitytenant ?? 'private'));
    if (request.headers['osd-xsrf'] === undefined) return { status: 400, body: { message: 'Request must contain a osd-xsrf header.' } };
    switch (`${request.method} ${url.pathname}`) {
      case `POST ${basePath}/api/saved_objects/_import`: {
        const overwrite = query.get('overwrite') === 'true';
        return { status: 200, body: create(store, parseObjects(formFields(request).get('file') ?? ''), () => overwrite) };
      }
      case `POST ${basePath}/api/saved_objects/_resolve_import_errors`: {
        const fields = formFields(request);
        const retries = JSON.parse(fields.get('retries') ?? '[]') as Array<{ type: string; id: string; overwrite?: boolean }>;
        const byKey = new Map(retries.map((retry) => [key(retry), retry]));
        const listed = parseObjects(fields.get('file') ?? '').filter((object) => byKey.has(key(object)));
        return { status: 200, body: create(store, listed, (object) => byKey.get(key(object))?.overwrite === true) };
      }
      case `POST ${basePath}/api/opensearch-dashboards/settings`: {
        const name = String(request.headers.securitytenant ?? 'private');
        const changes = (JSON.parse(request.body.toString('utf8')) as { changes: Record<string, unknown> }).changes;
        settings.set(name, { ...settings.get(name), ...changes });
        const userProvided = Object.fromEntries(Object.entries(settings.get(name)!).map(([k, v]) => [k, { userValue: v }]));
        return { status: 200, body: { settings: userProvided } };
      }
      default:
        return { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Not Found' } };
    }
  });
  return { ...server, objects, settings, tenant };
}
