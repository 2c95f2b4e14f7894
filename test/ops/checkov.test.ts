import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClickstreamPipelineStack } from '../../lib/clickstream-pipeline-stack';
import { acknowledgeCheckovFindings, CheckovAcknowledgement, pipelineCheckovAcknowledgements } from '../../lib/checkov';
import { loadPipelineConfig } from '../../lib/config';
import { opsTestApp } from './pipeline-app';

/**
 * checkov (pinned in local-stack/checkov-requirements.txt, installed into its own venv by
 * local-stack/checkov-venv.sh, which `npm test` runs first) over the synthesized templates of the
 * three shapes a deployment takes, with the acknowledgements of lib/checkov.ts written into them
 * as checkov's own suppressions, exactly as bin/clickstream.ts does.
 */
function checkovBinary(): string {
  const repo = path.join(__dirname, '..', '..');
  const venv = process.env.CHECKOV_VENV ?? path.join(process.env.LOCAL_STACK_HOME ?? path.join(repo, '.local-stack'), 'checkov-venv');
  const binary = path.join(venv, 'bin', 'checkov');
  if (!fs.existsSync(binary)) throw new Error(`checkov not found at ${binary}: run "bash local-stack/checkov-venv.sh" (or npm test, which installs it)`);
  return binary;
}

interface Check { check_id: string; check_name: string; resource: string; file_path: string; check_result: { result: string; suppress_comment?: string } }
interface Report { check_type: string; summary: { passed: number; failed: number; skipped: number }; results: { failed_checks: Check[]; skipped_checks: Check[]; passed_checks: Check[] } }

const PROFILES: Record<string, Record<string, unknown>> = {
  dev: {},
  prod: { stage: 'prod', alarmEmail: 'ops@example.com' },
  // An existing VPC and MSK cluster: no VPC, NAT or cluster of the stack's own.
  'prod-with-vpc': {
    stage: 'prod', alarmEmail: 'ops@example.com', vpcId: 'vpc-0123456789abcdef0',
    mskClusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/web/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1',
  },
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkov-'));
const acknowledgementsOf: Record<string, CheckovAcknowledgement[]> = {};
const files: Record<string, string> = {};
for (const [name, context] of Object.entries(PROFILES)) {
  const app = opsTestApp(context);
  const config = loadPipelineConfig(app);
  // A concrete environment: the existing VPC is looked up for it (without cached context, CDK's dummy VPC).
  const stack = new ClickstreamPipelineStack(app, 'ClickstreamPipelineStack', { env: { account: '123456789012', region: 'eu-west-1' }, config });
  acknowledgementsOf[name] = pipelineCheckovAcknowledgements(config);
  acknowledgeCheckovFindings(stack, acknowledgementsOf[name]);
  files[name] = path.join(dir, `${name}.template.json`);
  fs.copyFileSync(app.synth().getStackArtifact(stack.artifactId).templateFullPath, files[name]);
}
// A copy of the dev template with a public, unencrypted, unlogged bucket proves the scanner checks.
const brokenPath = path.join(dir, 'broken.template.json');
const broken = JSON.parse(fs.readFileSync(files.dev, 'utf8'));
broken.Resources.BrokenBucket = { Type: 'AWS::S3::Bucket', Properties: { AccessControl: 'PublicRead' } };
fs.writeFileSync(brokenPath, JSON.stringify(broken));

let report: Report;
try {
  const args = ['--framework', 'cloudformation', '--output', 'json', '--compact', '--skip-download', '--no-fail-on-crash',
    ...[...Object.values(files), brokenPath].flatMap((f) => ['-f', f])];
  let out: string;
  try {
    out = execFileSync(checkovBinary(), args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'WARNING' } });
  } catch (e) {
    // checkov exits 1 when a check failed (the broken copy always has some); its report is still on stdout.
    const error = e as { status?: number; stdout?: string; stderr?: string };
    if (error.status !== 1 || !error.stdout) throw new Error(`checkov failed to run (status ${error.status}): ${error.stderr}`);
    out = error.stdout;
  }
  const parsed = JSON.parse(out) as Report | Report[];
  report = (Array.isArray(parsed) ? parsed : [parsed]).find((r) => r.check_type === 'cloudformation')!;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const profileOf = (check: Check) => path.basename(check.file_path).replace('.template.json', '');
const describe_ = (c: Check) => `${c.check_id} ${c.resource} (${profileOf(c)}): ${c.check_name}`;

describe('checkov on the synthesized templates', () => {
  test.each(Object.keys(PROFILES))('%s: every failed check is fixed or acknowledged in lib/checkov.ts', (profile) => {
    const failed = report.results.failed_checks.filter((c) => profileOf(c) === profile);
    // On failure: fix the resource, or add an acknowledgement with a true reason to lib/checkov.ts.
    expect(failed.map(describe_)).toEqual([]);
    const counts = {
      passed: report.results.passed_checks.filter((c) => profileOf(c) === profile).length,
      acknowledged: report.results.skipped_checks.filter((c) => profileOf(c) === profile).length,
    };
    console.log(`checkov ${profile}: ${counts.passed} passed, 0 failed, ${counts.acknowledged} acknowledged`);
    expect(counts.passed).toBeGreaterThan(100);
  });

  test.each(Object.keys(PROFILES))('%s: every acknowledgement suppresses a finding, with its reason', (profile) => {
    const skipped = report.results.skipped_checks.filter((c) => profileOf(c) === profile);
    const stale = acknowledgementsOf[profile].filter((a) => !skipped.some((c) => c.check_id === a.check && c.resource.startsWith(`${a.type}.`)));
    expect(stale.map((a) => `${a.check} ${a.type} ${a.path}`)).toEqual([]);
    for (const check of skipped) {
      expect(acknowledgementsOf[profile].map((a) => a.reason)).toContain(check.check_result.suppress_comment);
    }
  });

  test('the scanner really checks: the broken copy\'s public bucket fails', () => {
    const failed = report.results.failed_checks.filter((c) => profileOf(c) === 'broken' && c.resource === 'AWS::S3::Bucket.BrokenBucket');
    expect(failed.map((c) => c.check_id)).toEqual(expect.arrayContaining(['CKV_AWS_18', 'CKV_AWS_21']));
  });

  test('every acknowledgement gives a real reason', () => {
    for (const ack of Object.values(acknowledgementsOf).flat()) {
      expect(ack.check).toMatch(/^CKV_AWS_\d+$/);
      expect(ack.reason.length).toBeGreaterThanOrEqual(60);
    }
  });
});
