/**
 * The local Kafka (local-stack/kafka: Kafka 4.x, KRaft, one node) works with the client the
 * pipeline's local runner uses, kafkajs 2.2.4, even though Kafka 4 dropped the oldest protocol
 * versions (KIP-896): admin, producer, and a consumer group that commits its offsets.
 * When the broker cannot start, beforeAll throws and every test here fails.
 */
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, stackEnv, uniqueName } from '../support/engines';

let kafka: Kafka;
let admin: Admin;
const topicsToDelete: string[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  const { kafkaBrokers } = await ensureEngines(['kafka']);
  kafka = new Kafka({
    clientId: 'engine-test',
    brokers: kafkaBrokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 200 },
  });
  admin = kafka.admin();
  await admin.connect();
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect().catch(() => undefined)));
  if (!admin) return;
  if (topicsToDelete.length > 0) await admin.deleteTopics({ topics: topicsToDelete }).catch(() => undefined);
  await admin.disconnect();
});

/** Resolves when `count` messages have arrived, rejects after `timeoutMs`. */
function collect(consumer: Consumer, count: number, timeoutMs: number): Promise<Array<{ key: string; value: string; offset: string }>> {
  const received: Array<{ key: string; value: string; offset: string }> = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} messages in ${timeoutMs} ms`)), timeoutMs);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          received.push({ key: String(message.key), value: String(message.value), offset: message.offset });
          if (received.length === count) {
            clearTimeout(timer);
            resolve(received);
          }
        },
      })
      .catch((error: unknown) => {
        clearTimeout(timer);
        reject(error);
      });
  });
}

describe('local Kafka engine', () => {
  it('creates a topic, produces three messages and a consumer group reads them and commits its offsets', async () => {
    const topic = uniqueName('engine-test-kafka');
    const groupId = uniqueName('engine-test-group');
    topicsToDelete.push(topic);

    // One partition: the order of the three messages is then part of the contract.
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(true);
    expect(await admin.listTopics()).toContain(topic);

    const producer = kafka.producer();
    await producer.connect();
    const sent = await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'u1', value: '{"n":1}' },
        { key: 'u2', value: '{"n":2}' },
        { key: 'u3', value: '{"n":3}' },
      ],
    });
    await producer.disconnect();
    expect(sent).toEqual([expect.objectContaining({ topicName: topic, partition: 0, errorCode: 0, baseOffset: '0' })]);

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await collect(consumer, 3, 60_000);
    expect(received).toEqual([
      { key: 'u1', value: '{"n":1}', offset: '0' },
      { key: 'u2', value: '{"n":2}', offset: '1' },
      { key: 'u3', value: '{"n":3}', offset: '2' },
    ]);
    // Leaving the group commits what was processed (autoCommit); the broker then holds the
    // next offset to read, 3, for the group.
    await consumer.disconnect();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed).toEqual([{ topic, partitions: [expect.objectContaining({ partition: 0, offset: '3' })] }]);

    // A new member of the same group starts after the committed offset: nothing is read twice.
    const secondProducer = kafka.producer();
    await secondProducer.connect();
    await secondProducer.send({ topic, messages: [{ key: 'u4', value: '{"n":4}' }] });
    await secondProducer.disconnect();
    const rejoined = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    consumers.push(rejoined);
    await rejoined.connect();
    await rejoined.subscribe({ topic, fromBeginning: true });
    expect(await collect(rejoined, 1, 60_000)).toEqual([{ key: 'u4', value: '{"n":4}', offset: '3' }]);
  });

  it('does not create topics on demand, as auto-creation is off like on MSK', async () => {
    const topic = uniqueName('engine-test-absent');
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 1, initialRetryTime: 100 } });
    await producer.connect();
    try {
      await expect(producer.send({ topic, messages: [{ value: 'x' }] })).rejects.toThrow(/does not host this topic-partition|unknown topic|UNKNOWN_TOPIC/i);
    } finally {
      await producer.disconnect();
    }
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('has the topics stack.sh creates (KAFKA_TOPICS, default `clickstream`) with their partition counts', async () => {
    const env = stackEnv();
    const wanted = (env.KAFKA_TOPICS ?? '').split(/\s+/).filter(Boolean).map((spec) => {
      const [name, partitions] = spec.split(':');
      return { name, partitions: Number(partitions ?? env.KAFKA_DEFAULT_PARTITIONS) };
    });
    expect(wanted.length).toBeGreaterThan(0);
    const metadata = await admin.fetchTopicMetadata({ topics: wanted.map((topic) => topic.name) });
    expect(metadata.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.length }))).toEqual(wanted);
  });
});
