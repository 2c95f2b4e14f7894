/**
 * The decisions of `npm run smoke` without any engine: the planned clicks and what each table must
 * then hold (scripts/deploy/smoke-core.ts), the comparison with served rows, the step runner and
 * its waits, the selection of a run's rows (scripts/deploy/smoke-served.ts), the command line
 * (scripts/smoke.ts), and a deployment's smoke test stopping at the stack's outputs
 * (CloudFormation mocked with aws-sdk-client-mock; the only AWS API it reaches before Kafka).
 * The whole local run, on the real engines: test/deploy/smoke-local.test.ts.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { TABLE_NAMES, type TableName } from '../../lambdas/indexer/tables';
import { fillOutputs, readStackOutputs, REQUIRED_OUTPUTS, runAwsSmoke } from '../../scripts/deploy/smoke-aws';
import {
  compareTable,
  planSmoke,
  rowKey,
  runSmoke,
  SMOKE_HOST,
  totalClicks,
  waitFor,
  type SmokePlan,
  type SmokeStep,
} from '../../scripts/deploy/smoke-core';
import { selectionIsExact, tableQuery } from '../../scripts/deploy/smoke-served';
import { parseSmokeArgs } from '../../scripts/smoke';

interface Click { user_id: string; timestamp: string; url: string; country: string; city: string }
const clicksOf = (plan: SmokePlan): Click[] => plan.clicks.map((c) => JSON.parse(c.value) as Click);
const sum = (plan: SmokePlan, table: TableName, field: string) => [...plan.expected[table].values()].reduce((n, row) => n + row[field], 0);
/** A served document: grain strings (or null) and counts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;
/** The expected rows of a table as the served documents would carry them (the grain from the key). */
const servedFromPlan = (plan: SmokePlan, table: TableName, grainFields: string[]): Row[] =>
  [...plan.expected[table]].map(([key, counts]) => ({
    event_date: plan.date,
    ...Object.fromEntries(key.split('|').map((v, i) => [grainFields[i], v === 'null' ? null : v])),
    ...counts,
    computed_at: '2026-03-01T12:00:00.000Z',
  }));

