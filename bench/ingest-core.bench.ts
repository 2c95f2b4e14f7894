/**
 * Throughput of the ingest core (`buildRawObjects`) on a batch of realistic click events,
 * beside a baseline measured in the same run on the same bytes: `JSON.parse` of every message
 * plus one `zlib.gzipSync` (default level 6) of all of them, i.e. the least any ingest could do.
 *
 *   npx tsx bench/ingest-core.bench.ts [records=10000] [rounds=30]
 *
 * The core starts from the MSK event (base64 values), the baseline from the decoded bytes already
 * joined into one buffer, so base64 decoding, validation, normalization, the canonical
 * serialization and its larger output (page_url and the kafka block: about 1.3x the input
 * bytes) all count against the core. The baseline gzips at zlib's default level 6, the core at
 * its own default (DEFAULT_GZIP_LEVEL, 3: docs/ingest.md §7); both levels are printed.
 *
 * Time is CPU time of this process (`process.cpuUsage`, all threads: the collector's too), the
 * cost Lambda bills; wall time is printed beside it. On a machine shared with other work, wall
 * time also counts the time the process waited for a core. Each round times the baseline and
 * then the core back to back; the ratio is the median of the per-round ratios.
 * Goal (issue 3): ratio >= 0.5.
 */
import type { MSKEvent } from 'aws-lambda';
import { gzipSync } from 'zlib';
import { buildRawObjects, DEFAULT_GZIP_LEVEL } from '../lambdas/ingest/core';
import { mskEvent, realisticBatch } from '../test/ingest/fixtures';

const RECORDS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 30);
const WARMUP_ROUNDS = 5;

function baseline(values: readonly Buffer[], joined: Buffer): number {
  let parsedFields = 0;
  for (const bytes of values) {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    parsedFields += Object.keys(parsed).length;
  }
  return parsedFields + gzipSync(joined).length;
}

function core(event: MSKEvent): number {
  const result = buildRawObjects(event, { now: () => 0 });
  if (result.recordsIn !== RECORDS) throw new Error(`core saw ${result.recordsIn} records, expected ${RECORDS}`);
  return result.objects.reduce((n, o) => n + o.body.length, 0);
}

interface Timing {
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly produced: number;
}

function timed(run: () => number): Timing {
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const produced = run();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: Number(process.hrtime.bigint() - wall) / 1e6, produced };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const { specs, valueBytes } = realisticBatch(RECORDS);
  const event = mskEvent(specs);
  const joined = Buffer.concat(valueBytes.flatMap((v) => [v, Buffer.from('\n')]));
  const inputMb = valueBytes.reduce((n, b) => n + b.length, 0) / (1024 * 1024);
  const sample = buildRawObjects(event, { now: () => 0 });
  if (sample.recordsStored !== RECORDS) {
    throw new Error(`the realistic batch must be all valid, got ${JSON.stringify(sample.quarantinedByReason)}`);
  }

  let sink = 0;
  for (let i = 0; i < WARMUP_ROUNDS; i++) sink += baseline(valueBytes, joined) + core(event);
  const base: Timing[] = [];
  const ours: Timing[] = [];
  const cpuRatios: number[] = [];
  const wallRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const b = timed(() => baseline(valueBytes, joined));
    const c = timed(() => core(event));
    sink += b.produced + c.produced;
    base.push(b);
    ours.push(c);
    cpuRatios.push(b.cpuMs / c.cpuMs);
    wallRatios.push(b.wallMs / c.wallMs);
  }
  if (sink === 0) throw new Error('nothing was produced');

  const row = (name: string, timings: Timing[], outMb: number) => {
    const cpu = median(timings.map((t) => t.cpuMs));
    const wall = median(timings.map((t) => t.wallMs));
    return `${name.padEnd(34)} ${cpu.toFixed(1).padStart(7)} ms CPU  ${((RECORDS / cpu) * 1000).toFixed(0).padStart(7)} records/s  ${((inputMb / cpu) * 1000).toFixed(1).padStart(5)} MB/s` +
      `  (wall ${wall.toFixed(1)} ms)  gzip out ${outMb.toFixed(2)} MB`;
  };
  console.log(`ingest core benchmark: ${RECORDS} realistic records, ${inputMb.toFixed(2)} MB of values, ${sample.objects.length} objects, median of ${ROUNDS} rounds`);
  console.log(row('baseline (JSON.parse + gzip 6)', base, gzipSync(joined).length / 1048576));
  console.log(row(`core (buildRawObjects, gzip ${DEFAULT_GZIP_LEVEL})`, ours, sample.objects.reduce((n, o) => n + o.body.length, 0) / 1048576));
  const ratio = median(cpuRatios);
  console.log(`ratio core/baseline throughput: ${ratio.toFixed(2)} on CPU time, ${median(wallRatios).toFixed(2)} on wall time (goal >= 0.50) ${ratio >= 0.5 ? 'OK' : 'BELOW GOAL'}`);
}

main();
