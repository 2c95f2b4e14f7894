/**
 * The ingest invocation (`createIngestHandler`, the code `handler.ts` wraps in middy) against the
 * real local Kafka and S3: messages are produced to a real topic, consumed by the local MSK event
 * source stand-in (local/msk-poller.ts), and what lands in the bucket is read back.
 * The middy-wrapped `handler` itself is run in handler-real.test.ts (middy is ESM-only).
 */
process.env.POWERTOOLS_DEV = 'true'; // metrics go through the global console, where a test can read them
process.env.POWERTOOLS_METRICS_DISABLED = 'true'; // quiet, except in the test that reads them
process.env.POWERTOOLS_METRICS_NAMESPACE = 'ClickstreamPipelineTest';
process.env.POWERTOOLS_SERVICE_NAME = 'ingest';

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { MSKEvent } from 'aws-lambda';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createIngestHandler, type IngestDependencies } from '../../lambdas/ingest/batch';
import { MskPoller, replayFailedBatches, type MskHandler, type OnFailureRecord } from '../../local/msk-poller';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName, type LocalEndpoints } from '../support/engines';
import { closeKafka, connectKafka, createTopic, produce, readBucket, type KafkaKit, type Message } from './engines';
import { clickEvent } from './fixtures';

let endpoints: LocalEndpoints;
let kit: KafkaKit;
let dir: string;
const buckets: string[] = [];
const pollers: MskPoller[] = [];

