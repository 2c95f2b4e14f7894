/**
 * BulkIndexer's chunking, concurrency and per-item bookkeeping, against a recording HTTP server
 * that plays the node's bulk API (so each outcome can be forced). The same code against the real
 * node, with injected failures, is in indexer.engine.test.ts.
 */
import { actionLine, BulkIndexer } from '../../lambdas/indexer/bulk';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';
import { recordingServer, RecordedRequest, TestServer } from './fixtures';

const noWait = { sleep: async () => undefined, random: () => 0 };
const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function docsOf(request: RecordedRequest): Array<{ action: any; source: any }> {
  const lines = request.body.toString('utf8').split('\n').filter((l) => l !== '');
  const docs = [];
  for (let i = 0; i < lines.length; i += 2) docs.push({ action: JSON.parse(lines[i]), source: JSON.parse(lines[i + 1]) });
  return docs;
}

const created = (request: RecordedRequest) => ({
  status: 200,
  body: { errors: false, items: docsOf(request).map(() => ({ index: { status: 201 } })) },
});

const doc = (i: number, pad = 0) => ({ id: `id-${i}`, version: 1000 + i, source: JSON.stringify({ n: i, pad: 'x'.repeat(pad) }) });

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('serialises an index action with external versioning', () => {
  expect(JSON.parse(actionLine({ id: 'abc', version: 42, source: '{}' }))).toEqual({ index: { _id: 'abc', version: 42, version_type: 'external' } });
});

it('sends chunks of at most maxChunkDocs documents to the alias, requiring the alias to exist', async () => {
  server = await recordingServer(created);
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'my-alias', maxChunkDocs: 3, ...noWait });
  for (let i = 0; i < 8; i++) await bulk.add(doc(i));
  const stats = await bulk.flush();
  expect(server.requests.map((r) => docsOf(r).length)).toEqual([3, 3, 2]);
  const url = new URL(server.requests[0].url, server.url);
  expect(url.pathname).toBe('/my-alias/_bulk');
  expect(url.searchParams.get('require_alias')).toBe('true');
  expect(url.searchParams.get('filter_path')).toBe('errors,items.*.status,items.*.error.type,items.*.error.reason');
  expect(server.requests[0].headers['content-type']).toContain('application/x-ndjson');
  expect(server.requests.flatMap(docsOf).map((d) => d.action.index._id)).toEqual(Array.from({ length: 8 }, (_, i) => `id-${i}`));
  expect(stats).toMatchObject({ indexed: 8, unchanged: 0, failed: 0, retried: 0, requests: 3 });
});

it('keeps every request within maxChunkBytes', async () => {
  server = await recordingServer(created);
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', maxChunkBytes: 1000, ...noWait });
  for (let i = 0; i < 20; i++) await bulk.add(doc(i, 200));
  await bulk.flush();
  expect(server.requests.length).toBeGreaterThan(4);
  for (const request of server.requests) expect(request.body.length).toBeLessThanOrEqual(1000);
  expect(server.requests.flatMap(docsOf)).toHaveLength(20);
});

it('has at most `concurrency` requests in flight, and uses them', async () => {
  let inFlight = 0;
  let most = 0;
  server = await recordingServer(async (request) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 40));
    inFlight--;
    return created(request);
  });
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', maxChunkDocs: 2, concurrency: 3, ...noWait });
  for (let i = 0; i < 30; i++) await bulk.add(doc(i));
  await bulk.flush();
  expect(most).toBe(3);
});

it('counts 409 as unchanged, fails 400 at once, and sends only the 429 items again', async () => {
  server = await recordingServer((request) => {
    const docs = docsOf(request);
    if (server!.requests.length === 1) {
      const statuses = [201, 409, 400, 429, 200];
      return {
        status: 200,
        body: {
          errors: true,
          items: docs.map((_, i) => ({
            index: { status: statuses[i], ...(statuses[i] >= 300 ? { error: { type: `type_${statuses[i]}`, reason: `reason ${statuses[i]}` } } : {}) },
          })),
        },
      };
    }
    return created(request);
  });
  const retries: number[] = [];
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), {
    index: 'a',
    retry: policy,
    onRetry: (documents) => retries.push(documents),
    ...noWait,
  });
  for (let i = 0; i < 5; i++) await bulk.add(doc(i));
  const stats = await bulk.flush();
  expect(docsOf(server.requests[1]).map((d) => d.action.index._id)).toEqual(['id-3']);
  expect(retries).toEqual([1]);
  expect(stats).toMatchObject({ indexed: 3, unchanged: 1, failed: 1, retried: 1 });
  expect(stats.failures).toEqual([{ id: 'id-2', status: 400, reason: 'type_400: reason 400' }]);
});

it('repeats a whole request answered 503 and gives up after the bound on persistent 429', async () => {
  server = await recordingServer((request) =>
    server!.requests.length === 1 ? { status: 503, body: { error: { type: 'unavailable' } } } : created(request),
  );
  const ok = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', retry: policy, ...noWait });
  for (let i = 0; i < 4; i++) await ok.add(doc(i));
  expect(await ok.flush()).toMatchObject({ indexed: 4, retried: 4, failed: 0, requests: 2 });
  await server.close();

  server = await recordingServer(() => ({ status: 429, body: { error: { type: 'rejected_execution_exception', reason: 'busy' } } }));
  const latencies: number[] = [];
  const busy = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', retry: policy, onLatency: (ms) => latencies.push(ms), ...noWait });
  for (let i = 0; i < 4; i++) await busy.add(doc(i));
  const stats = await busy.flush();
  expect(server.requests).toHaveLength(policy.maxAttempts);
  expect(latencies).toHaveLength(policy.maxAttempts);
  expect(stats).toMatchObject({ indexed: 0, failed: 4, retried: 8 });
  expect(stats.failures[0].reason).toMatch(/gave up after 3 attempts: HTTP 429/);
});

it('fails every document of a request refused with a client error, without retrying', async () => {
  server = await recordingServer(() => ({ status: 404, body: { error: { type: 'index_not_found_exception', reason: 'no such index [a]' } } }));
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', retry: policy, ...noWait });
  for (let i = 0; i < 3; i++) await bulk.add(doc(i));
  const stats = await bulk.flush();
  expect(server.requests).toHaveLength(1);
  expect(stats).toMatchObject({ failed: 3, retried: 0 });
  expect(stats.failures[0].reason).toBe('HTTP 404: no such index [a]');
});

it('sends everything again when the response does not match the request item for item', async () => {
  server = await recordingServer((request) =>
    server!.requests.length === 1 ? { status: 200, body: { errors: true, items: [] } } : created(request),
  );
  const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', retry: policy, ...noWait });
  for (let i = 0; i < 3; i++) await bulk.add(doc(i));
  expect(await bulk.flush()).toMatchObject({ indexed: 3, retried: 3 });
  expect(docsOf(server.requests[1])).toHaveLength(3);
});

describe('SigV4', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('signs requests for the es service with the credentials of the environment', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    server = await recordingServer(created);
    const client = createOpenSearchClient({ endpoint: server.url, auth: 'sigv4', region: 'eu-west-1' });
    const bulk = new BulkIndexer(client, { index: 'a', ...noWait });
    await bulk.add(doc(1));
    await bulk.flush();
    const headers = server.requests[0].headers;
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/es\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/);
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('sends nothing signed to a plain local endpoint', async () => {
    server = await recordingServer(created);
    const bulk = new BulkIndexer(createOpenSearchClient({ endpoint: server.url }), { index: 'a', ...noWait });
    await bulk.add(doc(1));
    await bulk.flush();
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });
});
