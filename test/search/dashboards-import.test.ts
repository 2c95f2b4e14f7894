/**
 * The provisioner's import of the dashboards against a stub that answers as Dashboards 2.x does
 * (test/search/dashboards-stub.ts): whatever the tenant already holds, after provisioning it holds
 * every object of the file as the file has it, and the advanced setting that shows dates in UTC.
 */
import type { Client } from '@opensearch-project/opensearch';
import { DASHBOARD_UI_SETTINGS, importSavedObjects, provisionDashboards } from '../../lambdas/search-provisioner/dashboards';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';
import { savedObjectsNdjson } from '../../opensearch/saved-objects';
import { recordingServer, TestServer } from '../indexer/fixtures';
import { dashboardsStub, DashboardsStub, StoredObject } from './dashboards-stub';

const fast = { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } };
const ndjson = savedObjectsNdjson();
const objects = ndjson.trim().split('\n').map((line) => JSON.parse(line) as StoredObject);
const key = (object: { type: string; id: string }) => `${object.type}:${object.id}`;

let stub: DashboardsStub | TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await stub?.close();
  stub = client = undefined;
});

async function start(ignoreQueryString: boolean): Promise<DashboardsStub> {
  const server = await dashboardsStub({ ignoreQueryString });
  stub = server;
  client = createOpenSearchClient({ endpoint: server.url });
  return server;
}

/** What an earlier deployment left: the index pattern and the first two visualizations, with other titles. */
function earlierDeployment(server: DashboardsStub): void {
  for (const object of objects.slice(0, 3)) {
    server.tenant('global').set(key(object), { ...object, attributes: { ...object.attributes, title: `old ${object.attributes.title}` } });
  }
}

function expectEveryObjectAsInTheFile(server: DashboardsStub): void {
  const stored = server.tenant('global');
  expect([...stored.keys()].sort()).toEqual(objects.map(key).sort());
  for (const object of objects) expect(stored.get(key(object))).toEqual(object);
}

describe('importing the saved objects', () => {
  it('creates every object in the global tenant of an empty Dashboards', async () => {
    const server = await start(false);
    const result = await importSavedObjects(client!, ndjson, fast);
    expect(result.successCount).toBe(objects.length);
    expectEveryObjectAsInTheFile(server);
    expect(server.tenant('private').size).toBe(0);
  });

  it('replaces the objects of an earlier deployment and adds the new ones when overwrite arrives', async () => {
    const server = await start(false);
    earlierDeployment(server);
    await importSavedObjects(client!, ndjson, fast);
    expectEveryObjectAsInTheFile(server);
    expect(server.requests).toHaveLength(1);
  });

  it('when overwrite is lost on the way, a partial conflict is resolved by listing every object of the file', async () => {
    const server = await start(true);
    earlierDeployment(server);
    const result = await importSavedObjects(client!, ndjson, fast);
    expect(result).toMatchObject({ success: true, successCount: objects.length });
    // Dashboards created nothing on the first request: the retry must bring the new objects too.
    expectEveryObjectAsInTheFile(server);
    const retries = JSON.parse(
      /name="retries"\r\n\r\n(.*)\r\n/.exec(server.requests[1].body.toString('utf8'))![1],
    ) as Array<{ type: string; id: string; overwrite: boolean }>;
    expect(retries.map(key)).toEqual(objects.map(key));
    expect(retries.every((retry) => retry.overwrite)).toBe(true);
  });

  it('when overwrite is lost and every object exists, all are overwritten', async () => {
    const server = await start(true);
    for (const object of objects) server.tenant('global').set(key(object), { ...object, attributes: { title: 'stale' } });
    await importSavedObjects(client!, ndjson, fast);
    expectEveryObjectAsInTheFile(server);
  });

  it('fails with the errors when an import error is not a conflict', async () => {
    const server = await start(true);
    const [, ...withoutIndexPattern] = ndjson.trim().split('\n');
    await expect(importSavedObjects(client!, withoutIndexPattern.join('\n') + '\n', fast)).rejects.toThrow(/saved objects import failed.*missing_references/);
    expect(server.tenant('global').size).toBe(0);
  });
});

describe('provisioning the dashboards', () => {
  it('sets the global tenant to show dates in UTC, then imports', async () => {
    const server = await start(true);
    earlierDeployment(server);
    await provisionDashboards(client!, ndjson, fast);
    expect(server.settings.get('global')).toEqual({ 'dateFormat:tz': 'UTC' });
    expect(DASHBOARD_UI_SETTINGS).toEqual({ 'dateFormat:tz': 'UTC' });
    expectEveryObjectAsInTheFile(server);
    expect(server.requests.map((request) => new URL(request.url, 'http://x').pathname)[0]).toBe('/_dashboards/api/opensearch-dashboards/settings');
  });

  it('fails when Dashboards does not keep the setting', async () => {
    stub = await recordingServer(() => ({ status: 200, body: { settings: { 'dateFormat:tz': { userValue: 'Browser' } } } }));
    client = createOpenSearchClient({ endpoint: stub.url });
    await expect(provisionDashboards(client, ndjson, fast)).rejects.toThrow(/did not keep the advanced setting dateFormat:tz=UTC/);
  });
});
