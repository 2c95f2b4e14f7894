/**
 * `npm run local` twice with the engines stopped and started in between gives the same served
 * tables as one run over both inputs, and equals the independent expectation (local/expected.ts)
 * over everything in the topic. Runs on private engine instances (test/local/private-engines.ts),
 * so stopping them never disturbs the tests that share the local stack.
 *
 * Also: a run that finds the engines' data not fitting together (the S3 server lost its data while
 * Kafka and OpenSearch kept theirs) stops with exit code 3 and says what it found, touching nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { computeExpected, diffRows } from '../../local/expected';
import { generateClicks, type ClickMessage } from '../../local/generator';
import { TABLE_NAMES } from '../../lambdas/indexer/tables';
import { createClients } from '../../local/pipeline';
import { aliasOf, consumerStart, countDocuments, listKeys, settingsFromEnv } from '../../local/resources';
import { PrivateS3 } from '../engines/private-s3';
import { ensureEngines } from '../support/engines';
import { comparableDocuments, namesEnv, readTopic, runCli } from './cli-process';
import { PrivateEngines } from './private-engines';

jest.setTimeout(30 * 60_000);

let engines: PrivateEngines;
let work: string;

/** Message values, one per line, as `--events FILE` reads them. */
function eventsFile(name: string, messages: readonly ClickMessage[]): string {
  const file = join(work, name);
  // A value with a line break (none of the generator's kinds has one) would split into two messages.
  const values = messages.map((m) => m.value).filter((v) => v.length > 0 && !v.includes(0x0a) && !v.includes(0x0d));
  writeFileSync(file, Buffer.concat(values.flatMap((v) => [v, Buffer.from('\n')])));
  return file;
}

/** What the engines hold for the two-run pipeline: messages, committed offsets, objects, documents. */
async function holdings(): Promise<{ messages: number; committed: number; rawObjects: number; aggregateObjects: number; documents: number }> {
  const settings = settingsFromEnv({ ...process.env, ...engines.env, ...namesEnv('two-runs') });
  const clients = createClients(settings);
  const admin = clients.kafka.admin();
  try {
    await admin.connect();
    const { committed, end } = await consumerStart(admin, settings.topic, settings.consumerGroup);
    const total = (m: Map<number, number>) => [...m.values()].reduce((x, y) => x + y, 0);
    return {
      messages: total(end),
      committed: total(committed),
      rawObjects: (await listKeys(clients.s3, settings.rawBucket, '')).length,
      aggregateObjects: (await listKeys(clients.s3, settings.aggregatesBucket, '')).length,
      documents: await countDocuments(clients.openSearch, aliasOf(settings)),
    };
  } finally {
    await admin.disconnect();
    clients.s3.destroy();
    await clients.openSearch.close();
  }
}

const outputs = (dir: string) => ['--out', join(dir, 'aggregates.ndjson'), '--report', join(dir, 'report.html'), '--out-dir', dir];
/** `consumed: N` of the run's summary. */
const consumed = (output: string) => Number(/consumed\s*:?\s*([\d,]+)/.exec(output)![1].replace(/,/g, ''));

beforeAll(async () => {
  await ensureEngines(['spark']);
  work = mkdtempSync(join(tmpdir(), 'local-restart-'));
  engines = await PrivateEngines.start('restart');
}, 10 * 60_000);

afterAll(async () => {
  await engines?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
}, 5 * 60_000);

describe('npm run local across a restart of the engines', () => {
  const first = generateClicks({ count: 1500, seed: 'restart-first', days: 2, partitions: 3 });
  const second = generateClicks({ count: 700, seed: 'restart-second', days: 0.5, partitions: 3 });
  const twoRuns = namesEnv('two-runs');
  const oneRun = namesEnv('one-run');

  it('keeps every engine\'s data across a stop and serves the same tables as one run over both inputs', async () => {
    const file1 = eventsFile('first.ndjson', first);
    const file2 = eventsFile('second.ndjson', second);
    const lines = (file: string) => readFileSync(file).toString('latin1').split('\n').filter((l) => l !== '').length;
    const both = join(work, 'both.ndjson');
    writeFileSync(both, Buffer.concat([readFileSync(file1), readFileSync(file2)]));

    const a1 = join(work, 'a1');
    const out1 = await runCli(['--events', file1, ...outputs(a1)], { ...engines.env, ...twoRuns });
    expect(consumed(out1)).toBe(lines(file1));

    const before = await holdings();
    expect(before.committed).toBe(lines(file1));
    expect(before.rawObjects).toBeGreaterThan(0);
    expect(before.documents).toBeGreaterThan(0);
    await engines.stop();
    await engines.startAgain();
    // Every engine kept its data: the topic and the group's offsets, the buckets, the documents.
    expect(await holdings()).toEqual(before);

    const a2 = join(work, 'a2');
    const out2 = await runCli(['--events', file2, ...outputs(a2)], { ...engines.env, ...twoRuns });
    // The second run consumed its own messages only: the first run's offsets were kept.
    expect(consumed(out2)).toBe(lines(file2));
    expect(out2).not.toMatch(/does not fit together/);

    const b = join(work, 'b');
    await runCli(['--events', both, ...outputs(b)], { ...engines.env, ...oneRun });

    for (const table of TABLE_NAMES) {
      const twice = comparableDocuments(readFileSync(join(a2, `${table}.ndjson`), 'utf8'));
      const once = comparableDocuments(readFileSync(join(b, `${table}.ndjson`), 'utf8'));
      expect({ table, documents: twice.length }).toEqual({ table, documents: once.length });
      expect(twice).toEqual(once);
    }

    // And both equal what SPEC §1 and §3 say, computed independently from the topic's messages.
    const messages = await readTopic(engines.brokers, twoRuns.CLICKSTREAM_TOPIC!);
    expect(messages.length).toBe(lines(file1) + lines(file2));
    const expected = computeExpected(messages);
    const served = readFileSync(join(a2, 'url_country_daily.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(diffRows(expected.rows, served)).toEqual([]);
    expect(served.length).toBe(expected.rows.length);
  });

  it('stops with exit code 3 and what it found when the S3 server lost its data but Kafka and OpenSearch kept theirs', async () => {
    const before = (await readTopic(engines.brokers, twoRuns.CLICKSTREAM_TOPIC!)).length;
    const emptyS3 = await PrivateS3.start('restart-lost');
    try {
      const output = await runCli(['--events', '10', ...outputs(join(work, 'lost'))], { ...engines.env, ...emptyS3.env, ...twoRuns }, 3);
      expect(output).toMatch(/does not fit together/);
      expect(output).toMatch(new RegExp(`consumer group ${twoRuns.CLICKSTREAM_CONSUMER_GROUP} has consumed 2,\\d{3} messages`));
      expect(output).toMatch(/OpenSearch: the alias two-runs-url-country-daily holds [\d,]+ documents/);
      expect(output).toMatch(/npm run local -- --reset/);
      // Nothing was produced: the check comes before anything is written.
      expect((await readTopic(engines.brokers, twoRuns.CLICKSTREAM_TOPIC!)).length).toBe(before);
    } finally {
      await emptyS3.remove();
    }
  });
});
