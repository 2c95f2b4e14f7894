/**
 * The OpenSearch client both the indexer and the search provisioner use, and the retry policy
 * they share.
 *
 * - In AWS the domain endpoint is `https://...` and every request is signed with SigV4
 *   (`AwsSigv4Signer`, credentials from the Lambda role via the default provider chain).
 * - Locally the endpoint is `http://127.0.0.1:9200` (no security plugin) and requests go unsigned.
 * `OPENSEARCH_AUTH=sigv4|none` overrides the choice; the default is `sigv4` for `https://`
 * endpoints and `none` for `http://` ones.
 *
 * The client's own retry loop is switched off (`maxRetries: 0`): it retries 502/503/504 and
 * connection errors immediately, without backoff, and never retries 429. Callers wrap requests in
 * `withRetries` instead, which backs off exponentially with full jitter and has a bound.
 */
import { Client, ClientOptions } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { requireEnv } from './s3';

export type OpenSearchAuth = 'sigv4' | 'none';

export interface OpenSearchClientConfig {
  /** Domain endpoint with scheme, e.g. `https://vpc-x.eu-west-1.es.amazonaws.com`. */
  readonly endpoint: string;
  /** How requests are authenticated. @default `sigv4` for https endpoints, else `none` */
  readonly auth?: OpenSearchAuth;
  /** Region for SigV4. @default AWS_REGION */
  readonly region?: string;
  /** Per-request timeout in ms. @default 30000 */
  readonly requestTimeoutMs?: number;
}

/** Decides how to authenticate from the endpoint and an optional explicit setting. */
export function resolveAuth(endpoint: string, explicit?: string): OpenSearchAuth {
  if (explicit !== undefined && explicit !== '') {
    if (explicit !== 'sigv4' && explicit !== 'none') {
      throw new Error(`OPENSEARCH_AUTH must be "sigv4" or "none", got "${explicit}"`);
    }
    return explicit;
  }
  return endpoint.startsWith('https://') ? 'sigv4' : 'none';
}

/** Builds a client; SigV4-signed for Amazon OpenSearch Service, plain for the local node. */
export function createOpenSearchClient(config: OpenSearchClientConfig): Client {
  const endpoint = normalizeEndpoint(config.endpoint);
  const auth = config.auth ?? resolveAuth(endpoint);
  const options: ClientOptions = {
    node: endpoint,
    maxRetries: 0,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
  };
  if (auth === 'sigv4') {
    const region = config.region ?? process.env.AWS_REGION;
    if (!region) throw new Error('SigV4 signing needs a region: set AWS_REGION');
    // The provider caches credentials and refreshes them before they expire.
    const getCredentials = defaultProvider();
    return new Client({
      ...options,
      ...AwsSigv4Signer({ region, service: 'es', getCredentials: () => getCredentials() }),
    });
  }
  return new Client(options);
}

/** Builds the client from `OPENSEARCH_ENDPOINT` and `OPENSEARCH_AUTH`. */
export function openSearchClientFromEnv(env: NodeJS.ProcessEnv = process.env): Client {
  const endpoint = normalizeEndpoint(requireEnv('OPENSEARCH_ENDPOINT', env));
  return createOpenSearchClient({
    endpoint,
    auth: resolveAuth(endpoint, env.OPENSEARCH_AUTH),
    region: env.AWS_REGION,
  });
}

/** CloudFormation hands out the domain endpoint without a scheme; AWS endpoints are HTTPS only. */
export function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim().replace(/\/+$/, '');
  if (/^https?:\/\//.test(trimmed)) return trimmed;
  return `https://${trimmed}`;
}

// ---------------------------------------------------------------------------------------------
// Retries

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; doubles each time (full jitter), capped by maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** HTTP status of a client error, or undefined for network-level failures. */
export function statusOf(error: unknown): number | undefined {
  const meta = (error as { meta?: { statusCode?: number | null } } | null)?.meta;
  return typeof meta?.statusCode === 'number' ? meta.statusCode : undefined;
}

/**
 * Whether a whole request is worth repeating: throttling (429), server-side trouble (5xx), and
 * failures below HTTP (connection reset, timeout, no living connection). Any other 4xx is a
 * problem with the request itself and would fail the same way again.
 */
export function isRetryableError(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return status === 429 || status >= 500;
  const name = (error as { name?: string } | null)?.name;
  return name === 'ConnectionError' || name === 'TimeoutError' || name === 'NoLivingConnectionsError';
}

export interface RetryHooks {
  /** Called before each backoff, e.g. to log or count the retry. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** Runs `fn`, repeating it on retryable errors with backoff, at most `policy.maxAttempts` times. */
export async function withRetries<T>(fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY_POLICY, hooks: RetryHooks = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= policy.maxAttempts || !isRetryableError(error)) throw error;
      const delay = backoffDelayMs(policy, attempt, hooks.random);
      hooks.onRetry?.(error, attempt, delay);
      await (hooks.sleep ?? sleep)(delay);
    }
  }
}

/** A short description of a client error for logs and error messages. */
export function describeError(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { meta?: { body?: unknown } } | null)?.meta?.body;
  const reason =
    (body as { error?: { reason?: string; type?: string } } | undefined)?.error?.reason ??
    (body as { error?: { type?: string } } | undefined)?.error?.type ??
    (error instanceof Error ? error.message : String(error));
  return status !== undefined ? `HTTP ${status}: ${reason}` : reason;
}
