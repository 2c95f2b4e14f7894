/**
 * scripts/erase.ts with mocked AWS clients (there is no local Glue): arguments, keyed hashes only
 * in everything written, the erasure record merged, the Glue run in erasure mode, the report per
 * ID (not found is not an error), a failed run asks for a re-run.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetJobRunCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EMPTY_ERASURE_RECORD, userIdHash, withErasures } from '../../lambdas/ingest/pseudonymize';
import {
  eraseInAws, eraseLocally, formatReport, hashesByUser, newRequestId, parseEraseArguments, type AwsEraseDeps, type ErasureReport,
} from '../../scripts/erase';
import { UsageError } from '../../scripts/job-start';

const KEY = 'c'.repeat(64);
const OLD_KEY = 'o'.repeat(64);
const NOW = Date.parse('2026-12-01T11:30:00.000Z');
const REQUEST_ID = '20261201T113000Z-0a0b0c0d';

const s3 = mockClient(S3Client);
const glue = mockClient(GlueClient);
const secrets = mockClient(SecretsManagerClient);
const cfn = mockClient(CloudFormationClient);
const text = (t: string) => ({ Body: { transformToString: async () => t } }) as any;
const notFound = (name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });

function report(byHash: ErasureReport['by_hash']): ErasureReport {
  return {
    request_id: REQUEST_ID, objects_scanned: 40, objects_rewritten: 3, events_removed: 7, quarantine_lines_removed: 1,
    dates_recomputed: ['2026-11-29', '2026-11-30'], by_hash: byHash, completed_at: '2026-12-01T11:40:00.000Z',
  };
}

beforeEach(() => {
  for (const m of [s3, glue, secrets, cfn]) m.reset();
  cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [
    { OutputKey: 'RawEventsBucketName', OutputValue: 'raw-bucket' },
    { OutputKey: 'GlueJobName', OutputValue: 'S-aggregate-clicks' },
    { OutputKey: 'PrivacyKeySecretArn', OutputValue: 'arn:aws:secretsmanager:eu-west-1:1:secret:S/privacy-key' },
  ] }] });
  secrets.on(GetSecretValueCommand).resolves({ SecretString: KEY });
  secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(notFound('ResourceNotFoundException'));
  s3.on(GetObjectCommand, { Key: 'erasure/erased-users.json' }).rejects(notFound('NoSuchKey'));
  s3.on(PutObjectCommand).resolves({});
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  glue.on(GetJobRunCommand).resolves({ JobRun: { JobRunState: 'SUCCEEDED', ExecutionTime: 300 } });
});

function deps(lines: string[], overrides: Partial<AwsEraseDeps> = {}): AwsEraseDeps {
  return {
    s3: new S3Client({}), glue: new GlueClient({}), secrets: new SecretsManagerClient({}), cfn: new CloudFormationClient({}),
    log: (line) => lines.push(line), sleep: async () => undefined, now: () => NOW, random: () => '0a0b0c0d', ...overrides,
  };
}

const putBody = (key: string) => {
  const call = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === key);
  return call === undefined ? undefined : String(call.args[0].input.Body);
};

describe('parseEraseArguments', () => {
  it('takes repeated --user-id and a --file of one ID per line, without duplicates', () => {
    const options = parseEraseArguments(['--user-id', 'alice', '--file', 'ids.txt', '--user-id=bob'], {}, () => 'carol\r\n\nalice\n  dave  \n');
    expect(options.userIds).toEqual(['alice', 'carol', '  dave  ', 'bob']);
    expect(options).toMatchObject({ local: false, stack: 'ClickstreamPipelineStack', waitMinutes: 180, settleSeconds: 60 });
  });

  it('fails when no ID is given, an ID is too long, or the file cannot be read (without echoing the ID)', () => {
    expect(() => parseEraseArguments([], {})).toThrow(UsageError);
    expect(() => parseEraseArguments([], {})).toThrow('no user ID given');
    const long = 'x'.repeat(257);
    expect(() => parseEraseArguments(['--user-id', long], {})).toThrow('user ID number 1 is empty or longer than 256 characters');
    try { parseEraseArguments(['--user-id', long], {}); } catch (e) { expect(String(e)).not.toContain(long); }
    expect(() => parseEraseArguments(['--file', 'missing.txt'], {}, () => { throw new Error('ENOENT'); })).toThrow('--file: cannot read missing.txt: ENOENT');
    expect(() => parseEraseArguments(['--user-id', 'a', '--bogus'], {})).toThrow('unknown argument --bogus');
  });

  it('reads the stack name from CLICKSTREAM_STACK and --local', () => {
    expect(parseEraseArguments(['--user-id', 'a', '--local'], { CLICKSTREAM_STACK: 'Mine' })).toMatchObject({ stack: 'Mine', local: true });
  });
});

describe('hashes and the report', () => {
  it('hashes every ID under every key version', () => {
    const hashes = hashesByUser(['alice'], [KEY, OLD_KEY]);
    expect(hashes.get('alice')).toEqual([userIdHash(KEY, 'alice'), userIdHash(OLD_KEY, 'alice')]);
  });

  it('reports per ID, summing its key versions, and reports an ID with nothing stored as not found', () => {
    const hashes = hashesByUser(['alice', 'zed'], [KEY, OLD_KEY]);
    const lines = formatReport(report({
      [userIdHash(KEY, 'alice')]: { events: 5, quarantine_lines: 1 },
      [userIdHash(OLD_KEY, 'alice')]: { events: 2, quarantine_lines: 0 },
    }), hashes);
    expect(lines).toContain('  alice: 7 events, 1 quarantine lines removed');
    expect(lines).toContain('  zed: not found (nothing stored)');
    expect(lines).toContain('  dates recomputed (2): 2026-11-29, 2026-11-30');
  });

  it('makes request ids that sort by time', () => {
    expect(newRequestId(new Date(NOW), () => '0a0b0c0d')).toBe(REQUEST_ID);
  });
});

describe('eraseInAws', () => {
  it('records keyed hashes, starts the job in erasure mode, waits, and prints the report', async () => {
    const h = userIdHash(KEY, 'alice');
    s3.on(GetObjectCommand, { Key: `erasure/reports/${REQUEST_ID}.json` }).resolves(text(JSON.stringify(report({ [h]: { events: 7, quarantine_lines: 1 } }))));
    const lines: string[] = [];
    const slept: number[] = [];
    const options = parseEraseArguments(['--user-id', 'alice', '--user-id', 'nobody'], {});
    const code = await eraseInAws(options, deps(lines, { sleep: async (ms) => { slept.push(ms); } }));
    expect(code).toBe(0);

    // The record and the request: hashes only, never a clear ID.
    const record = JSON.parse(putBody('erasure/erased-users.json')!);
    expect(record).toEqual(withErasures(EMPTY_ERASURE_RECORD, [h, userIdHash(KEY, 'nobody')], new Date(NOW)));
    const request = JSON.parse(putBody(`erasure/requests/${REQUEST_ID}.json`)!);
    expect(request).toEqual({ request_id: REQUEST_ID, requested_at: '2026-12-01T11:30:00.000Z', hashes: [h, userIdHash(KEY, 'nobody')].sort() });
    for (const call of s3.commandCalls(PutObjectCommand)) {
      expect(String(call.args[0].input.Body)).not.toMatch(/alice|nobody/);
    }

    // The run: same job, erasure mode, after the ingest cache's TTL.
    expect(slept[0]).toBe(60_000);
    expect(glue.commandCalls(StartJobRunCommand)[0].args[0].input).toEqual({
      JobName: 'S-aggregate-clicks',
      Arguments: {
        '--mode': 'erase',
        '--erase_request': `s3://raw-bucket/erasure/requests/${REQUEST_ID}.json`,
        '--quarantine_uri': 's3://raw-bucket/quarantine',
        '--privacy_key_secret_id': 'arn:aws:secretsmanager:eu-west-1:1:secret:S/privacy-key',
      },
    });
    expect(JSON.stringify(glue.commandCalls(StartJobRunCommand)[0].args[0].input)).not.toMatch(/alice|nobody/);
    expect(lines).toContain('  alice: 7 events, 1 quarantine lines removed');
    expect(lines).toContain('  nobody: not found (nothing stored)');
  });

  it('merges into an existing erasure record and hashes under the previous key version too', async () => {
    const earlier = withErasures(EMPTY_ERASURE_RECORD, [userIdHash(KEY, 'bob')], new Date('2026-11-01T00:00:00Z'));
    s3.on(GetObjectCommand, { Key: 'erasure/erased-users.json' }).resolves(text(JSON.stringify(earlier)));
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: OLD_KEY });
    s3.on(GetObjectCommand, { Key: `erasure/reports/${REQUEST_ID}.json` }).resolves(text(JSON.stringify(report({}))));
    await eraseInAws(parseEraseArguments(['--user-id', 'alice'], {}), deps([]));
    const record = JSON.parse(putBody('erasure/erased-users.json')!);
    expect(record.entries.map((e: any) => e.hash).sort()).toEqual([userIdHash(KEY, 'bob'), userIdHash(KEY, 'alice'), userIdHash(OLD_KEY, 'alice')].sort());
    expect(record.entries.find((e: any) => e.hash === userIdHash(KEY, 'bob')).erased_at).toBe('2026-11-01T00:00:00.000Z');
  });

  it('uses given names instead of the stack outputs', async () => {
    s3.on(GetObjectCommand, { Key: `erasure/reports/${REQUEST_ID}.json` }).resolves(text(JSON.stringify(report({}))));
    const options = parseEraseArguments(['--user-id', 'a', '--raw-bucket', 'b2', '--job-name', 'j2', '--secret-id', 's2', '--settle-seconds', '0'], {});
    await eraseInAws(options, deps([]));
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(glue.commandCalls(StartJobRunCommand)[0].args[0].input.JobName).toBe('j2');
    expect(secrets.commandCalls(GetSecretValueCommand)[0].args[0].input.SecretId).toBe('s2');
  });

  it('fails with exit code 1 and asks for a re-run when the run fails; the record is already written', async () => {
    glue.on(GetJobRunCommand).resolves({ JobRun: { JobRunState: 'FAILED', ErrorMessage: 'boom' } });
    const lines: string[] = [];
    expect(await eraseInAws(parseEraseArguments(['--user-id', 'alice'], {}), deps(lines))).toBe(1);
    expect(lines.join('\n')).toContain('run the same command again');
    expect(putBody('erasure/erased-users.json')).toBeDefined();
    expect(s3.commandCalls(GetObjectCommand).some((c) => String(c.args[0].input.Key).startsWith('erasure/reports/'))).toBe(false);
  });

  it('fails when the stack lacks an output, naming the flag', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    await expect(eraseInAws(parseEraseArguments(['--user-id', 'a'], {}), deps([]))).rejects.toThrow('has no output RawEventsBucketName; pass --raw-bucket');
  });
});

describe('eraseLocally', () => {
  it('runs the job on local Spark with the request and the key file, re-indexes, and prints the report', async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'erase-')), 'privacy-key');
    writeFileSync(keyFile, KEY);
    s3.on(GetObjectCommand, { Key: `erasure/reports/${REQUEST_ID}.json` }).resolves(text(JSON.stringify(report({}))));
    const jobs: (readonly string[])[] = [];
    let reindexed: readonly string[] = [];
    const lines: string[] = [];
    const code = await eraseLocally(parseEraseArguments(['--user-id', 'alice', '--local'], {}), {
      s3: new S3Client({}), rawBucket: 'clickstream-raw', keyFile, log: (l) => lines.push(l), now: () => NOW, random: () => '0a0b0c0d',
      runJob: async (args) => { jobs.push(args); }, reindex: async (dates) => { reindexed = dates; },
    });
    expect(code).toBe(0);
    expect(jobs).toEqual([['--mode', 'erase', '--erase_request', `s3a://clickstream-raw/erasure/requests/${REQUEST_ID}.json`,
      '--quarantine_uri', 's3a://clickstream-raw/quarantine', '--privacy_key_file', keyFile]]);
    expect(reindexed).toEqual(['2026-11-29', '2026-11-30']);
    expect(lines).toContain('  alice: not found (nothing stored)');
  });
});
