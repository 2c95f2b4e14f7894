/**
 * Shared helpers of the indexer and search tests: aggregate rows, a telemetry recorder, a
 * recording HTTP server (for APIs with no local engine) and a fault-injecting proxy in front of
 * the real local OpenSearch node.
 */
import type { Client } from '@opensearch-project/opensearch';
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { IndexerMetric, IndexerTelemetry } from '../../lambdas/indexer/core';
import { allAliases, TableName } from '../../lambdas/indexer/tables';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';

export interface AggregateRowInput {
  event_date: string;
  page_url: string;
  country: string;
  clicks: number;
  unique_users: number;
  timed_views: number;
  total_time_spent_seconds: number;
  avg_time_spent_seconds: number | null;
  entrances: number;
  bounces: number;
  bot_clicks: number;
  computed_at: string;
}

/** A valid `url_country_daily` row; avg is derived from the totals like the Spark job does. */
export function aggregateRow(date: string, page: string, country: string, computedAt: string, n = 1): AggregateRowInput {
  const timedViews = n % 3 === 0 ? 0 : n + 1;
  const total = timedViews === 0 ? 0 : Math.round(n * 7.25 * 100) / 100;
  return {
    event_date: date,
    page_url: page,
    country,
    clicks: n * 3 + 1,
    unique_users: n + 1,
    timed_views: timedViews,
    total_time_spent_seconds: total,
    avg_time_spent_seconds: timedViews === 0 ? null : total / timedViews,
    entrances: n,
    bounces: Math.floor(n / 2),
    bot_clicks: n % 2,
    computed_at: computedAt,
  };
}

export type TableRowInput = Record<string, string | number | null>;

/**
 * The `n`-th (1-based) valid row of any table for a date and computation, as the job writes it
 * (nulls explicit). Grain values vary with `n`: nullable ones are null for n % 4 === 0, the
 * string "null" for n % 4 === 1 and "" for n % 4 === 2, so those three are distinct rows.
 */
export function tableRow(table: TableName, date: string, computedAt: string, n: number): TableRowInput {
  const nullish = (value: string): string | null => (n % 4 === 0 ? null : n % 4 === 1 ? 'null' : n % 4 === 2 ? '' : value);
  const group = Math.floor((n - 1) / 4);
  const sessions = n + 1;
  const bounces = Math.floor(sessions / 3);
  switch (table) {
    case 'url_country_daily':
      return { ...aggregateRow(date, `https://shop.example/t/${group}`, ['DE', 'FR', 'US', 'unknown'][n % 4], computedAt, n) };
    case 'sessions_daily':
      return {
        event_date: date, country: `C${group}`, device_type: 'desktop', browser: nullish('Chrome'), os: nullish('Linux'), channel: 'direct',
        sessions, bounces, pageviews: sessions * 3, users: n, total_duration_seconds: n * 61.5, avg_duration_seconds: (n * 61.5) / sessions,
        bounce_rate: bounces / sessions, computed_at: computedAt,
      };
    case 'traffic_sources_daily':
      return {
        event_date: date, channel: 'campaign', referrer_host: nullish('news.example'), utm_source: nullish('mail'), utm_medium: 'newsletter-x',
        utm_campaign: nullish('spring'), country: `C${group}`, sessions, bounces, pageviews: sessions * 2, users: n, computed_at: computedAt,
      };
    case 'geo_daily':
      return { event_date: date, country: `C${group}`, city: nullish('Berlin'), clicks: n * 5, unique_users: n, sessions, bot_clicks: n % 3, computed_at: computedAt };
    case 'traffic_hourly':
      return {
        event_date: date, event_hour: `${date}T${String(n % 24).padStart(2, '0')}:00:00.000Z`, country: `C${group}`, device_type: ['desktop', 'mobile'][n % 2],
        clicks: n * 5, unique_users: n, sessions, bot_clicks: n % 3, computed_at: computedAt,
      };
  }
}

/** `count` rows of a table for one date and computation. */
export function tableRows(table: TableName, date: string, computedAt: string, count: number): TableRowInput[] {
  return Array.from({ length: count }, (_, i) => tableRow(table, date, computedAt, i + 1));
}

