/**
 * A local stand-in for the Lambda event source mapping (ESM) of an MSK topic, built on kafkajs.
 *
 * It does what the ESM does, in the ways the ingest function can observe:
 * - consumes a topic in a consumer group (starting at TRIM_HORIZON or LATEST);
 * - gathers records across partitions into one batch until `batchSize` records, the 6 MB Lambda
 *   payload limit, or `maximumBatchingWindowMs` after the first record of the batch;
 * - builds a real `MSKEvent`: `eventSource: 'aws:kafka'`, `eventSourceArn`, `bootstrapServers`,
 *   `records` keyed `<topic>-<partition>` with base64 `key`/`value` (`value: null` for a
 *   tombstone), `timestamp`, `timestampType`, `headers` as `[{ name: [bytes...] }]`;
 * - invokes the handler once at a time and commits the consumer group's offsets only after the
 *   batch is done (handled, or given up on);
 * - on an error, retries the same batch after a backoff (optionally split in two halves, like
 *   `BisectBatchOnFunctionError`), at most `retryAttempts` times; then hands the batch to the
 *   on-failure destination (a callback, or a JSON-lines file standing in for the S3 destination:
 *   full payload included, so `replayFailedBatches` can replay it) and moves on.
 *
 * Not modelled: several concurrent invocations (the ESM may run one per partition at once;
 * here batches run one after the other, which only makes the local run more sequential),
 * consumer-group rebalancing between several pollers, `MaximumRecordAgeInSeconds`.
 *
 * Usage (the end-to-end local runner, tests):
 *   const poller = new MskPoller({ brokers, topic, groupId, handler });
 *   await poller.start();
 *   await poller.waitUntil(endOffsets);   // or: await poller.drain();
 *   await poller.stop();
 */
import type { Context, MSKEvent, MSKRecord, MSKRecordHeader } from 'aws-lambda';
import { randomUUID } from 'crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'fs';
import { ConfigResourceTypes, Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type IHeaders, type KafkaMessage } from 'kafkajs';
import { dirname, resolve } from 'path';
import { quietKafkaLogCreator } from './kafka-log';
import { localLambdaContext } from './lambda-context';

/** A handler as Lambda calls it. */
export type MskHandler = (event: MSKEvent, context: Context) => Promise<unknown>;

/** What the on-failure destination receives: the shape of the ESM's S3 on-failure record. */
export interface OnFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: { readonly statusCode: 200; readonly executedVersion: '$LATEST'; readonly functionError: 'Unhandled' };
  readonly version: '1.0';
  readonly timestamp: string;
  /** One entry per topic-partition of the failed batch. */
  readonly KafkaBatchInfo: ReadonlyArray<{
    readonly batchSize: number;
    readonly topic: string;
    readonly partition: number;
    readonly firstOffset: number;
    readonly lastOffset: number;
    readonly eventSourceArn: string;
    readonly bootstrapServers: string;
  }>;
  /** The error of the last attempt (local addition: the ESM keeps it in the function's logs). */
  readonly errorMessage: string;
  /** The whole event of the last attempt, as the S3 destination stores it. */
  readonly payload: MSKEvent;
}

export interface MskPollerOptions {
  /** Kafka bootstrap servers, e.g. `['127.0.0.1:9092']`. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Consumer group; offsets are committed to it after each batch. */
  readonly groupId: string;
  readonly handler: MskHandler;
  /** Most records per invocation (ESM `BatchSize`). @default 100 */
  readonly batchSize?: number;
  /** How long to wait for a batch to fill (ESM `MaximumBatchingWindowInSeconds`, in ms). @default 500 */
  readonly maximumBatchingWindowMs?: number;
  /** Where a new consumer group starts. @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Retries of a failed batch before it goes to the on-failure destination. @default 2 */
  readonly retryAttempts?: number;
  /** Split a failed batch in two halves for its retries. @default false */
  readonly bisectBatchOnError?: boolean;
  /** Backoff before retry n (0-based): `min(maxMs, baseMs * 2^n)`, with ±20 % jitter. @default { baseMs: 100, maxMs: 5000 } */
  readonly retryBackoff?: { readonly baseMs: number; readonly maxMs: number };
  /**
   * Where a batch that failed every attempt goes. A function receives the record; a string is a
   * JSON-lines file the record is appended to.
   * @default `<LOCAL_STACK_HOME or .local-stack>/data/msk-poller/<groupId>-on-failure.ndjson`
   */
  readonly onFailure?: string | ((record: OnFailureRecord) => void | Promise<void>);
  /** `eventSourceArn` of the events. @default a local MSK-style ARN with the topic's name */
  readonly eventSourceArn?: string;
  /** Function name in the Lambda context and the on-failure record. @default 'clickstream-ingest-local' */
  readonly functionName?: string;
  /** Progress lines (retries, failures). @default none */
  readonly log?: (line: string) => void;
}

