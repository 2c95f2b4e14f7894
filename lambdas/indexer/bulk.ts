/**
 * Bulk indexing in bounded chunks, with retries.
 *
 * - A chunk is sent when it reaches `maxChunkDocs` documents or `maxChunkBytes` bytes of NDJSON,
 *   whichever comes first; at most `concurrency` chunks are in flight, and `add` waits for a free
 *   slot, so a stream feeding it is paused instead of buffered (memory stays bounded).
 * - A whole request that fails with 429, 5xx or a network error is sent again; items that fail
 *   with 429 (queue full) or 502/503/504 (shard unavailable) are sent again, alone. Both back off
 *   exponentially with full jitter, up to `retry.maxAttempts` attempts per document.
 * - Documents are indexed with external versioning (`version_type: external`, version =
 *   `computed_at` in epoch ms): a document computed earlier than the one in the index is refused
 *   with 409. That is the expected outcome of replays and out-of-order delivery, so a 409 counts
 *   as `unchanged`, never as a failure.
 * - Anything else (a 400 mapping error, or a retryable error past the bound) is a failed document.
 *
 * Requests go to `/<alias>/_bulk?require_alias=true`: a missing alias fails loudly instead of
 * auto-creating an index with guessed mappings.
 */
import type { Client } from '@opensearch-project/opensearch';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, describeError, isRetryableError, RetryPolicy, sleep, statusOf } from '../shared/opensearch-client';

