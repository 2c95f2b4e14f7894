import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { DEFAULT_COUNT, DEFAULT_EVERY_SECONDS, DEFAULT_RATE, parseArgs, UsageError } from '../../local/cli';
import { formatTopPages, pageTotals, renderHtmlReport, topPagesByCountryFromRows, writeNdjson, type AggregateRow } from '../../local/report';

describe('parseArgs', () => {
  const seed = () => 'r';

  it('defaults to generated events with a random seed', () => {
    expect(parseArgs([], seed)).toEqual({
      source: { kind: 'generate', count: DEFAULT_COUNT, seed: 'r', days: 3 },
      out: resolve('local-output/aggregates.ndjson'),
      report: resolve('local-output/report.html'),
      keepRunning: false,
      reset: false,
      top: 5,
    });
  });

  it('reads --events as a count when it is a number and as a file otherwise', () => {
    expect(parseArgs(['--events', '500', '--seed', '7'], seed)!.source).toEqual({ kind: 'generate', count: 500, seed: '7', days: 3 });
    expect(parseArgs(['--count=9'], seed)!.source).toMatchObject({ count: 9 });
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, '{}\n');
    expect(parseArgs(['--events', file, '--keep-running', '--reset', '--out', 'x.ndjson'], seed)).toMatchObject({
      source: { kind: 'file', path: file }, keepRunning: true, reset: true, out: resolve('x.ndjson'),
    });
    expect(parseArgs(['--events-file', file], seed)!.source).toEqual({ kind: 'file', path: file });
  });

  it.each([
    [['--events', 'no-such-file.ndjson'], /no such file/],
    [['--events', '5', '--count', '6'], /already given/],
    [['--count', '-3'], /whole number/],
    [['--days', '9'], /days/],
    [['--bogus'], /unknown option/],
    [['--seed'], /--seed needs a value/],
    [['--events', 'x.ndjson', '--seed', '3'], /--seed only applies to generated events, not to --events FILE/],
    [['--out-dir'], /--out-dir needs a folder/],
    [['--out-dir='], /--out-dir needs a folder/],
    [['--top', '0'], /--top must be a positive whole number, got "0"/],
    [['--rate', '5'], /--rate only applies with --follow/],
    [['--every', '5'], /--every only applies with --follow/],
    [['--duration', '5'], /--duration only applies with --follow/],
    [['--follow', '--rate', 'fast'], /--rate must be a whole number, got "fast"/],
    [['--follow', '--rate', '-1'], /--rate must be a whole number, got "-1"/],
    [['--follow', '--every', '0'], /--every must be a positive whole number, got "0"/],
    [['--follow', '--every'], /--every needs a value/],
    [['--follow', '--duration', '1.5'], /--duration must be a whole number, got "1.5"/],
    [['--follow', '--events', '100'], /--follow produces at --rate until stopped/],
    [['--follow', '--count', '100'], /--follow produces at --rate until stopped/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv, seed)).toThrow(UsageError);
    expect(() => parseArgs(argv, seed)).toThrow(message);
  });

  it('returns null for --help', () => expect(parseArgs(['--help'], seed)).toBeNull());

  it('reads --out-dir as a folder next to --out', () => {
    expect(parseArgs(['--out-dir', 'tables'], seed)).toMatchObject({ outDir: resolve('tables'), out: resolve('local-output/aggregates.ndjson') });
    expect(parseArgs([], seed)).not.toHaveProperty('outDir');
  });

  it('reads the follow mode with its defaults, its options and a seed for its generator', () => {
    expect(parseArgs(['--follow'], seed)).toMatchObject({
      source: { kind: 'generate', count: 0, seed: 'r' },
      follow: { rate: DEFAULT_RATE, everySeconds: DEFAULT_EVERY_SECONDS },
    });
    expect(parseArgs(['--follow'], seed)!.follow).not.toHaveProperty('durationSeconds');
    expect(parseArgs(['--follow', '--rate=0', '--every', '15', '--duration', '90', '--seed', 's', '--out-dir', 'd'], seed)).toMatchObject({
      source: { kind: 'generate', seed: 's' },
      follow: { rate: 0, everySeconds: 15, durationSeconds: 90 },
      outDir: resolve('d'),
    });
  });
});

describe('local/cli.ts as a command', () => {
  const cli = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(resolve('node_modules/.bin/tsx'), ['local/cli.ts', ...args], { cwd: resolve(__dirname, '..', '..'), timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });

  it('exits with 2, the error in one line and the usage, for an invalid option, before touching any engine', async () => {
    const result = await cli(['--follow', '--every', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('error: --every must be a whole number, got "soon"');
    expect(result.stderr).toContain('Usage: npm run local -- [options]');
    expect(result.stdout).toBe('');
  }, 60_000);

  it('prints the usage with --help and exits with 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--follow[\s\S]*--rate N[\s\S]*--every SECONDS[\s\S]*--duration SECONDS/);
  }, 60_000);
});

const rows: AggregateRow[] = [
  { event_date: '2026-11-20', page_url: 'https://a.example/', country: 'DE', clicks: 10, unique_users: 4, timed_views: 8, total_time_spent_seconds: 80, avg_time_spent_seconds: 10 },
  { event_date: '2026-11-21', page_url: 'https://a.example/', country: 'DE', clicks: 5, unique_users: 3, timed_views: 2, total_time_spent_seconds: 100, avg_time_spent_seconds: 50 },
  { event_date: '2026-11-21', page_url: 'https://b.example/<x>', country: 'US', clicks: 30, unique_users: 9, timed_views: 0, total_time_spent_seconds: 0, avg_time_spent_seconds: null },
];

describe('report', () => {
  it('re-aggregates pages exactly from the totals, not by averaging averages', () => {
    expect(pageTotals(rows)).toEqual([
      { page_url: 'https://b.example/<x>', clicks: 30, user_days: 9, timed_views: 0, total_time_spent_seconds: 0, avg_time_spent_seconds: null },
      { page_url: 'https://a.example/', clicks: 15, user_days: 7, timed_views: 10, total_time_spent_seconds: 180, avg_time_spent_seconds: 18 },
    ]);
  });

  it('prints the top pages per country, biggest country first', () => {
    const text = formatTopPages(topPagesByCountryFromRows(rows, 5));
    expect(text.indexOf('US — 30 clicks')).toBeLessThan(text.indexOf('DE — 15 clicks'));
    expect(text).toMatch(/1\s+https:\/\/a\.example\/\s+15\s+7\s+18\.0s/);
  });

  it('renders a self-contained HTML page with the four charts and escapes text', () => {
    const html = renderHtmlReport({ title: 'T', generatedAt: 'now', stages: [{ stage: 'ingest', seconds: 1, figures: [['stored', 3]] }], rows, topPagesByCountry: topPagesByCountryFromRows(rows, 5) });
    for (const id of ['chart-top-pages', 'chart-clicks-by-country', 'chart-avg-time', 'chart-daily-trend']) expect(html).toContain(`<svg id="${id}"`);
    expect(html).toContain('https://b.example/&lt;x&gt;');
    expect(html).not.toContain('<x>');
    expect(html).not.toMatch(/<script|src="http|href="http/);
    expect((html.match(/<rect /g) ?? []).length).toBeGreaterThanOrEqual(2 + 2 + 1 + 2);
  });

  it('writes NDJSON sorted by date, page and country', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'report-')), 'sub', 'out.ndjson');
    writeNdjson(file, [...rows].reverse());
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(rows);
  });
});
