/**
 * The indexer's `correlation_id` (docs/operations.md, "Logs and correlation ids"): every log line
 * about one aggregate object carries the object's key, so an operator can follow it from the
 * notification through its bulk requests to the dead-letter queue. processBatch runs against a
 * fake S3 client and a recording server that plays the OpenSearch APIs the core calls.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { Readable } from 'stream';
import { CORRELATION_ID_KEY, objectsOfMessage, processBatch, withCorrelationId } from '../../lambdas/indexer/core';
import { createOpenSearchClient } from '../../lambdas/shared/opensearch-client';
import { s3EventNotification } from '../../local/s3-notifier';
import { aggregateRows, RecordedRequest, RecordedTelemetry, recordingServer, recordingTelemetry, TestServer, toNdjson } from './fixtures';

const BUCKET = 'agg';
const ALIAS_PREFIX = 'clickstream-test';
const partKey = (date: string, part: string) => `aggregates/url_country_daily/event_date=${date}/part-${part}.c000.json`;

/** S3 with the given objects; a key mapped to an Error fails its GetObject with it. */
function fakeS3(objects: Record<string, string | Error>): S3Client {
  return {
    send: async (command: unknown) => {
      if (command instanceof PutObjectCommand) return {}; // malformed-row reports
      if (!(command instanceof GetObjectCommand)) throw new Error('unexpected S3 command');
      const object = objects[command.input.Key ?? ''];
      if (object === undefined) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
      if (object instanceof Error) throw object;
      return { Body: Readable.from([Buffer.from(object)]) };
    },
  } as unknown as S3Client;
}

const bulkItems = (request: RecordedRequest) => request.body.toString('utf8').split('\n').filter((line) => line !== '').filter((_, i) => i % 2 === 1);

/**
 * The computations ledger (every announcement accepted, nothing found on reading), refresh,
 * delete_by_query (`deleteFails`: its dates answer 400),
 * and bulk, where the first bulk request holding a row of `throttleDate` gets a 429 item.
 */
function openSearch(options: { throttleDate?: string; deleteFails?: string[] } = {}): Promise<TestServer> {
  let throttled = false;
  return recordingServer((request) => {
    const path = request.url.split('?')[0];
    if (path.includes('/_doc/')) return { status: 201, body: { result: 'created' } };
    if (path.endsWith('/_mget')) return { status: 200, body: { docs: [{ found: false }] } };
    if (path.endsWith('/_refresh')) return { status: 200, body: {} };
    if (path.endsWith('/_delete_by_query')) {
      const date = JSON.parse(request.body.toString('utf8')).query.bool.filter[0].term.event_date;
      if (options.deleteFails?.includes(date)) return { status: 400, body: { error: { type: 'illegal_argument_exception', reason: 'injected' }, status: 400 } };
      return { status: 200, body: { deleted: 0, failures: [] } };
    }
    if (path.endsWith('/_bulk')) {
      const items = bulkItems(request).map((line) => {
        const throttle = !throttled && JSON.parse(line).event_date === options.throttleDate;
        return throttle ? { index: { status: 429, error: { type: 'rejected_execution_exception', reason: 'injected' } } } : { index: { status: 201 } };
      });
      if (items.some((item) => item.index.status === 429)) throttled = true;
      return { status: 200, body: { errors: throttled, items } };
    }
    return { status: 404, body: { error: { type: 'not_found', reason: path } } };
  });
}

function sqsEvent(messages: Array<{ messageId: string; body: string }>): SQSEvent {
  return { Records: messages.map((m) => ({ messageId: m.messageId, body: m.body }) as SQSRecord) };
}

const notification = (key: string) => s3EventNotification(BUCKET, key, 'eu-west-1');

