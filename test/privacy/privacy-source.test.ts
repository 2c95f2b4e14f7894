/**
 * lambdas/ingest/privacy-source.ts: the key loaded once, the erasure record cached with a TTL,
 * failures that fail the batch instead of storing an erased user's events.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { fileKeyLoader, PrivacySource, privacySourceFromEnv, readErasureRecord, secretKeyLoader } from '../../lambdas/ingest/privacy-source';
import { EMPTY_ERASURE_RECORD, userIdHash, withErasures } from '../../lambdas/ingest/pseudonymize';

const KEY = 'K'.repeat(64);
const T0 = Date.parse('2026-11-20T10:00:00.000Z');
const s3Mock = mockClient(S3Client);
/** What the handler uses of a GetObject body. */
const body = (text: string) => ({ transformToString: async () => text });
const noSuchKey = () => Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
const record = (ids: string[]) => JSON.stringify(withErasures(EMPTY_ERASURE_RECORD, ids.map((id) => userIdHash(KEY, id)), new Date(T0)));

beforeEach(() => s3Mock.reset());

function source(options: Partial<ConstructorParameters<typeof PrivacySource>[0]> = {}) {
  let keyLoads = 0;
  let clock = 0;
  const src = new PrivacySource({
    s3: new S3Client({}), bucket: 'raw', recordKey: 'erasure/erased-users.json', ttlMs: 60_000, pseudonymize: false,
    loadKey: async () => { keyLoads++; return KEY; }, now: () => clock, ...options,
  });
  return { src, keyLoads: () => keyLoads, advance: (ms: number) => { clock += ms; } };
}

describe('readErasureRecord', () => {
  it('reads a missing record as empty', async () => {
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    await expect(readErasureRecord(new S3Client({}), 'raw', 'erasure/erased-users.json')).resolves.toEqual(EMPTY_ERASURE_RECORD);
  });

  it('fails on access denied (it must not read as "nobody erased")', async () => {
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(readErasureRecord(new S3Client({}), 'raw', 'k')).rejects.toThrow('Access Denied');
  });
});

describe('PrivacySource', () => {
  it('gives no policy and loads no key when pseudonymization is off and nobody was erased', async () => {
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const { src, keyLoads } = source();
    await expect(src.policy()).resolves.toBeUndefined();
    expect(keyLoads()).toBe(0);
  });

  it('loads the key once per cold start, however many batches', async () => {
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const { src, keyLoads, advance } = source({ pseudonymize: true });
    for (let i = 0; i < 3; i++) {
      expect((await src.policy())!.storedUserId('bob', T0)).toBe(userIdHash(KEY, 'bob'));
      advance(120_000);
    }
    expect(keyLoads()).toBe(1);
  });

  it('re-reads the erasure record only after the TTL, and then applies the new erasures', async () => {
    s3Mock.on(GetObjectCommand).resolvesOnce({ Body: body(record([])) } as any).resolves({ Body: body(record(['alice'])) } as any);
    const { src, advance } = source();
    expect(await src.policy()).toBeUndefined();
    advance(59_000);
    expect(await src.policy()).toBeUndefined();
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    advance(1_000);
    const policy = await src.policy();
    expect(policy!.storedUserId('alice', T0 - 1)).toBeNull();
    expect(policy!.storedUserId('bob', T0 - 1)).toBe('bob');
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  it('fails the batch when the record cannot be read and none is cached', async () => {
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
    const { src } = source();
    await expect(src.policy()).rejects.toThrow('cannot read the erasure record s3://raw/erasure/erased-users.json: slow down');
  });

  it('keeps using the cached record when a re-read fails', async () => {
    s3Mock.on(GetObjectCommand).resolvesOnce({ Body: body(record(['alice'])) } as any).rejects(new Error('network'));
    const { src, advance } = source();
    await src.policy();
    advance(61_000);
    expect((await src.policy())!.storedUserId('alice', T0 - 1)).toBeNull();
  });

  it('fails when the record lists erasures but no key is configured', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: body(record(['alice'])) } as any);
    const { src } = source({ loadKey: undefined });
    await expect(src.policy()).rejects.toThrow('no key is configured');
  });

  it('fails at construction when pseudonymization is on without a key source', () => {
    expect(() => source({ pseudonymize: true, loadKey: undefined })).toThrow('PSEUDONYMIZE_USER_IDS is true but neither');
  });
});

describe('key loaders', () => {
  it('read the key from Secrets Manager', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand, { SecretId: 'arn:secret' }).resolves({ SecretString: KEY });
    await expect(secretKeyLoader('arn:secret', new SecretsManagerClient({}))()).resolves.toBe(KEY);
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(secretKeyLoader('arn:other', new SecretsManagerClient({}))()).rejects.toThrow('has no SecretString');
    sm.restore();
  });

  it('read the key from a local key file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'privacy-')), 'key');
    writeFileSync(file, `${KEY}\n`);
    await expect(fileKeyLoader(file)()).resolves.toBe(KEY);
  });
});

describe('privacySourceFromEnv', () => {
  it('fails when PSEUDONYMIZE_USER_IDS is not true or false', () => {
    expect(() => privacySourceFromEnv({ PSEUDONYMIZE_USER_IDS: 'yes' }, new S3Client({}), 'raw')).toThrow('must be true or false, got "yes"');
  });

  it('fails when the TTL is out of range', () => {
    expect(() => privacySourceFromEnv({ ERASURE_RECORD_TTL_SECONDS: '-1' }, new S3Client({}), 'raw')).toThrow('ERASURE_RECORD_TTL_SECONDS');
  });

  it('reads the key file when no secret ARN is set', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'privacy-')), 'key');
    writeFileSync(file, KEY);
    s3Mock.on(GetObjectCommand).rejects(noSuchKey());
    const src = privacySourceFromEnv({ PSEUDONYMIZE_USER_IDS: 'true', PRIVACY_KEY_FILE: file }, new S3Client({}), 'raw');
    expect((await src.policy())!.storedUserId('bob', T0)).toBe(userIdHash(KEY, 'bob'));
  });
});
