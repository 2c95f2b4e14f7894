/**
 * The ingest core: one MSK batch in, the raw-zone objects to write out (SPEC §2).
 *
 * Pure: no I/O, no clients; the only impurity is the clock, which is an argument and is read
 * for a Kafka record without a valid timestamp (never the case on MSK, see docs/ingest.md) and,
 * with a maximum event age, once per batch. The same batch therefore yields byte-identical
 * objects under identical keys (unless a redelivery crosses the maximum age), which is what makes
 * a redelivered batch overwrite instead of duplicate.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { isUtf8 } from 'buffer';
import { gzipSync } from 'zlib';
import { canonicalize, Rejection, type CanonicalOptions, type CanonicalRecord, type KafkaCoordinates } from './canonical';
import { sharedEnricher, type Enricher } from './enrich';
import type { RejectionReason } from './reasons';
import type { UserIdPolicy } from './pseudonymize';
import { formatIsoMillis, MAX_TIME_MS } from './timestamp';

export type RawObjectKind = 'events' | 'quarantine';

/** Default key prefix of the partition change log (docs/operations.md, "Data safety"). */
export const DEFAULT_CHANGE_LOG_PREFIX = 'changes/';
const DAY_MS = 24 * 60 * 60 * 1000;
/** Largest accepted maximum event age: far beyond any raw retention. */
export const MAX_EVENT_AGE_DAYS_LIMIT = 36500;

/** gzip level of the raw objects. Level 3 compresses the canonical output in under half the CPU
 *  of zlib's default 6 for objects about 15 % larger; the decision and its arithmetic are in
 *  docs/ingest.md §7 (`GZIP_LEVEL=6` for a deployment that prefers the smaller raw zone). */
export const DEFAULT_GZIP_LEVEL = 3;

/** One object to write to the raw bucket. */
export interface RawObject {
  /** Bucket-relative key, e.g. `events/dt=2024-05-01/hr=13/clickstream-0-100-199.ndjson.gz`. */
  readonly key: string;
  /** gzip-compressed newline-delimited JSON, one line per record, each line ending in `\n`. */
  readonly body: Buffer;
  readonly recordCount: number;
  readonly kind: RawObjectKind;
  readonly topic: string;
  readonly partition: number;
  /** Smallest and largest Kafka offset of the records in this object. */
  readonly firstOffset: number;
  readonly lastOffset: number;
}

export interface IngestCoreConfig {
  /** Key prefix of canonical events. @default 'events/' */
  readonly eventsPrefix?: string;
  /** Key prefix of quarantined messages. @default 'quarantine/' */
  readonly quarantinePrefix?: string;
  /** Wall clock (epoch ms); only read for a Kafka record without a valid timestamp. @default Date.now */
  readonly now?: () => number;
  /** zlib level of the gzip bodies (1 fastest .. 9 smallest). @default DEFAULT_GZIP_LEVEL */
  readonly gzipLevel?: number;
  /**
   * Computes the SPEC §2 enrichment fields; its caches should outlive one invocation. `null`
   * stores records without the enrichment fields: for the benchmark's measurement of what
   * enrichment costs, never for a deployed function.
   * @default sharedEnricher (one per process, so its caches last as long as the Lambda container)
   */
  readonly enricher?: Enricher | null;
  /** Privacy (docs/privacy.md, pseudonymize.ts): the `user_id` to store (the pseudonym) or null to
   *  drop an erased user's message. @default user IDs stored as received, nothing dropped */
  readonly userIds?: UserIdPolicy;
  /**
   * Events whose `ts` is more than this many days before `now()` (read once per batch) are
   * quarantined as `timestamp_older_than_max_age` instead of stored: their date's raw data may
   * already have expired, and storing them would make the job recompute that date from a partial
   * input. Set below the raw zone's expiry (lib/config.ts checks it; docs/operations.md "Data safety").
   * @default no maximum (raw events never expire)
   */
  readonly maxEventAgeDays?: number;
  /** Key prefix of the partition change log: one small JSON object per (Kafka partition, event
   *  date) of the batch that stored events, written after the events (`IngestResult.changes`).
   *  The deployed function always has one (lib/ingest.ts sets DEFAULT_CHANGE_LOG_PREFIX).
   *  @default none: no change log (`changes` is empty) */
  readonly changeLogPrefix?: string;
}

