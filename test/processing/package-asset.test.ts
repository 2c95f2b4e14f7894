/**
 * What Glue gets: the `--extra-py-files` archive of the processing stage, zipped from the staged
 * asset folder as CDK zips a directory asset (its contents at the archive's root), and the entry
 * script beside it. Python must import the job from the archive alone, as Glue does, and the entry
 * script must reach `main` (it exits 2 on missing arguments, before any Spark work).
 */
import { App, Stack } from 'aws-cdk-lib';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ProcessingStage } from '../../lib/processing';
import { SecureBucket } from '../../lib/secure-defaults';
import { testApp } from '../support/cdk-app';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, localEndpoints } from '../support/engines';

let python: string;
let work: string;
let stage: ProcessingStage;

beforeAll(async () => {
  await ensureEngines(['spark']);
  python = localEndpoints().python;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'glue-package-'));
  const app = testApp();
  const stack = new Stack(app, 'PackageStack', { env: { account: '111122223333', region: 'eu-west-1' } });
  stage = new ProcessingStage(stack, 'Processing', { rawEventsBucket: new SecureBucket(stack, 'Raw'), aggregatesBucket: new SecureBucket(stack, 'Aggregates') });
  app.synth();
}, ENGINE_START_TIMEOUT_MS);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Zips `dir` with its contents at the archive's root (what CDK does for a directory asset). */
function zipFolder(dir: string, zipPath: string): void {
  execFileSync(python, ['-c', [
    'import os, sys, zipfile',
    'root, out = sys.argv[1], sys.argv[2]',
    'with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:',
    '    for d, _, files in os.walk(root):',
    '        for f in files:',
    '            p = os.path.join(d, f); z.write(p, os.path.relpath(p, root))',
  ].join('\n'), dir, zipPath]);
}

test('the package archive alone lets Python import every module of the job, and the entry script reaches main', () => {
  const outdir = (stage.node.root as App).outdir;
  const packageZip = path.join(work, 'package.zip');
  zipFolder(path.join(outdir, stage.packageAsset.assetPath), packageZip);
  const script = path.join(outdir, stage.scriptAsset.assetPath);
  expect(fs.existsSync(script)).toBe(true);

  // Only the archive on the path, run from an empty folder: nothing is found in the repository.
  const modules = ['cli', 'config', 'erasure', 'io', 'parse', 'schema', 'sessions', 'state', 'tables'];
  const imported = execFileSync(python, ['-c', [
    'import importlib, sys',
    `sys.path.insert(0, ${JSON.stringify(packageZip)})`,
    `names = ${JSON.stringify(modules)}`,
    'files = [importlib.import_module("clickstream_job." + n).__file__ for n in names]',
    'print("\\n".join(files))',
  ].join('\n')], { cwd: work, encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' } });
  const files = imported.trim().split('\n');
  expect(files).toHaveLength(modules.length);
  for (const file of files) expect(file.startsWith(packageZip + path.sep)).toBe(true);

  // The entry script, as Glue runs it: the archive on the path, job arguments missing.
  const run = spawnSync(python, [script, '--raw_uri', 'file:///nowhere'], {
    cwd: work, encoding: 'utf8', env: { ...process.env, PYTHONPATH: packageZip },
  });
  expect(run.status).toBe(2);
  expect(`${run.stdout}${run.stderr}`).toMatch(/output_uri/);
}, 120_000);
