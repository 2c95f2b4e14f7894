/**
 * The local S3 server (local-stack/s3: s3proxy, in-memory blob store) answers the calls the pipeline makes
 * with @aws-sdk/client-s3 through path-style addressing: bucket creation, put, list with prefix
 * and pagination, get (bytes unchanged, metadata kept), batch delete; and it checks signatures.
 * When the server cannot start, beforeAll throws and every test here fails.
 */
import { DeleteBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { gunzipSync, gzipSync } from 'zlib';
import { ENGINE_START_TIMEOUT_MS, createBucket, emptyBucket, ensureEngines, s3Client, stackEnv, uniqueName } from '../support/engines';

const buckets: string[] = [];

beforeAll(() => ensureEngines(['s3']), ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  for (const bucket of buckets) {
    await emptyBucket(bucket);
    await s3Client().send(new DeleteBucketCommand({ Bucket: bucket }));
  }
});

async function newBucket(): Promise<string> {
  const bucket = uniqueName('engine-test-s3');
  buckets.push(bucket);
  await createBucket(bucket);
  return bucket;
}

describe('local S3 engine', () => {
  it('stores objects and lists and returns them unchanged', async () => {
    const s3 = s3Client();
    const bucket = await newBucket();
    const ndjson = '{"event_id":"a"}\n{"event_id":"b"}\n';
    const gzipped = gzipSync(Buffer.from(ndjson));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'events/dt=2024-05-01/hr=10/part.ndjson.gz', Body: gzipped, ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'events/dt=2024-05-02/hr=00/part.ndjson.gz', Body: gzipSync(Buffer.from('{}\n')) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'quarantine/dt=2024-05-01/q.ndjson.gz', Body: gzipSync(Buffer.from('{}\n')) }));

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'events/' }));
    expect((listed.Contents ?? []).map((object) => object.Key)).toEqual([
      'events/dt=2024-05-01/hr=10/part.ndjson.gz',
      'events/dt=2024-05-02/hr=00/part.ndjson.gz',
    ]);
    // Partition discovery lists one level at a time.
    const dates = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'events/', Delimiter: '/' }));
    expect((dates.CommonPrefixes ?? []).map((prefix) => prefix.Prefix)).toEqual(['events/dt=2024-05-01/', 'events/dt=2024-05-02/']);
    expect(dates.Contents).toBeUndefined();

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'events/dt=2024-05-01/hr=10/part.ndjson.gz' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.equals(gzipped)).toBe(true);
    expect(gunzipSync(bytes).toString()).toBe(ndjson);
    expect(got.ContentType).toBe('application/x-ndjson');
    expect(got.ContentEncoding).toBe('gzip');
  });

  it('pages through long listings and empties a bucket with batch deletes', async () => {
    const s3 = s3Client();
    const bucket = await newBucket();
    const keys = Array.from({ length: 25 }, (_, i) => `aggregates/part-${String(i).padStart(3, '0')}.json`);
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 10, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.NextContinuationToken;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(keys);

    await emptyBucket(bucket);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(after.KeyCount).toBe(0);
  });

  it('createBucket is idempotent and reading a missing key is NoSuchKey', async () => {
    const bucket = await newBucket();
    await expect(createBucket(bucket)).resolves.toBeUndefined();
    await expect(s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: 'absent' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('checks signatures: a request signed with the wrong secret or an unknown key is refused, as S3 would', async () => {
    const bucket = await newBucket();
    const env = stackEnv();
    const clientWith = (accessKeyId: string, secretAccessKey: string) =>
      new S3Client({ endpoint: env.S3_ENDPOINT, region: env.AWS_REGION, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey } });
    const put = (client: S3Client) => client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    await expect(put(clientWith(env.AWS_ACCESS_KEY_ID, `${env.AWS_SECRET_ACCESS_KEY}-wrong`))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    await expect(put(clientWith('AKIDUNKNOWN', env.AWS_SECRET_ACCESS_KEY))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    await expect(s3Client().send(new ListObjectsV2Command({ Bucket: bucket }))).resolves.toMatchObject({ KeyCount: 0 });
  });
});
