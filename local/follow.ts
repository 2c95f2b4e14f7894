/**
 * `npm run local -- --follow`: the pipeline keeps running, as it does in AWS.
 *
 *   generator (--rate N/s, or none) ─┐
 *   other producers (kcat, ...) ─────┴─> Kafka topic -> local MSK poller (continuous) -> ingest handler -> raw bucket
 *   every --every seconds: Spark job (incremental) -> aggregates bucket -> notifications -> indexer -> OpenSearch
 *   after each job: live view refreshed, report.html (and --out, --out-dir) rewritten
 *
 * Ctrl-C (SIGINT) or SIGTERM stops cleanly: the generator stops, the poller finishes the batch in
 * hand and commits it, a running job finishes and its notifications are delivered; what was
 * consumed after the last job is aggregated by the next run's first job. `--duration SECONDS`
 * stops by itself and drains: the generator stops, everything in the topic then is consumed, and a
 * last job runs and is indexed, so every event produced while it ran is served. A second
 * Ctrl-C exits at once: whatever was in flight is redone by the next run (an uncommitted batch is
 * delivered again, a job that did not save its state runs again, undelivered notifications go out
 * with the next delivery), so nothing is half-written and nothing is lost or counted twice.
 */
import type { Producer } from 'kafkajs';
import { resolve } from 'path';
import type { CliOptions } from './cli';
import { generateClicks } from './generator';
import type { MskPoller } from './msk-poller';
import {
  checkConsistency,
  consumedCounts,
  consumeFigures,
  createClients,
  deliverPendingNotifications,
  exportHandlerEnvironment,
  logTableFiles,
  setupResources,
  type Log,
  type PipelineClients,
} from './pipeline';
import { formatStages, pageTotals, writeHtmlReport, writeNdjson, type StageSummary } from './report';
import { aliasOf, consumerStart, countDocuments, fetchAllRows, produceMessages, queryTopPagesByCountry, settingsFromEnv, type PipelineSettings } from './resources';
import { runAggregateStage, type AggregateStageResult } from './stages';

export interface FollowHooks {
  readonly settings?: PipelineSettings;
  /** Where the live view goes. @default process.stdout */
  readonly out?: NodeJS.WriteStream;
  /** Resolves when the run should stop (besides SIGINT and SIGTERM). */
  readonly stop?: Promise<unknown>;
}

/** Minutes of event time a second of generated traffic spreads over (sessions need some span). */
const GENERATED_WINDOW_DAYS = 10 / (24 * 60);

interface JobRun {
  readonly started: Date;
  readonly finished: Date;
  readonly result?: AggregateStageResult;
  readonly notifications?: number;
  readonly error?: string;
}

