/**
 * `npm run job:start` against a mocked Glue client (the Glue API has no local engine): what it
 * sends, how it waits, and what it reports and returns for each way a run can end.
 */
import { GetJobRunCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { DEFAULT_JOB_NAME, JobStartDeps, main, normalizeDates, parseArguments, startJobRun, UsageError } from '../../scripts/job-start';

type Reply = Record<string, unknown> | Error;

/** A Glue client answering from scripts, with a clock that only moves when the command sleeps. */
function fakeGlue(startReplies: Reply[], getReplies: Reply[]) {
  const sent: Array<StartJobRunCommand | GetJobRunCommand> = [];
  const sleeps: number[] = [];
  const lines: string[] = [];
  let clock = Date.UTC(2026, 10, 4, 6, 0, 0);
  const next = (replies: Reply[], what: string) => {
    const reply = replies.shift();
    if (reply === undefined) throw new Error(`unexpected ${what}`);
    if (reply instanceof Error) return Promise.reject(reply);
    return Promise.resolve(reply);
  };
  const deps: JobStartDeps = {
    glue: {
      send: (command) => {
        sent.push(command);
        return command instanceof StartJobRunCommand ? next(startReplies, 'StartJobRun') : next(getReplies, 'GetJobRun');
      },
    },
    log: (line) => lines.push(line),
    sleep: async (ms) => { sleeps.push(ms); clock += ms; },
    now: () => clock,
  };
  return { deps, sent, sleeps, lines };
}

const run = (state: string, extra: Record<string, unknown> = {}) => ({ JobRun: { Id: 'jr_1', JobRunState: state, ...extra } });
const awsError = (name: string, status = 400) => Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });
const options = { jobName: 'Stack-aggregate-clicks', wait: true, waitMinutes: 180 } as const;

describe('job:start arguments', () => {
  it('defaults to an incremental run of the default job, waiting', () => {
    expect(parseArguments([], {})).toEqual({ jobName: DEFAULT_JOB_NAME, dates: undefined, region: undefined, wait: true, waitMinutes: 180 });
  });

  it('reads dates, job name (flag over environment), region, wait settings, in both --flag value and --flag=value forms', () => {
    expect(parseArguments(['--dates', '2026-11-01, 2026-11-03..2026-11-05', '--job-name=Mine', '--region', 'eu-west-1', '--wait-minutes', '30'],
      { GLUE_JOB_NAME: 'FromEnv' })).toEqual({
      jobName: 'Mine', dates: '2026-11-01,2026-11-03..2026-11-05', region: 'eu-west-1', wait: true, waitMinutes: 30,
    });
    expect(parseArguments(['--no-wait'], { GLUE_JOB_NAME: 'FromEnv' })).toMatchObject({ jobName: 'FromEnv', wait: false });
  });

  it.each([
    [['--dates', '2026-11-31'], /not a valid YYYY-MM-DD date/],
    [['--dates', '2026-11-05..2026-11-01'], /ends before it starts/],
    [['--dates', 'yesterday'], /not a valid/],
    [['--dates', ','], /no date given/],
    [['--dates'], /needs a value/],
    [['--dates', '--no-wait'], /needs a value/],
    [['--wait-minutes', '0'], /wait-minutes/],
    [['--job-name', 'a b'], /not a Glue job name/],
    [['--date', '2026-11-01'], /unknown argument --date/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArguments(argv, {})).toThrow(UsageError);
    expect(() => parseArguments(argv, {})).toThrow(message);
  });

  it('normalizes the dates list the job will parse', () => {
    expect(normalizeDates(' 2024-02-29 ,,2024-03-01..2024-03-02 ')).toBe('2024-02-29,2024-03-01..2024-03-02');
    expect(() => normalizeDates('2023-02-29')).toThrow(/not a valid/);
  });

  it('main exits 2 on bad arguments without calling AWS', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['--dates', 'nope'], {})).toBe(2);
      expect(error).toHaveBeenCalledWith(expect.stringContaining('--dates'));
    } finally {
      error.mockRestore();
    }
  });
});

