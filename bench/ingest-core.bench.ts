/**
 * Throughput of the ingest core (`buildRawObjects`) on realistic click events, beside a baseline
 * measured in the same run on the same bytes: `JSON.parse` of every message plus one
 * `zlib.gzipSync` of all of them at the raw objects' own gzip level (DEFAULT_GZIP_LEVEL), i.e.
 * the least any ingest could do.
 *
 *   npx tsx bench/ingest-core.bench.ts [records=10000] [rounds=30]
 *
 * Every round is a new batch of the local generator's clickstream (bench/support/ingest-batches.ts:
 * thousands of distinct user agents with a long tail and new ones in every batch, referrers,
 * UTM-tagged URLs), so the enrichment caches see what a warm Lambda container sees from batch to
 * batch: the core keeps one `Enricher` across rounds, like the function's `sharedEnricher`.
 * Per round: the baseline, the core with enrichment, and the core without it (`enricher: null`,
 * the records of before enrichment), back to back. The core starts from the MSK event (base64
 * values), the baseline from the decoded bytes already joined into one buffer, so decoding,
 * validation, normalization, enrichment, the canonical serialization and its larger output all
 * count against the core.
 *
 * Time is CPU time of this process (`process.cpuUsage`, all threads: the collector's too), the
 * cost Lambda bills; wall time is printed beside it. Each ratio is the median of the per-round
 * ratios. Goal: with enrichment >= 0.35 (under Node 22, the functions' runtime).
 */
import { gzipSync } from 'zlib';
import { buildRawObjects, DEFAULT_GZIP_LEVEL, type IngestCoreConfig } from '../lambdas/ingest/core';
import { Enricher } from '../lambdas/ingest/enrich';
import { benchBatch, type BenchBatch } from './support/ingest-batches';

const RECORDS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 30);
const WARMUP_ROUNDS = 5;
const GOAL = 0.35;

function baseline(batch: BenchBatch): number {
  let parsedFields = 0;
  for (const bytes of batch.values) {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    parsedFields += Object.keys(parsed).length;
  }
  return parsedFields + gzipSync(batch.joined, { level: DEFAULT_GZIP_LEVEL }).length;
}

function core(batch: BenchBatch, config: IngestCoreConfig): number {
  const result = buildRawObjects(batch.event, { now: () => 0, ...config });
  if (result.recordsStored !== RECORDS) throw new Error(`core stored ${result.recordsStored} records, expected ${RECORDS}: ${JSON.stringify(result.quarantinedByReason)}`);
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
  const enricher = new Enricher();
  const on: IngestCoreConfig = { enricher };
  const off: IngestCoreConfig = { enricher: null };

  // A cold cache on the first batch: what a new container sees.
  const first = benchBatch(RECORDS, 'ingest-bench-0');
  core(first, on);
  const cold = enricher.stats().userAgents;
  const distinctFirst = new Set(first.values.map((v) => (JSON.parse(v.toString('utf8')) as Record<string, unknown>).user_agent ?? (JSON.parse(v.toString('utf8')) as Record<string, unknown>).userAgent)).size;

  let sink = 0;
  for (let i = 1; i < WARMUP_ROUNDS; i++) {
    const batch = benchBatch(RECORDS, `ingest-bench-${i}`);
    sink += baseline(batch) + core(batch, on) + core(batch, off);
  }
  const before = enricher.stats();
  const base: Timing[] = [];
  const withEnrichment: Timing[] = [];
  const without: Timing[] = [];
  const ratiosOn: number[] = [];
  const ratiosOff: number[] = [];
  const wallRatiosOn: number[] = [];
  let inputBytes = 0;
  let outOn = 0;
  let outOff = 0;
  let baseOut = 0;
  const userAgentsSeen = new Set<unknown>();
  for (let round = 0; round < ROUNDS; round++) {
    const batch = benchBatch(RECORDS, `ingest-bench-${WARMUP_ROUNDS + round}`);
    for (const v of batch.values) {
      const parsed = JSON.parse(v.toString('utf8')) as Record<string, unknown>;
      userAgentsSeen.add(parsed.user_agent ?? parsed.userAgent);
    }
    const b = timed(() => baseline(batch));
    const c = timed(() => core(batch, on));
    const o = timed(() => core(batch, off));
    sink += b.produced + c.produced + o.produced;
    base.push(b);
    withEnrichment.push(c);
    without.push(o);
    ratiosOn.push(b.cpuMs / c.cpuMs);
    ratiosOff.push(b.cpuMs / o.cpuMs);
    wallRatiosOn.push(b.wallMs / c.wallMs);
    inputBytes += batch.inputBytes;
    outOn += c.produced;
    outOff += o.produced;
    baseOut += gzipSync(batch.joined, { level: DEFAULT_GZIP_LEVEL }).length;
  }
  if (sink === 0) throw new Error('nothing was produced');
  const after = enricher.stats();
  const uaHits = after.userAgents.hits - before.userAgents.hits;
  const uaMisses = after.userAgents.misses - before.userAgents.misses;
  const hostHits = after.hosts.hits - before.hosts.hits;
  const hostMisses = after.hosts.misses - before.hosts.misses;

  const inputMb = inputBytes / ROUNDS / 1048576;
  const row = (name: string, timings: Timing[], outBytes: number) => {
    const cpu = median(timings.map((t) => t.cpuMs));
    const wall = median(timings.map((t) => t.wallMs));
    return `${name.padEnd(40)} ${cpu.toFixed(1).padStart(7)} ms CPU  ${((RECORDS / cpu) * 1000).toFixed(0).padStart(7)} records/s  ${((inputMb / cpu) * 1000).toFixed(1).padStart(5)} MB/s` +
      `  (wall ${wall.toFixed(1)} ms)  gzip out ${(outBytes / ROUNDS / 1048576).toFixed(2)} MB`;
  };
  console.log(`ingest core benchmark: ${RECORDS} realistic records per batch (${inputMb.toFixed(2)} MB of values), a new batch each of ${ROUNDS} rounds, medians`);
  console.log(`user agents: ${distinctFirst} distinct in one batch, ${userAgentsSeen.size} distinct over the timed rounds`);
  console.log(row(`baseline (JSON.parse + gzip ${DEFAULT_GZIP_LEVEL})`, base, baseOut));
  console.log(row(`core with enrichment (gzip ${DEFAULT_GZIP_LEVEL})`, withEnrichment, outOn));
  console.log(row(`core without enrichment (gzip ${DEFAULT_GZIP_LEVEL})`, without, outOff));
  const ratio = median(ratiosOn);
  console.log(`user-agent cache hit rate: ${((100 * uaHits) / (uaHits + uaMisses)).toFixed(1)} % over the timed rounds (warm, capacity ${after.userAgents.capacity}); ` +
    `${((100 * cold.hits) / (cold.hits + cold.misses)).toFixed(1)} % on a cold cache's first batch; referrer-host cache ${((100 * hostHits) / Math.max(1, hostHits + hostMisses)).toFixed(1)} %`);
  console.log(`ratio core/baseline throughput with enrichment: ${ratio.toFixed(2)} on CPU time, ${median(wallRatiosOn).toFixed(2)} on wall time (goal >= ${GOAL}) ${ratio >= GOAL ? 'OK' : 'BELOW GOAL'}`);
  console.log(`ratio core/baseline throughput without enrichment: ${median(ratiosOff).toFixed(2)} on CPU time`);
}

main();