/** One entry of the partition change log: which raw partitions a batch wrote to, for one event date. */
export interface ChangeLogEntry {
  /** `<changeLogPrefix>dt=<date>/<topic>-<partition>-<firstOffset>-<lastOffset>.json`: a pure function
   *  of the records, like the events keys, so a redelivered batch overwrites its entry. */
  readonly key: string;
  /** JSON (one object and a newline): `date`, `partitions` (`dt=…/hr=…`), `objects` (the events keys),
   *  `topic`, `partition`, `first_offset`, `last_offset`, `records`. */
  readonly body: Buffer;
  readonly date: string;
}

export interface IngestResult {
  /** Objects sorted by key. */
  readonly objects: RawObject[];
  /** Change-log entries for the events objects, sorted by key: written only after every object
   *  (empty without `changeLogPrefix`). */
  readonly changes: ChangeLogEntry[];
  readonly recordsIn: number;
  readonly recordsStored: number;
  readonly recordsQuarantined: number;
  /** Messages of erased users dropped by `userIds` (stored nowhere). */
  readonly recordsErased: number;
  /** Quarantined records per reason; only reasons that occurred are present. */
  readonly quarantinedByReason: Partial<Record<RejectionReason, number>>;
  /** Bytes of the decoded message values (what the producers sent). */
  readonly valueBytesIn: number;
}

/** One line of a quarantine object (SPEC §2, plus `field`, `detail` and `key` for the operator). */
export interface QuarantineLine {
  readonly reason: RejectionReason;
  readonly field: string | null;
  readonly detail: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly kafka_timestamp: number;
  /** The Kafka message key, base64, as the event source delivered it; null when there is none. */
  readonly key: string | null;
  /** The original value: text when it is valid UTF-8, base64 otherwise, null for a tombstone. */
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64' | null;
}

interface Group {
  readonly kind: RawObjectKind;
  readonly prefix: string;
  readonly topic: string;
  readonly partition: number;
  /** Canonical records (kind `events`) or quarantine lines, serialized when the body is built. */
  readonly lines: (CanonicalRecord | QuarantineLine)[];
  firstOffset: number;
  lastOffset: number;
}

/** Kafka's legal topic characters; anything else could not come from a broker and would break keys. */
const KAFKA_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const UTF8_BOM = '\ufeff';
const TOMBSTONE = new Rejection('null_value', null, 'the record has no value (tombstone)');
const INVALID_UTF8 = new Rejection('invalid_utf8', null, 'the value is not valid UTF-8');
const INVALID_JSON = new Rejection('invalid_json', null, 'the value is not JSON');

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Kafka uses -1 for "no timestamp"; anything after the year 9999 is not a usable timestamp either. */
function isValidKafkaTimestamp(ts: unknown): ts is number {
  return typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0 && ts <= MAX_TIME_MS;
}

/** The last topic name that passed the check: a batch has one or a few topics, not one per record. */
let lastCheckedTopic = '';

function assertRecordOrigin(record: MSKRecord, groupKey: string): void {
  if (record.topic !== lastCheckedTopic) {
    if (typeof record.topic !== 'string' || !KAFKA_TOPIC_NAME.test(record.topic)) {
      throw new Error(`MSK record in "${groupKey}" has an invalid topic name: ${JSON.stringify(record.topic)}`);
    }
    lastCheckedTopic = record.topic;
  }
  if (!Number.isSafeInteger(record.partition) || record.partition < 0) {
    throw new Error(`MSK record in "${groupKey}" has an invalid partition: ${JSON.stringify(record.partition)}`);
  }
  if (!Number.isSafeInteger(record.offset) || record.offset < 0) {
    throw new Error(`MSK record in "${groupKey}" has an invalid offset: ${JSON.stringify(record.offset)}`);
  }
}

/** Decoded message values land here, one after the other: a buffer per value would cost an
 *  allocation and a garbage-collected object for each of the batch's records. Grown on demand. */
let decodeBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * The bytes of a base64 value, as a view of `decodeBuffer` that the next call overwrites: callers
 * use it (decode it to text, or copy it into a quarantine line) before decoding the next value.
 */
