import { Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as fs from 'fs';
import * as path from 'path';
import { loadPipelineConfig } from '../../lib/config';
import { acknowledgeNagFindings, addNagChecks, NagAcknowledgement, pipelineNagAcknowledgements } from '../../lib/nag';
import { opsTestApp as testApp } from './pipeline-app';
import { pipelineApp } from './pipeline-app';

type Violation = ReturnType<AwsSolutionsChecks['validateScope']>['violations'][number];

function describeViolations(violations: Violation[]): string {
  return violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`)).join('\n');
}

describe.each([
  ['dev (the defaults)', {}],
  ['prod', { stage: 'prod', alarmEmail: 'ops@example.com' }],
])('cdk-nag AwsSolutions on the whole app, %s', (_name, context) => {
  const { app, stack } = pipelineApp(context);
  const acknowledgements = pipelineNagAcknowledgements(loadPipelineConfig(app));
  const result = acknowledgeNagFindings(stack, acknowledgements);
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);

  test('has no unacknowledged finding', () => {
    // On failure the message lists each finding: fix it, or acknowledge it in lib/nag.ts with a reason.
    expect(describeViolations(report.violations)).toBe('');
    expect(report.success).toBe(true);
  });

  test('every acknowledgement acknowledges a finding: none is stale, none names a resource the app lacks', () => {
    // stale: the path matches a construct but the rule matches none of its findings. notApplicable:
    // the path (often a RegExp) matches no construct at all, e.g. after a grant moved to another
    // policy. Both mean the entry accepts nothing here: remove it from lib/nag.ts, or add it only
    // for the settings that build its resource.
    const label = (a: NagAcknowledgement) => `${a.rule} at ${a.path}`;
    expect({ stale: result.stale.map(label), notApplicable: result.notApplicable.map(label) })
      .toEqual({ stale: [], notApplicable: [] });
  });

  test('every acknowledgement names a rule and a resource and gives a real reason', () => {
    for (const ack of acknowledgements) {
      expect(String(ack.rule)).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(String(ack.path).length).toBeGreaterThan(0);
      expect(ack.reason.length).toBeGreaterThanOrEqual(40);
    }
  });
});

describe('cdk-nag version', () => {
  test('the version tested is the pinned cdk-nag 3', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const installed = JSON.parse(fs.readFileSync(require.resolve('cdk-nag/package.json'), 'utf8'));
    expect(pkg.devDependencies['cdk-nag']).toMatch(/^3\.\d+\.\d+$/);
    expect(installed.version).toBe(pkg.devDependencies['cdk-nag']);
  });
});

describe('pipelineNagAcknowledgements', () => {
  test('accepts a single-AZ domain without dedicated masters only when the settings ask for one', () => {
    const rules = (context: Record<string, unknown>) =>
      pipelineNagAcknowledgements(loadPipelineConfig(testApp(context))).map((a) => String(a.rule));
    expect(rules({})).toEqual(expect.arrayContaining(['AwsSolutions-OS4', 'AwsSolutions-OS7']));
    expect(rules({ stage: 'prod' })).not.toContain('AwsSolutions-OS4');
    expect(rules({ stage: 'prod' })).not.toContain('AwsSolutions-OS7');
    expect(rules({ stage: 'prod', openSearchZoneAwareness: false, openSearchInstanceCount: 1 })).toContain('AwsSolutions-OS7');
  });
});

describe('acknowledgeNagFindings', () => {
  function bucketStack() {
    const app = testApp();
    const stack = new Stack(app, 'AckTest');
    new s3.Bucket(stack, 'Unlogged');
    return { app, stack };
  }

  test('a finding without an acknowledgement is reported', () => {
    const { stack } = bucketStack();
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });

  test('acknowledges exactly the listed rule on the listed construct, and tells stale from not applicable', () => {
    const { stack } = bucketStack();
    const result = acknowledgeNagFindings(stack, [
      { rule: 'AwsSolutions-S1', path: 'Unlogged', reason: 'test: access logging is not wanted on this bucket' },
      { rule: 'AwsSolutions-S2', path: 'Unlogged', reason: 'test: the bucket has no such finding (stale)' },
      { rule: 'AwsSolutions-S1', path: 'DoesNotExist', reason: 'test: this resource is not in the app' },
    ]);
    expect(result.acknowledged).toEqual([{ id: 'AwsSolutions-S1', path: 'Unlogged/Resource', reason: 'test: access logging is not wanted on this bucket' }]);
    expect(result.stale.map((a) => a.rule)).toEqual(['AwsSolutions-S2']);
    expect(result.notApplicable.map((a) => a.path)).toEqual(['DoesNotExist']);
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).not.toContain('AwsSolutions-S1');
    expect(rules).toContain('AwsSolutions-S10');
  });

  test('a RegExp rule resolves to the exact finding ids of this synthesis', () => {
    const { stack } = bucketStack();
    const result = acknowledgeNagFindings(stack, [{ rule: /^AwsSolutions-S(1|10)$/, path: 'Unlogged', reason: 'test: both findings are accepted for this bucket' }]);
    expect(result.acknowledged.map((a) => a.id).sort()).toEqual(['AwsSolutions-S1', 'AwsSolutions-S10']);
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).not.toContain('AwsSolutions-S10');
  });

  test('a RegExp rule or path that matches nothing is reported, as stale or as not applicable', () => {
    const { stack } = bucketStack();
    const result = acknowledgeNagFindings(stack, [
      { rule: /^AwsSolutions-S(1|10)$/, path: /^Unlogged\/Resource$/, reason: 'test: both findings are accepted for this bucket' },
      { rule: /^AwsSolutions-IAM5\[Action::kms:\*\]$/, path: /^Unlogged\/Resource$/, reason: 'test: the bucket has no such finding (stale)' },
      { rule: /^AwsSolutions-S1$/, path: /(^|\/)Role\/DefaultPolicy\/Resource$/, reason: 'test: no construct has this path' },
    ]);
    expect(result.acknowledged.map((a) => a.id).sort()).toEqual(['AwsSolutions-S1', 'AwsSolutions-S10']);
    expect(result.stale.map((a) => String(a.rule))).toEqual([String(/^AwsSolutions-IAM5\[Action::kms:\*\]$/)]);
    expect(result.notApplicable.map((a) => String(a.path))).toEqual([String(/(^|\/)Role\/DefaultPolicy\/Resource$/)]);
  });

  test('as a validation plugin, an unacknowledged finding fails synthesis and an acknowledged one does not', () => {
    const failing = bucketStack();
    addNagChecks(failing.app);
    expect(() => failing.app.synth()).toThrow(/AwsSolutions-S1/);

    const passing = bucketStack();
    for (const id of ['AwsSolutions-S1', 'AwsSolutions-S10']) {
      Validations.of(passing.stack.node.findChild('Unlogged')).acknowledge({ id, reason: 'test: accepted' });
    }
    addNagChecks(passing.app);
    expect(() => passing.app.synth()).not.toThrow();
  });
});
