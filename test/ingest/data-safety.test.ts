/**
 * Data safety on the ingest side (docs/operations.md, "Data safety"): the maximum event age that
 * keeps a date whose raw data may have expired from being recomputed from a partial input, and the
 * partition change log that lets the job find dates older than its lookback window. The core is
 * pure; the writes go to the real local S3.
 */
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'ClickstreamPipelineTest';

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createIngestHandler, dependenciesFromEnv } from '../../lambdas/ingest/batch';
import { buildRawObjects, changeLogEntries } from '../../lambdas/ingest/core';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName, type LocalEndpoints } from '../support/engines';
import { clickEvent, DEFAULT_KAFKA_TS, mskEvent, ndjsonLines, type RecordSpec } from './fixtures';

const DAY = 24 * 60 * 60 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('maximum event age', () => {
  const now = Date.UTC(2026, 5, 30, 12, 0, 0);

  it('stores an event exactly at the maximum age and quarantines one a millisecond older, measured from the clock', () => {
    const specs: RecordSpec[] = [
      { offset: 1, value: clickEvent({ event_id: 'edge', timestamp: iso(now - 30 * DAY) }) },
      { offset: 2, value: clickEvent({ event_id: 'old', timestamp: iso(now - 30 * DAY - 1) }) },
      { offset: 3, value: clickEvent({ event_id: 'fresh', timestamp: iso(now - 60_000) }) },
    ];
    // The Kafka timestamp is the clock's too (a topic with LogAppendTime).
    const result = buildRawObjects(mskEvent(specs.map((s) => ({ ...s, timestamp: now }))), { maxEventAgeDays: 30, now: () => now });
    expect(result.recordsStored).toBe(2);
    expect(result.quarantinedByReason).toEqual({ timestamp_older_than_max_age: 1 });
    const quarantine = result.objects.filter((o) => o.kind === 'quarantine');
    // The quarantine date is the Kafka record's (SPEC §2), not the old event's.
    expect(quarantine.map((o) => o.key)).toEqual(['quarantine/dt=2026-06-30/clickstream-0-2-2.ndjson.gz']);
    const [line] = ndjsonLines(quarantine[0].body);
    expect(line).toMatchObject({ reason: 'timestamp_older_than_max_age', field: 'timestamp', offset: 2 });
    expect(line.detail).toContain('2026-05-31T12:00:00.000Z');
    const storedIds = result.objects.filter((o) => o.kind === 'events').flatMap((o) => ndjsonLines(o.body).map((l) => l.event_id));
    expect(storedIds.sort()).toEqual(['edge', 'fresh']);
  });

  it('judges a replayed batch by the clock, not by its old Kafka timestamps', () => {
    // A failed batch replayed from the failed-batches bucket months later: record and event are old.
    const recordTs = now - 200 * DAY;
    const event = mskEvent([{ offset: 5, timestamp: recordTs, value: clickEvent({ timestamp: iso(recordTs - 60_000) }) }]);
    expect(buildRawObjects(event, { maxEventAgeDays: 30, now: () => now }).quarantinedByReason).toEqual({ timestamp_older_than_max_age: 1 });
    // Without a maximum age (raw events kept for ever) the same event is stored, as before.
    expect(buildRawObjects(event, { now: () => now }).recordsStored).toBe(1);
  });

  it('reads the clock once per batch, so one batch is judged against one instant', () => {
    let calls = 0;
    const clock = () => {
      calls++;
      return now + calls * DAY; // a clock that jumps a day on every read
    };
    const specs: RecordSpec[] = Array.from({ length: 20 }, (_, i) => ({
      offset: i, timestamp: now, value: clickEvent({ event_id: `e${i}`, timestamp: iso(now - 30 * DAY + 60_000) }),
    }));
    const result = buildRawObjects(mskEvent(specs), { maxEventAgeDays: 31, now: clock });
    expect(calls).toBe(1);
    expect(result.recordsStored).toBe(20);
  });

  it('drops an erased user\'s too-old message like any other quarantined one', () => {
    const event = mskEvent([{ offset: 1, timestamp: now, value: clickEvent({ user_id: 'gone', timestamp: iso(now - 40 * DAY) }) }]);
    const result = buildRawObjects(event, {
      maxEventAgeDays: 30,
      now: () => now,
      userIds: { storedUserId: (id: string) => id, dropsQuarantined: (parsed: unknown) => (parsed as { user_id?: string }).user_id === 'gone' },
    });
    expect(result).toMatchObject({ recordsIn: 1, recordsStored: 0, recordsQuarantined: 0, recordsErased: 1, objects: [] });
  });

  it('rejects a maximum age that is not a whole number of days from 1', () => {
    const event = mskEvent([{ offset: 1, value: clickEvent() }]);
    expect(() => buildRawObjects(event, { maxEventAgeDays: 0 })).toThrow('maxEventAgeDays must be an integer from 1');
    expect(() => buildRawObjects(event, { maxEventAgeDays: 1.5 })).toThrow('maxEventAgeDays');
  });

  it('comes from MAX_EVENT_AGE_DAYS; unset means no maximum, a wrong value stops the function at start-up', () => {
    const base = { RAW_BUCKET: 'raw', POWERTOOLS_METRICS_NAMESPACE: 'Test' };
    expect(dependenciesFromEnv(base).core.changeLogPrefix).toBeUndefined();
    expect(dependenciesFromEnv({ ...base, CHANGE_LOG_PREFIX: 'changes/' }).core.changeLogPrefix).toBe('changes/');
    expect(dependenciesFromEnv(base).core.maxEventAgeDays).toBeUndefined();
    expect(dependenciesFromEnv({ ...base, MAX_EVENT_AGE_DAYS: '27' }).core.maxEventAgeDays).toBe(27);
    expect(() => dependenciesFromEnv({ ...base, MAX_EVENT_AGE_DAYS: '0' })).toThrow('MAX_EVENT_AGE_DAYS must be an integer from 1 to 36500');
    expect(() => dependenciesFromEnv({ ...base, MAX_EVENT_AGE_DAYS: 'ten' })).toThrow('MAX_EVENT_AGE_DAYS');
  });
});