export interface MskPollerStats {
  /** Handler invocations, retries included. */
  readonly invocations: number;
  readonly failedInvocations: number;
  /** Invocations that were a retry of a failed batch (or of one of its halves). */
  readonly redeliveries: number;
  readonly recordsReceived: number;
  /** Records whose batch the handler completed. */
  readonly recordsHandled: number;
  readonly batchesSentToFailureDestination: number;
  readonly recordsSentToFailureDestination: number;
  /** Per partition, the next offset to consume: every record before it is done and committed. */
  readonly positions: ReadonlyMap<number, number>;
}

/** Lambda's synchronous-invocation payload limit, which the ESM respects when it builds a batch. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** Room for the event's envelope around its records. */
const ENVELOPE_BYTES = 1024;

interface Pending {
  readonly record: MSKRecord;
  readonly bytes: number;
  readonly done: () => void;
}


/** Kafka headers as the ESM delivers them: one object per header, the value as a byte array. */
export function mskHeaders(headers: IHeaders | undefined): MSKRecordHeader[] {
  const out: MSKRecordHeader[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined) continue;
      out.push({ [name]: [...(typeof item === 'string' ? Buffer.from(item, 'utf8') : item)] });
    }
  }
  return out;
}

/** One kafkajs message as an `MSKRecord`. */
export function mskRecord(topic: string, partition: number, message: KafkaMessage, timestampType: MSKRecord['timestampType']): MSKRecord {
  const record: Record<string, unknown> = {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType,
  };
  // The ESM leaves out the key of a record without one and sends `value: null` for a tombstone.
  if (message.key !== null) record.key = message.key.toString('base64');
  record.value = message.value === null ? null : message.value.toString('base64');
  record.headers = mskHeaders(message.headers);
  return record as unknown as MSKRecord;
}

