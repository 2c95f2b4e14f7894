/**
 * Local stand-in for "S3 ObjectCreated notification -> SQS queue (+ DLQ) -> Lambda event source
 * mapping -> indexer handler", with the same contract as AWS:
 *
 * - each new object becomes one S3 event notification (the JSON S3 sends, key URL-encoded), the
 *   body of one SQS message;
 * - messages are delivered to the handler in batches as a real `SQSEvent` (with
 *   `ApproximateReceiveCount`), plus a Lambda-like context;
 * - a message named in the response's `batchItemFailures`, or every message of a batch whose
 *   invocation threw, is delivered again after a backoff (the visibility timeout's role), with
 *   exponential backoff and jitter;
 * - after `maxReceiveCount` deliveries a message moves to the dead-letter queue: an array, and an
 *   NDJSON file when `deadLetterFile` is set, which an operator can replay (`replay` command).
 *
 * CLI (the real handler, configured by the environment like in Lambda):
 *   npx tsx local/s3-notifier.ts notify --bucket B [--dlq FILE] KEY...    (or --prefix P for all keys below P)
 *   npx tsx local/s3-notifier.ts replay --bucket B --dlq FILE
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHash, randomUUID } from 'crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname } from 'path';
import { localLambdaContext } from './lambda-context';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface NotifierOptions {
  /** The function the queue triggers. */
  readonly handler: SqsHandler;
  /** Bucket the objects are in (the notification's source). */
  readonly bucket: string;
  /** @default AWS_REGION or us-east-1 */
  readonly region?: string;
  /** Messages per invocation, as the event source mapping's batch size. @default 5 */
  readonly batchSize?: number;
  /** Deliveries before a message goes to the dead-letter queue, as the queue's redrive policy. @default 5 */
  readonly maxReceiveCount?: number;
  /** Backoff before a redelivery: base * 2^(n-1), full jitter, capped. @default 200 ms, 5 s */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** NDJSON file the dead-lettered messages are appended to. @default none (memory only) */
  readonly deadLetterFile?: string;
  /** Progress lines. @default silent */
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** A message that failed every delivery, as kept in the dead-letter queue. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly deadLetteredAt: string;
  readonly sourceQueue: string;
}

export interface NotifyResult {
  /** Messages sent (one per object). */
  readonly messages: number;
  /** Handler invocations. */
  readonly invocations: number;
  /** Deliveries beyond the first, over all messages. */
  readonly redeliveries: number;
  /** Messages that ended in the dead-letter queue in this call. */
  readonly deadLettered: DeadLetter[];
}

const QUEUE_NAME = 'clickstream-aggregates-notifications-local';