export interface BulkOptions {
  /** Alias (or index) the documents are written to. */
  readonly index: string;
  /** @default 5 MiB, the bulk helper's own default and well below the 10 MiB request limit of small instance types */
  readonly maxChunkBytes?: number;
  /** A bound for very small documents; aggregate rows (~300 bytes) fill the bytes first.
   *  @default 20000 */
  readonly maxChunkDocs?: number;
  /** Chunks in flight at once. @default 2 */
  readonly concurrency?: number;
  /** @default DEFAULT_RETRY_POLICY (6 attempts, 200 ms doubling, 10 s cap) */
  readonly retry?: RetryPolicy;
  /** Bulk request timeout in ms. @default 60000 */
  readonly requestTimeoutMs?: number;
  /** Called with the duration of every bulk request (also failed ones). */
  readonly onLatency?: (ms: number) => void;
  /** Called before a backoff, with the number of documents about to be sent again. */
  readonly onRetry?: (documents: number, reason: string, attempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** One document to index: the action's id and version and its serialised `_source`. */
export interface BulkDocument {
  readonly id: string;
  readonly version: number;
  /** JSON of the document, one line. */
  readonly source: string;
}

export interface FailedDocument {
  readonly id: string;
  readonly status: number | undefined;
  readonly reason: string;
}

export interface BulkStats {
  /** Created or updated (the document is now the given version). */
  indexed: number;
  /** Refused with 409: the index already holds this or a newer computation. */
  unchanged: number;
  /** Document sends repeated after a retryable failure. */
  retried: number;
  /** Documents that could not be indexed. */
  failed: number;
  /** The first failures (at most 20), for the log. */
  failures: FailedDocument[];
  requests: number;
}

interface Pending {
  readonly doc: BulkDocument;
  /** The action and source lines with their newlines. */
  readonly ndjson: string;
  readonly bytes: number;
}

const RETRYABLE_ITEM_STATUS = new Set([429, 502, 503, 504]);
const MAX_RECORDED_FAILURES = 20;
// Only what the bookkeeping needs: a response of thousands of items shrinks to a fraction of its size.
const FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

/** Serialises the action line of a document: index with external versioning. */
export function actionLine(doc: BulkDocument): string {
  // Built by hand: the id is a hex digest and the version an integer, so nothing needs escaping.
  return `{"index":{"_id":"${doc.id}","version":${doc.version},"version_type":"external"}}\n`;
}

export class BulkIndexer {
  public readonly stats: BulkStats = { indexed: 0, unchanged: 0, retried: 0, failed: 0, failures: [], requests: 0 };

  private readonly maxChunkBytes: number;
  private readonly maxChunkDocs: number;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private chunk: Pending[] = [];
  private chunkBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private unexpected: unknown;

  constructor(
    private readonly client: Client,
    private readonly options: BulkOptions,
  ) {
    this.maxChunkBytes = options.maxChunkBytes ?? 5 * 1024 * 1024;
    this.maxChunkDocs = options.maxChunkDocs ?? 20_000;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
  }

  /** Queues a document; sends the chunk when full. Resolves once the document is accepted. */
  async add(doc: BulkDocument): Promise<void> {
    const ndjson = actionLine(doc) + doc.source + '\n';
    const bytes = Buffer.byteLength(ndjson, 'utf8');
    if (this.chunk.length > 0 && this.chunkBytes + bytes > this.maxChunkBytes) await this.dispatch();
    this.chunk.push({ doc, ndjson, bytes });
    this.chunkBytes += bytes;
    if (this.chunk.length >= this.maxChunkDocs || this.chunkBytes >= this.maxChunkBytes) await this.dispatch();
  }

  /** Sends what is queued and waits for every request. Returns the totals. */
  async flush(): Promise<BulkStats> {
    if (this.chunk.length > 0) await this.dispatch();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.unexpected !== undefined) throw this.unexpected;
    return this.stats;
  }

  private async dispatch(): Promise<void> {
    const items = this.chunk;
    this.chunk = [];
    this.chunkBytes = 0;
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const task = this.sendWithRetries(items).catch((error: unknown) => {
      // A bug, not an OpenSearch failure (those are counted per document); surfaced by flush.
      this.unexpected ??= error;
    });
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async sendWithRetries(initial: Pending[]): Promise<void> {
    let items = initial;
    for (let attempt = 1; items.length > 0; attempt++) {
      const retry = await this.sendOnce(items);
      if (retry.items.length === 0) return;
      if (attempt >= this.retry.maxAttempts) {
        for (const item of retry.items) this.fail(item.doc.id, retry.status, `gave up after ${attempt} attempts: ${retry.reason}`);
        return;
      }
      this.stats.retried += retry.items.length;
      this.options.onRetry?.(retry.items.length, retry.reason, attempt);
      await (this.options.sleep ?? sleep)(backoffDelayMs(this.retry, attempt, this.options.random));
      items = retry.items;
    }
  }

  /** Sends one request; returns the items worth sending again and why. */
  private async sendOnce(items: Pending[]): Promise<{ items: Pending[]; status: number | undefined; reason: string }> {
    const body = items.length === 1 ? items[0].ndjson : items.map((item) => item.ndjson).join('');
    const started = performance.now();
    this.stats.requests++;
    let response: { body: BulkResponseBody };
    try {
      // POST, not the client's bulk(): with an index in the path that sends PUT, and the indexer's
      // role may only POST to its aliases (lib/search-domain.ts, grantIndexWrite).
      response = (await this.client.transport.request(
        {
          method: 'POST',
          path: `/${encodeURIComponent(this.options.index)}/_bulk`,
          querystring: { require_alias: true, filter_path: FILTER_PATH },
          // The NDJSON is built here already; the transport sends a string bulk body as it is.
          bulkBody: body,
        },
        { requestTimeout: this.options.requestTimeoutMs ?? 60_000 },
      )) as unknown as { body: BulkResponseBody };
    } catch (error) {
      this.options.onLatency?.(performance.now() - started);
      const reason = describeError(error);
      if (isRetryableError(error)) return { items, status: statusOf(error), reason };
      for (const item of items) this.fail(item.doc.id, statusOf(error), reason);
      return { items: [], status: undefined, reason };
    }
    this.options.onLatency?.(performance.now() - started);

    const results = response.body?.items;
    if (!response.body?.errors) {
      this.stats.indexed += items.length;
      return { items: [], status: undefined, reason: '' };
    }
    if (!Array.isArray(results) || results.length !== items.length) {
      // Cannot tell which items failed: send them all again (idempotent thanks to versioning).
      return { items, status: undefined, reason: `bulk response with ${results?.length ?? 'no'} items for ${items.length} documents` };
    }
    const again: Pending[] = [];
    let status: number | undefined;
    let reason = '';
    results.forEach((result, i) => {
      const item = result.index ?? Object.values(result)[0];
      const code = item?.status ?? 0;
      if (code >= 200 && code < 300) this.stats.indexed++;
      else if (code === 409) this.stats.unchanged++;
      else if (RETRYABLE_ITEM_STATUS.has(code)) {
        again.push(items[i]);
        status = code;
        reason = `${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? `status ${code}`}`;
      } else {
        this.fail(items[i].doc.id, code, `${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? `status ${code}`}`);
      }
    });
    return { items: again, status, reason };
  }

  private fail(id: string, status: number | undefined, reason: string): void {
    this.stats.failed++;
    if (this.stats.failures.length < MAX_RECORDED_FAILURES) this.stats.failures.push({ id, status, reason });
  }
}

interface BulkItemResult {
  status?: number;
  error?: { type?: string; reason?: string };
}

interface BulkResponseBody {
  errors?: boolean;
  items?: Array<Record<string, BulkItemResult | undefined>>;
}
