import { Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as fs from 'fs';
import * as path from 'path';
import { acknowledgeNagFindings, addNagChecks, NAG_ACKNOWLEDGEMENTS } from '../../lib/nag';
import { testApp } from '../support/cdk-app';
import { pipelineApp } from './pipeline-app';

type Violation = ReturnType<AwsSolutionsChecks['validateScope']>['violations'][number];

function describeViolations(violations: Violation[]): string {
  return violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`)).join('\n');
}

describe('cdk-nag AwsSolutions on the whole app', () => {
  const { stack } = pipelineApp();
  const result = acknowledgeNagFindings(stack);
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);

  test('has no unacknowledged finding', () => {
    // On failure the message lists each finding: fix it, or acknowledge it in lib/nag.ts with a reason.
    expect(describeViolations(report.violations)).toBe('');
    expect(report.success).toBe(true);
  });

  test('every acknowledgement still matches a finding (none is stale)', () => {
    expect(result.unused.map((a) => `${a.rule} at ${a.path}`)).toEqual([]);
  });

  test('every acknowledgement names a rule and a resource and gives a real reason', () => {
    for (const ack of NAG_ACKNOWLEDGEMENTS) {
      expect(String(ack.rule)).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(ack.path.length).toBeGreaterThan(0);
      expect(ack.reason.length).toBeGreaterThanOrEqual(40);
    }
  });

  test('the version tested is the pinned cdk-nag 3', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const installed = JSON.parse(fs.readFileSync(require.resolve('cdk-nag/package.json'), 'utf8'));
    expect(pkg.devDependencies['cdk-nag']).toMatch(/^3\.\d+\.\d+$/);
    expect(installed.version).toBe(pkg.devDependencies['cdk-nag']);
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

  test('acknowledges exactly the listed rule on the listed construct, and reports unused entries', () => {
    const { stack } = bucketStack();
    const result = acknowledgeNagFindings(stack, [
      { rule: 'AwsSolutions-S1', path: 'Unlogged', reason: 'test: access logging is not wanted on this bucket' },
      { rule: 'AwsSolutions-S1', path: 'DoesNotExist', reason: 'test: this entry matches nothing at all' },
    ]);
    expect(result.acknowledged).toEqual([{ id: 'AwsSolutions-S1', path: 'Unlogged', reason: 'test: access logging is not wanted on this bucket' }]);
    expect(result.unused.map((a) => a.path)).toEqual(['DoesNotExist']);
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
