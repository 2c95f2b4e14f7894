/**
 * `npm run local -- --follow` through the real engines, as a user runs it (local/cli.ts under tsx,
 * in its own process group):
 *
 * 1. Ctrl-C (SIGINT to the process group) while it produces and consumes: exit code 0, and every
 *    offset the consumer group committed is in the raw zone exactly once.
 * 2. Started again with --duration, while another producer writes to the topic (as kcat would):
 *    it stops by itself with exit code 0, counts the other producer's messages and the ones the
 *    first run left, and the index then holds exactly the expectation (local/expected.ts) over
 *    every message of the topic: nothing lost, nothing counted twice across the two runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Kafka, logLevel } from 'kafkajs';
import { computeExpected, diffRows, type ServedRow } from '../../local/expected';
import { generateClicks } from '../../local/generator';
import { consumedCounts, createClients, readRawZone, type PipelineClients } from '../../local/pipeline';
import { aliasOf, consumerStart, fetchAllDocuments, produceMessages, settingsFromEnv, type PipelineSettings } from '../../local/resources';
import { ensureEngines, uniqueName } from '../support/engines';
import { namesEnv, readTopic, startCli } from './cli-process';

jest.setTimeout(30 * 60_000);

let settings: PipelineSettings;
let clients: PipelineClients;
let env: NodeJS.ProcessEnv;
let work: string;

const outputs = (dir: string) => ['--out', join(dir, 'aggregates.ndjson'), '--report', join(dir, 'report.html'), '--out-dir', dir];

async function offsets(): Promise<{ committed: Map<number, number>; end: Map<number, number> }> {
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    const { committed, end } = await consumerStart(admin, settings.topic, settings.consumerGroup);
    return { committed, end };
  } finally {
    await admin.disconnect();
  }
}

const sum = (m: ReadonlyMap<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const zero = () => new Map([...Array(settings.partitions).keys()].map((p) => [p, 0]));

/** Every (partition, offset) stored or quarantined, as often as the raw zone holds it. */
async function rawCoordinates(to: Map<number, number>): Promise<string[]> {
  const raw = await readRawZone(clients.s3, settings, zero(), to);
  return [...raw.events, ...raw.quarantined].map(({ record }) => {
    const kafka = record.kafka as { partition?: number; offset?: number } | undefined;
    return `${String(record.partition ?? kafka?.partition)}:${String(record.offset ?? kafka?.offset)}`;
  });
}

beforeAll(async () => {
  await ensureEngines(['kafka', 's3', 'opensearch', 'spark']);
  const name = uniqueName('follow');
  env = namesEnv(name);
  settings = settingsFromEnv({ ...process.env, ...env });
  clients = createClients(settings);
  work = mkdtempSync(join(tmpdir(), 'local-follow-'));
}, 15 * 60_000);

afterAll(async () => {
  clients?.s3.destroy();
  await clients?.openSearch.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm run local -- --follow', () => {
  let committedAfterCtrlC = 0;

  it('stops cleanly on Ctrl-C with exit code 0, with every committed offset in the raw zone exactly once', async () => {
    const run = startCli(['--follow', '--rate', '10', '--every', '5', ...outputs(join(work, 'first'))], env);
    // Until the event source mapping has committed some batches.
    for (;;) {
      if (run.child.exitCode !== null) throw new Error(`the run ended by itself:\n${run.output()}`);
      const topics = await (async () => {
        const admin = clients.kafka.admin();
        await admin.connect();
        try { return await admin.listTopics(); } finally { await admin.disconnect(); }
      })();
      if (topics.includes(settings.topic) && sum((await offsets()).committed) >= 30) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    run.interrupt();
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/SIGINT: stopping/);
    expect(run.output()).toMatch(/\[stopped cleanly\]/);

    const { committed, end } = await offsets();
    committedAfterCtrlC = sum(committed);
    expect(committedAfterCtrlC).toBeGreaterThanOrEqual(30);
    const coordinates = await rawCoordinates(end);
    // Exactly the committed offsets, each once: the batch in hand was finished and committed.
    const expected = [...committed].flatMap(([p, o]) => [...Array(o).keys()].map((i) => `${p}:${i}`));
    expect(coordinates.sort()).toEqual(expected.sort());
  });

  it('runs for --duration while another producer writes, stops by itself and serves every message of the topic exactly once', async () => {
    const run = startCli(['--follow', '--rate', '5', '--every', '5', '--duration', '20', ...outputs(join(work, 'second'))], env);
    // Another producer (as kcat would) writes 150 messages while the run is going.
    const outside = generateClicks({ count: 150, seed: `${settings.topic}-outside`, days: 0.1, partitions: settings.partitions });
    const kafka = new Kafka({ clientId: 'outside-producer', brokers: [...settings.brokers], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await produceMessages(producer, settings.topic, outside);
    } finally {
      await producer.disconnect();
    }
    const code = await run.exited;
    expect({ code, output: code === 0 ? '' : run.output() }).toEqual({ code: 0, output: '' });
    expect(run.output()).toMatch(/\[stopped cleanly: --duration 20s, everything consumed and indexed\]/);
    // The summary after the stop (the live view above it has lines of its own).
    const output = run.output().slice(run.output().indexOf('[stopped cleanly'));

    // Everything in the topic was consumed: committed offsets at the end offsets.
    const { committed, end } = await offsets();
    expect(committed).toEqual(end);
    const total = sum(end);
    const produced = Number(/produced: ([\d,]+)/.exec(output)![1].replace(/,/g, ''));
    const consumed = Number(/consumed: ([\d,]+)/.exec(output)![1].replace(/,/g, ''));
    // This run consumed what the first run left, the other producer's messages and its own.
    expect(consumed).toBe(total - committedAfterCtrlC);
    expect(Number(/of which not produced by this run: ([\d,]+)/.exec(output)![1].replace(/,/g, ''))).toBe(consumed - produced);
    expect(consumed - produced).toBeGreaterThanOrEqual(outside.length);
    const counts = await consumedCounts(clients.s3, settings, zero(), end);
    expect(counts.stored + counts.quarantined).toBe(total);

    // Every offset of the topic in the raw zone once; the index equals the expectation over the topic.
    expect((await rawCoordinates(end)).length).toBe(total);
    const messages = await readTopic([...settings.brokers], settings.topic);
    expect(messages.length).toBe(total);
    const expected = computeExpected(messages);
    const served = (await fetchAllDocuments(clients.openSearch, aliasOf(settings)))! as unknown as ServedRow[];
    expect(diffRows(expected.rows, served)).toEqual([]);
    expect(served.length).toBe(expected.rows.length);
    // --out-dir was rewritten after the last job: it holds what the index holds.
    const written = readFileSync(join(work, 'second', 'url_country_daily.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(diffRows(expected.rows, written)).toEqual([]);
  });
});