describe('partition change log (core)', () => {
  const at = (day: number, hour: number, minute = 0) => iso(Date.UTC(2024, 4, day, hour, minute));

  it('has one entry per Kafka partition and event date, naming its hours and objects, keyed by their offsets', () => {
    const specs: RecordSpec[] = [
      { partition: 0, offset: 10, value: clickEvent({ event_id: 'a', timestamp: at(1, 9) }) },
      { partition: 0, offset: 11, value: clickEvent({ event_id: 'b', timestamp: at(1, 10) }) },
      { partition: 0, offset: 12, value: 'not json' },
      { partition: 0, offset: 13, value: clickEvent({ event_id: 'late', timestamp: iso(Date.UTC(2024, 0, 15, 7)) }) },
      { partition: 0, offset: 14, value: clickEvent({ event_id: 'c', timestamp: at(1, 9, 30) }) },
      { partition: 2, offset: 3, value: clickEvent({ event_id: 'd', timestamp: at(1, 11) }) },
      { partition: 2, offset: 4, value: '[]' },
    ];
    const result = buildRawObjects(mskEvent(specs), { changeLogPrefix: 'changes/' });
    expect(result.changes.map((c) => c.key)).toEqual([
      'changes/dt=2024-01-15/clickstream-0-13-13.json',
      'changes/dt=2024-05-01/clickstream-0-10-14.json',
      'changes/dt=2024-05-01/clickstream-2-3-3.json',
    ]);
    const mainEntry = JSON.parse(result.changes[1].body.toString('utf8'));
    expect(mainEntry).toEqual({
      date: '2024-05-01',
      partitions: ['dt=2024-05-01/hr=09', 'dt=2024-05-01/hr=10'],
      objects: ['events/dt=2024-05-01/hr=09/clickstream-0-10-14.ndjson.gz', 'events/dt=2024-05-01/hr=10/clickstream-0-11-11.ndjson.gz'],
      topic: 'clickstream',
      partition: 0,
      first_offset: 10,
      last_offset: 14,
      records: 3,
    });
    // Every object an entry names is one of the batch's events objects.
    const eventKeys = new Set(result.objects.filter((o) => o.kind === 'events').map((o) => o.key));
    for (const entry of result.changes) {
      for (const key of JSON.parse(entry.body.toString('utf8')).objects as string[]) expect(eventKeys.has(key)).toBe(true);
    }
    expect(result.changes[2].body.toString('utf8').endsWith('}\n')).toBe(true);
  });

  it('is the same bytes under the same keys when the batch is delivered again', () => {
    const specs: RecordSpec[] = [
      { offset: 1, value: clickEvent({ event_id: 'x', timestamp: at(2, 3) }) },
      { offset: 2, value: clickEvent({ event_id: 'y', timestamp: at(3, 4) }) },
    ];
    const first = buildRawObjects(mskEvent(specs), { changeLogPrefix: 'changes/' }).changes;
    const again = buildRawObjects(mskEvent([...specs].reverse()), { changeLogPrefix: 'changes/' }).changes;
    expect(again.map((c) => [c.key, c.body.toString('hex')])).toEqual(first.map((c) => [c.key, c.body.toString('hex')]));
  });

  it('has no entry for a batch that stored nothing or without a prefix, and follows the configured prefixes', () => {
    expect(buildRawObjects(mskEvent([{ offset: 1, value: 'garbage' }, { offset: 2, value: null }]), { changeLogPrefix: 'changes/' }).changes).toEqual([]);
    expect(buildRawObjects(mskEvent([{ offset: 1, value: clickEvent() }])).changes).toEqual([]);
    const result = buildRawObjects(mskEvent([{ offset: 9, value: clickEvent({ timestamp: at(1, 0) }) }]), { eventsPrefix: 'raw/ev', changeLogPrefix: 'log/ch' });
    expect(result.objects[0].key).toBe('raw/ev/dt=2024-05-01/hr=00/clickstream-0-9-9.ndjson.gz');
    expect(result.changes.map((c) => c.key)).toEqual(['log/ch/dt=2024-05-01/clickstream-0-9-9.json']);
    expect(changeLogEntries(result.objects, 'raw/ev/', 'x/')[0].date).toBe('2024-05-01');
  });
});

