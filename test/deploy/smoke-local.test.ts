/**
 * `npm run smoke -- --local --json` for real: the command as an operator runs it, against the real
 * local engines (Kafka, the S3 server, OpenSearch, local Spark). Its last line is the report; the
 * counts of every stage and the rows of every table's alias must match what it planned, and it
 * leaves nothing behind (topic, buckets, indices, index templates), also when a step fails.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { execFile } from 'child_process';
import { Kafka, logLevel } from 'kafkajs';
import { TABLE_NAMES, tableAlias, type TableName } from '../../lambdas/indexer/tables';
import { planSmoke } from '../../scripts/deploy/smoke-core';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, localEndpoints, s3Client, stackEnv } from '../support/engines';

interface SmokeJson {
  marker: string;
  date: string;
  sent: number;
  produced: number;
  stored: number;
  served: number;
  rows: Partial<Record<TableName, number>>;
  ok: boolean;
  steps: Array<{ name: string; ok: boolean; seconds: number; detail: string }>;
  failed?: { step: string; error: string; logs: string };
}

/** Runs the command; resolves with its exit code, its report (the last line) and its output. */
function runSmokeCommand(args: string[], env: Record<string, string> = {}): Promise<{ code: number; report: SmokeJson; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('npx', ['tsx', 'scripts/smoke.ts', '--local', '--json', ...args], {
      cwd: localEndpoints().repoRoot,
      env: { ...stackEnv(), ...env },
      timeout: 15 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const lines = stdout.trim().split('\n');
      try {
        resolve({ code: error ? Number(error.code) : 0, report: JSON.parse(lines[lines.length - 1]) as SmokeJson, output: `${stdout}${stderr}` });
      } catch {
        reject(new Error(`no report from npm run smoke (${error?.message ?? 'exit 0'}):\n${stdout}${stderr}`));
      }
    });
  });
}

async function leftovers(marker: string): Promise<string[]> {
  const { openSearchEndpoint, kafkaBrokers } = localEndpoints();
  const found: string[] = [];
  const indices = await (await fetch(`${openSearchEndpoint}/_cat/indices/${marker}-*?format=json`)).json() as Array<{ index: string }>;
  found.push(...indices.map((i) => `index ${i.index}`));
  const templates = await (await fetch(`${openSearchEndpoint}/_index_template/${marker}-*`)).json() as { index_templates: Array<{ name: string }> };
  found.push(...templates.index_templates.map((t) => `template ${t.name}`));
  for (const bucket of [`${marker}-raw`, `${marker}-aggregates`]) {
    const exists = await s3Client().send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
    if (exists) found.push(`bucket ${bucket}`);
  }
  const admin = new Kafka({ clientId: 'smoke-local-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    found.push(...(await admin.listTopics()).filter((t) => t === marker).map((t) => `topic ${t}`));
  } finally {
    await admin.disconnect();
  }
  return found;
}

beforeAll(() => ensureEngines(['kafka', 's3', 'opensearch', 'spark']), ENGINE_START_TIMEOUT_MS);

describe('npm run smoke -- --local', () => {
  it('follows marked clicks through every stage into every table\'s alias, then removes what it created', async () => {
    const dayBefore = new Date().toISOString().slice(0, 10);
    const { code, report, output } = await runSmokeCommand(['--count', '150']);
    const dayAfter = new Date().toISOString().slice(0, 10);
    if (code !== 0) throw new Error(`npm run smoke -- --local failed:\n${output}`);

    expect(report.ok).toBe(true);
    expect(report.failed).toBeUndefined();
    expect(report.marker).toMatch(/^smoke-\d{14}-[0-9a-f]{6}$/);
    expect([dayBefore, dayAfter]).toContain(report.date);
    expect(report.steps.map((s) => s.name)).toEqual(['set up', 'produce', 'raw zone', 'aggregate', 'index', ...TABLE_NAMES.map((t) => `served ${t}`)]);
    expect(report.steps.every((s) => s.ok && s.seconds >= 0)).toBe(true);
    expect({ sent: report.sent, produced: report.produced, stored: report.stored, served: report.served })
      .toEqual({ sent: 150, produced: 150, stored: 150, served: 150 });

    // Every table's alias (the run's own, named after its marker) holds the planned rows.
    const plan = planSmoke({ count: 150, marker: report.marker });
    for (const table of TABLE_NAMES) {
      const detail = report.steps.find((s) => s.name === `served ${table}`)!.detail;
      expect(detail).toContain(tableAlias(table, report.marker));
      if (table === 'traffic_hourly') continue;
      expect(report.rows[table]).toBe(plan.expected[table].size);
    }
    // 150 clicks a second apart: one or two hours, per country.
    const countries = plan.expected.geo_daily.size;
    expect(report.rows.traffic_hourly).toBeGreaterThanOrEqual(countries);
    expect(report.rows.traffic_hourly).toBeLessThanOrEqual(2 * countries);

    expect(await leftovers(report.marker)).toEqual([]);
  }, 16 * 60_000);

  it('fails when OpenSearch cannot be reached: names the step and where to look, exits 1, and still removes what it created', async () => {
    const { code, report } = await runSmokeCommand(['--count', '20'], { OPENSEARCH_ENDPOINT: 'http://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([['set up', false]]);
    expect(report.failed?.step).toBe('set up');
    expect(report.failed?.error).toContain('127.0.0.1:1');
    expect(report.failed?.logs).toContain('local-stack/stack.sh status');
    expect({ sent: report.sent, produced: report.produced, stored: report.stored, served: report.served })
      .toEqual({ sent: 20, produced: 0, stored: 0, served: 0 });
    // The topic and the buckets were created before OpenSearch was found missing.
    expect(await leftovers(report.marker)).toEqual([]);
  }, 5 * 60_000);
});
