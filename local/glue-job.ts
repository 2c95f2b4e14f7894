/**
 * Runs the Glue job (the entry script glue-scripts/aggregate_clicks.py and its package
 * glue-scripts/clickstream_job) on local Spark against the local S3 server, the way Glue runs it
 * in AWS: same files, same arguments (`s3a://` URIs instead of `s3://`). Used by the local
 * pipeline runner and by tests.
 *
 *   const summary = await runAggregateJob({
 *     rawUri: 's3a://clickstream-raw/events',
 *     outputUri: 's3a://clickstream-aggregates/aggregates',
 *     stateUri: 's3a://clickstream-aggregates/state/aggregate-clicks',
 *   });
 *   console.log(formatJobSummary(summary));
 *
 * `outputUri` is the output root: the job writes every table of SPEC section 3 under it, at
 * `<outputUri>/<table>/event_date=YYYY-MM-DD/part-*.json`. It spawns `local-stack/spark/submit.sh`
 * (spark-submit with s3a set up for the local server and the package on the Python path),
 * streams the job's output to `onOutput`, and returns the run summary the job prints, per table.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { TABLE_NAMES } from '../lambdas/indexer/tables';

const REPO_ROOT = path.resolve(__dirname, '..');
export const AGGREGATE_SCRIPT = path.join(REPO_ROOT, 'glue-scripts', 'aggregate_clicks.py');
export const SUBMIT_SCRIPT = path.join(REPO_ROOT, 'local-stack', 'spark', 'submit.sh');

export interface AggregateJobArgs {
  /** Root of the raw events, e.g. `s3a://clickstream-raw/events`. */
  readonly rawUri: string;
  /** Root of the aggregates, e.g. `s3a://clickstream-aggregates/aggregates`: one folder per table under it. */
  readonly outputUri: string;
  /** Where the job keeps `state.json`, e.g. `s3a://clickstream-aggregates/state/aggregate-clicks`. */
  readonly stateUri: string;
  /** Backfill: exactly these dates (`YYYY-MM-DD` or `A..B` ranges). @default an incremental run */
  readonly dates?: readonly string[];
  /** @default the job's default (30) */
  readonly sessionGapMinutes?: number;
  /** @default the job's default (no limit) */
  readonly lookbackDays?: number;
  /** The ingest function's partition change log, e.g. `s3a://clickstream-raw/changes`, as the
   *  stack passes it in AWS. @default none: the job finds changes by listing alone */
  readonly changesUri?: string;
  /** Further job arguments, e.g. the erasure mode's (scripts/erase.ts). @default none */
  readonly jobArguments?: readonly string[];
  /** Extra environment for spark-submit (e.g. S3_ENDPOINT, SPARK_DRIVER_MEMORY). @default process.env only */
  readonly env?: NodeJS.ProcessEnv;
  /** Every output line of the job, as it comes. @default dropped */
  readonly onOutput?: (line: string) => void;
  /** The job is killed after this long. @default 20 minutes */
  readonly timeoutMs?: number;
  /** What runs the script. @default local-stack/spark/submit.sh */
  readonly submitScript?: string;
}

/** The aggregate tables of SPEC section 3, in the SPEC's order. */
export const JOB_TABLES: readonly string[] = TABLE_NAMES;

/** What a run wrote into one table. */
export interface TableSummary {
  /** Dates whose output partition was replaced by rows. */
  readonly dates: string[];
  /** Rows written, over all those dates. */
  readonly rows: number;
  /** Recomputed dates left with no rows in this table: their partition holds the empty marker. */
  readonly emptied: string[];
}

/** What a run did, as the script reports it (`aggregate_clicks summary {...}`). */
export interface AggregateJobSummary {
  readonly mode: 'incremental' | 'backfill';
  readonly computedAt: string;
  /** Dates whose raw input changed (incremental runs). */
  readonly changedDates: string[];
  /** Dates recomputed. */
  readonly dates: string[];
  /** Dates whose output partition was replaced with rows, in any table. */
  readonly datesWritten: string[];
  /** Rows written over every table. */
  readonly rowsWritten: number;
  readonly inputPartitions: number;
  /** Raw records read (null when Spark did not report the count). */
  readonly recordsRead: number | null;
  /** Per table (every table of the job, written or not). */
  readonly tables: Record<string, TableSummary>;
  /** Invalid raw records skipped, by reason. */
  readonly rejected: Record<string, number>;
  readonly stateWritten: boolean;
}

export class AggregateJobError extends Error {
  constructor(message: string, public readonly exitCode: number | null, public readonly outputTail: string) {
    super(`${message}\n--- last lines of the job's output ---\n${outputTail}`);
    this.name = 'AggregateJobError';
  }
}

const URI = /^(s3a?|file):\/\/\S+$/;

