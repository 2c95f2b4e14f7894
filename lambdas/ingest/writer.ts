/**
 * Writes the core's objects to the raw bucket. The S3 client comes in as an argument (its retry
 * policy with it: the SDK's standard strategy, exponential backoff with jitter, bounded by
 * `maxAttempts`); what still fails makes `writeRawObjects` throw, so that the event source
 * mapping redelivers the batch, which is safe because the keys are a function of the batch.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mapBounded } from '../shared/bounded-map';
import type { RawObject } from './core';

export interface WriteResult {
  readonly objectsWritten: number;
  readonly bytesWritten: number;
}

/** PutObject calls in flight at once. */
export const DEFAULT_WRITE_CONCURRENCY = 8;

export async function writeRawObjects(
  s3: S3Client,
  bucket: string,
  objects: readonly RawObject[],
  concurrency = DEFAULT_WRITE_CONCURRENCY,
): Promise<WriteResult> {
  await mapBounded(objects, concurrency, (object) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: object.key,
        Body: object.body,
        // The object is a gzip file (`.ndjson.gz`), not NDJSON served with a transfer encoding:
        // `Content-Encoding: gzip` would make some HTTP clients unpack it on download.
        ContentType: 'application/gzip',
        Metadata: {
          'record-count': String(object.recordCount),
          kind: object.kind,
          'first-offset': String(object.firstOffset),
          'last-offset': String(object.lastOffset),
        },
      }),
    ),
  );
  return {
    objectsWritten: objects.length,
    bytesWritten: objects.reduce((total, object) => total + object.body.length, 0),
  };
}
