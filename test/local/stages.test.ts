import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { rawObjectRange } from '../../local/pipeline';
import { InjectedCrash, withIngestFaults } from '../../local/stages';
import { createBucket, ensureEngines, s3Client, uniqueName } from '../support/engines';

describe('withIngestFaults (crash in the middle of a batch)', () => {
  let bucket: string;
  let s3: S3Client;

  beforeAll(async () => {
    await ensureEngines(['s3']);
    s3 = s3Client();
    bucket = uniqueName('stages');
    await createBucket(bucket);
  });

  // The client keeps sockets open (keep-alive) until destroyed: without this jest cannot exit.
  afterAll(() => s3.destroy());

  const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  const exists = async (key: string) => {
    try {
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch {
      return false;
    }
  };

  // A handler that writes three objects per batch, like an ingest batch spanning three hours.
  const handler = async (event: { batch: string }) => {
    for (const part of ['a', 'b', 'c']) await put(`${event.batch}/${part}`);
    return 'ok';
  };

  it('lets the first write of a crashing invocation through and fails the rest; other invocations are untouched', async () => {
    const crashes = [false, true, false];
    const wrapped = withIngestFaults(handler, { crashAfterFirstWrite: () => crashes.shift()! });
    await expect(wrapped({ batch: 'one' }, {})).resolves.toBe('ok');
    await expect(wrapped({ batch: 'two' }, {})).rejects.toBeInstanceOf(InjectedCrash);
    expect([await exists('two/a'), await exists('two/b'), await exists('two/c')]).toEqual([true, false, false]);
    // The redelivery succeeds and S3 is no longer intercepted.
    await expect(wrapped({ batch: 'two' }, {})).resolves.toBe('ok');
    expect([await exists('two/b'), await exists('two/c')]).toEqual([true, true]);
    await expect(put('after')).resolves.toBeDefined();
  });

  it('returns the handler itself when no fault is configured', () => {
    expect(withIngestFaults(handler, undefined)).toBe(handler);
  });
});

describe('rawObjectRange', () => {
  it.each([
    ['events/dt=2026-11-20/hr=09/clickstream-2-100-199.ndjson.gz', { partition: 2, first: 100, last: 199 }],
    ['quarantine/dt=2026-11-20/clickstream-0-5-5.ndjson.gz', { partition: 0, first: 5, last: 5 }],
    ['events/dt=2026-11-20/hr=09/other-2-100-199.ndjson.gz', undefined],
    ['events/dt=2026-11-20/hr=09/clickstream-2-100.ndjson.gz', undefined],
  ])('%s', (key, expected) => expect(rawObjectRange(key, 'clickstream')).toEqual(expected));
});
