/**
 * local/glue-job.ts: the Glue script run on local Spark against the local S3 server (real
 * engines), and how a failed, silent or hanging job is reported.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { AggregateJobError, aggregateJobCommand, AGGREGATE_SCRIPT, parseSummary, runAggregateJob, SUBMIT_SCRIPT } from '../../local/glue-job';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';

const uris = { rawUri: 's3a://raw/events', outputUri: 's3a://agg/aggregates/url_country_daily', stateUri: 's3a://agg/state/url_country_daily' };

describe('aggregateJobCommand', () => {
  it('passes the URIs and optional settings with the job argument names', () => {
    expect(aggregateJobCommand({ ...uris, dates: ['2026-11-01', '2026-11-03..2026-11-04'], sessionGapMinutes: 20, lookbackDays: 3 })).toEqual([
      SUBMIT_SCRIPT, AGGREGATE_SCRIPT,
      '--raw_uri', 's3a://raw/events',
      '--output_uri', 's3a://agg/aggregates/url_country_daily',
      '--state_uri', 's3a://agg/state/url_country_daily',
      '--dates', '2026-11-01,2026-11-03..2026-11-04',
      '--session_gap_minutes', '20',
      '--lookback_days', '3',
    ]);
    expect(aggregateJobCommand(uris)).toHaveLength(8);
  });

  it('refuses what is not a URI, and an empty dates list', () => {
    expect(() => aggregateJobCommand({ ...uris, rawUri: 'raw/events' })).toThrow(/rawUri must be an s3a:\/\//);
    expect(() => aggregateJobCommand({ ...uris, stateUri: '' })).toThrow(/stateUri/);
    expect(() => aggregateJobCommand({ ...uris, dates: [] })).toThrow(/dates is empty/);
  });
});

describe('parseSummary', () => {
  it('reads the last summary line of the output', () => {
    const line = (n: number) => `2026-11-04 INFO aggregate_clicks aggregate_clicks summary {"changed_dates": [], "computed_at": "t${n}", ` +
      '"dates": ["2026-11-01"], "dates_written": ["2026-11-01"], "input_partitions": 2, "mode": "backfill", "rejected": {"invalid_ts": 1}, ' +
      `"rows_written": ${n}, "state_written": false}`;
    expect(parseSummary(`noise\n${line(1)}\n${line(7)}\nmore`)).toEqual({
      mode: 'backfill', computedAt: 't7', changedDates: [], dates: ['2026-11-01'], datesWritten: ['2026-11-01'], rowsWritten: 7,
      inputPartitions: 2, rejected: { invalid_ts: 1 }, stateWritten: false,
    });
    expect(parseSummary('no summary here')).toBeUndefined();
  });
});

describe('runAggregateJob with a stand-in submit script', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glue-job-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
    return file;
  };

  it('reports a job that exits 0 without a summary', async () => {
    const submitScript = script('silent.sh', 'echo "started"; exit 0');
    await expect(runAggregateJob({ ...uris, submitScript })).rejects.toThrow(/exited 0 but printed no summary[\s\S]*started/);
  });

  it('stops a job that runs too long, with everything it started', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const submitScript = script('hang.sh', `sleep 300 & echo $! > ${pidFile}; echo "working"; wait`);
    const error: AggregateJobError = await runAggregateJob({ ...uris, submitScript, timeoutMs: 1500 }).catch((e) => e);
    expect(error).toBeInstanceOf(AggregateJobError);
    expect(error.message).toMatch(/ran longer than 1.5 s and was stopped/);
    expect(error.outputTail).toContain('working');
    // The grandchild is gone too (or a zombie waiting to be reaped by init).
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  });
});

describe('runAggregateJob on local Spark and the local S3 server', () => {
  const raw = uniqueName('glue-job-raw');
  const agg = uniqueName('glue-job-agg');
  const jobUris = { rawUri: `s3a://${raw}/events`, outputUri: `s3a://${agg}/aggregates/url_country_daily`, stateUri: `s3a://${agg}/state/url_country_daily` };

  beforeAll(async () => {
    await ensureEngines(['s3', 'spark']);
    await createBucket(raw);
    await createBucket(agg);
  }, ENGINE_START_TIMEOUT_MS);
  afterAll(async () => {
    await emptyBucket(raw);
    await emptyBucket(agg);
  });

  const record = (id: string, user: string, ts: string, page: string) =>
    ({ event_id: id, user_id: user, session_id: null, ts, url: page, page_url: page, country: 'NL', city: null, user_agent: 'test', referrer: null,
      kafka: { topic: 'clickstream', partition: 0, offset: Number(id.split('-').pop()), timestamp: Date.parse(ts) } });

  it('aggregates raw gzip NDJSON into one JSON object per date, then finds nothing new', async () => {
    const s3 = s3Client();
    const body = gzipSync([
      record('clickstream-0-1', 'u1', '2026-11-01T10:00:00.000Z', 'https://a.example/'),
      record('clickstream-0-2', 'u1', '2026-11-01T10:00:12.500Z', 'https://a.example/b'),
      record('clickstream-0-3', 'u2', '2026-11-01T11:00:00.000Z', 'https://a.example/'),
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    await s3.send(new PutObjectCommand({ Bucket: raw, Key: 'events/dt=2026-11-01/hr=10/clickstream-0-1-3.ndjson.gz', Body: body }));
    const lines: string[] = [];

    const first = await runAggregateJob({ ...jobUris, env: { SPARK_DRIVER_MEMORY: '1g' }, onOutput: (l) => lines.push(l) });

    expect(first).toMatchObject({ mode: 'incremental', changedDates: ['2026-11-01'], datesWritten: ['2026-11-01'], rowsWritten: 2, stateWritten: true });
    expect(lines.some((l) => l.includes('aggregate_clicks summary'))).toBe(true);
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: agg }))).Contents ?? []).map((o) => o.Key!);
    const parts = keys.filter((k) => k.startsWith('aggregates/url_country_daily/event_date=2026-11-01/part-') && k.endsWith('.json'));
    expect(parts).toHaveLength(1);
    expect(keys).toContain('state/url_country_daily/state.json');
    const text = await (await s3.send(new GetObjectCommand({ Bucket: agg, Key: parts[0] }))).Body!.transformToString();
    const rows = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.find((r) => r.page_url === 'https://a.example/')).toMatchObject({
      event_date: '2026-11-01', country: 'NL', clicks: 2, unique_users: 2, timed_views: 1, total_time_spent_seconds: 12.5, avg_time_spent_seconds: 12.5,
    });

    const second = await runAggregateJob({ ...jobUris, env: { SPARK_DRIVER_MEMORY: '1g' } });
    expect(second).toMatchObject({ dates: [], datesWritten: [], stateWritten: false });
  });

  it('fails with the job\'s own message and exit code on bad arguments', async () => {
    const error: AggregateJobError = await runAggregateJob({ ...jobUris, dates: ['2026-02-30'], env: { SPARK_DRIVER_MEMORY: '1g' } }).catch((e) => e);
    expect(error).toBeInstanceOf(AggregateJobError);
    expect(error.exitCode).toBe(2);
    expect(error.outputTail).toMatch(/invalid job arguments: --dates: '2026-02-30'/);
  });

});
