/**
 * Runs one stage in its own process, for callers that cannot load the production handlers
 * themselves: the handlers use middy 6, an ES module that jest's CommonJS runtime cannot
 * require, so the end-to-end test drives the ingest and index stages through this runner
 * (with tsx, exactly as `npm run local` loads them).
 *
 *   npx tsx local/stage-runner.ts ingest|index '<json arguments>'
 *
 * Arguments: `{ settings, until, crashInvocations? }` for ingest (offset maps as
 * `[[partition, offset], ...]`; `crashInvocations` are 1-based handler invocations that crash
 * after their first S3 write), `{ settings, bucket, keys, deadLetterFile? }` for index.
 * Progress goes to stderr; the last line of stdout is the stage's result as JSON.
 */
import type { PipelineSettings } from './resources';
import { runIndexStage, runIngestStage } from './stages';

export interface IngestRunnerArgs {
  readonly settings: PipelineSettings;
  readonly until: Array<[number, number]>;
  readonly crashInvocations?: number[];
}

export interface IndexRunnerArgs {
  readonly settings: PipelineSettings;
  readonly bucket: string;
  readonly keys: string[];
  readonly deadLetterFile?: string;
}

async function main(argv: string[]): Promise<unknown> {
  const [stage, json] = argv;
  if ((stage !== 'ingest' && stage !== 'index') || json === undefined) {
    throw new Error("usage: stage-runner.ts ingest|index '<json arguments>'");
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // The handlers read their configuration at module load: set it before the stage imports them.
  const { exportHandlerEnvironment } = await import('./pipeline');
  if (stage === 'ingest') {
    const args = JSON.parse(json) as IngestRunnerArgs;
    exportHandlerEnvironment(args.settings);
    const crash = new Set(args.crashInvocations ?? []);
    let invocation = 0;
    let crashed = 0;
    const result = await runIngestStage({
      settings: args.settings,
      until: new Map(args.until),
      log,
      faults: crash.size === 0 ? undefined : {
        crashAfterFirstWrite: () => {
          invocation++;
          const yes = crash.has(invocation);
          if (yes) crashed++;
          return yes;
        },
      },
    });
    return { ...result, crashed };
  }
  const args = JSON.parse(json) as IndexRunnerArgs;
  exportHandlerEnvironment(args.settings);
  return runIndexStage({ settings: args.settings, bucket: args.bucket, keys: args.keys, log, deadLetterFile: args.deadLetterFile });
}

main(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(`\n${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`stage failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