/** `count` rows of one date and computation, over pages and countries. */
export function aggregateRows(date: string, computedAt: string, count: number, pagePrefix = 'https://shop.example/p/'): AggregateRowInput[] {
  const countries = ['DE', 'FR', 'US', 'unknown'];
  return Array.from({ length: count }, (_, i) => aggregateRow(date, `${pagePrefix}${Math.floor(i / countries.length)}`, countries[i % countries.length], computedAt, i + 1));
}

export const toNdjson = (rows: readonly unknown[]): string => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

export interface RecordedTelemetry extends IndexerTelemetry {
  readonly counts: Map<IndexerMetric, number>;
  readonly latencies: number[];
  readonly logs: Array<{ level: string; message: string; attributes?: Record<string, unknown> }>;
  total(metric: IndexerMetric): number;
}

export function recordingTelemetry(): RecordedTelemetry {
  const counts = new Map<IndexerMetric, number>();
  const latencies: number[] = [];
  const logs: RecordedTelemetry['logs'] = [];
  const log = (level: string) => (message: string, attributes?: Record<string, unknown>) => void logs.push({ level, message, attributes });
  return {
    counts,
    latencies,
    logs,
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    count: (metric, value) => void counts.set(metric, (counts.get(metric) ?? 0) + value),
    bulkLatency: (ms) => void latencies.push(ms),
    total: (metric) => counts.get(metric) ?? 0,
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TestServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Responder = (request: RecordedRequest) => { status: number; body?: unknown; headers?: Record<string, string> } | Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;

/** An HTTP server on a free local port that records every request and answers with `respond`. */
export async function recordingServer(respond: Responder): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(request);
      try {
        const answer = await respond(request);
        const payload = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(payload);
      } catch (error) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'test_server_error', reason: (error as Error).message } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Forwards a request to the upstream node and returns status, headers and body. */
export function forward(upstream: string, request: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const target = new URL(request.url, upstream);
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers, host: target.host, 'content-length': String(request.body.length) };
    delete headers['transfer-encoding'];
    const req = http.request(target, { method: request.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

export interface FaultPlan {
  /** Answer this many requests (of any kind) with 429 before forwarding anything. */
  readonly throttleFirst?: number;
  /** Then answer this many bulk requests with 503. */
  readonly unavailableBulk?: number;
  /**
   * Then, in this many bulk requests, refuse every `rejectEvery`-th document with an item-level
   * 429 (it is not forwarded, so it really is missing until retried).
   */
  readonly itemRejectionBulks?: number;
  readonly rejectEvery?: number;
  /** Bulk requests refused with 429 for good (to see the retries give up). */
  readonly alwaysThrottleBulk?: boolean;
  /** Requests whose path matches are answered 503, for good. */
  readonly unavailablePaths?: RegExp;
  /** Documents with these ids are refused with an item-level 429 in every bulk request, for good. */
  readonly rejectIds?: ReadonlySet<string>;
}

export interface FaultyProxy extends TestServer {
  readonly injected: { throttled: number; unavailable: number; rejectedItems: number };
}

/**
 * A proxy in front of the real local node that injects failures per `plan`. Item-level
 * rejections are real: the refused documents are removed from the forwarded body, and the node's
 * answer is merged with 429 items at their positions.
 */
export async function faultyProxy(upstream: string, plan: FaultPlan): Promise<FaultyProxy> {
  const injected = { throttled: 0, unavailable: 0, rejectedItems: 0 };
  let requestsSeen = 0;
  let bulkSeen = 0;
  const throttle = { status: 429, body: { error: { type: 'rejected_execution_exception', reason: 'injected: queue full' }, status: 429 } };
  const server = await recordingServer(async (request) => {
    requestsSeen++;
    const isBulk = request.url.split('?')[0].endsWith('/_bulk');
    if (plan.unavailablePaths?.test(request.url.split('?')[0])) {
      injected.unavailable++;
      return { status: 503, body: { error: { type: 'unavailable', reason: 'injected' }, status: 503 } };
    }
    if (requestsSeen <= (plan.throttleFirst ?? 0)) {
      injected.throttled++;
      return throttle;
    }
    if (isBulk && plan.rejectIds) {
      const ids = plan.rejectIds;
      return rejectSomeItems(upstream, request, (_doc, action) => ids.has(JSON.parse(action).index?._id), injected);
    }
    if (isBulk) {
      bulkSeen++;
      if (plan.alwaysThrottleBulk) {
        injected.throttled++;
        return throttle;
      }
      const unavailable = plan.unavailableBulk ?? 0;
      if (bulkSeen <= unavailable) {
        injected.unavailable++;
        return { status: 503, body: { error: { type: 'unavailable_shards_exception', reason: 'injected' }, status: 503 } };
      }
      if (bulkSeen <= unavailable + (plan.itemRejectionBulks ?? 0)) {
        const every = plan.rejectEvery ?? 3;
        return rejectSomeItems(upstream, request, (doc) => doc % every === 0, injected);
      }
    }
    const answer = await forward(upstream, request);
    return { status: answer.status, body: answer.body.toString('utf8') };
  });
  return { ...server, injected };
}

async function rejectSomeItems(
  upstream: string,
  request: RecordedRequest,
  reject: (doc: number, action: string) => boolean,
  injected: { rejectedItems: number },
): Promise<{ status: number; body: unknown }> {
  const lines = request.body.toString('utf8').split('\n').filter((line) => line !== '');
  const kept: string[] = [];
  const rejected = new Set<number>();
  for (let i = 0, doc = 0; i < lines.length; i += 2, doc++) {
    if (reject(doc, lines[i])) rejected.add(doc);
    else kept.push(lines[i], lines[i + 1]);
  }
  injected.rejectedItems += rejected.size;
  let forwardedItems: unknown[] = [];
  if (kept.length > 0) {
    // Ask for full items so they can be merged with the refused ones at the right positions.
    const url = request.url.replace(/([?&])filter_path=[^&]*&?/, '$1').replace(/[?&]$/, '');
    const answer = await forward(upstream, { ...request, url, body: Buffer.from(kept.join('\n') + '\n') });
    forwardedItems = JSON.parse(answer.body.toString('utf8')).items;
  }
  const items: unknown[] = [];
  const total = lines.length / 2;
  for (let doc = 0, next = 0; doc < total; doc++) {
    items.push(rejected.has(doc) ? { index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'injected item rejection' } } } : forwardedItems[next++]);
  }
  return { status: 200, body: { took: 1, errors: true, items } };
}

/** A plain client of the local node (or of a proxy in front of it). */
export function localClient(endpoint: string): Client {
  return createOpenSearchClient({ endpoint, auth: 'none' });
}

/** Deletes every index of the alias's generations and its template (test cleanup). */
export async function dropServingIndex(client: Client, alias: string): Promise<void> {
  await client.transport.request({ method: 'DELETE', path: `/${alias}-*` }, { ignore: [404] });
  await client.transport.request({ method: 'DELETE', path: `/_index_template/${alias}` }, { ignore: [404] });
}

/** Drops the indices and templates of every alias under a prefix (the tables' and the ledger's). */
export async function dropServingIndices(client: Client, aliasPrefix: string): Promise<void> {
  for (const alias of allAliases(aliasPrefix)) await dropServingIndex(client, alias);
}

/** Every document of the alias, by id, with its version. */
export async function allDocuments<T = AggregateRowInput>(client: Client, alias: string): Promise<Map<string, { source: T; version: number }>> {
  await client.transport.request({ method: 'POST', path: `/${alias}/_refresh` });
  const response = await client.transport.request({
    method: 'POST',
    path: `/${alias}/_search`,
    body: { size: 10_000, version: true, query: { match_all: {} } },
  });
  const hits = (response.body as { hits: { hits: Array<{ _id: string; _version: number; _source: T }> } }).hits.hits;
  return new Map(hits.map((hit) => [hit._id, { source: hit._source, version: hit._version }]));
}
