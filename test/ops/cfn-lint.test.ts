import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipelineApp } from './pipeline-app';

/**
 * cfn-lint comes from the local stack's venv (pinned in local-stack/python-requirements.txt,
 * installed by `bash local-stack/venv.sh`, which `npm test` runs first).
 */
function cfnLint(): string {
  const repo = path.join(__dirname, '..', '..');
  const venv = process.env.VENV ?? path.join(process.env.LOCAL_STACK_HOME ?? path.join(repo, '.local-stack'), 'venv');
  const binary = path.join(venv, 'bin', 'cfn-lint');
  if (!fs.existsSync(binary)) {
    throw new Error(`cfn-lint not found at ${binary}: run "bash local-stack/venv.sh" (or npm test, which installs it)`);
  }
  return binary;
}

interface LintMatch { Filename: string; Level: string; Rule: { Id: string; Description: string }; Message: string; Location: { Path: unknown[] } }

/** Runs cfn-lint once on template files and returns its findings (it exits non-zero when there are any). */
function lint(templatePaths: string[]): LintMatch[] {
  let out: string;
  try {
    out = execFileSync(cfnLint(), ['--format', 'json', '--', ...templatePaths], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const error = e as { status?: number; stdout?: string; stderr?: string };
    // Exit status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint itself failed.
    if (error.status === undefined || (error.status & 1) !== 0 || !error.stdout) {
      throw new Error(`cfn-lint failed to run (status ${error.status}): ${error.stderr}`);
    }
    out = error.stdout;
  }
  return JSON.parse(out) as LintMatch[];
}

describe('cfn-lint on the synthesized template', () => {
  const synthesize = (context: Record<string, unknown>) => {
    const { app, stack } = pipelineApp(context);
    return app.synth().getStackArtifact(stack.artifactId).templateFullPath;
  };
  // Both profiles: prod adds dedicated masters, zone awareness and retained resources.
  const devTemplate = synthesize({});
  const prodTemplate = synthesize({ stage: 'prod', alarmEmail: 'ops@example.com' });
  // A copy with one invalid property proves the linter really checks (one cfn-lint run for all).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-'));
  const brokenPath = path.join(dir, 'broken.template.json');
  const broken = JSON.parse(fs.readFileSync(devTemplate, 'utf8'));
  broken.Resources.BrokenQueue = { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'soon' } };
  fs.writeFileSync(brokenPath, JSON.stringify(broken));
  const findings = lint([devTemplate, prodTemplate, brokenPath]);
  fs.rmSync(dir, { recursive: true, force: true });
  const errorsIn = (file: string) => findings.filter((f) => f.Level === 'Error' && path.resolve(f.Filename) === path.resolve(file));
  const describe = (f: LintMatch) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`;

  test('reports no errors for the dev profile (the defaults)', () => {
    expect(errorsIn(devTemplate).map(describe)).toEqual([]);
  });

  test('reports no errors for the prod profile', () => {
    expect(errorsIn(prodTemplate).map(describe)).toEqual([]);
  });

  test('the linter really checks: a broken copy of the template is rejected', () => {
    expect(errorsIn(brokenPath).map((f) => f.Rule.Id)).toContain('E3012');
  });
});
