/**
 * Writes the core's objects to the raw bucket. The S3 client comes in as an argument (its retry
 * policy with it: the SDK's standard strategy, exponential backoff with jitter, bounded by
 * `maxAttempts`); what still fails makes `writeRawObjects` throw, so that the event source
 * mapping redelivers the batch, which is safe because the keys are a function of the batch.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mapBounded } from '../shared/bounded-map';
import type { ChangeLogEntry, RawObject } from './core';

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

/**
 * Writes the batch's change-log entries (core.ts `changeLogEntries`). Called only after every raw
 * object of the batch was written: an entry names objects that exist, so a job that reads an
 * entry finds its data. A failure throws like a failed object write (the batch is retried; its
 * objects are overwritten with the same bytes and the entries written again).
 */
export async function writeChangeLog(
  s3: S3Client,
  bucket: string,
  entries: readonly ChangeLogEntry[],
  concurrency = DEFAULT_WRITE_CONCURRENCY,
): Promise<number> {
  await mapBounded(entries, concurrency, (entry) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: entry.key, Body: entry.body, ContentType: 'application/json' })),
  );
  return entries.length;
}