/** The S3 event notification S3 puts in the queue for a new object (event version 2.1). */
export function s3EventNotification(bucket: string, key: string, region: string, now: Date = new Date()): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: now.toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': randomUUID(), 'x-amz-id-2': randomUUID() },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'aggregates-to-indexer',
          bucket: { name: bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${bucket}` },
          // S3 URL-encodes keys in notifications, spaces as '+'.
          object: { key: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/'), sequencer: now.getTime().toString(16).toUpperCase() },
        },
      },
    ],
  });
}

function sqsRecord(messageId: string, body: string, receiveCount: number, region: string, sentAt: number): SQSRecord {
  return {
    messageId,
    receiptHandle: `${messageId}#${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(sentAt),
      SenderId: 'AIDALOCALS3NOTIFIER',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:000000000000:${QUEUE_NAME}`,
    awsRegion: region,
  };
}


interface InFlight {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
}

export class LocalS3Notifier {
  /** Every message dead-lettered by this notifier (also appended to the file, when set). */
  public readonly deadLetters: DeadLetter[] = [];
  private readonly region: string;
  private readonly batchSize: number;
  private readonly maxReceiveCount: number;

  constructor(private readonly options: NotifierOptions) {
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.batchSize = options.batchSize ?? 5;
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
    if (this.batchSize < 1 || this.maxReceiveCount < 1) throw new Error('batchSize and maxReceiveCount must be at least 1');
  }

  /** Sends one notification per key and delivers until every message succeeded or is dead-lettered. */
  async notify(keys: readonly string[]): Promise<NotifyResult> {
    const now = Date.now();
    const messages = keys.map((key) => ({ messageId: randomUUID(), body: s3EventNotification(this.options.bucket, key, this.region), sentAt: now, receiveCount: 0 }));
    return this.deliver(messages);
  }

  /** Delivers raw message bodies (e.g. a dead-lettered message, or a hand-written one). */
  async send(bodies: readonly string[]): Promise<NotifyResult> {
    const now = Date.now();
    return this.deliver(bodies.map((body) => ({ messageId: randomUUID(), body, sentAt: now, receiveCount: 0 })));
  }

  /**
   * Redrives the dead-letter file: delivers each message again (as a new message, like an SQS
   * redrive) and rewrites the file with only the ones that failed again.
   */
  async replayDeadLetterFile(): Promise<NotifyResult & { remaining: number }> {
    const file = this.options.deadLetterFile;
    if (!file) throw new Error('no deadLetterFile configured');
    const letters = readDeadLetterFile(file);
    writeFileSync(file, '');
    const result = await this.send(letters.map((letter) => letter.body));
    return { ...result, remaining: result.deadLettered.length };
  }

  private async deliver(initial: InFlight[]): Promise<NotifyResult> {
    const log = this.options.log ?? (() => undefined);
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const random = this.options.random ?? Math.random;
    let pending = initial;
    let invocations = 0;
    let redeliveries = 0;
    const deadLettered: DeadLetter[] = [];

    for (let round = 1; pending.length > 0; round++) {
      const failed: InFlight[] = [];
      for (let i = 0; i < pending.length; i += this.batchSize) {
        const batch = pending.slice(i, i + this.batchSize);
        for (const message of batch) {
          message.receiveCount++;
          if (message.receiveCount > 1) redeliveries++;
        }
        const event: SQSEvent = { Records: batch.map((m) => sqsRecord(m.messageId, m.body, m.receiveCount, this.region, m.sentAt)) };
        invocations++;
        let failedIds: Set<string>;
        try {
          const response = await this.options.handler(event, localLambdaContext('clickstream-indexer-local'));
          failedIds = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
        } catch (error) {
          // A failed invocation returns the whole batch to the queue.
          log(`indexer invocation failed, ${batch.length} messages returned to the queue: ${(error as Error).message}`);
          failedIds = new Set(batch.map((m) => m.messageId));
        }
        for (const message of batch) {
          if (!failedIds.has(message.messageId)) continue;
          if (message.receiveCount >= this.maxReceiveCount) {
            const letter: DeadLetter = {
              messageId: message.messageId,
              body: message.body,
              receiveCount: message.receiveCount,
              deadLetteredAt: new Date().toISOString(),
              sourceQueue: QUEUE_NAME,
            };
            deadLettered.push(letter);
            this.deadLetters.push(letter);
            if (this.options.deadLetterFile) {
              mkdirSync(dirname(this.options.deadLetterFile), { recursive: true });
              appendFileSync(this.options.deadLetterFile, JSON.stringify(letter) + '\n');
            }
            log(`message ${message.messageId} failed ${message.receiveCount} deliveries: moved to the dead-letter queue`);
          } else {
            failed.push(message);
          }
        }
      }
      if (failed.length > 0) {
        const ceiling = Math.min(this.options.backoffMaxMs ?? 5000, (this.options.backoffBaseMs ?? 200) * 2 ** (round - 1));
        const delay = Math.round(random() * ceiling);
        log(`${failed.length} messages failed; delivering again in ${delay} ms`);
        await sleep(delay);
      }
      pending = failed;
    }
    return { messages: initial.length, invocations, redeliveries, deadLettered };
  }
}

/** The dead letters of an NDJSON dead-letter file (missing file: none). */
export function readDeadLetterFile(file: string): DeadLetter[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as DeadLetter;
      } catch {
        throw new Error(`${file}:${i + 1} is not a dead-letter record`);
      }
    });
}

/** Keys below a prefix (for `notify --prefix`). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The production indexer handler (loaded on first use, after the caller set the environment). */
export async function loadIndexerHandler(): Promise<SqsHandler> {
  const module = await import('../lambdas/indexer/handler');
  return module.handler as unknown as SqsHandler;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const flags = new Map<string, string>();
  const keys: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i].startsWith('--')) {
      const value = rest[i + 1];
      if (value === undefined) throw new Error(`${rest[i]} needs a value`);
      flags.set(rest[i].slice(2), value);
      i++;
    } else keys.push(rest[i]);
  }
  const bucket = flags.get('bucket');
  if ((command !== 'notify' && command !== 'replay') || !bucket) {
    process.stderr.write('usage: s3-notifier.ts notify --bucket B [--dlq FILE] [--prefix P] [KEY...] | replay --bucket B --dlq FILE\n');
    return 2;
  }
  const { s3ClientFromEnv } = await import('../lambdas/shared/s3');
  const notifier = new LocalS3Notifier({
    handler: await loadIndexerHandler(),
    bucket,
    deadLetterFile: flags.get('dlq'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  let result: NotifyResult;
  if (command === 'replay') {
    result = await notifier.replayDeadLetterFile();
  } else {
    const prefix = flags.get('prefix');
    const all = prefix !== undefined ? [...keys, ...(await listKeys(s3ClientFromEnv(), bucket, prefix))] : keys;
    result = await notifier.notify(all);
  }
  process.stdout.write(JSON.stringify({ ...result, deadLettered: result.deadLettered.length }) + '\n');
  return result.deadLettered.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    },
  );
}
