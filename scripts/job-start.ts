/**
 * Starts a run of the Glue aggregation job and waits for it: on-demand runs and backfills in AWS.
 *
 *   npm run job:start                                   # an incremental run, as the schedule does
 *   npm run job:start -- --dates 2026-11-01,2026-11-03  # recompute exactly these dates
 *   npm run job:start -- --dates 2026-11-01..2026-11-07 --job-name MyStack-aggregate-clicks
 *
 * Options: --dates, --job-name (default $GLUE_JOB_NAME, else ClickstreamPipelineStack-aggregate-clicks),
 * --region (default the SDK's), --wait-minutes (default 180), --no-wait.
 * Exit codes: 0 the run succeeded (or started, with --no-wait); 1 it failed or could not start;
 * 2 bad arguments; 3 still running when --wait-minutes ran out (the run goes on).
 *
 * The Glue API has no local engine; test/processing/job-start.test.ts drives this with a mocked client.
 */
import { GetJobRunCommand, GlueClient, JobRun, StartJobRunCommand } from '@aws-sdk/client-glue';

export const DEFAULT_JOB_NAME = 'ClickstreamPipelineStack-aggregate-clicks';
const RUNNING_STATES = new Set(['STARTING', 'RUNNING', 'STOPPING', 'WAITING']);

/** What the command needs from a Glue client (GlueClient fits). */
export interface GlueSender {
  send(command: StartJobRunCommand | GetJobRunCommand): Promise<any>;
}

export interface JobStartOptions {
  readonly jobName: string;
  /** Normalized `--dates` value, or undefined for an incremental run. */
  readonly dates?: string;
  /** Further job arguments of this run (e.g. `--mode erase`, scripts/erase.ts). @default none */
  readonly jobArguments?: Readonly<Record<string, string>>;
  /** How the run is described in the log. @default 'backfill of <dates>' or 'incremental' */
  readonly description?: string;
  readonly region?: string;
  readonly wait: boolean;
  readonly waitMinutes: number;
}