beforeAll(async () => {
  endpoints = await ensureEngines(['kafka', 's3']);
  kit = await connectKafka(endpoints.kafkaBrokers);
  dir = mkdtempSync(join(tmpdir(), 'ingest-'));
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
  await closeKafka(kit);
  await Promise.all(buckets.map((b) => emptyBucket(b).catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An S3 client like the function's, with few retries so that a failing write fails fast. */
function functionS3(): S3Client {
  return new S3Client({
    endpoint: endpoints.s3Endpoint,
    forcePathStyle: true,
    region: endpoints.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 2,
  });
}

function deps(bucket: string, metrics = new Metrics()): IngestDependencies {
  return {
    s3: functionS3(),
    bucket,
    core: { eventsPrefix: 'events/', quarantinePrefix: 'quarantine/', now: Date.now },
    writeConcurrency: 4,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
    clock: () => performance.now(),
  };
}

async function newBucket(prefix: string, create = true): Promise<string> {
  const bucket = uniqueName(prefix);
  buckets.push(bucket);
  if (create) await createBucket(bucket);
  return bucket;
}

function startPoller(topic: string, handler: MskHandler, extra: Partial<ConstructorParameters<typeof MskPoller>[0]> = {}): MskPoller {
  const poller = new MskPoller({
    brokers: endpoints.kafkaBrokers,
    topic,
    groupId: `${topic}-group`,
    handler,
    batchSize: 40,
    maximumBatchingWindowMs: 200,
    retryBackoff: { baseMs: 50, maxMs: 400 },
    onFailure: join(dir, `${topic}-failures.ndjson`),
    ...extra,
  });
  pollers.push(poller);
  void poller.start();
  return poller;
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** Inputs that exercise each enrichment rule, and the fields SPEC §2 gives them; event e<i> uses row i % length. */
const ENRICHMENT_CASES: { input: Record<string, unknown>; expected: Record<string, unknown> }[] = [
  {
    input: { country: 'Germany', user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', referrer: 'https://www.google.co.uk/' },
    expected: { country: 'DE', country_raw: null, device_type: 'mobile', browser: 'Safari', os: 'iOS', is_bot: false, utm_source: null, utm_medium: null, utm_campaign: null, referrer_host: 'google.co.uk', channel: 'search' },
  },
  {
    input: { country: 'UK', user_agent: null, userAgent: 'curl/8.5.0', referrer: null, url: 'https://shop.example.com/?utm_source=News&utm_medium=EMAIL&utm_campaign=Spring+Sale' },
    expected: { country: 'GB', country_raw: null, device_type: 'bot', browser: null, os: null, is_bot: true, utm_source: 'news', utm_medium: 'email', utm_campaign: 'spring sale', referrer_host: null, channel: 'email' },
  },
  {
    input: { country: ' Narnia ', user_agent: 'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1', referrer: 'https://m.facebook.com/story' },
    expected: { country: 'unknown', country_raw: 'Narnia', device_type: 'tablet', browser: 'Safari', os: 'iOS', is_bot: false, referrer_host: 'm.facebook.com', channel: 'social' },
  },
  {
    input: { country: 'deu', user_agent: null, referrer: 'https://www.Shop.Example.com/cart' },
    expected: { country: 'DE', country_raw: null, device_type: 'unknown', browser: null, os: null, is_bot: false, referrer_host: 'shop.example.com', channel: 'internal' },
  },
  {
    input: { country: 'XK', user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', referrer: 'https://news.ycombinator.com/item?id=1', url: 'https://shop.example.com/p/1?utm_medium=' },
    expected: { country: 'XK', country_raw: null, device_type: 'desktop', browser: 'Chrome', os: 'Windows', is_bot: false, utm_medium: null, referrer_host: 'news.ycombinator.com', channel: 'referral' },
  },
];

/** A mix of valid events (ids e0..) and every kind of undecodable or invalid message. */
function mixedMessages(validCount: number): { messages: Message[]; bad: Record<string, number> } {
  const messages: Message[] = [];
  for (let i = 0; i < validCount; i++) {
    const { input } = ENRICHMENT_CASES[i % ENRICHMENT_CASES.length];
    messages.push({ partition: i % 3, key: `user-${i % 7}`, value: clickEvent({ event_id: `e${i}`, user_id: `user-${i % 7}`, timestamp: minutesAgo(i % 90), ...input }) });
  }
  const bad: Message[] = [
    { partition: 0, value: 'this is not json' },
    { partition: 1, value: null },
    { partition: 2, value: Buffer.from([0xc3, 0x28, 0xff]) },
    { partition: 0, value: clickEvent({ event_id: 'bad-url', url: 'ftp://example.com/' }) },
    { partition: 1, value: clickEvent({ event_id: 'future', timestamp: new Date(Date.now() + 3 * 86400_000).toISOString() }) },
    { partition: 2, value: '[1,2,3]' },
  ];
  // Interleave the bad ones so that batches mix valid and invalid records.
  bad.forEach((m, i) => messages.splice(Math.floor(((i + 1) * messages.length) / (bad.length + 1)), 0, m));
  return { messages, bad: { invalid_json: 1, null_value: 1, invalid_utf8: 1, bad_url: 1, timestamp_in_future: 1, not_an_object: 1 } };
}

describe('ingest handler with the local MSK poller, Kafka and S3', () => {
  it('stores every valid message once and quarantines every invalid one, with its reason', async () => {
    const topic = uniqueName('ingest-mixed');
    await createTopic(kit, topic);
    const bucket = await newBucket('ingest-mixed');
    const { messages, bad } = mixedMessages(150);
    const end = await produce(kit, topic, messages);

    // Powertools reads the switch whenever it makes a Metrics instance (also per singleMetric()).
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const emitted: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void emitted.push(String(line)));
    const handlerDeps = deps(bucket);
    const ingest = createIngestHandler(handlerDeps);
    const summaries: Awaited<ReturnType<typeof ingest>>[] = [];
    const poller = startPoller(topic, async (event) => {
      summaries.push(await ingest(event));
      handlerDeps.metrics.publishStoredMetrics();
    });
    try {
      await poller.waitUntil(end, 60_000);
    } finally {
      spy.mockRestore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }

    const objects = await readBucket(s3Client(), bucket);
    const events = objects.filter((o) => o.key.startsWith('events/')).flatMap((o) => o.lines);
    const quarantined = objects.filter((o) => o.key.startsWith('quarantine/')).flatMap((o) => o.lines);
    expect(events.map((e) => e.event_id).sort()).toEqual(Array.from({ length: 150 }, (_, i) => `e${i}`).sort());
    const reasons: Record<string, number> = {};
    for (const q of quarantined) reasons[String(q.reason)] = (reasons[String(q.reason)] ?? 0) + 1;
    expect(reasons).toEqual(bad);

    // Keys follow SPEC §2 and name the offsets of exactly the records inside.
    for (const object of objects) {
      const m = /^(events\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}|quarantine\/dt=\d{4}-\d{2}-\d{2})\/(.+)-(\d+)-(\d+)-(\d+)\.ndjson\.gz$/.exec(object.key);
      expect(m).not.toBeNull();
      const offsets = object.lines.map((l) => Number(object.key.startsWith('events/') ? (l.kafka as { offset: number }).offset : l.offset));
      expect([m![2], Number(m![4]), Number(m![5])]).toEqual([topic, Math.min(...offsets), Math.max(...offsets)]);
    }
    // Every stored event carries its enrichment (SPEC §2), computed from its own message.
    const wrongEnrichment = events.filter((e) => {
      const { expected } = ENRICHMENT_CASES[Number(String(e.event_id).slice(1)) % ENRICHMENT_CASES.length];
      return Object.entries(expected).some(([field, value]) => e[field] !== value);
    });
    expect(wrongEnrichment).toEqual([]);
    // A stored event carries its Kafka origin; the quarantined tombstone keeps its null value.
    expect(events.find((e) => e.event_id === 'e0')!.kafka).toMatchObject({ topic, partition: 0, offset: 0 });
    expect(quarantined.find((q) => q.reason === 'null_value')).toMatchObject({ value: null, encoding: null, partition: 1 });

    // The handler reported the same numbers, and published them as metrics.
    const total = (k: 'recordsIn' | 'recordsStored' | 'recordsQuarantined') => summaries.reduce((n, s) => n + s[k], 0);
    expect([total('recordsIn'), total('recordsStored'), total('recordsQuarantined')]).toEqual([156, 150, 6]);
    const emf = emitted.filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const sum = (name: string) => emf.reduce((n, m) => n + (typeof m[name] === 'number' ? (m[name] as number) : 0), 0);
    expect([sum('RecordsIn'), sum('RecordsStored'), sum('RecordsQuarantined')]).toEqual([156, 150, 6]);
    const bytesWritten = summaries.reduce((n, s) => n + s.bytesWritten, 0);
    expect(bytesWritten).toBeGreaterThan(0);
    expect(sum('BytesWritten')).toBe(bytesWritten);
    expect(emf.some((m) => typeof m.BatchLatency === 'number')).toBe(true);
    const byReason = emf.filter((m) => m.RecordsQuarantinedByReason !== undefined);
    expect(Object.fromEntries(Object.keys(bad).map((r) => [r, byReason.filter((m) => m.reason === r).reduce((n, m) => n + Number(m.RecordsQuarantinedByReason), 0)]))).toEqual(bad);
  });

  it('overwrites the same objects when a batch is delivered again: nothing is duplicated', async () => {
    const topic = uniqueName('ingest-redeliver');
    await createTopic(kit, topic);
    const bucket = await newBucket('ingest-redeliver');
    const { messages } = mixedMessages(60);
    const end = await produce(kit, topic, messages);
    const ingest = createIngestHandler(deps(bucket));
    const delivered: MSKEvent[] = [];
    const poller = startPoller(topic, async (event) => {
      delivered.push(event);
      await ingest(event);
    });
    await poller.waitUntil(end, 60_000);
    const before = await readBucket(s3Client(), bucket);
    expect(delivered.length).toBeGreaterThan(1);

    // The event source delivers every batch a second time (at-least-once): same keys, same bytes.
    for (const event of delivered) await ingest(event);
    const after = await readBucket(s3Client(), bucket);
    expect(after.map((o) => [o.key, o.etag, o.lines.length])).toEqual(before.map((o) => [o.key, o.etag, o.lines.length]));
    const ids = after.filter((o) => o.key.startsWith('events/')).flatMap((o) => o.lines.map((l) => l.event_id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(60);
  });

  it('throws when S3 refuses the write, and the poller redelivers the batch until it succeeds', async () => {
    const topic = uniqueName('ingest-s3-down');
    await createTopic(kit, topic);
    const bucket = await newBucket('ingest-s3-down', false); // does not exist yet: every PutObject fails
    const { messages } = mixedMessages(30);
    const end = await produce(kit, topic, messages);
    const ingest = createIngestHandler(deps(bucket));
    const errors: string[] = [];
    const poller = startPoller(
      topic,
      async (event) => {
        try {
          return await ingest(event);
        } catch (error) {
          errors.push((error as Error).message);
          // The outage ends after the first failed attempt.
          if (errors.length === 1) await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
          throw error;
        }
      },
      { batchSize: 100, maximumBatchingWindowMs: 1000, retryAttempts: 3 },
    );
    const stats = await poller.waitUntil(end, 60_000);

    expect(errors[0]).toMatch(/NoSuchBucket|does not exist/);
    expect(stats.failedInvocations).toBeGreaterThanOrEqual(1);
    expect(stats.redeliveries).toBeGreaterThanOrEqual(1);
    expect(stats.batchesSentToFailureDestination).toBe(0);
    const ids = (await readBucket(s3Client(), bucket, 'events/')).flatMap((o) => o.lines.map((l) => l.event_id));
    expect(ids.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`).sort());
  });

  it('after the retry bound sends the batch to the on-failure destination, moves on, and the batch can be replayed', async () => {
    const topic = uniqueName('ingest-give-up');
    await createTopic(kit, topic);
    const bucket = await newBucket('ingest-give-up', false);
    const { messages } = mixedMessages(20);
    const end = await produce(kit, topic, messages);
    const ingest = createIngestHandler(deps(bucket));
    const failureFile = join(dir, `${topic}-dlq.ndjson`);
    const poller = startPoller(topic, (event) => ingest(event), { retryAttempts: 2, onFailure: failureFile, batchSize: 10 });
    const stats = await poller.waitUntil(end, 60_000);

    // Every record went to the destination after 1 + 2 attempts, and the group moved past them.
    expect(stats.recordsSentToFailureDestination).toBe(26);
    expect(stats.recordsHandled).toBe(0);
    const failures = readFileSync(failureFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as OnFailureRecord);
    expect(failures).toHaveLength(stats.batchesSentToFailureDestination);
    expect(failures[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 });
    expect(failures[0].errorMessage).toMatch(/NoSuchBucket|does not exist/);
    const committed = await kit.admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    expect(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]).sort()).toEqual([...end].sort());

    // The operator fixes the cause and replays the destination's payloads: everything lands.
    await createBucket(bucket);
    const replay = await replayFailedBatches(failureFile, (event) => ingest(event));
    expect(replay).toEqual({ replayed: failures.length, failed: [] });
    const stored = await readBucket(s3Client(), bucket);
    expect(stored.reduce((n, o) => n + o.lines.length, 0)).toBe(26);
  });
});