function decodeBase64(value: string): Buffer {
  // Node's decoder skips characters outside the alphabet, so 3 bytes per 4 characters is an upper bound.
  const maxBytes = Math.ceil(value.length / 4) * 3;
  if (maxBytes > decodeBuffer.length) decodeBuffer = Buffer.allocUnsafe(Math.max(maxBytes, decodeBuffer.length * 2));
  const length = decodeBuffer.write(value, 0, 'base64');
  return decodeBuffer.subarray(0, length);
}

/** The ESM delivers a partition's records in offset order; a hand-built event may not, and the
 *  line order of a body must not depend on that, or a redelivery would change the bytes. */
function inOffsetOrder(records: MSKRecord[]): MSKRecord[] {
  for (let i = 1; i < records.length; i++) {
    if (records[i].offset < records[i - 1].offset) {
      return [...records].sort((a, b) => a.offset - b.offset);
    }
  }
  return records;
}

const EVENT_SEPARATOR = Buffer.from('},{"event_id":');
const QUARANTINE_SEPARATOR = Buffer.from('},{"reason":');

/**
 * Newline-delimited JSON of `lines` as UTF-8 bytes, each line exactly `JSON.stringify(line)`,
 * every line ending in `\n`. One `JSON.stringify` of the whole array costs about 40 % less CPU
 * than one call per line on V8 (docs/ingest.md), so the array is serialized once, encoded once,
 * and its top-level separators are turned into newlines in place: the `,` of each separator
 * becomes `\n` and the closing `]` the last `\n` (the result is a view without the leading `[`).
 * Working on the bytes saves building a second copy of the text (about 10 ms per 10,000 records,
 * docs/ingest.md §7). A separator is `},{"` followed by the first key of a line (`event_id` for a
 * canonical record, `reason` for a quarantine line; the nested `kafka` object starts with `topic`).
 * That text cannot occur inside a string value: JSON.stringify writes every `"` inside a string as
 * `\"`, so the `"` after `{` in the pattern is a structural quote opening a key, and the `}` and
 * `,` before it are structural too (had they been in a string, that quote would close it and be
 * followed by `event_id"`, which is not JSON). So it matches exactly between two lines; and in
 * UTF-8 no byte of a multi-byte character is ASCII, so the byte search finds exactly the same places.
 */
export function ndjson(lines: readonly (CanonicalRecord | QuarantineLine)[]): Buffer {
  if (lines.length === 0) return Buffer.alloc(0);
  const separator = 'event_id' in lines[0] ? EVENT_SEPARATOR : QUARANTINE_SEPARATOR;
  const bytes = Buffer.from(JSON.stringify(lines), 'utf8');
  for (let at = bytes.indexOf(separator, 1); at >= 0; at = bytes.indexOf(separator, at + separator.length)) {
    bytes[at + 1] = 0x0a;
  }
  bytes[bytes.length - 1] = 0x0a;
  return bytes.subarray(1);
}

/**
 * Turns an MSK batch into the objects to write. Every record ends up in exactly one object:
 * an `events` object (partitioned by the event's UTC date and hour) or a `quarantine` object
 * (partitioned by the UTC date of the Kafka record's timestamp, i.e. when the broker got it).
 *
 * Throws only when the event itself is impossible for Kafka (invalid topic name, negative
 * partition or offset): that is a bug upstream, not a bad message.
 */
