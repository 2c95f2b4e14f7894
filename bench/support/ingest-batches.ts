/**
 * Batches for the ingest-core benchmark: the local generator's realistic clickstream (thousands
 * of distinct user agents with a long tail, referrers, UTM-tagged URLs, country spellings;
 * local/web-traffic.ts) as the MSK events the event source mapping would deliver.
 */
import type { MSKEvent } from 'aws-lambda';
import { generateClicks } from '../../local/generator';
import { mskEvent, type RecordSpec } from '../../test/ingest/fixtures';

export interface BenchBatch {
  readonly event: MSKEvent;
  /** The message values, as the producers sent them. */
  readonly values: Buffer[];
  /** The values joined by newlines: what the baseline compresses. */
  readonly joined: Buffer;
  readonly inputBytes: number;
}

const END_TIME = Date.UTC(2026, 10, 30, 12, 0, 0);

/**
 * `records` valid click events over the last three hours before a fixed instant, on three
 * partitions, as one MSK batch. Every seed gives other users and sessions from the same
 * population of user agents, as successive batches of one site do.
 */
export function benchBatch(records: number, seed: string): BenchBatch {
  const messages = generateClicks({ count: records, seed, endTime: END_TIME, days: 3 / 24, malformedRate: 0, duplicateRate: 0 });
  const offsets = [1_000_000, 1_000_000, 1_000_000];
  const specs: RecordSpec[] = messages.map((m) => ({ partition: m.partition, offset: offsets[m.partition]++, timestamp: m.timestamp, value: m.value }));
  const values = messages.map((m) => m.value);
  const joined = Buffer.concat(values.flatMap((v) => [v, Buffer.from('\n')]));
  return { event: mskEvent(specs), values, joined, inputBytes: values.reduce((n, v) => n + v.length, 0) };
}
