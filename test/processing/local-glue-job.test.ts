/**
 * local/glue-job.ts: the Glue job run on local Spark against the local S3 server (real engines)
 * into the output root, every table under it; its per-table summary; and how a failed, silent or
 * hanging job is reported.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { AggregateJobError, aggregateJobCommand, AGGREGATE_SCRIPT, formatJobSummary, JOB_TABLES, parseSummary, runAggregateJob, SUBMIT_SCRIPT, type AggregateJobSummary } from '../../local/glue-job';
import { createBucket, emptyBucket, ENGINE_START_TIMEOUT_MS, ensureEngines, s3Client, uniqueName } from '../support/engines';

const uris = { rawUri: 's3a://raw/events', outputUri: 's3a://agg/aggregates', stateUri: 's3a://agg/state/aggregate-clicks' };

describe('aggregateJobCommand', () => {
  it('passes the URIs and optional settings with the job argument names', () => {
    expect(aggregateJobCommand({ ...uris, dates: ['2026-11-01', '2026-11-03..2026-11-04'], sessionGapMinutes: 20, lookbackDays: 3, changesUri: 's3a://raw/changes' })).toEqual([
      SUBMIT_SCRIPT, AGGREGATE_SCRIPT,
      '--raw_uri', 's3a://raw/events',
      '--output_uri', 's3a://agg/aggregates',
      '--state_uri', 's3a://agg/state/aggregate-clicks',
      '--dates', '2026-11-01,2026-11-03..2026-11-04',
      '--session_gap_minutes', '20',
      '--lookback_days', '3',
      '--changes_uri', 's3a://raw/changes',
    ]);
    expect(aggregateJobCommand(uris)).toHaveLength(8);
  });

  it('refuses what is not a URI, and an empty dates list', () => {
    expect(() => aggregateJobCommand({ ...uris, rawUri: 'raw/events' })).toThrow(/rawUri must be an s3a:\/\//);
    expect(() => aggregateJobCommand({ ...uris, stateUri: '' })).toThrow(/stateUri/);
    expect(() => aggregateJobCommand({ ...uris, dates: [] })).toThrow(/dates is empty/);
    expect(() => aggregateJobCommand({ ...uris, changesUri: 'changes' })).toThrow(/changesUri must be/);
  });
});

describe('parseSummary and formatJobSummary', () => {
  const tables = {
    url_country_daily: { dates: ['2026-11-01'], rows: 4, emptied: [] },
    sessions_daily: { dates: ['2026-11-01'], rows: 2, emptied: ['2026-11-02'] },
    traffic_sources_daily: { dates: [], rows: 0, emptied: [] },
  };
  const line = (n: number) => `2026-11-04 INFO aggregate_clicks aggregate_clicks summary {"changed_dates": [], "computed_at": "t${n}", ` +
    '"dates": ["2026-11-01", "2026-11-02"], "dates_written": ["2026-11-01"], "input_partitions": 2, "mode": "backfill", "records_read": 9, ' +
    `"rejected": {"invalid_ts": 1}, "rows_written": ${n}, "state_written": false, "tables": ${JSON.stringify(tables)}}`;

  it('reads the last summary line of the output, with every table', () => {
    expect(parseSummary(`noise\n${line(1)}\n${line(6)}\nmore`)).toEqual({
      mode: 'backfill', computedAt: 't6', changedDates: [], dates: ['2026-11-01', '2026-11-02'], datesWritten: ['2026-11-01'], rowsWritten: 6,
      inputPartitions: 2, recordsRead: 9, rejected: { invalid_ts: 1 }, tables, stateWritten: false,
    });
    expect(parseSummary('no summary here')).toBeUndefined();
  });

  it('prints one line per table in the SPEC\'s order, with rows, dates and emptied dates', () => {
    const text = formatJobSummary(parseSummary(line(6))!);
    const lines = text.split('\n');
    expect(lines[0]).toBe('backfill run: dates recomputed 2026-11-01 2026-11-02; 2 raw partitions, 9 records read; 6 rows written');
    expect(lines[1]).toBe('invalid raw records skipped: invalid_ts 1');
    expect(lines.slice(2).map((l) => l.trim().split(/\s+/)[0])).toEqual(['url_country_daily', 'sessions_daily', 'traffic_sources_daily']);
    expect(lines[2]).toMatch(/url_country_daily\s+4 rows {2}dates 2026-11-01$/);
    expect(lines[3]).toMatch(/sessions_daily\s+2 rows {2}dates 2026-11-01; emptied 2026-11-02$/);
    expect(lines[4]).toMatch(/traffic_sources_daily\s+0 rows {2}dates none$/);
  });

  it('shortens a long list of dates and says when nothing was recomputed', () => {
    const dates = Array.from({ length: 10 }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`);
    const summary: AggregateJobSummary = {
      mode: 'incremental', computedAt: 't', changedDates: dates, dates, datesWritten: dates, rowsWritten: 12345, inputPartitions: 240, recordsRead: null,
      rejected: {}, tables: { geo_daily: { dates, rows: 12345, emptied: [] } }, stateWritten: true,
    };
    expect(formatJobSummary(summary)).toBe(
      'incremental run: dates recomputed 2026-11-01 .. 2026-11-10 (10 dates); 240 raw partitions; 12,345 rows written\n' +
      '  geo_daily     12,345 rows  dates 2026-11-01 .. 2026-11-10 (10 dates)');
    expect(formatJobSummary({ ...summary, dates: [], tables: {}, rowsWritten: 0 }).split('\n')[0]).toBe('incremental run: no new input, nothing recomputed; 240 raw partitions; 0 rows written');
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
  const jobUris = { rawUri: `s3a://${raw}/events`, outputUri: `s3a://${agg}/aggregates`, stateUri: `s3a://${agg}/state/aggregate-clicks` };

  beforeAll(async () => {
    await ensureEngines(['s3', 'spark']);
    await createBucket(raw);
    await createBucket(agg);
  }, ENGINE_START_TIMEOUT_MS);
  afterAll(async () => {
    await emptyBucket(raw);
    await emptyBucket(agg);
  });

  const human = { device_type: 'desktop', browser: 'Firefox', os: 'Linux', is_bot: false, channel: 'direct' };
  const record = (id: string, user: string, ts: string, page: string, extra: Record<string, unknown> = {}) =>
    ({ event_id: id, user_id: user, session_id: null, ts, url: page, page_url: page, country: 'NL', city: null, user_agent: 'test', referrer: null,
      kafka: { topic: 'clickstream', partition: 0, offset: Number(id.split('-').pop()), timestamp: Date.parse(ts) }, ...human, ...extra });

  async function tableRows(s3: ReturnType<typeof s3Client>, keys: readonly string[], table: string): Promise<Array<Record<string, unknown>>> {
    const rows: Array<Record<string, unknown>> = [];
    for (const key of keys.filter((k) => k.startsWith(`aggregates/${table}/event_date=2026-11-01/part-`) && k.endsWith('.json'))) {
      const text = await (await s3.send(new GetObjectCommand({ Bucket: agg, Key: key }))).Body!.transformToString();
      rows.push(...text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l)));
    }
    return rows;
  }

  it('writes every table under the output root, reports each in its summary, then finds nothing new', async () => {
    const s3 = s3Client();
    const body = gzipSync([
      record('clickstream-0-1', 'u1', '2026-11-01T10:00:00.000Z', 'https://a.example/', { city: 'Utrecht' }),
      record('clickstream-0-2', 'u1', '2026-11-01T10:00:12.500Z', 'https://a.example/b', { city: 'Utrecht' }),
      record('clickstream-0-3', 'u2', '2026-11-01T11:00:00.000Z', 'https://a.example/'),
      record('clickstream-0-4', 'crawler', '2026-11-01T11:30:00.000Z', 'https://a.example/robots', { device_type: 'bot', browser: null, os: null, is_bot: true }),
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    await s3.send(new PutObjectCommand({ Bucket: raw, Key: 'events/dt=2026-11-01/hr=10/clickstream-0-1-4.ndjson.gz', Body: body }));
    const lines: string[] = [];

    const first = await runAggregateJob({ ...jobUris, env: { SPARK_DRIVER_MEMORY: '1g' }, onOutput: (l) => lines.push(l) });

    expect(first).toMatchObject({ mode: 'incremental', changedDates: ['2026-11-01'], datesWritten: ['2026-11-01'], recordsRead: 4, stateWritten: true });
    expect(lines.some((l) => l.includes('aggregate_clicks summary'))).toBe(true);
    expect(Object.keys(first.tables).sort()).toEqual([...JOB_TABLES].sort());
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: agg }))).Contents ?? []).map((o) => o.Key!);
    expect(keys).toContain('state/aggregate-clicks/state.json');
    // Each table's rows in S3 are what its summary line says.
    const rows: Record<string, Array<Record<string, unknown>>> = {};
    for (const table of JOB_TABLES) {
      rows[table] = await tableRows(s3, keys, table);
      expect([table, first.tables[table]]).toEqual([table, { dates: ['2026-11-01'], rows: rows[table].length, emptied: [] }]);
    }
    expect(first.rowsWritten).toBe(JOB_TABLES.reduce((n, t) => n + rows[t].length, 0));
    for (const table of JOB_TABLES) expect(formatJobSummary(first)).toMatch(new RegExp(`${table}\\s+${rows[table].length} rows  dates 2026-11-01`));

    // Pages: u1 enters on / (12.5 s there), u2 bounces on /, the crawler only counts as a bot click.
    expect(rows.url_country_daily.find((r) => r.page_url === 'https://a.example/')).toMatchObject({
      event_date: '2026-11-01', country: 'NL', clicks: 2, unique_users: 2, timed_views: 1, total_time_spent_seconds: 12.5, avg_time_spent_seconds: 12.5,
      entrances: 2, bounces: 1, bot_clicks: 0,
    });
    expect(rows.url_country_daily.find((r) => r.page_url === 'https://a.example/robots')).toMatchObject({ clicks: 0, unique_users: 0, bot_clicks: 1 });
    expect(rows.sessions_daily).toEqual([expect.objectContaining({ device_type: 'desktop', browser: 'Firefox', sessions: 2, bounces: 1, pageviews: 3, users: 2, total_duration_seconds: 12.5 })]);
    expect(rows.geo_daily.map((r) => [r.city ?? null, r.clicks, r.sessions, r.bot_clicks]).sort()).toEqual([['Utrecht', 2, 1, 0], [null, 1, 1, 1]].sort());
    expect(rows.traffic_hourly.map((r) => [r.event_hour, r.device_type, r.clicks, r.sessions, r.bot_clicks]).sort()).toEqual([
      ['2026-11-01T10:00:00.000Z', 'desktop', 2, 1, 0], ['2026-11-01T11:00:00.000Z', 'bot', 0, 0, 1], ['2026-11-01T11:00:00.000Z', 'desktop', 1, 1, 0],
    ].sort());

    const second = await runAggregateJob({ ...jobUris, env: { SPARK_DRIVER_MEMORY: '1g' } });
    expect(second).toMatchObject({ dates: [], datesWritten: [], rowsWritten: 0, stateWritten: false });
    expect(formatJobSummary(second)).toContain('no new input, nothing recomputed');
  }, 8 * 60_000);

  it('fails with the job\'s own message and exit code on bad arguments', async () => {
    const error: AggregateJobError = await runAggregateJob({ ...jobUris, dates: ['2026-02-30'], env: { SPARK_DRIVER_MEMORY: '1g' } }).catch((e) => e);
    expect(error).toBeInstanceOf(AggregateJobError);
    expect(error.exitCode).toBe(2);
    expect(error.outputTail).toMatch(/invalid job arguments: --dates: '2026-02-30'/);
  }, 4 * 60_000);
});
