/**
 * local/msk-poller.ts against the real local Kafka: the events it builds are MSK events as the
 * event source mapping builds them, batches respect size and window, offsets are committed only
 * once a batch is done, failures are retried with a bound, bisected on request, and end in the
 * on-failure destination.
 */
import type { MSKEvent } from 'aws-lambda';
import { MskPoller, mskHeaders, type MskHandler, type OnFailureRecord } from '../../local/msk-poller';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName, type LocalEndpoints } from '../support/engines';
import { closeKafka, connectKafka, createTopic, produce, type KafkaKit, type Message } from './engines';

let endpoints: LocalEndpoints;
let kit: KafkaKit;
const pollers: MskPoller[] = [];

beforeAll(async () => {
  endpoints = await ensureEngines(['kafka']);
  kit = await connectKafka(endpoints.kafkaBrokers);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
  await closeKafka(kit);
});

function poller(topic: string, handler: MskHandler, extra: Partial<ConstructorParameters<typeof MskPoller>[0]> = {}): MskPoller {
  const p = new MskPoller({
    brokers: endpoints.kafkaBrokers,
    topic,
    groupId: `${topic}-group`,
    handler,
    retryBackoff: { baseMs: 20, maxMs: 100 },
    onFailure: () => {
      throw new Error('no failure expected in this test');
    },
    ...extra,
  });
  pollers.push(p);
  void p.start();
  return p;
}

async function committed(topic: string): Promise<Map<number, number>> {
  const [entry] = await kit.admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
  return new Map(entry.partitions.map((p) => [p.partition, Number(p.offset)]));
}

const values = (event: MSKEvent) =>
  Object.values(event.records).flat().map((r) => (r.value === null ? null : Buffer.from(r.value, 'base64').toString('utf8')));

