import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** `npx cdk synth` through the real CLI and bin/clickstream.ts, as a deployer runs it. */
function cdkSynth(context: Record<string, string>) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-synth-'));
  const args = ['cdk', 'synth', '--no-notices', '--quiet', '-o', out, ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const result = spawnSync('npx', args, {
    cwd: path.join(__dirname, '..', '..'),
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    timeout: 120_000,
  });
  fs.rmSync(out, { recursive: true, force: true });
  return result;
}

describe('cdk synth with wrong settings', () => {
  test('fails before building anything, naming every wrong setting and what it must be', () => {
    const result = cdkSynth({ openSearchZoneAwareness: 'true', openSearchInstanceCount: '3', alarmEmial: 'ops@example.com', stage: 'qa' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('Invalid clickstream pipeline settings');
    expect(result.stderr).toContain('openSearchInstanceCount: must be even when openSearchZoneAwareness is true');
    expect(result.stderr).toContain('alarmEmial: is not a setting; did you mean "alarmEmail"?');
    expect(result.stderr).toContain('stage: must be one of "dev", "prod" (got "qa")');
  });
});
