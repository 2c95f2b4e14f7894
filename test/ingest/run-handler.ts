/**
 * Runs the real ingest Lambda entry point (lambdas/ingest/handler.ts: middy + Powertools) under
 * the local MSK poller until the topic is drained; used by handler-real.test.ts in a child process
 * (middy 6 is ESM-only, jest's runtime is CommonJS). Not a test file itself.
 *
 *   npx tsx test/ingest/run-handler.ts <topic> <groupId> <failureFile> [retryAttempts]
 *
 * The environment is the function's (RAW_BUCKET, S3_ENDPOINT, POWERTOOLS_*) plus KAFKA_BROKERS.
 * Prints `POLLER_STATS {...}` on stderr at the end.
 */
import { handler } from '../../lambdas/ingest/handler';
import { MskPoller } from '../../local/msk-poller';

async function main(): Promise<void> {
  const [topic, groupId, failureFile, retries] = process.argv.slice(2);
  const poller = new MskPoller({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    topic,
    groupId,
    handler: (event, context) => handler(event, context),
    batchSize: 25,
    maximumBatchingWindowMs: 200,
    retryAttempts: Number(retries ?? 2),
    retryBackoff: { baseMs: 50, maxMs: 200 },
    onFailure: failureFile,
  });
  await poller.start();
  const stats = await poller.drain(90_000);
  await poller.stop();
  process.stderr.write(`POLLER_STATS ${JSON.stringify({ ...stats, positions: Object.fromEntries(stats.positions) })}\n`);
}

main().catch((error) => {
  process.stderr.write(`run-handler failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
