/**
 * Throughput of the ingest core (`buildRawObjects`) on a batch of realistic click events,
 * beside a baseline measured in the same run on the same bytes: `JSON.parse` of every message
 * plus one `zlib.gzipSync` of all of them, i.e. the least any ingest could do.
 *
 *   npx tsx bench/ingest-core.bench.ts [records=10000] [rounds=30]
 *
 * The core starts from the MSK event (base64 values), the baseline from the decoded bytes, so
 * base64 decoding, validation, normalization, canonical serialization and the larger output all
 * count against the core. Goal (issue 3): ratio >= 0.5.
 */
import type { MSKEvent } from 'aws-lambda';
import { gzipSync } from 'zlib';
import { buildRawObjects } from '../lambdas/ingest/core';
import { mskEvent, realisticBatch } from '../test/ingest/fixtures';

const RECORDS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 30);
const WARMUP_ROUNDS = 5;
const GZIP_LEVEL = Number(process.env.GZIP_LEVEL ?? 6);

function baseline(values: Buffer[]): number {
  let parsedFields = 0;
  for (const bytes of values) {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    parsedFields += Object.keys(parsed).length;
  }
  const body = gzipSync(Buffer.concat(values.flatMap((v) => [v, Buffer.from('\n')])));
  return parsedFields + body.length;
}

function core(event: MSKEvent): number {
  const result = buildRawObjects(event, { now: () => 0, gzipLevel: GZIP_LEVEL });
  if (result.recordsIn !== RECORDS) throw new Error(`core saw ${result.recordsIn} records, expected ${RECORDS}`);
  return result.objects.reduce((n, o) => n + o.body.length, 0);
}

function timeMs(run: () => number): [number, number] {
  const start = process.hrtime.bigint();
  const produced = run();
  return [Number(process.hrtime.bigint() - start) / 1e6, produced];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const { specs, valueBytes } = realisticBatch(RECORDS);
  const event = mskEvent(specs);
  const inputMb = valueBytes.reduce((n, b) => n + b.length, 0) / (1024 * 1024);
  const sample = buildRawObjects(event, { now: () => 0 });
  if (sample.recordsStored !== RECORDS) {
    throw new Error(`the realistic batch must be all valid, got ${JSON.stringify(sample.quarantinedByReason)}`);
  }
  const outputMb = sample.objects.reduce((n, o) => n + o.body.length, 0) / (1024 * 1024);

  // Each round times the baseline and then the core back to back, and the ratio is the median of
  // the per-round ratios: a machine shared with other work slows both sides of a round alike.
  let sink = 0;
  for (let i = 0; i < WARMUP_ROUNDS; i++) sink += baseline(valueBytes) + core(event);
  const baseMs: number[] = [];
  const coreMs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [b, bOut] = timeMs(() => baseline(valueBytes));
    const [c, cOut] = timeMs(() => core(event));
    sink += bOut + cOut;
    baseMs.push(b);
    coreMs.push(c);
    ratios.push(b / c);
  }
  if (sink === 0) throw new Error('nothing was produced');
  const base = median(baseMs);
  const ours = median(coreMs);

  const row = (name: string, ms: number) =>
    `${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${((RECORDS / ms) * 1000).toFixed(0).padStart(9)} records/s  ${((inputMb / ms) * 1000).toFixed(1).padStart(7)} MB/s`;
  console.log(`ingest core benchmark: ${RECORDS} realistic records, ${inputMb.toFixed(2)} MB of values, ${sample.objects.length} objects, ${outputMb.toFixed(2)} MB gzip out`);
  console.log(row('baseline (JSON.parse + gzip)', base));
  console.log(row('core (buildRawObjects)', ours));
  const ratio = median(ratios);
  console.log(`ratio core/baseline throughput: ${ratio.toFixed(2)} (goal >= 0.50) ${ratio >= 0.5 ? 'OK' : 'BELOW GOAL'}`);
}

main();
