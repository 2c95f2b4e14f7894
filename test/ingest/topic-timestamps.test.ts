/**
 * Whose clock a record's timestamp is (docs/operations.md, "Data safety"), on the real local Kafka:
 * a topic made with the configs the stack gives its topic (LogAppendTime) stamps records with the
 * broker's clock, whatever the producer says; a CreateTime topic (Kafka's default, what an existing
 * cluster's topic may use) keeps the producer's timestamp, so the quarantine date follows the
 * producer's clock, and the ingest function says so once per topic.
 */
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'ClickstreamPipelineTest';

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MSKEvent } from 'aws-lambda';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createIngestHandler, createTimeTopics } from '../../lambdas/ingest/batch';
import { buildRawObjects } from '../../lambdas/ingest/core';
import { ensureTopic } from '../../lambdas/ingest/topic/ensure-topic';
import { IngestStage } from '../../lib/ingest';
import { SecureBucket } from '../../lib/secure-defaults';
import { MskPoller } from '../../local/msk-poller';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName, type LocalEndpoints } from '../support/engines';
import { testApp } from '../support/cdk-app';
import { closeKafka, connectKafka, readBucket, type KafkaKit } from './engines';
import { clickEvent, mskEvent } from './fixtures';

let endpoints: LocalEndpoints;
let kit: KafkaKit;
const pollers: MskPoller[] = [];
const buckets: string[] = [];

beforeAll(async () => {
  endpoints = await ensureEngines(['kafka', 's3']);
  kit = await connectKafka(endpoints.kafkaBrokers);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
  await closeKafka(kit);
  await Promise.all(buckets.map((b) => emptyBucket(b).catch(() => undefined)));
});

/** The topic configs the stack's topic resource is given (lib/ingest.ts). */
function stackTopicConfigs(): Record<string, string> {
  const stack = new Stack(testApp(), 'Topics', { env: { account: '111122223333', region: 'eu-west-1' } });
  new IngestStage(stack, 'Ingest', { rawEventsBucket: new SecureBucket(stack, 'Raw'), topicRetention: Duration.days(1) });
  const [topic] = Object.values<any>(Template.fromStack(stack).findResources('Custom::KafkaTopic'));
  return topic.Properties.Configs;
}

/** Produces one message with a producer timestamp two days old and returns the MSK event the poller hands over. */
async function deliverOldStampedMessage(topic: string): Promise<MSKEvent> {
  const producerTs = Date.now() - 2 * 86_400_000;
  await kit.producer.send({ topic, acks: -1, messages: [{ partition: 0, value: 'not json', timestamp: String(producerTs) }] });
  const events: MSKEvent[] = [];
  const poller = new MskPoller({
    brokers: endpoints.kafkaBrokers, topic, groupId: `${topic}-group`, batchSize: 10, maximumBatchingWindowMs: 100,
    handler: async (event) => {
      events.push(event);
    },
  });
  pollers.push(poller);
  void poller.start();
  const offsets = await kit.admin.fetchTopicOffsets(topic);
  await poller.waitUntil(new Map(offsets.map((o) => [o.partition, Number(o.high)])), 60_000);
  await poller.stop();
  return events[0];
}

const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('record timestamps on the real Kafka', () => {
  it('a topic with the stack\'s configs stamps records with the broker\'s clock, and the quarantine date follows it', async () => {
    const topic = uniqueName('ts-logappend');
    const configs = stackTopicConfigs();
    expect(configs['message.timestamp.type']).toBe('LogAppendTime');
    const before = Date.now();
    await ensureTopic(kit.admin, { topic, partitions: 1, configs });
    kit.topics.push(topic);
    const event = await deliverOldStampedMessage(topic);
    const [record] = Object.values(event.records)[0];
    expect(record.timestampType).toBe('LOG_APPEND_TIME');
    expect(record.timestamp).toBeGreaterThanOrEqual(before - 1000); // not the producer's two-day-old stamp
    expect(createTimeTopics(event)).toEqual([]);
    const [quarantine] = buildRawObjects(event).objects;
    expect(quarantine.key.startsWith(`quarantine/dt=${dateOf(record.timestamp)}/`)).toBe(true);
  }, 120_000);

  it('a CreateTime topic keeps the producer\'s timestamp: the quarantine date is the producer\'s', async () => {
    const topic = uniqueName('ts-createtime');
    await ensureTopic(kit.admin, { topic, partitions: 1, configs: {} });
    kit.topics.push(topic);
    const event = await deliverOldStampedMessage(topic);
    const [record] = Object.values(event.records)[0];
    expect(record.timestampType).toBe('CREATE_TIME');
    expect(Date.now() - record.timestamp).toBeGreaterThan(86_400_000);
    const [quarantine] = buildRawObjects(event).objects;
    expect(quarantine.key.startsWith(`quarantine/dt=${dateOf(record.timestamp)}/`)).toBe(true);
    expect(createTimeTopics(event)).toEqual([topic]);
  }, 120_000);
});

describe('the ingest function on a CreateTime topic', () => {
  it('warns once per topic and container, naming the topic and the fix', async () => {
    const bucket = uniqueName('ts-warn');
    buckets.push(bucket);
    await createBucket(bucket);
    const logger = new Logger({ logLevel: 'WARN' });
    const warnings: { message: string; topic?: unknown }[] = [];
    const warn = logger.warn.bind(logger);
    logger.warn = ((message: string, ...extra: { topic?: unknown }[]) => {
      warnings.push({ message, topic: extra[0]?.topic });
      return warn(message, ...extra);
    }) as typeof logger.warn;
    const ingest = createIngestHandler({
      s3: s3Client(), bucket, core: { now: Date.now }, writeConcurrency: 2, logger, metrics: new Metrics(), clock: () => performance.now(),
    });
    const event = mskEvent([{ offset: 1, value: clickEvent() }, { topic: 'other', offset: 4, value: clickEvent() }]);
    await ingest(event);
    await ingest(event);
    const createTime = warnings.filter((w) => w.message.includes('CreateTime'));
    expect(createTime.map((w) => w.topic)).toEqual(['clickstream', 'other']);
    expect(createTime[0].message).toContain('message.timestamp.type=LogAppendTime');
    expect((await readBucket(s3Client(), bucket, 'events/')).length).toBeGreaterThan(0);
  });
});