/** The command line `runAggregateJob` runs (submit script first). */
export function aggregateJobCommand(args: AggregateJobArgs): string[] {
  // The three locations the job needs, and the change log when given.
  for (const name of ['rawUri', 'outputUri', 'stateUri', 'changesUri'] as const) {
    if (name === 'changesUri' && args[name] === undefined) continue;
    if (!URI.test(args[name] ?? '')) throw new Error(`runAggregateJob: ${name} must be an s3a://, s3:// or file:// URI (got "${args[name]}")`);
  }
  if (args.dates !== undefined && args.dates.length === 0) throw new Error('runAggregateJob: dates is empty; omit it for an incremental run');
  const command = [
    args.submitScript ?? SUBMIT_SCRIPT,
    AGGREGATE_SCRIPT,
    '--raw_uri', args.rawUri,
    '--output_uri', args.outputUri,
    '--state_uri', args.stateUri,
  ];
  if (args.dates) command.push('--dates', args.dates.join(','));
  if (args.sessionGapMinutes !== undefined) command.push('--session_gap_minutes', String(args.sessionGapMinutes));
  if (args.lookbackDays !== undefined) command.push('--lookback_days', String(args.lookbackDays));
  if (args.changesUri !== undefined) command.push('--changes_uri', args.changesUri);
  if (args.jobArguments) command.push(...args.jobArguments);
  return command;
}

/** Parses the summary line the script prints at the end of every run. */
export function parseSummary(output: string): AggregateJobSummary | undefined {
  const lines = output.split('\n').filter((line) => line.includes('aggregate_clicks summary {'));
  if (lines.length === 0) return undefined;
  const raw = JSON.parse(lines[lines.length - 1].slice(lines[lines.length - 1].indexOf('{')));
  return {
    mode: raw.mode,
    computedAt: raw.computed_at,
    changedDates: raw.changed_dates,
    dates: raw.dates,
    datesWritten: raw.dates_written,
    rowsWritten: raw.rows_written,
    inputPartitions: raw.input_partitions,
    recordsRead: raw.records_read ?? null,
    rejected: raw.rejected,
    tables: Object.fromEntries(Object.entries((raw.tables ?? {}) as Record<string, { dates?: string[]; rows?: number; emptied?: string[] }>)
      .map(([name, t]) => [name, { dates: t.dates ?? [], rows: t.rows ?? 0, emptied: t.emptied ?? [] }])),
    stateWritten: raw.state_written,
  };
}

/** A date list for a line of text: all of a few, or the first and last with the count. */
function dateList(dates: readonly string[]): string {
  if (dates.length === 0) return 'none';
  if (dates.length <= 4) return dates.join(' ');
  return `${dates[0]} .. ${dates[dates.length - 1]} (${dates.length} dates)`;
}

/**
 * The run summary as text: what was recomputed, then one line per table (rows, dates written,
 * dates emptied), the job's tables in SPEC order first.
 */
export function formatJobSummary(summary: AggregateJobSummary): string {
  const lines = [
    `${summary.mode} run: ${summary.dates.length ? `dates recomputed ${dateList(summary.dates)}` : 'no new input, nothing recomputed'}` +
      `; ${summary.inputPartitions} raw partitions${summary.recordsRead === null ? '' : `, ${summary.recordsRead.toLocaleString('en-US')} records read`}` +
      `; ${summary.rowsWritten.toLocaleString('en-US')} rows written`,
  ];
  const rejected = Object.entries(summary.rejected);
  if (rejected.length > 0) lines.push(`invalid raw records skipped: ${rejected.map(([reason, n]) => `${reason} ${n}`).join(', ')}`);
  const names = [...JOB_TABLES.filter((t) => t in summary.tables), ...Object.keys(summary.tables).filter((t) => !JOB_TABLES.includes(t)).sort()];
  const width = Math.max(0, ...names.map((n) => n.length));
  for (const name of names) {
    const t = summary.tables[name];
    lines.push(`  ${name.padEnd(width)}  ${t.rows.toLocaleString('en-US').padStart(9)} rows  dates ${dateList(t.dates)}${t.emptied.length ? `; emptied ${dateList(t.emptied)}` : ''}`);
  }
  return lines.join('\n');
}

const TAIL_LINES = 60;

export function runAggregateJob(args: AggregateJobArgs): Promise<AggregateJobSummary> {
  const [submit, ...rest] = aggregateJobCommand(args);
  const timeoutMs = args.timeoutMs ?? 20 * 60_000;
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout stops spark-submit, its JVM and the Python driver together.
    const child = spawn('bash', [submit, ...rest], { env: { ...process.env, ...args.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let summaryLine: string | undefined;
    let timedOut = false;
    const take = (chunk: Buffer, state: { rest: string }) => {
      const text = state.rest + chunk.toString('utf8');
      const lines = text.split('\n');
      state.rest = lines.pop() ?? '';
      for (const line of lines) handle(line);
    };
    const handle = (line: string) => {
      if (line.includes('aggregate_clicks summary {')) summaryLine = line;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      args.onOutput?.(line);
    };
    const out = { rest: '' };
    const err = { rest: '' };
    child.stdout.on('data', (chunk: Buffer) => take(chunk, out));
    child.stderr.on('data', (chunk: Buffer) => take(chunk, err));
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ }
      setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000).unref();
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new AggregateJobError(`could not start ${submit}: ${error.message}`, null, ''));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const state of [out, err]) if (state.rest) handle(state.rest);
      const tailText = tail.join('\n');
      if (timedOut) return reject(new AggregateJobError(`the aggregation job ran longer than ${timeoutMs / 1000} s and was stopped`, code, tailText));
      if (code !== 0) return reject(new AggregateJobError(`the aggregation job failed (exit code ${code})`, code, tailText));
      const summary = summaryLine === undefined ? undefined : parseSummary(summaryLine);
      if (!summary) return reject(new AggregateJobError('the aggregation job exited 0 but printed no summary', code, tailText));
      resolve(summary);
    });
  });
}
