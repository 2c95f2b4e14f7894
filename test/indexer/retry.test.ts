import {
  backoffDelayMs,
  isRetryableError,
  normalizeEndpoint,
  resolveAuth,
  withRetries,
} from '../../lambdas/shared/opensearch-client';

const httpError = (statusCode: number) => Object.assign(new Error(`status ${statusCode}`), { name: 'ResponseError', meta: { statusCode } });

describe('backoffDelayMs', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  it('doubles the ceiling per attempt up to the cap (full jitter below it)', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(policy, attempt, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(200);
  });
});

describe('isRetryableError', () => {
  it('retries throttling, server errors and network failures, not client errors', () => {
    expect([429, 500, 502, 503, 504].map((s) => isRetryableError(httpError(s)))).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 409, 413].map((s) => isRetryableError(httpError(s)))).toEqual([false, false, false, false, false, false]);
    expect(isRetryableError(Object.assign(new Error('reset'), { name: 'ConnectionError' }))).toBe(true);
    expect(isRetryableError(Object.assign(new Error('slow'), { name: 'TimeoutError' }))).toBe(true);
    expect(isRetryableError(new TypeError('bug'))).toBe(false);
  });
});

describe('withRetries', () => {
  const policy = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100 };
  it('repeats retryable failures with growing delays until success', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls++;
        if (calls < 3) throw httpError(429);
        return 'done';
      },
      policy,
      { sleep: async (ms) => void delays.push(ms), random: () => 1 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(delays).toEqual([10, 20]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw httpError(503);
        },
        policy,
        { sleep: async () => undefined },
      ),
    ).rejects.toThrow('status 503');
    expect(calls).toBe(4);
  });

  it('does not repeat a client error', async () => {
    let calls = 0;
    await expect(
      withRetries(async () => {
        calls++;
        throw httpError(400);
      }, policy),
    ).rejects.toThrow('status 400');
    expect(calls).toBe(1);
  });
});

describe('client configuration', () => {
  it('signs https endpoints and not http ones unless told otherwise', () => {
    expect(resolveAuth('https://vpc-x.eu-west-1.es.amazonaws.com')).toBe('sigv4');
    expect(resolveAuth('http://127.0.0.1:9200')).toBe('none');
    expect(resolveAuth('https://localhost:9200', 'none')).toBe('none');
    expect(() => resolveAuth('http://x', 'basic')).toThrow(/OPENSEARCH_AUTH/);
  });

  it('adds https:// to the bare endpoint CloudFormation returns and drops trailing slashes', () => {
    expect(normalizeEndpoint('vpc-x.eu-west-1.es.amazonaws.com')).toBe('https://vpc-x.eu-west-1.es.amazonaws.com');
    expect(normalizeEndpoint('http://127.0.0.1:9200/')).toBe('http://127.0.0.1:9200');
  });
});