export interface JobStartDeps {
  readonly glue: GlueSender;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

export class UsageError extends Error {}

const USAGE = 'usage: npm run job:start -- [--dates YYYY-MM-DD[,YYYY-MM-DD|..YYYY-MM-DD]] [--job-name NAME] [--region REGION] ' +
  '[--wait-minutes N] [--no-wait]';

/** Parses the command line (without `node script`). Throws UsageError with a clear message. */
export function parseArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): JobStartOptions {
  let jobName = env.GLUE_JOB_NAME || DEFAULT_JOB_NAME;
  let dates: string | undefined;
  let region: string | undefined;
  let wait = true;
  let waitMinutes = 180;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--dates': dates = normalizeDates(value()); break;
      case '--job-name': jobName = value(); break;
      case '--region': region = value(); break;
      case '--wait-minutes': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--wait-minutes must be a whole number of minutes >= 1 (got ${v})`);
        waitMinutes = Number(v);
        break;
      }
      case '--no-wait': wait = false; break;
      case '--help': case '-h': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!/^[\w.-]{1,255}$/.test(jobName)) throw new UsageError(`--job-name is not a Glue job name: ${jobName}`);
  return { jobName, dates, region, wait, waitMinutes };
}

/**
 * Checks `--dates` the way the job does (YYYY-MM-DD dates and inclusive A..B ranges, comma
 * separated), so a typo fails here instead of in a Glue run; returns it without blanks.
 */
export function normalizeDates(value: string): string {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('--dates: no date given (expected YYYY-MM-DD[,YYYY-MM-DD|..YYYY-MM-DD])');
  for (const item of items) {
    const [first, last, extra] = item.split('..');
    if (extra !== undefined) throw new UsageError(`--dates: ${item} is not a date or a range`);
    const start = parseDate(first, value);
    const end = last === undefined ? start : parseDate(last, value);
    if (end < start) throw new UsageError(`--dates: range ${item} ends before it starts`);
  }
  return items.join(',');
}

function parseDate(text: string, whole: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text.trim()) {
    throw new UsageError(`--dates: ${text} in ${whole} is not a valid YYYY-MM-DD date`);
  }
  return ms;
}

/** Whether an SDK error is worth another try (throttling, 5xx, network). */
export function isTransient(error: any): boolean {
  const name = String(error?.name ?? '');
  return error?.$retryable !== undefined || (error?.$metadata?.httpStatusCode ?? 0) >= 500 ||
    /Throttl|TooManyRequests|RequestLimitExceeded|InternalServiceException|ServiceUnavailable|TimeoutError|ECONNRESET|ETIMEDOUT|EAI_AGAIN/.test(name);
}

const MAX_TRANSIENT_ERRORS_IN_A_ROW = 6;

/** Starts the run and (unless --no-wait) polls it until a final state. Returns the exit code. */
export async function startJobRun(options: JobStartOptions, deps: JobStartDeps): Promise<number> {
  const { glue, log } = deps;
  const merged = { ...(options.dates ? { '--dates': options.dates } : {}), ...options.jobArguments };
  const args = Object.keys(merged).length > 0 ? merged : undefined;
  let runId: string;
  try {
    const started = await withRetries(() => glue.send(new StartJobRunCommand({ JobName: options.jobName, Arguments: args })), deps);
    runId = started.JobRunId;
  } catch (error: any) {
    if (error?.name === 'ConcurrentRunsExceededException') {
      log(`ERROR: ${options.jobName} is already running (it allows one run at a time). Wait for that run, then start again.`);
    } else if (error?.name === 'EntityNotFoundException') {
      log(`ERROR: no Glue job named ${options.jobName}${options.region ? ` in ${options.region}` : ''}; pass --job-name or set GLUE_JOB_NAME.`);
    } else {
      log(`ERROR: could not start ${options.jobName}: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
    }
    return 1;
  }
  log(`started ${options.jobName} run ${runId} (${options.description ?? (options.dates ? `backfill of ${options.dates}` : 'incremental')})`);
  if (!options.wait) return 0;

  const deadline = deps.now() + options.waitMinutes * 60_000;
  let delay = 5_000;
  let lastState = '';
  for (;;) {
    const run: JobRun = (await withRetries(() => glue.send(new GetJobRunCommand({ JobName: options.jobName, RunId: runId })), deps)).JobRun;
    const state = run?.JobRunState ?? 'UNKNOWN';
    if (state !== lastState) {
      log(`${new Date(deps.now()).toISOString()} ${runId}: ${state}`);
      lastState = state;
    }
    if (state === 'SUCCEEDED') {
      log(`succeeded in ${run.ExecutionTime ?? '?'} s${run.DPUSeconds !== undefined ? ` (${run.DPUSeconds} DPU-seconds)` : ''}`);
      return 0;
    }
    if (!RUNNING_STATES.has(state)) {
      log(`ERROR: run ${runId} ended ${state}: ${run?.ErrorMessage ?? 'no error message'}`);
      log(`logs: CloudWatch log groups /aws-glue/jobs/${options.jobName}/output and /error, streams ${runId}*`);
      return 1;
    }
    if (deps.now() + delay > deadline) {
      log(`still ${state} after ${options.waitMinutes} min; stopped waiting (the run goes on). Follow it with: ` +
        `aws glue get-job-run --job-name ${options.jobName} --run-id ${runId}`);
      return 3;
    }
    await deps.sleep(delay);
    delay = Math.min(Math.round(delay * 1.5), 60_000);
  }
}

async function withRetries<T>(call: () => Promise<T>, deps: JobStartDeps): Promise<T> {
  let delay = 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error: any) {
      if (!isTransient(error) || attempt >= MAX_TRANSIENT_ERRORS_IN_A_ROW) throw error;
      deps.log(`Glue API: ${error?.name ?? 'error'} (attempt ${attempt}), retrying in ${delay / 1000} s`);
      await deps.sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: JobStartOptions;
  try {
    options = parseArguments(argv, env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const glue = new GlueClient(options.region ? { region: options.region } : {});
  return startJobRun(options, {
    glue,
    log: (line) => console.log(line),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error) => { console.error(error); process.exitCode = 1; },
  );
}