describe('planSmoke', () => {
  const now = new Date('2026-03-01T10:02:00.000Z');

  it('marks every click in its page path, campaign and city, and gives every click its own time on the date', () => {
    const plan = planSmoke({ count: 300, now, marker: 'smoke-test-run' });
    const clicks = clicksOf(plan);
    expect(clicks).toHaveLength(300);
    for (const c of clicks) {
      const url = new URL(c.url);
      expect(url.host).toBe(SMOKE_HOST);
      expect(url.pathname.startsWith('/smoke-test-run/p/')).toBe(true);
      expect(url.searchParams.get('utm_campaign')).toBe('smoke-test-run');
      expect(c.city).toBe('smoke-test-run');
      expect(c.user_id.startsWith('smoke-test-run-u')).toBe(true);
      expect(c.timestamp.slice(0, 10)).toBe('2026-03-01');
      expect(Date.parse(c.timestamp)).toBeLessThanOrEqual(now.getTime());
    }
    const times = plan.clicks.map((c) => c.timestamp);
    expect(new Set(times).size).toBe(300);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(plan.clicks.map((c) => Date.parse(JSON.parse(c.value).timestamp))).toEqual(times);
    expect(plan.date).toBe('2026-03-01');
    // Spread over the partitions asked for.
    expect(new Set(planSmoke({ count: 30, now, partitions: 5 }).clicks.map((c) => c.partition))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('keeps a run started just after midnight on its date, a millisecond apart and never on the day before', () => {
    const early = new Date('2026-03-01T00:00:00.100Z');
    const plan = planSmoke({ count: 300, now: early, marker: 'smoke-midnight' });
    const times = plan.clicks.map((c) => c.timestamp);
    expect(Math.min(...times)).toBe(Date.parse('2026-03-01T00:00:00.000Z'));
    expect(new Set(times).size).toBe(300);
    expect(clicksOf(plan).every((c) => c.timestamp.startsWith('2026-03-01T00:00:00.'))).toBe(true);
    // A minute after midnight: squeezed between midnight and now.
    const minute = planSmoke({ count: 300, now: new Date('2026-03-01T00:01:00.000Z') });
    expect(minute.clicks[0].timestamp).toBe(Date.parse('2026-03-01T00:00:00.000Z'));
    expect(Math.max(...minute.clicks.map((c) => c.timestamp))).toBeLessThan(Date.parse('2026-03-01T00:01:00.000Z'));
  });

  it('expects every click once in each table that counts clicks, and one session per user', () => {
    const plan = planSmoke({ count: 300, now });
    const users = new Set(clicksOf(plan).map((c) => c.user_id)).size;
    expect(users).toBe(23);
    for (const table of ['url_country_daily', 'geo_daily', 'traffic_hourly'] as const) expect(sum(plan, table, 'clicks')).toBe(300);
    for (const table of ['sessions_daily', 'traffic_sources_daily'] as const) {
      expect(sum(plan, table, 'sessions')).toBe(users);
      expect(sum(plan, table, 'pageviews')).toBe(300);
      expect(sum(plan, table, 'bounces')).toBe(0);
    }
    expect(sum(plan, 'url_country_daily', 'entrances')).toBe(users);
    expect(sum(plan, 'geo_daily', 'sessions')).toBe(users);
    // Every click but each user's last has a time on page.
    expect(sum(plan, 'url_country_daily', 'timed_views')).toBe(300 - users);
    expect(sum(plan, 'url_country_daily', 'bot_clicks')).toBe(0);
  });

  it('splits the hourly table at the hour the clicks cross', () => {
    const plan = planSmoke({ count: 300, now, marker: 'smoke-hourly' });
    // 300 clicks a second apart ending 10:02: 09:57:00 to 10:01:59.
    const before = clicksOf(plan).filter((c) => c.timestamp < '2026-03-01T10:00:00.000Z').length;
    expect(before).toBeGreaterThan(0);
    const hourly = plan.expected.traffic_hourly;
    const clicksIn = (hour: string) => [...hourly].filter(([key]) => key.startsWith(`${hour}|`)).reduce((n, [, row]) => n + row.clicks, 0);
    expect(clicksIn('2026-03-01T09:00:00.000Z')).toBe(before);
    expect(clicksIn('2026-03-01T10:00:00.000Z')).toBe(300 - before);
    expect([...hourly.keys()].every((key) => /^2026-03-01T(09|10):00:00\.000Z\|(DE|FR|US)\|unknown$/.test(key))).toBe(true);
  });

  it('expects exactly these rows for two clicks: two one-click sessions, both bounces', () => {
    const plan = planSmoke({ count: 2, now, marker: 'smoke-two' });
    const p0 = `https://${SMOKE_HOST}/smoke-two/p/0`;
    const p1 = `https://${SMOKE_HOST}/smoke-two/p/1`;
    const bounce = { sessions: 1, bounces: 1, pageviews: 1, users: 1 };
    const page = { clicks: 1, unique_users: 1, timed_views: 0, entrances: 1, bounces: 1, bot_clicks: 0 };
    const place = { clicks: 1, unique_users: 1, sessions: 1, bot_clicks: 0 };
    expect(Object.fromEntries(TABLE_NAMES.map((t) => [t, Object.fromEntries(plan.expected[t])]))).toEqual({
      url_country_daily: { [`${p0}|DE`]: page, [`${p1}|FR`]: page },
      sessions_daily: { 'DE|unknown|null|null|campaign': bounce, 'FR|unknown|null|null|campaign': bounce },
      traffic_sources_daily: { 'campaign|null|smoke|smoke|smoke-two|DE': bounce, 'campaign|null|smoke|smoke|smoke-two|FR': bounce },
      geo_daily: { 'DE|smoke-two': place, 'FR|smoke-two': place },
      traffic_hourly: { '2026-03-01T10:00:00.000Z|DE|unknown': place, '2026-03-01T10:00:00.000Z|FR|unknown': place },
    });
  });

  it('fails when the count or the marker is wrong', () => {
    expect(() => planSmoke({ count: 0 })).toThrow(/count must be 1-100000/);
    expect(() => planSmoke({ count: 100_001 })).toThrow(/count must be 1-100000/);
    expect(() => planSmoke({ marker: 'Has Spaces' })).toThrow(/marker must be/);
    expect(planSmoke({ count: 1 }).marker).toMatch(/^smoke-\d{14}-[0-9a-f]{6}$/);
  });
});

describe('compareTable', () => {
  const plan = planSmoke({ count: 60, now: new Date('2026-03-01T10:02:00.000Z'), marker: 'smoke-compare' });
  const urlRows = () => servedFromPlan(plan, 'url_country_daily', ['page_url', 'country']);
  // The job leaves null fields out of its JSON, so a served row may lack browser and os.
  const sessionRows = () => servedFromPlan(plan, 'sessions_daily', ['country', 'device_type', 'browser', 'os', 'channel'])
    .map(({ browser, os, ...row }): Row => (browser === null && os === null ? row : { browser, os, ...row }));

  it('accepts the planned rows, a missing null field read as null', () => {
    expect(compareTable(plan, 'url_country_daily', urlRows(), true)).toEqual([]);
    expect(sessionRows().every((row) => !('browser' in row))).toBe(true);
    expect(compareTable(plan, 'sessions_daily', sessionRows(), true)).toEqual([]);
    expect(rowKey('sessions_daily', sessionRows()[0])).toMatch(/\|unknown\|null\|null\|campaign$/);
  });

  it('exactly: names a wrong count, a missing row and a row never sent', () => {
    const rows = urlRows();
    rows[0] = { ...rows[0], clicks: rows[0].clicks + 1 };
    const missing = rows.pop()!;
    rows.push({ ...missing, page_url: `https://${SMOKE_HOST}/smoke-compare/p/99` });
    const problems = compareTable(plan, 'url_country_daily', rows, true);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(`${rowKey('url_country_daily', rows[0])}: clicks ${rows[0].clicks} served, ${rows[0].clicks - 1} expected`);
    expect(problems).toContain(`${rowKey('url_country_daily', missing)}: no row`);
    expect(problems).toContain(`https://${SMOKE_HOST}/smoke-compare/p/99|${missing.country}: served but never sent`);
  });

  it('as lower bounds: other traffic may add to a row and add rows, but a row may not count less', () => {
    const more = sessionRows().map((row) => ({ ...row, sessions: row.sessions + 5, pageviews: row.pageviews + 40, users: row.users + 5 }));
    const other = { event_date: plan.date, country: 'GB', device_type: 'unknown', channel: 'campaign', sessions: 3, bounces: 0, pageviews: 3, users: 3 };
    expect(compareTable(plan, 'sessions_daily', [...more, other], false)).toEqual([]);
    expect(compareTable(plan, 'sessions_daily', [...more, other], true).length).toBeGreaterThan(0);
    const fewer = sessionRows();
    fewer[1] = { ...fewer[1], pageviews: fewer[1].pageviews - 1 };
    expect(compareTable(plan, 'sessions_daily', fewer, false)).toEqual([
      `${rowKey('sessions_daily', fewer[1])}: pageviews ${fewer[1].pageviews} served, at least ${fewer[1].pageviews + 1} expected`,
    ]);
    expect(compareTable(plan, 'sessions_daily', sessionRows().slice(1), false)).toEqual([`${rowKey('sessions_daily', sessionRows()[0])}: no row`]);
  });

  it('totalClicks adds the clicks of the rows', () => {
    expect(totalClicks(urlRows())).toBe(60);
  });
});

describe('runSmoke', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  };

  it('runs the steps in order, times each, and reports them all when they pass', async () => {
    const c = clock();
    const ran: string[] = [];
    const step = (name: string, ms: number): SmokeStep => ({ name, logs: `logs of ${name}`, run: async () => { ran.push(name); c.advance(ms); return `${name} done`; } });
    const lines: string[] = [];
    const report = await runSmoke([step('one', 1500), step('two', 250)], (l) => lines.push(l), c.now);
    expect(ran).toEqual(['one', 'two']);
    expect(report).toEqual({ ok: true, steps: [
      { name: 'one', ok: true, seconds: 1.5, detail: 'one done' },
      { name: 'two', ok: true, seconds: 0.25, detail: 'two done' },
    ] });
    expect(lines).toContain('[one] ok in 1.5 s: one done');
    expect(lines[lines.length - 1]).toBe('smoke test passed: 2 steps in 1.8 s');
  });

  it('fails when a step fails: stops there and names the step, its error and where to read', async () => {
    const c = clock();
    const ran: string[] = [];
    const steps: SmokeStep[] = [
      { name: 'produce', logs: 'producer logs', run: async () => { ran.push('produce'); return 'ok'; } },
      { name: 'raw zone', logs: 'log group /aws/lambda/ingest', run: async () => { ran.push('raw zone'); c.advance(3000); throw new Error('12 of 300 clicks stored'); } },
      { name: 'aggregate', logs: 'glue logs', run: async () => { ran.push('aggregate'); return 'ok'; } },
    ];
    const lines: string[] = [];
    const report = await runSmoke(steps, (l) => lines.push(l), c.now);
    expect(ran).toEqual(['produce', 'raw zone']);
    expect(report.ok).toBe(false);
    expect(report.failed).toEqual({ step: 'raw zone', error: '12 of 300 clicks stored', logs: 'log group /aws/lambda/ingest' });
    expect(report.steps.map((s) => [s.name, s.ok, s.seconds])).toEqual([['produce', true, 0], ['raw zone', false, 3]]);
    expect(lines).toContain('[raw zone] FAILED after 3.0 s: 12 of 300 clicks stored');
    expect(lines).toContain('  read: log group /aws/lambda/ingest');
  });
});

describe('waitFor', () => {
  const fake = () => {
    let t = 0;
    const sleeps: number[] = [];
    return { now: () => t, sleep: async (ms: number) => { sleeps.push(ms); t += ms; }, sleeps };
  };

  it('polls with growing pauses until the probe answers', async () => {
    const f = fake();
    let calls = 0;
    const value = await waitFor('rows', 600_000, async () => (++calls === 6 ? 'found' : undefined), f.sleep, f.now);
    expect(value).toBe('found');
    expect(f.sleeps).toEqual([1000, 2000, 4000, 8000, 15_000]);
  });

  it('fails when the deadline passes, with the last error', async () => {
    const f = fake();
    await expect(waitFor('rows of the run', 20_000, async () => { throw new Error('403 Forbidden'); }, f.sleep, f.now))
      .rejects.toThrow('rows of the run: not after 20 s (last error: 403 Forbidden)');
    expect(f.now()).toBeLessThanOrEqual(20_000);
  });
});

describe('selecting a run\'s rows', () => {
  const plan = planSmoke({ count: 10, marker: 'smoke-select', now: new Date('2026-03-01T10:02:00.000Z') });
  const filters = (table: TableName, shared: boolean, computedSince?: string) =>
    (tableQuery(plan, { table, shared, computedSince }) as { bool: { filter: unknown[] } }).bool.filter;

  it('a deployment: by the marker where a field carries it, otherwise by the grain values and the time of computation', () => {
    expect(filters('url_country_daily', true)).toEqual([{ term: { event_date: '2026-03-01' } }, { prefix: { page_url: `https://${SMOKE_HOST}/smoke-select/` } }]);
    expect(filters('traffic_sources_daily', true)).toContainEqual({ term: { utm_campaign: 'smoke-select' } });
    expect(filters('geo_daily', true)).toContainEqual({ term: { city: 'smoke-select' } });
    const sessions = filters('sessions_daily', true, '2026-03-01T09:55:00.000Z');
    expect(sessions).toContainEqual({ term: { channel: 'campaign' } });
    expect(sessions).toContainEqual({ term: { device_type: 'unknown' } });
    expect(sessions).toContainEqual({ range: { computed_at: { gte: '2026-03-01T09:55:00.000Z' } } });
    expect(filters('traffic_hourly', true, '2026-03-01T09:55:00.000Z')).toContainEqual({ terms: { country: ['DE', 'FR', 'US'] } });
    expect(TABLE_NAMES.filter((table) => selectionIsExact({ table, shared: true }))).toEqual(['url_country_daily', 'traffic_sources_daily', 'geo_daily']);
  });

  it('the local stack: every row of the date, compared exactly (the aliases are the run\'s own)', () => {
    for (const table of TABLE_NAMES) {
      expect(filters(table, false)).toEqual([{ term: { event_date: '2026-03-01' } }]);
      expect(selectionIsExact({ table, shared: false })).toBe(true);
    }
  });
});

describe('npm run smoke arguments', () => {
  it('reads the options and refuses what it does not know', () => {
    expect(parseSmokeArgs([])).toEqual({ local: false, count: 300, keep: false, json: false });
    expect(parseSmokeArgs(['--local', '--count', '50', '--keep', '--json'])).toEqual({ local: true, count: 50, keep: true, json: true });
    expect(parseSmokeArgs(['--stack-name', 'Other', '--alias-prefix', 'web', '--wait-minutes', '20']))
      .toEqual({ local: false, count: 300, keep: false, json: false, stackName: 'Other', aliasPrefix: 'web', waitMinutes: 20 });
    expect(() => parseSmokeArgs(['--count', '0'])).toThrow('--count needs a whole number from 1 to 100000, got 0');
    expect(() => parseSmokeArgs(['--stack-name'])).toThrow('--stack-name needs a value');
    expect(() => parseSmokeArgs(['--alias', 'x'])).toThrow(/unknown argument --alias /);
  });
});

describe('a deployment\'s smoke test: the stack outputs', () => {
  const cfn = mockClient(CloudFormationClient);
  beforeEach(() => cfn.reset());
  const outputs = Object.fromEntries(REQUIRED_OUTPUTS.map((key) => [key, `value-of-${key}`]));

  it('reads every output it needs, and names those a stack lacks', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'ClickstreamPipelineStack' }).resolves({
      Stacks: [{ StackName: 'ClickstreamPipelineStack', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE',
        Outputs: [...Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })), { OutputKey: 'Other', OutputValue: 'x' }] }],
    });
    await expect(readStackOutputs(new CloudFormationClient({ region: 'eu-west-1' }))).resolves.toMatchObject(outputs);
    cfn.on(DescribeStacksCommand, { StackName: 'Old' }).resolves({
      Stacks: [{ StackName: 'Old', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE',
        Outputs: [{ OutputKey: 'MskClusterArn', OutputValue: 'arn' }, { OutputKey: 'KafkaTopic', OutputValue: 'clicks' }] }],
    });
    await expect(readStackOutputs(new CloudFormationClient({ region: 'eu-west-1' }), 'Old'))
      .rejects.toThrow(`stack Old has no output ${REQUIRED_OUTPUTS.filter((k) => k !== 'MskClusterArn' && k !== 'KafkaTopic').join(', ')}`);
  });

  it('fills log group hints from the outputs', () => {
    expect(fillOutputs('log group ${IngestLogGroupName}; ${Unknown}', { IngestLogGroupName: '/aws/lambda/ingest' })).toBe('log group /aws/lambda/ingest; ${Unknown}');
  });

  it('fails when the stack is missing: at the first step, before producing anything', async () => {
    cfn.on(DescribeStacksCommand).rejects(new Error('Stack with id ClickstreamPipelineStack does not exist'));
    const lines: string[] = [];
    const { report, plan } = await runAwsSmoke({ region: 'eu-west-1', count: 10, log: (l) => lines.push(l) });
    expect(plan.clicks).toHaveLength(10);
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => s.name)).toEqual(['stack outputs']);
    expect(report.failed).toEqual({
      step: 'stack outputs',
      error: 'Stack with id ClickstreamPipelineStack does not exist',
      logs: 'aws cloudformation describe-stacks --stack-name ClickstreamPipelineStack',
    });
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
  });
});