/** What the live view shows; updated by the loops, drawn once a second. */
export interface LiveState {
  readonly startedAt: number;
  produced: number;
  consumed: number;
  stored: number;
  quarantined: number;
  failedBatches: number;
  jobs: number;
  /** `consumed` when the last successful job started (-1: none yet, or the last one failed). */
  consumedAtLastJob: number;
  jobRunning?: Date;
  lastJob?: JobRun;
  nextJobAt?: number;
  documents: number;
  topPages: Array<{ page_url: string; clicks: number }>;
  reportWrittenAt?: Date;
  note?: string;
  stopping: boolean;
  /** (time, consumed) once a second, for the rate over the last seconds. */
  samples: Array<[number, number]>;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const hms = (d: Date) => d.toISOString().slice(11, 19);

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Events per second consumed over the last `windowMs` of samples. */
export function ratePerSecond(samples: ReadonlyArray<readonly [number, number]>, now: number, windowMs = 5000): number {
  const recent = samples.filter(([t]) => t >= now - windowMs);
  if (recent.length < 2) return 0;
  const [t0, c0] = recent[0];
  const [t1, c1] = recent[recent.length - 1];
  return t1 > t0 ? ((c1 - c0) * 1000) / (t1 - t0) : 0;
}

/** The live view's lines (plain text; the caller decides how to draw them). */
export function liveViewLines(state: LiveState, options: { rate: number; everySeconds: number; alias: string; topic: string }, now = Date.now()): string[] {
  const lines = [
    `clickstream live — ${duration(now - state.startedAt)} — topic ${options.topic} — ${state.stopping ? 'stopping (Ctrl-C again to quit at once)' : 'Ctrl-C to stop'}`,
    `  in          ${ratePerSecond(state.samples, now).toFixed(1).padStart(8)} events/s   generator ${options.rate > 0 ? `${options.rate}/s, ${fmt(state.produced)} produced` : 'off (other producers only)'}`,
    `  ingest      ${fmt(state.consumed)} consumed: ${fmt(state.stored)} stored, ${fmt(state.quarantined)} quarantined${state.failedBatches ? `, ${state.failedBatches} batches to the on-failure file` : ''}`,
  ];
  const job = state.lastJob;
  let jobLine = `  Spark job   every ${options.everySeconds}s, ${state.jobs} runs`;
  if (state.jobRunning) jobLine += `; running since ${hms(state.jobRunning)}`;
  else if (state.nextJobAt !== undefined && !state.stopping) jobLine += `; next in ${Math.max(0, Math.ceil((state.nextJobAt - now) / 1000))}s`;
  lines.push(jobLine);
  if (job) {
    lines.push(job.error
      ? `  last run    ${hms(job.started)}–${hms(job.finished)} FAILED: ${job.error.split('\n')[0].slice(0, 100)} (retried at the next run)`
      : `  last run    ${hms(job.started)}–${hms(job.finished)} (${((job.finished.getTime() - job.started.getTime()) / 1000).toFixed(0)}s): dates ${job.result!.dates.length ? job.result!.dates.join(' ') : 'none (no new input)'}, ${fmt(job.result!.rowsWritten)} rows, ${fmt(job.notifications ?? 0)} notifications`);
  }
  lines.push(`  OpenSearch  ${fmt(state.documents)} documents in ${options.alias}${state.reportWrittenAt ? `; report.html rewritten ${hms(state.reportWrittenAt)}` : ''}`);
  if (state.topPages.length) {
    lines.push('  top pages (clicks, all dates and countries)');
    state.topPages.forEach((p, i) => lines.push(`    ${String(i + 1).padStart(2)}  ${fmt(p.clicks).padStart(8)}  ${p.page_url.length > 70 ? `${p.page_url.slice(0, 69)}…` : p.page_url}`));
  }
  if (state.note) lines.push(`  ${state.note}`);
  return lines;
}

/** Redraws the view in place on a terminal; elsewhere (a pipe, a log) prints it every `plainEveryMs`. */
class LiveView {
  private drawn = 0;
  private lastPlain = 0;
  constructor(private readonly out: NodeJS.WriteStream, private readonly plainEveryMs = 10_000) {}

  draw(lines: string[], force = false): void {
    if (this.out.isTTY) {
      const width = this.out.columns ?? 120;
      const clipped = lines.map((l) => (l.length > width - 1 ? `${l.slice(0, width - 2)}…` : l));
      // Cursor up to the first line drawn last time, clear to the end of the screen, draw again.
      this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}F` : ''}\x1b[J${clipped.join('\n')}\n`);
      this.drawn = clipped.length;
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPlain < this.plainEveryMs) return;
    this.lastPlain = now;
    this.out.write(`${lines.join('\n')}\n\n`);
  }

  /** Lines written between two draws scroll above the view. */
  print(text: string): void {
    if (this.out.isTTY && this.drawn > 0) {
      this.out.write(`\x1b[${this.drawn}F\x1b[J`);
      this.drawn = 0;
    }
    this.out.write(`${text}\n`);
  }
}

function sleep(ms: number, abort: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((r) => { timer = setTimeout(r, ms); }), abort.then(() => undefined)]).finally(() => clearTimeout(timer));
}

