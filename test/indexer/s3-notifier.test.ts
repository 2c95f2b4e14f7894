/**
 * The local stand-in for S3 notification -> SQS -> event source mapping, with a scripted handler
 * (its own contract: batches, partial failures, redelivery with backoff, dead-letter file, replay).
 * handler.test.ts runs it with the real indexer handler against the local engines.
 */
import type { SQSEvent } from 'aws-lambda';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { objectsOfMessage } from '../../lambdas/indexer/core';
import { LocalS3Notifier, readDeadLetterFile, SqsHandler } from '../../local/s3-notifier';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'notifier-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const keys = (n: number) => Array.from({ length: n }, (_, i) => `aggregates/url_country_daily/event_date=2026-11-0${(i % 9) + 1}/part-0000${i}-x y.c000.json`);
const keyOf = (record: SQSEvent['Records'][number]) => objectsOfMessage(record.body)[0].key;

function scripted(failures: (key: string, receiveCount: number) => boolean | 'throw') {
  const events: SQSEvent[] = [];
  const handler: SqsHandler = async (event) => {
    events.push(event);
    const batchItemFailures = [];
    for (const record of event.Records) {
      const verdict = failures(keyOf(record), Number(record.attributes.ApproximateReceiveCount));
      if (verdict === 'throw') throw new Error('function crashed');
      if (verdict) batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
  return { handler, events };
}

it('delivers one S3 notification per key as SQS records, in batches of batchSize', async () => {
  const { handler, events } = scripted(() => false);
  const notifier = new LocalS3Notifier({ handler, bucket: 'agg', batchSize: 3 });

  const result = await notifier.notify(keys(7));

  expect(events.map((e) => e.Records.length)).toEqual([3, 3, 1]);
  expect(events.flatMap((e) => e.Records.map(keyOf))).toEqual(keys(7));
  const record = events[0].Records[0];
  expect(record).toMatchObject({ eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '1' } });
  const notification = JSON.parse(record.body).Records[0];
  expect(notification).toMatchObject({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'agg' } } });
  expect(notification.s3.object.key).toContain('event_date%3D2026-11-01/part-00000-x+y.c000.json');
  expect(result).toEqual({ messages: 7, invocations: 3, redeliveries: 0, deadLettered: [] });
});

it('redelivers only the messages named in batchItemFailures, with a growing backoff', async () => {
  const flaky = keys(3)[1];
  const { handler, events } = scripted((key, receiveCount) => key === flaky && receiveCount < 3);
  const delays: number[] = [];
  const notifier = new LocalS3Notifier({ handler, bucket: 'agg', backoffBaseMs: 100, sleep: async (ms) => void delays.push(ms), random: () => 1 });

  const result = await notifier.notify(keys(3));

  expect(events.map((e) => e.Records.map((r) => [keyOf(r), r.attributes.ApproximateReceiveCount]))).toEqual([
    [
      [keys(3)[0], '1'],
      [flaky, '1'],
      [keys(3)[2], '1'],
    ],
    [[flaky, '2']],
    [[flaky, '3']],
  ]);
  expect(delays).toEqual([100, 200]);
  expect(result).toMatchObject({ invocations: 3, redeliveries: 2, deadLettered: [] });
});

it('returns the whole batch to the queue when the invocation throws', async () => {
  const { handler, events } = scripted((_, receiveCount) => (receiveCount === 1 ? 'throw' : false));
  const notifier = new LocalS3Notifier({ handler, bucket: 'agg', sleep: async () => undefined });
  const result = await notifier.notify(keys(2));
  expect(events.map((e) => e.Records.length)).toEqual([2, 2]);
  expect(result.redeliveries).toBe(2);
});

it('moves a message to the dead-letter file after maxReceiveCount deliveries, and replay redrives it', async () => {
  const poison = keys(2)[0];
  let broken = true;
  const { handler, events } = scripted((key) => broken && key === poison);
  const file = join(dir, 'dlq', 'indexer.ndjson');
  const notifier = new LocalS3Notifier({ handler, bucket: 'agg', maxReceiveCount: 4, deadLetterFile: file, sleep: async () => undefined });

  const result = await notifier.notify(keys(2));

  expect(events.flatMap((e) => e.Records).filter((r) => keyOf(r) === poison)).toHaveLength(4);
  expect(result.deadLettered.map((letter) => [objectsOfMessage(letter.body)[0].key, letter.receiveCount])).toEqual([[poison, 4]]);
  expect(readDeadLetterFile(file)).toEqual(result.deadLettered);
  expect(notifier.deadLetters).toEqual(result.deadLettered);

  // Still broken: replay puts it back in the file.
  const again = await notifier.replayDeadLetterFile();
  expect(again.remaining).toBe(1);
  expect(readDeadLetterFile(file).map((letter) => letter.body)).toEqual([result.deadLettered[0].body]);

  // Fixed: replay delivers it and empties the file.
  broken = false;
  const replayed = await notifier.replayDeadLetterFile();
  expect(replayed).toMatchObject({ messages: 1, remaining: 0 });
  expect(readFileSync(file, 'utf8')).toBe('');
  expect(keyOf(events.at(-1)!.Records[0])).toBe(poison);
});

it('refuses nonsensical bounds', () => {
  expect(() => new LocalS3Notifier({ handler: async () => undefined, bucket: 'b', maxReceiveCount: 0 })).toThrow(/at least 1/);
});
