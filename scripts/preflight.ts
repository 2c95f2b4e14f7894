/**
 * `npm run preflight [-- -c key=value ...]`: checks the target AWS account before `cdk deploy`
 * with read-only calls and prints each check with what to do about a failure (checks:
 * scripts/deploy/preflight-checks.ts; docs/deploy.md, "Preflight"). The settings are the same CDK
 * context `cdk deploy` reads: cdk.json's "context" and the `-c key=value` arguments, validated by
 * lib/config.ts. Exit status 1 when a check fails, 2 when the settings are wrong.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KafkaClient } from '@aws-sdk/client-kafka';
import { OpenSearchClient } from '@aws-sdk/client-opensearch';
import { STSClient } from '@aws-sdk/client-sts';
import { App } from 'aws-cdk-lib';
import { EngineVersion } from 'aws-cdk-lib/aws-opensearchservice';
import { readFileSync } from 'fs';
import { join } from 'path';
import { loadPipelineConfig, PipelineConfigError } from '../lib/config';
import { formatResults, runPreflight } from './deploy/preflight-checks';

/** The domain's engine version (lib/search-domain.ts's default). */
export const OPENSEARCH_ENGINE_VERSION = EngineVersion.OPENSEARCH_2_19.version;

/** cdk.json's context with the `-c key=value` / `--context key=value` arguments on top, as the CDK CLI merges them. */
export function preflightContext(args: readonly string[], cdkJsonContext: Record<string, unknown>): Record<string, unknown> {
  const context: Record<string, unknown> = { ...cdkJsonContext };
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '-c' && args[i] !== '--context') throw new Error(`unknown argument ${args[i]}: give settings as -c key=value`);
    const pair = args[++i] ?? '';
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`-c needs key=value, got "${pair}"`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

async function main(): Promise<number> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  let config;
  try {
    config = loadPipelineConfig(new App({ context: preflightContext(process.argv.slice(2), cdkJson.context ?? {}) }));
  } catch (error) {
    if (error instanceof PipelineConfigError || (error instanceof Error && /key=value/.test(error.message))) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const region = process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '';
  const options = { region: region || undefined };
  console.log(`Preflight for ClickstreamPipelineStack (stage ${config.stage}) in ${region || '(no region)'}\n`);
  const results = await runPreflight({
    sts: new STSClient(options),
    cloudFormation: new CloudFormationClient(options),
    iam: new IAMClient(options),
    kafka: new KafkaClient(options),
    ec2: new EC2Client(options),
    openSearch: new OpenSearchClient(options),
  }, { region, config, openSearchEngineVersion: OPENSEARCH_ENGINE_VERSION });
  console.log(formatResults(results));
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (error) => {
    console.error(`preflight stopped: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
