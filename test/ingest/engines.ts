/**
 * Helpers of the ingest tests that use the real local Kafka and S3 (not a test file itself).
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { gunzipSync } from 'zlib';

export interface KafkaKit {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly topics: string[];
}

export async function connectKafka(brokers: string[]): Promise<KafkaKit> {
  const kafka = new Kafka({ clientId: 'ingest-test', brokers, logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 200 } });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  return { kafka, admin, producer, topics: [] };
}

export async function closeKafka(kit: KafkaKit | undefined): Promise<void> {
  if (!kit) return;
  await kit.producer.disconnect().catch(() => undefined);
  if (kit.topics.length > 0) await kit.admin.deleteTopics({ topics: kit.topics }).catch(() => undefined);
  await kit.admin.disconnect().catch(() => undefined);
}

export async function createTopic(kit: KafkaKit, topic: string, partitions = 3): Promise<void> {
  await kit.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  kit.topics.push(topic);
}

export interface Message {
  readonly partition: number;
  /** Buffer as is, string as UTF-8, a JS value as JSON, null as a tombstone. */
  readonly value: unknown;
  readonly key?: string;
  readonly headers?: Record<string, string>;
}

function valueOf(value: unknown): Buffer | string | null {
  if (value === null || Buffer.isBuffer(value) || typeof value === 'string') return value as Buffer | string | null;
  return JSON.stringify(value);
}

/** Produces the messages (in order per partition); resolves with the topic's end offsets. */
export async function produce(kit: KafkaKit, topic: string, messages: readonly Message[]): Promise<Map<number, number>> {
  await kit.producer.send({
    topic,
    acks: -1,
    messages: messages.map((m) => ({ partition: m.partition, key: m.key ?? null, value: valueOf(m.value), headers: m.headers })),
  });
  const offsets = await kit.admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

export interface StoredObject {
  readonly key: string;
  readonly etag: string;
  readonly lines: Record<string, unknown>[];
}

/** Every object of the bucket (under `prefix`), decompressed into its NDJSON lines. */
export async function readBucket(s3: S3Client, bucket: string, prefix = ''): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const item of page.Contents ?? []) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: item.Key! }));
      const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
      out.push({
        key: item.Key!,
        etag: item.ETag ?? '',
        lines: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
      });
    }
    token = page.NextContinuationToken;
  } while (token);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}
