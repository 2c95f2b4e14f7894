/**
 * Where the ingest function gets what `pseudonymize.ts` needs (docs/privacy.md):
 *
 * - the key: from AWS Secrets Manager (`PRIVACY_KEY_SECRET_ARN`) or, locally, from the generated
 *   key file (`PRIVACY_KEY_FILE`); read once per cold start, only when needed, never logged;
 * - the erasure record: `ERASURE_RECORD_KEY` in `RAW_BUCKET`, read again at most every
 *   `ERASURE_RECORD_TTL_SECONDS` (default 60). A missing object is an empty record. When it cannot
 *   be read and no copy is cached, the batch fails (and is retried): ingest never stores a batch
 *   without knowing who was erased.
 *
 * Environment (set by lib/ingest.ts, or by the local ingest stage):
 *   PSEUDONYMIZE_USER_IDS       `true` stores pseudonyms; default `false`
 *   PRIVACY_KEY_SECRET_ARN      the secret holding the key (AWS)
 *   PRIVACY_KEY_FILE            a file holding the key (local); used when no secret ARN is set
 *   ERASURE_RECORD_KEY          default `erasure/erased-users.json`
 *   ERASURE_RECORD_TTL_SECONDS  0..3600, default 60
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'fs';
import { checkedKey, DEFAULT_ERASURE_RECORD_KEY, EMPTY_ERASURE_RECORD, parseErasureRecord, userIdPolicy, type ErasureRecord, type UserIdPolicy } from './pseudonymize';

export { DEFAULT_ERASURE_RECORD_KEY };
export const DEFAULT_ERASURE_RECORD_TTL_SECONDS = 60;

/** Loads the key; called at most once per successful load. */
export type KeyLoader = () => Promise<string>;

export interface PrivacySourceOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly recordKey: string;
  readonly ttlMs: number;
  readonly pseudonymize: boolean;
  /** Undefined when no key is configured: then neither pseudonymization nor erasures can work. */
  readonly loadKey?: KeyLoader;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The user ID policy for each batch, with the key and the erasure record cached. */
export class PrivacySource {
  private key?: string;
  private record?: ErasureRecord;
  private recordReadAt = -Infinity;
  /** Hashes under the loaded key, shared by every batch of this cold start. */
  private readonly hashes = new Map<string, string>();

  constructor(private readonly options: PrivacySourceOptions) {
    if (options.pseudonymize && options.loadKey === undefined) {
      throw new Error('PSEUDONYMIZE_USER_IDS is true but neither PRIVACY_KEY_SECRET_ARN nor PRIVACY_KEY_FILE is set');
    }
  }

  /** The policy for the next batch, or undefined when user IDs pass through unchanged. */
  async policy(): Promise<UserIdPolicy | undefined> {
    const erasures = await this.erasures();
    if (!this.options.pseudonymize && erasures.entries.length === 0) return undefined;
    if (this.key === undefined) {
      if (this.options.loadKey === undefined) {
        throw new Error('the erasure record lists erased users but no key is configured (PRIVACY_KEY_SECRET_ARN or PRIVACY_KEY_FILE)');
      }
      this.key = await this.options.loadKey();
    }
    return userIdPolicy({ key: this.key, pseudonymize: this.options.pseudonymize, erasures }, this.hashes);
  }

  private async erasures(): Promise<ErasureRecord> {
    const now = (this.options.now ?? Date.now)();
    if (this.record !== undefined && now - this.recordReadAt < this.options.ttlMs) return this.record;
    try {
      this.record = await readErasureRecord(this.options.s3, this.options.bucket, this.options.recordKey);
      this.recordReadAt = now;
    } catch (error) {
      // A stale copy is better than no ingest at all; without one, fail the batch (it is retried).
      if (this.record === undefined) {
        throw new Error(`cannot read the erasure record s3://${this.options.bucket}/${this.options.recordKey}: ${(error as Error).message}`,
          { cause: error });
      }
    }
    return this.record;
  }
}

/** The erasure record in S3; a missing object is the empty record. */
export async function readErasureRecord(s3: S3Client, bucket: string, key: string): Promise<ErasureRecord> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return parseErasureRecord(await response.Body!.transformToString('utf8'));
  } catch (error: any) {
    if (error?.name === 'NoSuchKey' || error?.$metadata?.httpStatusCode === 404) return EMPTY_ERASURE_RECORD;
    throw error;
  }
}

/** The key from Secrets Manager (a SecretString). */
export function secretKeyLoader(secretArn: string, client: SecretsManagerClient = new SecretsManagerClient({})): KeyLoader {
  return async () => {
    const secret = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (typeof secret.SecretString !== 'string') throw new Error(`the secret ${secretArn} has no SecretString`);
    return checkedKey(secret.SecretString, `the secret ${secretArn}`);
  };
}

/** The key from a local file (the local stack's generated key). */
export function fileKeyLoader(path: string): KeyLoader {
  return async () => checkedKey(readFileSync(path, 'utf8'), path);
}

function ttlFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.ERASURE_RECORD_TTL_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_ERASURE_RECORD_TTL_SECONDS * 1000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 3600) {
    throw new Error(`environment variable ERASURE_RECORD_TTL_SECONDS must be an integer from 0 to 3600, got ${JSON.stringify(raw)}`);
  }
  return value * 1000;
}

/** The source as the deployed function (or the local ingest stage) gets it: from its environment. */
export function privacySourceFromEnv(env: NodeJS.ProcessEnv, s3: S3Client, bucket: string): PrivacySource {
  const flag = env.PSEUDONYMIZE_USER_IDS ?? '';
  if (!['', 'true', 'false'].includes(flag)) {
    throw new Error(`environment variable PSEUDONYMIZE_USER_IDS must be true or false, got ${JSON.stringify(flag)}`);
  }
  const loadKey = env.PRIVACY_KEY_SECRET_ARN ? secretKeyLoader(env.PRIVACY_KEY_SECRET_ARN)
    : env.PRIVACY_KEY_FILE ? fileKeyLoader(env.PRIVACY_KEY_FILE) : undefined;
  return new PrivacySource({
    s3,
    bucket,
    recordKey: env.ERASURE_RECORD_KEY || DEFAULT_ERASURE_RECORD_KEY,
    ttlMs: ttlFromEnv(env),
    pseudonymize: flag === 'true',
    loadKey,
  });
}