export function buildRawObjects(event: MSKEvent, config: IngestCoreConfig = {}): IngestResult {
  const eventsPrefix = withSlash(config.eventsPrefix ?? 'events/');
  const quarantinePrefix = withSlash(config.quarantinePrefix ?? 'quarantine/');
  const now = config.now ?? Date.now;
  const canonicalOptions: CanonicalOptions = { enricher: config.enricher === undefined ? sharedEnricher : config.enricher };
  const groups = new Map<string, Group>();
  const quarantinedByReason: Partial<Record<RejectionReason, number>> = {};
  let recordsIn = 0;
  let recordsStored = 0;
  let recordsErased = 0;
  let valueBytesIn = 0;
  const userIds = config.userIds;
  // Events with a `ts` before this instant are too old (ISO strings of the same fixed format
  // compare like the instants, so no per-record parsing). '' when there is no maximum age.
  const maxAgeDays = config.maxEventAgeDays;
  if (maxAgeDays !== undefined && !(Number.isInteger(maxAgeDays) && maxAgeDays >= 1 && maxAgeDays <= MAX_EVENT_AGE_DAYS_LIMIT)) {
    throw new Error(`maxEventAgeDays must be an integer from 1 to ${MAX_EVENT_AGE_DAYS_LIMIT}, got ${maxAgeDays}`);
  }
  const oldestAllowedTs = maxAgeDays === undefined ? '' : formatIsoMillis(Math.max(0, now() - maxAgeDays * DAY_MS));
  const tooOld = maxAgeDays === undefined ? undefined : new Rejection('timestamp_older_than_max_age', 'timestamp',
    `timestamp is older than the maximum event age of ${maxAgeDays} days (before ${oldestAllowedTs})`);

  const groupFor = (kind: RawObjectKind, dateDir: string, coords: KafkaCoordinates): Group => {
    const groupKey = `${kind}/${dateDir}/${coords.topic}/${coords.partition}`;
    let group = groups.get(groupKey);
    if (group === undefined) {
      const prefix = `${kind === 'events' ? eventsPrefix : quarantinePrefix}${dateDir}/`;
      group = { kind, prefix, topic: coords.topic, partition: coords.partition, lines: [], firstOffset: coords.offset, lastOffset: coords.offset };
      groups.set(groupKey, group);
    }
    return group;
  };
  const addLine = (group: Group, offset: number, line: CanonicalRecord | QuarantineLine): void => {
    group.lines.push(line);
    if (offset < group.firstOffset) group.firstOffset = offset;
    if (offset > group.lastOffset) group.lastOffset = offset;
  };
  // Consecutive events of a partition mostly share their hour: remember the last events group
  // and the `YYYY-MM-DDTHH` it is for, instead of building and looking up its key per record.
  let lastEventsGroup: Group | undefined;
  let lastEventsHour = '';

  const quarantine = (coords: KafkaCoordinates, record: MSKRecord, rejection: Rejection, bytes: Buffer | null): void => {
    const date = formatIsoMillis(coords.timestamp).slice(0, 10);
    let value: string | null = null;
    let encoding: QuarantineLine['encoding'] = null;
    if (bytes !== null) {
      if (rejection.reason === 'invalid_utf8') {
        value = bytes.toString('base64');
        encoding = 'base64';
      } else {
        value = bytes.toString('utf8');
        encoding = 'utf8';
      }
    }
    const line: QuarantineLine = {
      reason: rejection.reason,
      field: rejection.field,
      detail: rejection.detail,
      topic: coords.topic,
      partition: coords.partition,
      offset: coords.offset,
      kafka_timestamp: coords.timestamp,
      key: typeof record.key === 'string' ? record.key : null,
      value,
      encoding,
    };
    quarantinedByReason[rejection.reason] = (quarantinedByReason[rejection.reason] ?? 0) + 1;
    addLine(groupFor('quarantine', `dt=${date}`, coords), coords.offset, line);
  };

  for (const groupKey of Object.keys(event.records ?? {})) {
    for (const record of inOffsetOrder(event.records[groupKey] ?? [])) {
      assertRecordOrigin(record, groupKey);
      recordsIn++;
      const kafkaTs = isValidKafkaTimestamp(record.timestamp) ? record.timestamp : now();
      const coords: KafkaCoordinates = { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: kafkaTs };

      if (typeof record.value !== 'string') {
        quarantine(coords, record, TOMBSTONE, null);
        continue;
      }
      const bytes = decodeBase64(record.value);
      valueBytesIn += bytes.length;
      if (!isUtf8(bytes)) {
        quarantine(coords, record, INVALID_UTF8, bytes);
        continue;
      }
      let text = bytes.toString('utf8');
      if (text.startsWith(UTF8_BOM)) text = text.slice(1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        quarantine(coords, record, INVALID_JSON, bytes);
        continue;
      }
      let result = canonicalize(parsed, coords, kafkaTs, canonicalOptions);
      if (tooOld !== undefined && !(result instanceof Rejection) && result.ts < oldestAllowedTs) result = tooOld;
      if (result instanceof Rejection) {
        if (userIds !== undefined && userIds.dropsQuarantined(parsed, kafkaTs)) {
          recordsErased++;
          continue;
        }
        quarantine(coords, record, result, bytes);
        continue;
      }
      let stored = result;
      if (userIds !== undefined) {
        const userId = userIds.storedUserId(result.user_id, Date.parse(result.ts));
        if (userId === null) {
          recordsErased++;
          continue;
        }
        if (userId !== result.user_id) stored = { ...result, user_id: userId };
      }
      const ts = result.ts;
      if (lastEventsGroup === undefined || lastEventsGroup.partition !== coords.partition ||
          lastEventsGroup.topic !== coords.topic || !ts.startsWith(lastEventsHour)) {
        lastEventsHour = ts.slice(0, 13);
        lastEventsGroup = groupFor('events', `dt=${ts.slice(0, 10)}/hr=${ts.slice(11, 13)}`, coords);
      }
      addLine(lastEventsGroup, coords.offset, stored);
      recordsStored++;
    }
  }

  const level = config.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  const objects: RawObject[] = [];
  for (const group of groups.values()) {
    objects.push({
      key: `${group.prefix}${group.topic}-${group.partition}-${group.firstOffset}-${group.lastOffset}.ndjson.gz`,
      body: gzipSync(ndjson(group.lines), { level }),
      recordCount: group.lines.length,
      kind: group.kind,
      topic: group.topic,
      partition: group.partition,
      firstOffset: group.firstOffset,
      lastOffset: group.lastOffset,
    });
  }
  objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  return {
    objects,
    changes: config.changeLogPrefix === undefined ? [] : changeLogEntries(objects, eventsPrefix, withSlash(config.changeLogPrefix)),
    recordsIn,
    recordsStored,
    recordsQuarantined: recordsIn - recordsStored - recordsErased,
    recordsErased,
    quarantinedByReason,
    valueBytesIn,
  };
}

