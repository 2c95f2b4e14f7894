/**
 * Privacy at ingest (SPEC §6, docs/privacy.md): pseudonymous user IDs and the erasure rule.
 *
 * Pure: the key and the erasure record are arguments; loading them (Secrets Manager, S3, the
 * local key file) is `privacy-source.ts`'s job.
 *
 * - `userIdHash(key, id)` is HMAC-SHA-256 of the UTF-8 user ID under the UTF-8 key, as 64
 *   lower-case hex digits. It is both the pseudonym (with pseudonymization on, the stored
 *   `user_id`) and the keyed hash the erasure record keeps instead of the clear ID.
 * - The erasure record lists keyed hashes with the time each user was erased. An event of an
 *   erased user whose event time is before that time is dropped at ingest (a redelivery or a
 *   message still in the topic); an event after it is a new visit and is kept. A quarantined
 *   message is dropped by the same rule when its value is a JSON object whose `user_id` (or
 *   `userId`) is an erased user's, with the Kafka record's timestamp as its time.
 */
import { createHmac } from 'crypto';

/** Key of the erasure record in the raw bucket. */
export const DEFAULT_ERASURE_RECORD_KEY = 'erasure/erased-users.json';

/** Shortest key accepted: 32 characters (the stack generates 64, the local key file 64 hex digits). */
export const MIN_KEY_CHARS = 32;
/** Distinct user IDs whose hash one warm function keeps (about 150 bytes each). */
export const DEFAULT_HASH_CACHE_SIZE = 50_000;

const HASH = /^[0-9a-f]{64}$/;

/** HMAC-SHA-256 of `userId` under `key`, hex. Same user and key, same value: counts are unchanged. */
export function userIdHash(key: string, userId: string): string {
  return createHmac('sha256', key).update(userId, 'utf8').digest('hex');
}

/** Checks a key read from the secret or the local key file; the message never contains the key. */
export function checkedKey(key: string, source: string): string {
  const trimmed = key.trim();
  if (trimmed.length < MIN_KEY_CHARS) {
    throw new Error(`the pseudonymization key from ${source} is shorter than ${MIN_KEY_CHARS} characters`);
  }
  return trimmed;
}

/** One erased user: keyed hash, and when the erasure was requested (ISO-8601 UTC). */
export interface ErasureEntry {
  readonly hash: string;
  readonly erased_at: string;
}

/** The erasure record: `erasure/erased-users.json` in the raw bucket (docs/privacy.md). */
export interface ErasureRecord {
  readonly version: 1;
  readonly entries: readonly ErasureEntry[];
}

export const EMPTY_ERASURE_RECORD: ErasureRecord = { version: 1, entries: [] };

/** Parses and validates the record's text; throws naming what is wrong (never a partial record). */
export function parseErasureRecord(text: string): ErasureRecord {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('the erasure record is not JSON');
  }
  if (raw === null || typeof raw !== 'object' || raw.version !== 1 || !Array.isArray(raw.entries)) {
    throw new Error('the erasure record must be {"version": 1, "entries": [...]}');
  }
  const entries: ErasureEntry[] = raw.entries.map((entry: any, i: number) => {
    if (typeof entry?.hash !== 'string' || !HASH.test(entry.hash)) {
      throw new Error(`erasure record entry ${i}: hash must be 64 lower-case hex digits`);
    }
    if (typeof entry.erased_at !== 'string' || Number.isNaN(Date.parse(entry.erased_at))) {
      throw new Error(`erasure record entry ${i}: erased_at must be an ISO-8601 time`);
    }
    return { hash: entry.hash, erased_at: new Date(entry.erased_at).toISOString() };
  });
  return { version: 1, entries };
}

/**
 * The record with `hashes` erased at `erasedAt`. A user erased again keeps the later time
 * (events between the two erasures are erased too). Entries sorted by hash: the same erasures
 * always give the same bytes.
 */
export function withErasures(record: ErasureRecord, hashes: Iterable<string>, erasedAt: Date): ErasureRecord {
  const at = erasedAt.toISOString();
  const byHash = new Map(record.entries.map((e) => [e.hash, e.erased_at]));
  for (const hash of hashes) {
    if (!HASH.test(hash)) throw new Error(`not a keyed hash (64 lower-case hex digits): ${JSON.stringify(hash)}`);
    const previous = byHash.get(hash);
    if (previous === undefined || previous < at) byHash.set(hash, at);
  }
  const entries = [...byHash].sort(([a], [b]) => (a < b ? -1 : 1)).map(([hash, erased_at]) => ({ hash, erased_at }));
  return { version: 1, entries };
}

/** What the ingest core asks about each message's user (IngestCoreConfig.userIds). */
export interface UserIdPolicy {
  /** The `user_id` to store for a valid event at `eventTimeMs`, or null to drop it (an erased user's). */
  storedUserId(userId: string, eventTimeMs: number): string | null;
  /** Whether a quarantined message must be dropped: its parsed value names an erased user and its
   *  Kafka timestamp is before the erasure. */
  dropsQuarantined(parsedValue: unknown, kafkaTimestampMs: number): boolean;
}

export interface UserIdPolicyOptions {
  /** The key; required when `pseudonymize` is on or the record has entries. */
  readonly key?: string;
  /** Store the pseudonym instead of the user ID. @default false */
  readonly pseudonymize?: boolean;
  /** @default EMPTY_ERASURE_RECORD */
  readonly erasures?: ErasureRecord;
  /** Distinct user IDs whose hash is remembered. @default DEFAULT_HASH_CACHE_SIZE */
  readonly cacheSize?: number;
}

/** The policy for one batch. Undefined when it would change nothing (no pseudonyms, no erasures). */
export function userIdPolicy(options: UserIdPolicyOptions, cache: Map<string, string> = new Map()): UserIdPolicy | undefined {
  const pseudonymize = options.pseudonymize ?? false;
  const erasedAt = new Map((options.erasures ?? EMPTY_ERASURE_RECORD).entries.map((e) => [e.hash, Date.parse(e.erased_at)]));
  if (!pseudonymize && erasedAt.size === 0) return undefined;
  if (options.key === undefined) throw new Error('pseudonymization or erasures need the key, and none was loaded');
  const key = options.key;
  const cacheSize = options.cacheSize ?? DEFAULT_HASH_CACHE_SIZE;
  const hashOf = (userId: string): string => {
    let hash = cache.get(userId);
    if (hash === undefined) {
      hash = userIdHash(key, userId);
      // Simple bound: start over when full (a batch has far fewer users than the bound).
      if (cache.size >= cacheSize) cache.clear();
      cache.set(userId, hash);
    }
    return hash;
  };
  const erased = (hash: string, timeMs: number): boolean => {
    const at = erasedAt.get(hash);
    return at !== undefined && timeMs < at;
  };
  return {
    storedUserId(userId, eventTimeMs) {
      const hash = hashOf(userId);
      if (erasedAt.size > 0 && erased(hash, eventTimeMs)) return null;
      return pseudonymize ? hash : userId;
    },
    dropsQuarantined(parsedValue, kafkaTimestampMs) {
      if (erasedAt.size === 0) return false;
      if (parsedValue === null || typeof parsedValue !== 'object' || Array.isArray(parsedValue)) return false;
      const value = parsedValue as Record<string, unknown>;
      for (const field of ['user_id', 'userId']) {
        const id = value[field];
        if (typeof id === 'string' && id !== '' && erased(hashOf(id), kafkaTimestampMs)) return true;
      }
      return false;
    },
  };
}
