/**
 * The local S3 server (local-stack/s3: s3proxy, file-system blob store) answers the calls the pipeline makes
 * with @aws-sdk/client-s3 through path-style addressing: bucket creation, put, list with prefix
 * and pagination, get (bytes unchanged, metadata kept), batch delete, multipart upload; it checks
 * signatures; and its buckets survive a restart (on a private server, so the shared one is never
 * restarted under other tests). When the server cannot start, beforeAll throws and every test here fails.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { gunzipSync, gzipSync } from 'zlib';
import { ENGINE_START_TIMEOUT_MS, createBucket, emptyBucket, ensureEngines, s3Client, stackEnv, uniqueName } from '../support/engines';
import { PrivateS3 } from './private-s3';

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

  it('assembles a multipart upload from its parts and forgets an aborted one (what s3a does for large files)', async () => {
    const s3 = s3Client();
    const bucket = await newBucket();
    const first = Buffer.alloc(5 * 1024 * 1024, 'a');
    const last = Buffer.from('the end');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/object' }));
    const parts = [];
    for (const [i, body] of [first, last].entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big/object', UploadId, PartNumber: i + 1, Body: body }));
      parts.push({ PartNumber: i + 1, ETag });
    }
    const { Uploads } = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect((Uploads ?? []).map((u) => u.UploadId)).toEqual([UploadId]);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big/object', UploadId, MultipartUpload: { Parts: parts } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/object' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([first, last]))).toBe(true);

    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/aborted' }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big/aborted', UploadId: aborted.UploadId, PartNumber: 1, Body: last }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'big/aborted', UploadId: aborted.UploadId }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'big/' }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['big/object']);
  });
});

describe('local S3 engine across a restart (a private server on its own port and folder)', () => {
  let server: PrivateS3 | undefined;

  afterAll(async () => {
    await server?.remove();
  }, 60_000);

  it('keeps buckets, objects and their metadata on disk through stop and start', async () => {
    server = await PrivateS3.start('restart');
    const env = stackEnv();
    const client = () => new S3Client({ endpoint: server!.endpoint, region: env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
    const before = client();
    await before.send(new CreateBucketCommand({ Bucket: 'kept' }));
    const body = gzipSync(Buffer.from('{"a":1}\n'));
    await before.send(new PutObjectCommand({ Bucket: 'kept', Key: 'events/dt=2024-05-01/hr=10/x.ndjson.gz', Body: body, ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' }));
    await before.send(new PutObjectCommand({ Bucket: 'kept', Key: 'state/url_country_daily/state.json', Body: '{"v":1}' }));
    before.destroy();

    await server.restart();

    const after = client();
    try {
      expect(((await after.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name)).toEqual(['kept']);
      const listed = await after.send(new ListObjectsV2Command({ Bucket: 'kept' }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['events/dt=2024-05-01/hr=10/x.ndjson.gz', 'state/url_country_daily/state.json']);
      const got = await after.send(new GetObjectCommand({ Bucket: 'kept', Key: 'events/dt=2024-05-01/hr=10/x.ndjson.gz' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect([got.ContentType, got.ContentEncoding]).toEqual(['application/x-ndjson', 'gzip']);
    } finally {
      after.destroy();
    }
  }, 3 * 60_000);
});
