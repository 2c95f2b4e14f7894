/**
 * `npm run smoke [-- options]`: proves a deployment works end to end with a few hundred marked
 * test clicks (scripts/deploy/smoke-core.ts; docs/deploy.md, "Smoke test").
 *
 *   npm run smoke                       the deployed ClickstreamPipelineStack (AWS_REGION)
 *   npm run smoke -- --local            the same steps against the local stack (local-stack/)
 *   options: --count N (default 300), --stack-name NAME, --alias-prefix PREFIX, --wait-minutes N,
 *            --keep (local: keep the run's topic, buckets and rows), --json (last line: the report)
 *
 * Exit status 0 when every step passed, 1 when one failed (the output names it and its logs),
 * 2 on a usage error.
 */
import type { SmokeReport } from './deploy/smoke-core';

export interface SmokeArgs {
  readonly local: boolean;
  readonly count: number;
  readonly stackName?: string;
  readonly aliasPrefix?: string;
  readonly waitMinutes?: number;
  readonly keep: boolean;
  readonly json: boolean;
}

export function parseSmokeArgs(argv: readonly string[]): SmokeArgs {
  const args: { -readonly [K in keyof SmokeArgs]: SmokeArgs[K] } = { local: false, count: 300, keep: false, json: false };
  const number = (flag: string, value: string | undefined, min: number, max: number) => {
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new Error(`${flag} needs a whole number from ${min} to ${max}, got ${value ?? 'nothing'}`);
    return Number(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--local': args.local = true; break;
      case '--keep': args.keep = true; break;
      case '--json': args.json = true; break;
      case '--count': args.count = number(arg, argv[++i], 1, 100_000); break;
      case '--wait-minutes': args.waitMinutes = number(arg, argv[++i], 1, 600); break;
      case '--stack-name': case '--alias-prefix': {
        const value = argv[++i];
        if (!value || value.startsWith('--')) throw new Error(`${arg} needs a value`);
        if (arg === '--stack-name') args.stackName = value; else args.aliasPrefix = value;
        break;
      }
      default: throw new Error(`unknown argument ${arg} (options: --local, --count N, --stack-name NAME, --alias-prefix PREFIX, --wait-minutes N, --keep, --json)`);
    }
  }
  return args;
}

async function main(argv: readonly string[]): Promise<number> {
  let args: SmokeArgs;
  try {
    args = parseSmokeArgs(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  let report: SmokeReport;
  let summary: Record<string, unknown>;
  if (args.local) {
    const { runLocalSmoke } = await import('./deploy/smoke-local');
    const result = await runLocalSmoke({ count: args.count, keep: args.keep });
    report = result.report;
    summary = { marker: result.plan.marker, date: result.plan.date, sent: result.plan.clicks.length, ...result.counts };
  } else {
    const region = process.env.AWS_REGION ?? process.env.CDK_DEFAULT_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) {
      console.error('set AWS_REGION to the region of the deployment');
      return 2;
    }
    const { runAwsSmoke } = await import('./deploy/smoke-aws');
    const result = await runAwsSmoke({ region, count: args.count, stackName: args.stackName, aliasPrefix: args.aliasPrefix, waitMinutes: args.waitMinutes });
    report = result.report;
    summary = { marker: result.plan.marker, date: result.plan.date, sent: result.plan.clicks.length };
  }
  if (args.json) console.log(JSON.stringify({ ...summary, ...report }));
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
    console.error(`smoke test stopped: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