/**
 * The change-log entries of a batch's events objects (`objects` sorted by key): one per (topic,
 * Kafka partition, event date), naming the `dt=/hr=` partitions and the objects written. The job
 * lists these keys to learn which dates changed, including dates older than its lookback window
 * (docs/operations.md, "Data safety"). Offsets in the key are those of the entry's objects, so the
 * key, like theirs, is a function of the records and a redelivery overwrites it with the same bytes.
 */
export function changeLogEntries(objects: readonly RawObject[], eventsPrefix: string, changeLogPrefix: string): ChangeLogEntry[] {
  interface Pending { date: string; topic: string; partition: number; first: number; last: number; records: number; partitions: string[]; objects: string[] }
  const byKey = new Map<string, Pending>();
  for (const object of objects) {
    if (object.kind !== 'events') continue;
    // `<eventsPrefix>dt=YYYY-MM-DD/hr=HH/<name>`
    const rest = object.key.slice(eventsPrefix.length);
    const date = rest.slice(3, 13);
    const hourDir = rest.slice(0, 19);
    const id = `${date}/${object.topic}/${object.partition}`;
    let entry = byKey.get(id);
    if (entry === undefined) {
      entry = { date, topic: object.topic, partition: object.partition, first: object.firstOffset, last: object.lastOffset, records: 0, partitions: [], objects: [] };
      byKey.set(id, entry);
    }
    entry.first = Math.min(entry.first, object.firstOffset);
    entry.last = Math.max(entry.last, object.lastOffset);
    entry.records += object.recordCount;
    if (!entry.partitions.includes(hourDir)) entry.partitions.push(hourDir);
    entry.objects.push(object.key);
  }
  const entries: ChangeLogEntry[] = [];
  for (const e of byKey.values()) {
    const document = {
      date: e.date,
      partitions: [...e.partitions].sort(),
      objects: [...e.objects].sort(),
      topic: e.topic,
      partition: e.partition,
      first_offset: e.first,
      last_offset: e.last,
      records: e.records,
    };
    entries.push({
      key: `${changeLogPrefix}dt=${e.date}/${e.topic}-${e.partition}-${e.first}-${e.last}.json`,
      body: Buffer.from(`${JSON.stringify(document)}\n`, 'utf8'),
      date: e.date,
    });
  }
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