describe('job:start run', () => {
  it('starts a backfill with --dates and polls with growing, bounded delays until it succeeds', async () => {
    const running = Array.from({ length: 8 }, () => run('RUNNING'));
    const glue = fakeGlue([{ JobRunId: 'jr_1' }], [run('STARTING'), ...running, run('SUCCEEDED', { ExecutionTime: 95, DPUSeconds: 190 })]);
    const code = await startJobRun({ ...options, dates: '2026-11-01,2026-11-02' }, glue.deps);

    expect(code).toBe(0);
    const start = glue.sent[0] as StartJobRunCommand;
    expect(start).toBeInstanceOf(StartJobRunCommand);
    expect(start.input).toEqual({ JobName: 'Stack-aggregate-clicks', Arguments: { '--dates': '2026-11-01,2026-11-02' } });
    const gets = glue.sent.slice(1) as GetJobRunCommand[];
    expect(gets).toHaveLength(10);
    expect(gets.every((c) => c instanceof GetJobRunCommand && c.input.JobName === 'Stack-aggregate-clicks' && c.input.RunId === 'jr_1')).toBe(true);
    expect(glue.sleeps).toEqual([5000, 7500, 11250, 16875, 25313, 37970, 56955, 60000, 60000]);
    // One line per state change, not per poll.
    expect(glue.lines.filter((l) => l.includes('jr_1: '))).toHaveLength(3);
    expect(glue.lines.at(-1)).toBe('succeeded in 95 s (190 DPU-seconds)');
  });

  it('starts an incremental run without arguments', async () => {
    const glue = fakeGlue([{ JobRunId: 'jr_1' }], [run('SUCCEEDED')]);
    expect(await startJobRun(options, glue.deps)).toBe(0);
    expect((glue.sent[0] as StartJobRunCommand).input).toEqual({ JobName: 'Stack-aggregate-clicks', Arguments: undefined });
  });

  it.each(['FAILED', 'TIMEOUT', 'ERROR', 'STOPPED', 'EXPIRED'])('exits 1 when the run ends %s, with its error and where the logs are', async (state) => {
    const glue = fakeGlue([{ JobRunId: 'jr_1' }], [run('RUNNING'), run(state, { ErrorMessage: 'AnalysisException: boom' })]);
    expect(await startJobRun(options, glue.deps)).toBe(1);
    expect(glue.lines).toContain(`ERROR: run jr_1 ended ${state}: AnalysisException: boom`);
    expect(glue.lines.at(-1)).toContain('/aws-glue/jobs/Stack-aggregate-clicks/output');
  });

  it('with --no-wait returns once the run is started', async () => {
    const glue = fakeGlue([{ JobRunId: 'jr_9' }], []);
    expect(await startJobRun({ ...options, wait: false }, glue.deps)).toBe(0);
    expect(glue.sent).toHaveLength(1);
    expect(glue.lines).toEqual(['started Stack-aggregate-clicks run jr_9 (incremental)']);
  });

  it('stops waiting (exit 3) when --wait-minutes runs out, saying how to follow the run', async () => {
    const glue = fakeGlue([{ JobRunId: 'jr_1' }], Array.from({ length: 100 }, () => run('RUNNING')));
    expect(await startJobRun({ ...options, waitMinutes: 5 }, glue.deps)).toBe(3);
    expect(glue.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5 * 60_000);
    expect(glue.lines.at(-1)).toContain('aws glue get-job-run --job-name Stack-aggregate-clicks --run-id jr_1');
  });

  it('retries throttling and server errors with backoff, a bounded number of times', async () => {
    const glue = fakeGlue(
      [awsError('ThrottlingException'), { JobRunId: 'jr_1' }],
      [awsError('InternalServiceException', 500), run('SUCCEEDED')],
    );
    expect(await startJobRun(options, glue.deps)).toBe(0);
    expect(glue.sleeps).toEqual([1000, 1000]);

    const failing = fakeGlue([{ JobRunId: 'jr_1' }], Array.from({ length: 10 }, () => awsError('ThrottlingException')));
    await expect(startJobRun(options, failing.deps)).rejects.toThrow('ThrottlingException message');
    expect(failing.sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('explains a run already in progress, and an unknown job, without retrying', async () => {
    const busy = fakeGlue([awsError('ConcurrentRunsExceededException')], []);
    expect(await startJobRun(options, busy.deps)).toBe(1);
    expect(busy.lines[0]).toMatch(/already running .* one run at a time/);
    expect(busy.sleeps).toEqual([]);

    const missing = fakeGlue([awsError('EntityNotFoundException')], []);
    expect(await startJobRun({ ...options, region: 'eu-west-1' }, missing.deps)).toBe(1);
    expect(missing.lines[0]).toBe('ERROR: no Glue job named Stack-aggregate-clicks in eu-west-1; pass --job-name or set GLUE_JOB_NAME.');
  });
});
