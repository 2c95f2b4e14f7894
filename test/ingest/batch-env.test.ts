import { batchCorrelationId, dependenciesFromEnv } from '../../lambdas/ingest/batch';
import { mskEvent } from './fixtures';

describe('ingest function environment', () => {
  const base = { RAW_BUCKET: 'raw', POWERTOOLS_METRICS_NAMESPACE: 'Test' };

  it('reads the bucket, prefixes and tuning knobs, with defaults', () => {
    const deps = dependenciesFromEnv({ ...base });
    expect(deps.bucket).toBe('raw');
    expect(deps.core).toMatchObject({ eventsPrefix: 'events/', quarantinePrefix: 'quarantine/', gzipLevel: 3 });
    expect(deps.writeConcurrency).toBe(8);
    const tuned = dependenciesFromEnv({ ...base, RAW_EVENTS_PREFIX: 'ev/', QUARANTINE_PREFIX: 'q/', GZIP_LEVEL: '6', WRITE_CONCURRENCY: '16' });
    expect(tuned.core).toMatchObject({ eventsPrefix: 'ev/', quarantinePrefix: 'q/', gzipLevel: 6 });
    expect(tuned.writeConcurrency).toBe(16);
  });

  it('fails at start-up, naming the variable, when one is missing or wrong', () => {
    expect(() => dependenciesFromEnv({})).toThrow('environment variable RAW_BUCKET is required but not set');
    expect(() => dependenciesFromEnv({ ...base, GZIP_LEVEL: '10' })).toThrow('GZIP_LEVEL must be an integer from 1 to 9, got "10"');
    expect(() => dependenciesFromEnv({ ...base, WRITE_CONCURRENCY: 'many' })).toThrow('WRITE_CONCURRENCY must be an integer from 1 to 64');
  });
});

describe('ingest correlation id', () => {
  it('names every partition of the batch with its first and last offset, like the raw object keys', () => {
    const event = mskEvent([
      { partition: 0, offset: 12, value: '{}' },
      { partition: 0, offset: 10, value: '{}' },
      { partition: 2, offset: 7, value: '{}' },
    ]);
    expect(batchCorrelationId(event).split(',').sort()).toEqual(['clickstream-0-10-12', 'clickstream-2-7-7']);
  });

  it('is empty for a batch without records', () => {
    expect(batchCorrelationId({ eventSource: 'aws:kafka', eventSourceArn: 'arn', bootstrapServers: 'b', records: {} })).toBe('');
  });
});
