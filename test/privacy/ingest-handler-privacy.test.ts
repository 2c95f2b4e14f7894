/**
 * The ingest handler (lambdas/ingest/batch.ts) with privacy on: the erasure record read before
 * the batch is built, pseudonyms from a key file, RecordsErased, and no write at all when the
 * record cannot be read.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { createIngestHandler, dependenciesFromEnv } from '../../lambdas/ingest/batch';
import { EMPTY_ERASURE_RECORD, userIdHash, withErasures } from '../../lambdas/ingest/pseudonymize';
import { clickEvent, mskEvent } from '../ingest/fixtures';

const KEY = 'f'.repeat(64);
const s3 = mockClient(S3Client);
const keyFile = join(mkdtempSync(join(tmpdir(), 'privacy-key-')), 'privacy-key');
writeFileSync(keyFile, KEY);

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
});
afterAll(() => s3.restore());

function handlerFor(env: Record<string, string>) {
  const deps = dependenciesFromEnv({ RAW_BUCKET: 'raw', ERASURE_RECORD_KEY: 'erasure/erased-users.json', PRIVACY_KEY_FILE: keyFile, ...env });
  const metrics = new Metrics({ namespace: 'Test', serviceName: 'ingest' });
  return { metrics, handler: createIngestHandler({ ...deps, metrics, logger: new Logger({ logLevel: 'SILENT' }) }) };
}

// The raw objects only (not the partition change log beside them, which names partitions, not users).
const storedLines = () => s3.commandCalls(PutObjectCommand)
  .filter((c) => String(c.args[0].input.Key).startsWith('events/'))
  .flatMap((c) => gunzipSync(c.args[0].input.Body as Buffer).toString('utf8').trim().split('\n'))
  .map((l) => JSON.parse(l));

describe('ingest handler with privacy', () => {
  it('stores pseudonyms when PSEUDONYMIZE_USER_IDS is true', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('no such key'), { name: 'NoSuchKey' }));
    const { handler } = handlerFor({ PSEUDONYMIZE_USER_IDS: 'true' });
    const summary = await handler(mskEvent([{ offset: 0, value: clickEvent({ user_id: 'carol' }) }]));
    expect(summary).toMatchObject({ recordsStored: 1, recordsErased: 0 });
    expect(storedLines().map((l) => l.user_id)).toEqual([userIdHash(KEY, 'carol')]);
    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({ Bucket: 'raw', Key: 'erasure/erased-users.json' });
  });

  it('drops an erased user\'s old events and counts them in RecordsErased', async () => {
    const record = withErasures(EMPTY_ERASURE_RECORD, [userIdHash(KEY, 'carol')], new Date('2024-06-01T00:00:00Z'));
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => JSON.stringify(record) } } as any);
    const { handler, metrics } = handlerFor({});
    const summary = await handler(mskEvent([
      { offset: 0, value: clickEvent({ event_id: 'c', user_id: 'carol' }) },
      { offset: 1, value: clickEvent({ event_id: 'd', user_id: 'dave' }) },
    ]));
    expect(summary).toMatchObject({ recordsIn: 2, recordsStored: 1, recordsErased: 1, recordsQuarantined: 0 });
    expect(storedLines().map((l) => [l.event_id, l.user_id])).toEqual([['d', 'dave']]);
    const emf = metrics.serializeMetrics() as any;
    expect(emf.RecordsErased).toBe(1);
  });

  it('fails the batch and writes nothing when the erasure record cannot be read', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const { handler } = handlerFor({});
    await expect(handler(mskEvent([{ offset: 0, value: clickEvent() }]))).rejects.toThrow('cannot read the erasure record s3://raw/erasure/erased-users.json');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('reads no record and hashes nothing without the privacy environment (tests, benchmarks)', async () => {
    const deps = dependenciesFromEnv({ RAW_BUCKET: 'raw' });
    expect(deps.privacy).toBeUndefined();
  });
});