describe('MskPoller', () => {
  it('builds MSK events the way the event source mapping does', async () => {
    const topic = uniqueName('poller-shape');
    await createTopic(kit, topic, 2);
    const before = Date.now();
    const end = await produce(kit, topic, [
      { partition: 0, key: 'k1', value: 'first', headers: { trace: 'abc' } },
      { partition: 1, value: 'second' },
      { partition: 0, value: null },
    ]);
    const events: MSKEvent[] = [];
    const p = poller(topic, async (event) => void events.push(event), { maximumBatchingWindowMs: 1500 });
    await p.waitUntil(end, 30_000);

    // One window, both partitions, one event.
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSourceArn).toBe(`arn:aws:kafka:local:000000000000:cluster/local/${topic}`);
    expect(event.bootstrapServers).toBe(endpoints.kafkaBrokers.join(','));
    expect(Object.keys(event.records).sort()).toEqual([`${topic}-0`, `${topic}-1`]);
    const [first, tombstone] = event.records[`${topic}-0`];
    expect(first).toMatchObject({
      topic,
      partition: 0,
      offset: 0,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('k1').toString('base64'),
      value: Buffer.from('first').toString('base64'),
      headers: [{ trace: [...Buffer.from('abc')] }],
    });
    expect(first.timestamp).toBeGreaterThanOrEqual(before - 1000);
    expect(first.timestamp).toBeLessThanOrEqual(Date.now());
    expect(tombstone).toMatchObject({ offset: 1, value: null });
    expect('key' in event.records[`${topic}-1`][0]).toBe(false);
  });

  it('cuts batches at batchSize and keeps offset order within each partition', async () => {
    const topic = uniqueName('poller-size');
    await createTopic(kit, topic, 3);
    const messages: Message[] = Array.from({ length: 95 }, (_, i) => ({ partition: i % 3, value: `m${i}` }));
    const end = await produce(kit, topic, messages);
    const events: MSKEvent[] = [];
    const p = poller(topic, async (event) => void events.push(event), { batchSize: 20, maximumBatchingWindowMs: 300 });
    const stats = await p.waitUntil(end, 30_000);

    const sizes = events.map((e) => Object.values(e.records).flat().length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(95);
    const seen = events.flatMap(values).sort();
    expect(seen).toEqual(messages.map((m) => m.value as string).sort());
    for (const event of events) {
      for (const records of Object.values(event.records)) {
        const offsets = records.map((r) => r.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    }
    expect(stats).toMatchObject({ invocations: events.length, failedInvocations: 0, recordsHandled: 95 });
    expect(await committed(topic)).toEqual(end);
  });

  it('commits the offsets of a batch only after the handler is done with it', async () => {
    const topic = uniqueName('poller-commit');
    await createTopic(kit, topic, 1);
    const end = await produce(kit, topic, [{ partition: 0, value: 'a' }, { partition: 0, value: 'b' }]);
    let release!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    let started!: () => void;
    const inHandler = new Promise<void>((done) => (started = done));
    const p = poller(topic, async () => {
      started();
      await gate;
    });
    await inHandler;
    await new Promise((done) => setTimeout(done, 500));
    expect((await committed(topic)).get(0)).toBe(-1); // nothing committed while the handler runs
    release();
    await p.waitUntil(end, 30_000);
    expect((await committed(topic)).get(0)).toBe(2);
  });

  it('knows where the group left off: waitUntil returns for a partition an earlier poller finished', async () => {
    const topic = uniqueName('poller-resume');
    await createTopic(kit, topic, 2);
    const first = await produce(kit, topic, [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }]);
    const seen: string[] = [];
    const record = async (event: MSKEvent) => {
      seen.push(...(values(event) as string[]));
    };
    const p1 = poller(topic, record);
    await p1.waitUntil(first, 30_000);
    await p1.stop();
    // Only partition 0 gets something new: the second poller never receives a batch of partition 1.
    const second = await produce(kit, topic, [{ partition: 0, value: 'c' }]);
    expect(second.get(1)).toBe(1);
    const p2 = poller(topic, record);
    const stats = await p2.waitUntil(second, 15_000);
    expect(stats.positions.get(1)).toBe(1);
    expect(stats.recordsHandled).toBe(1);
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });

  it('retries a failing batch with backoff, bisects it on request, and gives up on the poison record alone', async () => {
    const topic = uniqueName('poller-bisect');
    await createTopic(kit, topic, 1);
    const messages: Message[] = Array.from({ length: 8 }, (_, i) => ({ partition: 0, value: i === 5 ? 'poison' : `ok${i}` }));
    const end = await produce(kit, topic, messages);
    const handled: string[] = [];
    const failures: OnFailureRecord[] = [];
    const p = poller(
      topic,
      async (event) => {
        const vs = values(event) as string[];
        if (vs.includes('poison')) throw new Error('cannot handle poison');
        handled.push(...vs);
      },
      { batchSize: 8, maximumBatchingWindowMs: 1000, retryAttempts: 4, bisectBatchOnError: true, onFailure: (r) => void failures.push(r) },
    );
    const stats = await p.waitUntil(end, 30_000);

    expect(handled.sort()).toEqual(['ok0', 'ok1', 'ok2', 'ok3', 'ok4', 'ok6', 'ok7']);
    expect(failures).toHaveLength(1);
    expect(values(failures[0].payload)).toEqual(['poison']);
    expect(failures[0].KafkaBatchInfo).toEqual([
      expect.objectContaining({ topic, partition: 0, firstOffset: 5, lastOffset: 5, batchSize: 1 }),
    ]);
    expect(failures[0].errorMessage).toBe('Error: cannot handle poison');
    // 8 -> 4+4 -> (2+2) -> (1+1): the poison's batch failed 4 times, then its last retry too.
    expect(stats.batchesSentToFailureDestination).toBe(1);
    expect(stats.redeliveries).toBeGreaterThanOrEqual(3);
    expect(await committed(topic)).toEqual(end);
  });

  it('stops retrying after retryAttempts and counts every attempt', async () => {
    const topic = uniqueName('poller-bound');
    await createTopic(kit, topic, 1);
    const end = await produce(kit, topic, [{ partition: 0, value: 'x' }]);
    let calls = 0;
    const failures: OnFailureRecord[] = [];
    const p = poller(
      topic,
      async () => {
        calls++;
        throw new Error('always');
      },
      { retryAttempts: 3, onFailure: (r) => void failures.push(r) },
    );
    const stats = await p.waitUntil(end, 30_000);
    expect(calls).toBe(4);
    expect(stats).toMatchObject({ invocations: 4, failedInvocations: 4, redeliveries: 3, recordsSentToFailureDestination: 1, recordsHandled: 0 });
    expect(failures[0].requestContext.approximateInvokeCount).toBe(4);
  });

  it('finishes the records it already received when stopped', async () => {
    const topic = uniqueName('poller-stop');
    await createTopic(kit, topic, 1);
    await produce(kit, topic, [{ partition: 0, value: 'a' }, { partition: 0, value: 'b' }, { partition: 0, value: 'c' }]);
    const handled: string[] = [];
    // A window far longer than the test: only stop() can make this batch go.
    const p = poller(topic, async (event) => void handled.push(...(values(event) as string[])), { maximumBatchingWindowMs: 600_000 });
    const deadline = Date.now() + 20_000;
    while (p.stats().recordsReceived < 3 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
    expect(handled).toEqual([]);
    await p.stop();
    expect(handled).toEqual(['a', 'b', 'c']);
    expect((await committed(topic)).get(0)).toBe(3);
  });
});

describe('mskHeaders', () => {
  it('turns kafkajs headers into one single-key object per value, as byte arrays', () => {
    expect(mskHeaders({ a: 'x', b: Buffer.from([1, 2]), c: ['y', Buffer.from([3])], d: undefined })).toEqual([
      { a: [0x78] },
      { b: [1, 2] },
      { c: [0x79] },
      { c: [3] },
    ]);
  });
});
