/**
 * The three processing stages, each run through its local stand-in with the production code:
 * ingest (local MSK poller + ingest handler), aggregate (local Spark + the Glue script) and index
 * (local S3 notifier + indexer handler). Faults for the end-to-end test are injected here.
 */
import type { PipelineSettings } from './resources';

export interface IngestFaults {
  /** Called before each handler invocation; throwing from it or from `wrap` simulates a crash. */
  readonly wrapHandler?: <E, C, R>(handler: (event: E, context: C) => Promise<R>) => (event: E, context: C) => Promise<R>;
}

export interface IndexFaults {
  /** Rearranges the notifications before delivery (duplicates, reordering). */
  readonly arrange?: (keys: readonly string[]) => string[];
}

export interface IngestStageResult {
  readonly batches: number;
  readonly redeliveries: number;
}

export interface AggregateStageResult {
  readonly dates: string[];
}

export interface IndexStageResult {
  readonly notifications: number;
  readonly documentsIndexed: number;
  readonly redeliveries: number;
}

export async function runIngestStage(_args: { settings: PipelineSettings; until: Map<number, number>; log: (line: string) => void; faults?: IngestFaults }): Promise<IngestStageResult> {
  throw new Error('ingest stage: waiting for local/msk-poller.ts');
}

export async function runAggregateStage(_args: { settings: PipelineSettings; log: (line: string) => void }): Promise<AggregateStageResult> {
  throw new Error('aggregate stage: waiting for local/glue-job.ts');
}

export async function runIndexStage(_args: { settings: PipelineSettings; bucket: string; keys: string[]; log: (line: string) => void; faults?: IndexFaults }): Promise<IndexStageResult> {
  throw new Error('index stage: waiting for local/s3-notifier.ts');
}
