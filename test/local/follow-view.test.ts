/** The live view of `npm run local -- --follow`: the rate it shows and its lines. */
import { liveViewLines, ratePerSecond, type LiveState } from '../../local/follow';

describe('ratePerSecond', () => {
  const t0 = 1_000_000;

  it('is the consumed difference over the time between the first and last sample of the window', () => {
    // 0 at t0, 40 two seconds later, 100 four seconds later: 100 events in 4 s.
    expect(ratePerSecond([[t0, 0], [t0 + 2000, 40], [t0 + 4000, 100]], t0 + 4000)).toBe(25);
  });

  it('looks at the last five seconds only', () => {
    // A burst long ago does not count: only 10 events in the last 4 s.
    const samples: Array<[number, number]> = [[t0, 0], [t0 + 1000, 5000], [t0 + 10_000, 5000], [t0 + 14_000, 5010]];
    expect(ratePerSecond(samples, t0 + 14_000)).toBe(2.5);
    expect(ratePerSecond(samples, t0 + 14_000, 20_000)).toBeCloseTo(5010 / 14, 9);
  });

  it('is 0 with fewer than two samples in the window or no time between them', () => {
    expect(ratePerSecond([], t0)).toBe(0);
    expect(ratePerSecond([[t0, 50]], t0)).toBe(0);
    expect(ratePerSecond([[t0 - 60_000, 0], [t0, 50]], t0)).toBe(0);
    expect(ratePerSecond([[t0, 0], [t0, 50]], t0)).toBe(0);
  });
});

describe('liveViewLines', () => {
  const start = Date.UTC(2026, 11, 6, 10, 0, 0);
  const base: LiveState = {
    startedAt: start,
    produced: 1200,
    consumed: 1180,
    stored: 1170,
    quarantined: 10,
    failedBatches: 0,
    jobs: 2,
    consumedAtLastJob: 900,
    documents: 345,
    topPages: [{ page_url: 'https://shop.example.com/', clicks: 1234 }, { page_url: `https://shop.example.com/${'x'.repeat(100)}`, clicks: 7 }],
    stopping: false,
    samples: [[start + 60_000, 1000], [start + 64_000, 1180]],
  };
  const options = { rate: 20, everySeconds: 60, alias: 'clickstream-url-country-daily', topic: 'clickstream' };

  it('shows the rate, the counts, the next job, the documents and the top pages', () => {
    const lines = liveViewLines({ ...base, nextJobAt: start + 64_000 + 12_500 }, options, start + 64_000);
    expect(lines[0]).toBe('clickstream live — 00:01:04 — topic clickstream — Ctrl-C to stop');
    expect(lines[1]).toMatch(/^ {2}in +45\.0 events\/s {3}generator 20\/s, 1,200 produced$/);
    expect(lines[2]).toBe('  ingest      1,180 consumed: 1,170 stored, 10 quarantined');
    expect(lines[3]).toBe('  Spark job   every 60s, 2 runs; next in 13s');
    expect(lines).toContain('  OpenSearch  345 documents in clickstream-url-country-daily');
    expect(lines).toContain('     1     1,234  https://shop.example.com/');
    // Long URLs are cut to keep one line per page.
    expect(lines.find((l) => l.includes('xxxx'))).toMatch(/x…$/);
  });

  it('shows a running job, a failed run and the stopping state', () => {
    const failed = { started: new Date(start + 1000), finished: new Date(start + 31_000), error: 'spark-submit exited with 1\nmore' };
    const lines = liveViewLines({ ...base, rate: 0, stopping: true, jobRunning: new Date(start + 40_000), lastJob: failed, failedBatches: 2 } as LiveState, { ...options, rate: 0 }, start + 64_000);
    expect(lines[0]).toMatch(/stopping \(Ctrl-C again to quit at once\)$/);
    expect(lines[1]).toMatch(/generator off \(other producers only\)$/);
    expect(lines[2]).toMatch(/, 2 batches to the on-failure file$/);
    expect(lines[3]).toBe('  Spark job   every 60s, 2 runs; running since 10:00:40');
    expect(lines[4]).toBe('  last run    10:00:01–10:00:31 FAILED: spark-submit exited with 1 (retried at the next run)');
  });

  it('shows the dates and rows of the last successful run', () => {
    const ok = { started: new Date(start), finished: new Date(start + 42_000), result: { dates: ['2026-12-05', '2026-12-06'], datesWritten: ['2026-12-06'], rowsWritten: 2345 }, notifications: 12 };
    const lines = liveViewLines({ ...base, lastJob: ok }, options, start + 64_000);
    expect(lines).toContain('  last run    10:00:00–10:00:42 (42s): dates 2026-12-05 2026-12-06, 2,345 rows, 12 notifications');
  });
});
