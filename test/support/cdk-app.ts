import { App } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as path from 'path';

/**
 * A CDK App for Template tests with the same feature flags as `cdk.json`, so tests synthesize
 * what `cdk synth` synthesizes. `bundle: false` skips esbuild bundling for speed in tests that
 * only look at settings.
 */
export function testApp(options: { bundle?: boolean; context?: Record<string, unknown> } = {}): App {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return new App({
    // cfn-lint checks the template in test/ops; aws-cdk-lib's own check would add ~20 s per synthesis.
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJson.context,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
}