describe('partition change log in S3', () => {
  let endpoints: LocalEndpoints;
  const buckets: string[] = [];

  beforeAll(async () => {
    endpoints = await ensureEngines(['s3']);
  }, ENGINE_START_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(buckets.map((b) => emptyBucket(b).catch(() => undefined)));
  });

  /** The function's S3 client, with a middleware that records each PutObject key in the order sent. */
  function recordingClient(sent: string[]): S3Client {
    const client = new S3Client({
      endpoint: endpoints.s3Endpoint, forcePathStyle: true, region: endpoints.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 2,
    });
    client.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') sent.push((args.input as { Key: string }).Key);
      return next(args);
    }, { step: 'initialize', name: 'recordPutKeys' });
    return client;
  }

  function handler(bucket: string, s3: S3Client, now = Date.now) {
    return createIngestHandler({
      s3, bucket,
      core: { eventsPrefix: 'events/', quarantinePrefix: 'quarantine/', changeLogPrefix: 'changes/', now },
      writeConcurrency: 4,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics(),
      clock: () => performance.now(),
    });
  }

  async function list(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; etag: string }[]> {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => ({ key: o.Key!, etag: o.ETag ?? '' })).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  it('writes the entries after every object of the batch, and a redelivery overwrites them with the same bytes', async () => {
    const bucket = uniqueName('ingest-changes');
    buckets.push(bucket);
    await createBucket(bucket);
    const sent: string[] = [];
    const s3 = recordingClient(sent);
    const event = mskEvent([
      { partition: 0, offset: 1, value: clickEvent({ event_id: 'a', timestamp: iso(DEFAULT_KAFKA_TS - 3_600_000) }) },
      { partition: 0, offset: 2, value: clickEvent({ event_id: 'late', timestamp: '2023-12-24T18:00:00Z' }) },
      { partition: 1, offset: 7, value: clickEvent({ event_id: 'b', timestamp: iso(DEFAULT_KAFKA_TS - 60_000) }) },
      { partition: 1, offset: 8, value: 'bad' },
    ]);
    const summary = await handler(bucket, s3)(event);
    expect(summary.changeLogEntriesWritten).toBe(3);

    const changes = await list(s3, bucket, 'changes/');
    expect(changes.map((c) => c.key)).toEqual([
      'changes/dt=2023-12-24/clickstream-0-2-2.json',
      'changes/dt=2024-05-01/clickstream-0-1-1.json',
      'changes/dt=2024-05-01/clickstream-1-7-7.json',
    ]);
    const lastDataWrite = Math.max(...sent.map((k, i) => (k.startsWith('changes/') ? -1 : i)));
    const firstChangeWrite = sent.findIndex((k) => k.startsWith('changes/'));
    expect(firstChangeWrite).toBeGreaterThan(lastDataWrite);
    // Every object an entry names exists.
    const events = new Set((await list(s3, bucket, 'events/')).map((o) => o.key));
    for (const { key } of changes) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
      for (const object of JSON.parse(body).objects as string[]) expect(events.has(object)).toBe(true);
    }

    await handler(bucket, s3)(event);
    expect(await list(s3, bucket, 'changes/')).toEqual(changes);
  });

  it('writes no entry when an object write fails: the batch is retried and the entries follow its objects', async () => {
    const bucket = uniqueName('ingest-changes-fail');
    buckets.push(bucket);
    await createBucket(bucket);
    const sent: string[] = [];
    const s3 = recordingClient(sent);
    // The quarantine prefix is refused by the server (a key over S3's 1024-byte limit), so one
    // write of the batch fails for real.
    const failing = createIngestHandler({
      s3, bucket,
      core: { eventsPrefix: 'events/', quarantinePrefix: `${'q'.repeat(1100)}/`, changeLogPrefix: 'changes/', now: Date.now },
      writeConcurrency: 1,
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics(),
      clock: () => performance.now(),
    });
    const event = mskEvent([
      { offset: 1, value: clickEvent({ event_id: 'a' }) },
      { offset: 2, value: 'bad' },
    ]);
    await expect(failing(event)).rejects.toThrow();
    expect(await list(s3, bucket, 'changes/')).toEqual([]);
    expect(sent.some((k) => k.startsWith('changes/'))).toBe(false);
  });
});