/** Messages logged for each correlation id, in order; lines without one under `undefined`. */
function linesById(telemetry: RecordedTelemetry): Map<unknown, string[]> {
  const byId = new Map<unknown, string[]>();
  for (const entry of telemetry.logs) {
    const id = entry.attributes?.[CORRELATION_ID_KEY];
    byId.set(id, [...(byId.get(id) ?? []), entry.message]);
  }
  return byId;
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const config = { aliasPrefix: ALIAS_PREFIX, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, bulk: { sleep: async () => undefined, random: () => 0 } };

it('tags every line about one object with its key, each object with its own', async () => {
  const malformed = partKey('2026-10-01', '00000-a');
  const throttled = partKey('2026-10-02', '00000-b');
  const unreadable = partKey('2026-10-03', '00000-c');
  const rows = (date: string) => toNdjson(aggregateRows(date, `${date}T06:00:00.000Z`, 4));
  server = await openSearch({ throttleDate: '2026-10-02' });
  const telemetry = recordingTelemetry();
  const s3 = fakeS3({
    [malformed]: rows('2026-10-01') + '{"not":"a row"}\n',
    [throttled]: rows('2026-10-02'),
    [unreadable]: Object.assign(new Error('access denied'), { name: 'AccessDenied' }),
  });

  const result = await processBatch({ s3, openSearch: createOpenSearchClient({ endpoint: server.url }), telemetry, config }, sqsEvent([
    { messageId: 'm-malformed', body: notification(malformed) },
    { messageId: 'm-throttled', body: notification(throttled) },
    { messageId: 'm-unreadable', body: notification(unreadable) },
    { messageId: 'm-garbage', body: 'not json' },
  ]));

  expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-garbage', 'm-unreadable']);
  const byId = linesById(telemetry);
  expect(byId.get(undefined)).toBeUndefined(); // no line without an id
  expect(byId.get(malformed)).toEqual(['malformed aggregate row skipped', 'aggregate object indexed']);
  expect(byId.get(throttled)).toEqual(['bulk documents failed, retrying', 'aggregate object indexed']);
  expect(byId.get(unreadable)).toEqual(['message failed; it will be retried']);
  // A body that names no object: the SQS message id, which the dead-letter queue keeps.
  expect(byId.get('m-garbage')).toEqual(['message failed; it will be retried']);
  // The dead-letter message of a failed object is its notification, which names the same key.
  expect(objectsOfMessage(notification(unreadable))).toEqual([{ bucket: BUCKET, key: unreadable }]);
  expect([...byId.keys()].sort()).toEqual([malformed, throttled, unreadable, 'm-garbage'].sort());
});

it('tags a failed cleanup with the keys of the objects of its date, comma-separated', async () => {
  const first = partKey('2026-10-05', '00000-x');
  const second = partKey('2026-10-05', '00001-x');
  const other = partKey('2026-10-06', '00000-y');
  const rows = (date: string, n: number) => toNdjson(aggregateRows(date, `${date}T06:00:00.000Z`, n));
  server = await openSearch({ deleteFails: ['2026-10-05'] });
  const telemetry = recordingTelemetry();
  const s3 = fakeS3({ [first]: rows('2026-10-05', 2), [second]: rows('2026-10-05', 3), [other]: rows('2026-10-06', 2) });

  const result = await processBatch({ s3, openSearch: createOpenSearchClient({ endpoint: server.url }), telemetry, config }, sqsEvent([
    { messageId: 'm-second', body: notification(second) },
    { messageId: 'm-other', body: notification(other) },
    { messageId: 'm-first', body: notification(first) },
  ]));

  expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-first', 'm-second']);
  const failure = telemetry.logs.find((entry) => entry.message.startsWith('removing older computations failed'));
  expect(failure?.attributes).toMatchObject({ eventDate: '2026-10-05', [CORRELATION_ID_KEY]: `${first},${second}` });
  expect(linesById(telemetry).get(other)).toEqual(['aggregate object indexed']);
});

it('withCorrelationId adds the key to every level and keeps the other attributes', () => {
  const telemetry = recordingTelemetry();
  const logger = withCorrelationId(telemetry.logger, 'k');
  logger.info('i', { a: 1 });
  logger.warn('w');
  logger.error('e', { [CORRELATION_ID_KEY]: 'other' });
  expect(telemetry.logs).toEqual([
    { level: 'info', message: 'i', attributes: { a: 1, correlation_id: 'k' } },
    { level: 'warn', message: 'w', attributes: { correlation_id: 'k' } },
    { level: 'error', message: 'e', attributes: { correlation_id: 'k' } },
  ]);
});