export interface FollowSummary {
  readonly produced: number;
  readonly consumed: number;
  readonly stored: number;
  readonly quarantined: number;
  readonly jobs: number;
  readonly documents: number;
  /** How the run ended: a stop request (Ctrl-C, SIGTERM), or `--duration` with everything indexed. */
  readonly stoppedBy: 'signal' | 'duration';
}

export async function runFollow(options: CliOptions, hooks: FollowHooks = {}): Promise<FollowSummary> {
  if (!options.follow) throw new Error('runFollow needs options.follow');
  const { rate, everySeconds } = options.follow;
  const settings = hooks.settings ?? settingsFromEnv();
  exportHandlerEnvironment(settings);
  const clients = createClients(settings);
  const out = hooks.out ?? process.stdout;
  const view = new LiveView(out);
  const alias = aliasOf(settings);
  const state: LiveState = { startedAt: Date.now(), produced: 0, consumed: 0, stored: 0, quarantined: 0, failedBatches: 0, jobs: 0, consumedAtLastJob: -1, documents: 0, topPages: [], stopping: false, samples: [] };
  const log: Log = (line) => view.print(line);

  // Stop requests: the first one stops cleanly, the second one exits at once.
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((r) => { requestStop = r; });
  let signals = 0;
  let stoppedBy = 'signal' as FollowSummary['stoppedBy'];
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      state.stopping = true;
      state.note = `${signal}: stopping — the batch in hand${state.jobRunning ? ' and the running job' : ''} finish first`;
      requestStop();
    } else {
      view.print(`\n${signal} again: quitting now. The next run redelivers what was not committed and reruns a job that did not finish.`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  void hooks.stop?.then(() => onSignal('SIGTERM'));
  const durationSeconds = options.follow.durationSeconds;
  const durationTimer = durationSeconds === undefined ? undefined : setTimeout(() => {
    if (signals > 0) return;
    signals++;
    stoppedBy = 'duration';
    state.stopping = true;
    state.note = `${durationSeconds}s are up: the generator stopped; consuming what is in the topic, then a last job`;
    requestStop();
  }, durationSeconds * 1000);

  let poller: MskPoller | undefined;
  let producer: Producer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  try {
    log(`[setup] topic ${settings.topic}, buckets ${settings.rawBucket} and ${settings.aggregatesBucket}, aliases ${settings.aliasPrefix}-*${options.reset ? ' — reset' : ''}`);
    if (!options.reset) await checkConsistency(clients, settings);
    await setupResources(clients, settings, options.reset);
    const admin = clients.kafka.admin();
    await admin.connect();
    let from: Map<number, number>;
    try {
      from = (await consumerStart(admin, settings.topic, settings.consumerGroup)).start;
    } finally {
      await admin.disconnect();
    }

    poller = await startPoller(settings, state, (line) => { state.note = line.trim(); });
    ticker = setInterval(() => {
      const failure = poller?.failure();
      if (failure !== undefined && !state.stopping) {
        state.note = `the event source mapping stopped: ${failure instanceof Error ? failure.message : String(failure)}`;
        onSignal('SIGTERM');
      }
      state.samples.push([Date.now(), state.consumed]);
      if (state.samples.length > 30) state.samples.shift();
      view.draw(liveViewLines(state, { rate, everySeconds, alias, topic: settings.topic }));
    }, 1000);

    const generator = rate > 0
      ? generate(clients, settings, options, rate, state, stopRequested, (p) => { producer = p; }).catch((e: unknown) => {
        state.note = `the generator stopped: ${e instanceof Error ? e.message : String(e)}`;
      })
      : Promise.resolve();
    const jobs = jobLoop(clients, settings, options, everySeconds, state, stopRequested, () => view.draw(liveViewLines(state, { rate, everySeconds, alias, topic: settings.topic }), true));

    await stopRequested;
    // Clean stop: nothing new is produced; the poller finishes and commits the batch in hand; a
    // running job finishes and its notifications are delivered.
    await generator;
    const running = poller;
    // --duration: first everything in the topic now (ours and other producers'), then a last job.
    const drained = stoppedBy === 'duration' ? running.drain(10 * 60_000) : Promise.resolve();
    await Promise.all([drained.then(() => running.stop()), jobs]);
    if (stoppedBy === 'duration' && state.consumed !== state.consumedAtLastJob) {
      await runJob(clients, settings, options, state);
      if (state.lastJob?.error) throw new Error(`the last Spark job failed: ${state.lastJob.error}`);
    }
    const positions = poller.stats().positions;
    clearInterval(ticker);
    ticker = undefined;
    view.draw(liveViewLines(state, { rate, everySeconds, alias, topic: settings.topic }), true);

    // Exact counts of this run, read back from the raw zone for the offsets it consumed.
    const to = new Map(from);
    for (const [p, o] of positions) to.set(p, Math.max(o, to.get(p) ?? 0));
    const counts = await consumedCounts(clients.s3, settings, from, to);
    const stages: StageSummary[] = [
      { stage: 'follow', seconds: (Date.now() - state.startedAt) / 1000, figures: [['produced', state.produced], ['job runs', state.jobs]] },
      { stage: 'ingest', seconds: 0, figures: consumeFigures(state.produced, counts, { batches: poller.stats().invocations - poller.stats().redeliveries, redeliveries: poller.stats().redeliveries }) },
    ];
    log(`\n[stopped cleanly${stoppedBy === 'duration' ? `: --duration ${durationSeconds}s, everything consumed and indexed` : ''}]`);
    log(formatStages(stages));
    log(`\nThe next run goes on from here (committed offsets, the job's state, the notifier's record are kept).`);
    log(stoppedBy === 'duration'
      ? `Everything consumed is aggregated and indexed: ${fmt(state.documents)} documents in ${alias}.`
      : `Events consumed after the last job run are aggregated by the next run's first job.`);
    return { produced: state.produced, consumed: counts.consumed, stored: counts.stored, quarantined: counts.quarantined, jobs: state.jobs, documents: state.documents, stoppedBy };
  } finally {
    if (ticker) clearInterval(ticker);
    if (durationTimer) clearTimeout(durationTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await poller?.stop().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    clients.s3.destroy();
    await clients.openSearch.close();
  }
}

async function startPoller(settings: PipelineSettings, state: LiveState, note: (line: string) => void): Promise<MskPoller> {
  const { MskPoller } = await import('./msk-poller');
  const { handler } = await import('../lambdas/ingest/handler');
  const counting = async (event: Parameters<typeof handler>[0], context: Parameters<typeof handler>[1]) => {
    const summary = (await handler(event, context)) as { recordsIn?: number; recordsStored?: number; recordsQuarantined?: number } | undefined;
    state.consumed += summary?.recordsIn ?? 0;
    state.stored += summary?.recordsStored ?? 0;
    state.quarantined += summary?.recordsQuarantined ?? 0;
    return summary;
  };
  const poller = new MskPoller({
    brokers: settings.brokers,
    topic: settings.topic,
    groupId: settings.consumerGroup,
    handler: counting as unknown as ConstructorParameters<typeof MskPoller>[0]['handler'],
    batchSize: Number(process.env.INGEST_BATCH_SIZE || 1000),
    maximumBatchingWindowMs: Number(process.env.INGEST_BATCHING_WINDOW_MS || 1000),
    retryAttempts: 3,
    onFailure: resolve('local-output', `${settings.consumerGroup}-on-failure.ndjson`),
    log: (line) => {
      note(line);
      if (line.includes('on-failure destination')) state.failedBatches++;
    },
  });
  await poller.start();
  return poller;
}

/** Produces `rate` generated messages a second until stopped (the caller disconnects the producer). */
async function generate(clients: PipelineClients, settings: PipelineSettings, options: CliOptions, rate: number, state: LiveState, stop: Promise<void>, connected: (p: Producer) => void): Promise<void> {
  const producer = clients.kafka.producer({ allowAutoTopicCreation: false });
  connected(producer);
  await producer.connect();
  const seed = options.source.kind === 'generate' ? options.source.seed : 'follow';
  let stopped = false;
  void stop.then(() => { stopped = true; });
  const started = Date.now();
  for (let tick = 0; !stopped; tick++) {
    // Steady on average: each second's share, whatever the last send took.
    const due = Math.floor(((Date.now() - started) / 1000 + 1) * rate) - state.produced;
    if (due > 0) {
      const messages = generateClicks({ count: due, seed: `${seed}-${tick}`, days: GENERATED_WINDOW_DAYS, partitions: settings.partitions, endTime: Date.now() });
      await produceMessages(producer, settings.topic, messages);
      state.produced += messages.length;
    }
    await sleep(1000, stop);
  }
}

/**
 * The Spark job every `everySeconds` (counted from the start of the previous run), then the
 * notifications of its output to the indexer, then the live figures and the report. The first
 * run starts at once (input left by an earlier run is aggregated); later ticks with nothing new
 * consumed skip the job (the scheduled job would start and find no new input). A failed run is
 * shown and retried at the next tick: the job saves its state only after a complete run.
 */
async function jobLoop(clients: PipelineClients, settings: PipelineSettings, options: CliOptions, everySeconds: number, state: LiveState, stop: Promise<void>, redraw: () => void): Promise<void> {
  let stopped = false;
  void stop.then(() => { stopped = true; });
  while (!stopped) {
    const started = Date.now();
    state.nextJobAt = started + everySeconds * 1000;
    if (state.consumed !== state.consumedAtLastJob) {
      await runJob(clients, settings, options, state);
      redraw();
    }
    await sleep(Math.max(0, state.nextJobAt - Date.now()), stop);
  }
}

/** One job run, its notifications and the refreshed outputs; a failure is kept in `state.lastJob`. */
async function runJob(clients: PipelineClients, settings: PipelineSettings, options: CliOptions, state: LiveState): Promise<void> {
  const started = new Date();
  state.consumedAtLastJob = state.consumed;
  state.jobRunning = started;
  try {
    const result = await runAggregateStage({ settings, log: () => undefined });
    const delivery = await deliverPendingNotifications(clients, settings, () => undefined);
    state.jobs++;
    state.lastJob = { started, finished: new Date(), result, notifications: delivery.notifications };
    await refreshOutputs(clients, settings, options, state);
  } catch (e) {
    state.lastJob = { started, finished: new Date(), error: e instanceof Error ? e.message : String(e) };
    state.consumedAtLastJob = -1;
  } finally {
    state.jobRunning = undefined;
  }
}

/** Documents, top pages, report.html, --out and --out-dir after a job run. */
async function refreshOutputs(clients: PipelineClients, settings: PipelineSettings, options: CliOptions, state: LiveState): Promise<void> {
  const alias = aliasOf(settings);
  state.documents = await countDocuments(clients.openSearch, alias);
  const rows = await fetchAllRows(clients.openSearch, alias);
  state.topPages = pageTotals(rows).slice(0, options.top).map((p) => ({ page_url: p.page_url, clicks: p.clicks }));
  const top = await queryTopPagesByCountry(clients.openSearch, alias, options.top);
  const job = state.lastJob;
  const stages: StageSummary[] = [{
    stage: 'live',
    seconds: (Date.now() - state.startedAt) / 1000,
    figures: [
      ['produced', state.produced], ['consumed', state.consumed], ['stored', state.stored], ['quarantined', state.quarantined],
      ['job runs', state.jobs], ['last job', job ? `${job.started.toISOString()} – ${job.finished.toISOString()}` : 'none'], ['documents', state.documents],
    ],
  }];
  writeHtmlReport(options.report, { title: 'Clickstream — local pipeline, live', generatedAt: new Date().toISOString(), stages, rows, topPagesByCountry: top });
  writeNdjson(options.out, rows);
  if (options.outDir) await logTableFiles(clients, settings, options.outDir, () => undefined);
  state.reportWrittenAt = new Date();
}