/** Groups records into an `MSKEvent` (`records` keyed `<topic>-<partition>`, offset order kept). */
export function mskEvent(records: readonly MSKRecord[], eventSourceArn: string, bootstrapServers: string): MSKEvent {
  const grouped: Record<string, MSKRecord[]> = {};
  for (const record of records) (grouped[`${record.topic}-${record.partition}`] ??= []).push(record);
  return { eventSource: 'aws:kafka', eventSourceArn, bootstrapServers, records: grouped };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class MskPoller {
  private readonly options: Required<Omit<MskPollerOptions, 'onFailure' | 'log'>> & Pick<MskPollerOptions, 'log'>;
  private readonly onFailure: (record: OnFailureRecord) => void | Promise<void>;
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private timestampType: MSKRecord['timestampType'] = 'CREATE_TIME';
  private pending: Pending[] = [];
  private pendingSince = 0;
  private wake: (() => void) | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private loopError: unknown;
  private readonly waiters = new Set<() => void>();
  /** `done` of every record kafkajs handed over and still waits for. */
  private readonly unreleased = new Set<() => void>();
  private readonly counters = {
    invocations: 0,
    failedInvocations: 0,
    redeliveries: 0,
    recordsReceived: 0,
    recordsHandled: 0,
    batchesSentToFailureDestination: 0,
    recordsSentToFailureDestination: 0,
  };
  private readonly positions = new Map<number, number>();

  constructor(options: MskPollerOptions) {
    if (options.brokers.length === 0) throw new Error('MskPoller: brokers must not be empty');
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error(`MskPoller: batchSize must be 1..10000, got ${batchSize}`);
    const retryAttempts = options.retryAttempts ?? 2;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0) throw new Error(`MskPoller: retryAttempts must be 0 or more, got ${retryAttempts}`);
    this.options = {
      brokers: options.brokers,
      topic: options.topic,
      groupId: options.groupId,
      handler: options.handler,
      batchSize,
      maximumBatchingWindowMs: options.maximumBatchingWindowMs ?? 500,
      startingPosition: options.startingPosition ?? 'TRIM_HORIZON',
      retryAttempts,
      bisectBatchOnError: options.bisectBatchOnError ?? false,
      retryBackoff: options.retryBackoff ?? { baseMs: 100, maxMs: 5000 },
      eventSourceArn: options.eventSourceArn ?? `arn:aws:kafka:local:000000000000:cluster/local/${options.topic}`,
      functionName: options.functionName ?? 'clickstream-ingest-local',
      log: options.log,
    };
    const destination =
      options.onFailure ??
      resolve(process.env.LOCAL_STACK_HOME ?? '.local-stack', 'data', 'msk-poller', `${options.groupId}-on-failure.ndjson`);
    this.onFailure =
      typeof destination === 'string'
        ? (record) => {
            mkdirSync(dirname(destination), { recursive: true });
            appendFileSync(destination, `${JSON.stringify(record)}\n`);
          }
        : destination;
    this.kafka = new Kafka({
      clientId: `msk-poller-${options.groupId}`,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator: quietKafkaLogCreator,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  /** Joins the consumer group and starts delivering batches. */
  async start(): Promise<void> {
    if (this.running) throw new Error('MskPoller: already started');
    this.running = true;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.timestampType = await this.readTimestampType(this.admin);
    await this.seedPositionsFromCommittedOffsets(this.admin);
    this.consumer = this.kafka.consumer({ groupId: this.options.groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
    // kafkajs restarts its consumer after a retriable error by itself (logged quietly); one it
    // does not restart must stop the poller loudly instead of leaving waiters hanging.
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.loopError ??= payload.error;
      this.running = false;
      this.wake?.();
      for (const release of [...this.unreleased]) release();
      this.notifyWaiters();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: this.options.startingPosition === 'TRIM_HORIZON' });
    this.loop = this.invokeLoop().catch((error) => {
      // Nothing more will be delivered: let kafkajs go (nothing further is committed, so a new
      // poller of the group starts again at the first record not done) and tell the waiters.
      this.loopError = error;
      this.running = false;
      for (const release of [...this.unreleased]) release();
      this.notifyWaiters();
    });
    await this.consumer.run({
      autoCommit: false,
      // Every partition's fetch must be able to wait for its batch at once, so that one batch
      // can gather records of all partitions, as the ESM's batches do.
      partitionsConsumedConcurrently: 1000,
      eachBatch: (payload) => this.acceptBatch(payload),
    });
  }

  /**
   * Starts every partition's position at the group's committed offset. A partition whose records
   * an earlier poller of the group already finished gets no batch from this one, so nothing else
   * would move its position, and `waitUntil` on its end offset would wait for ever.
   */
  private async seedPositionsFromCommittedOffsets(admin: Admin): Promise<void> {
    const [entry] = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [this.options.topic] });
    for (const { partition, offset } of entry?.partitions ?? []) {
      const committed = Number(offset);
      // -1: the group has committed nothing for this partition yet.
      if (committed >= 0) this.positions.set(partition, Math.max(this.positions.get(partition) ?? 0, committed));
    }
  }

  /** Finishes the records already received (batching window cut short), then leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.consumer?.disconnect();
    await this.admin?.disconnect();
    this.consumer = undefined;
    this.admin = undefined;
    this.notifyWaiters();
  }

  /** The error that stopped the poller, if one did (it then delivers nothing more). */
  failure(): unknown {
    return this.loopError;
  }

  stats(): MskPollerStats {
    return { ...this.counters, positions: new Map(this.positions) };
  }

  /**
   * Resolves once, for every partition in `endOffsets`, every record before that offset is done
   * (handled or sent to the failure destination) and committed. `endOffsets` maps a partition to
   * the offset after the last record to wait for (e.g. the end offsets after producing).
   */
  async waitUntil(endOffsets: ReadonlyMap<number, number>, timeoutMs = 120_000): Promise<MskPollerStats> {
    const reached = () => [...endOffsets].every(([partition, end]) => end <= 0 || (this.positions.get(partition) ?? 0) >= end);
    const deadline = Date.now() + timeoutMs;
    while (!reached()) {
      if (this.loopError !== undefined) throw new Error(`MskPoller: stopped by an error: ${errorMessage(this.loopError)}`);
      if (!this.running) throw new Error('MskPoller: stopped before the offsets were reached');
      const left = deadline - Date.now();
      if (left <= 0) {
        const where = [...endOffsets].map(([p, end]) => `partition ${p}: at ${this.positions.get(p) ?? 0} of ${end}`).join(', ');
        throw new Error(`MskPoller: timed out after ${timeoutMs} ms waiting for ${this.options.topic} (${where})`);
      }
      await new Promise<void>((done) => {
        const waiters = this.waiters;
        const timer = setTimeout(finish, Math.min(left, 1000));
        function finish(): void {
          clearTimeout(timer);
          waiters.delete(finish);
          done();
        }
        waiters.add(finish);
      });
    }
    return this.stats();
  }

  /** Waits until everything in the topic now (its current end offsets) is done. */
  async drain(timeoutMs = 120_000): Promise<MskPollerStats> {
    if (!this.admin) throw new Error('MskPoller: not started');
    const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
    return this.waitUntil(new Map(offsets.map((o) => [o.partition, Number(o.high)])), timeoutMs);
  }

  /** Waits until `count` records are done in total (handled or sent to the failure destination). */
  async waitForRecords(count: number, timeoutMs = 120_000): Promise<MskPollerStats> {
    const deadline = Date.now() + timeoutMs;
    const done = () => this.counters.recordsHandled + this.counters.recordsSentToFailureDestination >= count;
    while (!done()) {
      if (this.loopError !== undefined) throw new Error(`MskPoller: stopped by an error: ${errorMessage(this.loopError)}`);
      if (Date.now() > deadline) throw new Error(`MskPoller: timed out after ${timeoutMs} ms waiting for ${count} records`);
      await sleep(50);
    }
    return this.stats();
  }

  private async readTimestampType(admin: Admin): Promise<MSKRecord['timestampType']> {
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: this.options.topic, configNames: ['message.timestamp.type'] }],
      });
      const value = described.resources[0]?.configEntries.find((e) => e.configName === 'message.timestamp.type')?.configValue;
      return value === 'LogAppendTime' ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
    } catch {
      return 'CREATE_TIME'; // Kafka's default
    }
  }

  /** kafkajs hands over one partition's fetched messages; they wait here until their batch is done. */
  private async acceptBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !this.running) return;
    const done: Promise<void>[] = [];
    for (const message of batch.messages) {
      const record = mskRecord(batch.topic, batch.partition, message, this.timestampType);
      done.push(
        new Promise<void>((resolveDone) => {
          const release = (): void => {
            this.unreleased.delete(release);
            resolveDone();
          };
          this.unreleased.add(release);
          this.enqueue({ record, bytes: JSON.stringify(record).length + 1, done: release });
        }),
      );
    }
    this.counters.recordsReceived += batch.messages.length;
    // The group coordinator must keep hearing from us while the batch waits for its turn.
    const beat = setInterval(() => {
      if (isRunning() && !isStale()) heartbeat().catch(() => undefined);
    }, 3000);
    try {
      await Promise.all(done);
    } finally {
      clearInterval(beat);
    }
  }

  private enqueue(item: Pending): void {
    if (this.pending.length === 0) this.pendingSince = Date.now();
    this.pending.push(item);
    this.wake?.();
  }

  private notifyWaiters(): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      waiter();
    }
  }

  /** The one invoker: waits for a full batch or the end of the batching window, then delivers it. */
  private async invokeLoop(): Promise<void> {
    for (;;) {
      if (!this.running && this.pending.length === 0) return;
      const windowLeft = this.pendingSince + this.options.maximumBatchingWindowMs - Date.now();
      const full = this.pending.length >= this.options.batchSize || this.pendingBytes() >= MAX_PAYLOAD_BYTES - ENVELOPE_BYTES;
      if (this.pending.length > 0 && (full || windowLeft <= 0 || !this.running)) {
        await this.deliver(this.takeBatch());
        continue;
      }
      await new Promise<void>((done) => {
        const timer = this.pending.length > 0 ? setTimeout(wakeUp, Math.max(windowLeft, 1)) : undefined;
        const self = this;
        function wakeUp(): void {
          if (timer) clearTimeout(timer);
          self.wake = undefined;
          done();
        }
        this.wake = wakeUp;
      });
    }
  }

  private pendingBytes(): number {
    let total = 0;
    for (const item of this.pending) total += item.bytes;
    return total;
  }

  /** Up to `batchSize` records and at most the payload limit, oldest first. */
  private takeBatch(): Pending[] {
    let bytes = ENVELOPE_BYTES;
    let count = 0;
    while (count < this.pending.length && count < this.options.batchSize) {
      const next = this.pending[count].bytes;
      if (count > 0 && bytes + next > MAX_PAYLOAD_BYTES) break;
      bytes += next;
      count++;
    }
    const batch = this.pending.slice(0, count);
    this.pending = this.pending.slice(count);
    this.pendingSince = Date.now();
    return batch;
  }

  private async deliver(batch: Pending[]): Promise<void> {
    const records = batch.map((p) => p.record);
    await this.process(records, 0);
    // Done with the batch (handled or given up on): commit past its last record per partition.
    const next = new Map<number, number>();
    for (const r of records) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
    await this.consumer?.commitOffsets(
      [...next].map(([partition, offset]) => ({ topic: this.options.topic, partition, offset: String(offset) })),
    );
    for (const [partition, offset] of next) this.positions.set(partition, Math.max(this.positions.get(partition) ?? 0, offset));
    for (const item of batch) item.done();
    this.notifyWaiters();
  }

  /** One attempt; on error a retry after backoff (halves when bisecting) until the bound. */
  private async process(records: MSKRecord[], attempt: number): Promise<void> {
    const event = mskEvent(records, this.options.eventSourceArn, this.options.brokers.join(','));
    this.counters.invocations++;
    if (attempt > 0) this.counters.redeliveries++;
    try {
      await this.options.handler(event, localLambdaContext(this.options.functionName));
      this.counters.recordsHandled += records.length;
      return;
    } catch (error) {
      this.counters.failedInvocations++;
      if (attempt >= this.options.retryAttempts) {
        await this.sendToFailureDestination(event, records, attempt + 1, error);
        return;
      }
      const { baseMs, maxMs } = this.options.retryBackoff;
      const backoff = Math.min(maxMs, baseMs * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      this.options.log?.(
        `invocation failed (${errorMessage(error)}); retry ${attempt + 1} of ${this.options.retryAttempts} in ${Math.round(backoff)} ms`,
      );
      await sleep(backoff);
      if (this.options.bisectBatchOnError && records.length > 1) {
        const middle = Math.ceil(records.length / 2);
        await this.process(records.slice(0, middle), attempt + 1);
        await this.process(records.slice(middle), attempt + 1);
      } else {
        await this.process(records, attempt + 1);
      }
    }
  }

  private async sendToFailureDestination(event: MSKEvent, records: MSKRecord[], invokeCount: number, error: unknown): Promise<void> {
    const bootstrapServers = this.options.brokers.join(',');
    const record: OnFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:local:000000000000:function:${this.options.functionName}`,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: invokeCount,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KafkaBatchInfo: Object.values(event.records).map((group) => ({
        batchSize: group.length,
        topic: group[0].topic,
        partition: group[0].partition,
        firstOffset: group[0].offset,
        lastOffset: group[group.length - 1].offset,
        eventSourceArn: this.options.eventSourceArn,
        bootstrapServers,
      })),
      errorMessage: errorMessage(error),
      payload: event,
    };
    await this.onFailure(record);
    this.counters.batchesSentToFailureDestination++;
    this.counters.recordsSentToFailureDestination += records.length;
    this.options.log?.(
      `batch of ${records.length} records failed ${invokeCount} times; sent to the on-failure destination (${record.errorMessage})`,
    );
  }
}

/**
 * Replays the batches of an on-failure file (what an operator does once the cause is fixed):
 * invokes `handler` with each record's payload, in file order. Returns how many were replayed and
 * which lines failed again (1-based), without stopping at the first failure.
 */
export async function replayFailedBatches(
  file: string,
  handler: MskHandler,
  functionName = 'clickstream-ingest-replay',
): Promise<{ replayed: number; failed: { line: number; error: string }[] }> {
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const failed: { line: number; error: string }[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      const record = JSON.parse(line) as OnFailureRecord;
      await handler(record.payload, localLambdaContext(functionName));
    } catch (error) {
      failed.push({ line: index + 1, error: errorMessage(error) });
    }
  }
  return { replayed: lines.length - failed.length, failed };
}
