/**
 * `npm run erase -- --local`: what scripts/erase.ts needs to erase on the local stack. The local
 * engines' settings come from the environment local-stack/env.sh sets (local/resources.ts): names
 * (RAW_BUCKET, AGGREGATES_BUCKET, OPENSEARCH_ALIAS_PREFIX, ...) included. The key is the file the
 * local ingest stage uses: PRIVACY_KEY_FILE when set, else the local stack's key file
 * (local/privacy-key.ts), created when missing. The job runs on local Spark through
 * local/stages.ts (local/glue-job.ts, local-stack/spark/submit.sh), and the aggregate objects of
 * the recomputed dates go to the local indexer as S3 notifications would (runIndexStage).
 */
import { ensureLocalPrivacyKey } from '../local/privacy-key';
import { listKeys, s3Client, settingsFromEnv } from '../local/resources';
import type { LocalEraseDeps } from './erase';

export async function localEraseDeps(log: (line: string) => void): Promise<LocalEraseDeps> {
  const settings = settingsFromEnv();
  const { exportHandlerEnvironment } = await import('../local/pipeline');
  exportHandlerEnvironment(settings);
  const { runAggregateStage, runIndexStage } = await import('../local/stages');
  const s3 = s3Client(settings);
  return {
    s3,
    rawBucket: settings.rawBucket,
    // The same key as the local ingest stage (exportHandlerEnvironment set PRIVACY_KEY_FILE to it).
    keyFile: ensureLocalPrivacyKey(process.env.PRIVACY_KEY_FILE || undefined),
    runJob: async (jobArguments) => {
      await runAggregateStage({ settings, log, jobArguments, onOutput: (line) => { if (/ (WARN|ERROR) /.test(line)) log(`  ${line}`); } });
    },
    reindex: async (dates) => {
      const folders = dates.map((date) => `/event_date=${date}/`);
      const keys = (await listKeys(s3, settings.aggregatesBucket, 'aggregates/')).map((o) => o.key).filter((key) => folders.some((f) => key.includes(f)));
      if (keys.length === 0) return;
      const indexed = await runIndexStage({ settings, bucket: settings.aggregatesBucket, keys, log });
      log(`re-indexed ${keys.length} aggregate objects of ${dates.length} dates (${indexed.invocations} indexer invocations)`);
    },
    log,
    now: () => Date.now(),
  };
}
