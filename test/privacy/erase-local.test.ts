/**
 * `npm run erase -- --local` end to end, through the real local engines (Kafka, the S3 server,
 * local Spark, OpenSearch), as an operator runs it:
 *
 * 1. `npm run local -- --events FILE` builds a pipeline's state (its own topic, buckets and aliases)
 *    from a generated stream, with two chosen users' events in the raw zone and their malformed
 *    messages in the quarantine, and one date on which only the first of them was active.
 * 2. `npm run erase -- --local` erases those two users and an ID that was never stored. Afterwards:
 *    every raw and quarantine object keeps its key and holds every other line byte for byte, none
 *    of the users' lines is left (the object of the lone date is an empty gzip object), the command
 *    reports what it removed per ID (the unknown one as not found), the erasure record and the
 *    request hold keyed hashes only, and every table - in the aggregates bucket and in OpenSearch -
 *    equals what a fresh `npm run local` over the same stream without those users' messages
 *    serves, which in turn equals the expectation (local/expected.ts) over that stream.
 * 3. The same erasure run again changes nothing: no object rewritten, no date recomputed, every
 *    object and document as it was.
 */
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { spawn } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { TABLE_NAMES, allAliases, type TableName } from '../../lambdas/indexer/tables';
import { userIdHash } from '../../lambdas/ingest/pseudonymize';
import { computeExpected, diffTable } from '../../local/expected';
import { generateClicks, type ClickMessage } from '../../local/generator';
import { createClients, type PipelineClients } from '../../local/pipeline';
import { ensureLocalPrivacyKey } from '../../local/privacy-key';
import { aliasOf, deleteAliasIndices, deletePrefix, fetchAllDocuments, getBytes, listKeys, settingsFromEnv, type PipelineSettings } from '../../local/resources';
import { indexNames } from '../../opensearch/index-template';
import { ensureEngines, uniqueName } from '../support/engines';
// The pipeline run as `npm run local` runs it once its engines are up (scripts/local.sh is not used:
// it may install packages and stop engines it finds down, which tests sharing the engines must not do).
import { namesEnv, readTopic, runCli } from '../local/cli-process';

jest.setTimeout(45 * 60_000);

const REPO = join(__dirname, '..', '..');
const DAY = 24 * 3600_000;

let work: string;
let keyFile: string;
let key: string;
/** The pipeline whose users are erased, and the fresh one over the stream without them. */
let erasedEnv: NodeJS.ProcessEnv;
let freshEnv: NodeJS.ProcessEnv;
let erased: PipelineSettings;
let fresh: PipelineSettings;
let clients: PipelineClients;

const outputs = (dir: string) => ['--out', join(dir, 'aggregates.ndjson'), '--report', join(dir, 'report.html'), '--out-dir', dir];

/** Runs a command in the repository with the pipeline's names; resolves with its exit code and output. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: REPO,
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', output }));
  });
}

/** `npm run erase -- --local ARGS`, as an operator runs it. */
const runErase = (args: readonly string[], env: NodeJS.ProcessEnv) => run('npm', ['run', '--silent', 'erase', '--', '--local', ...args], env);

/** The lines of a gzip NDJSON object, as bytes; an empty object (or an emptied gzip one) has none. */
function objectLines(body: Buffer): Buffer[] {
  if (body.length === 0) return [];
  const data = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
  const lines: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    if (end > start) lines.push(data.subarray(start, end));
    start = end + 1;
  }
  return lines;
}

interface StoredObject {
  readonly etag: string | undefined;
  readonly body: Buffer;
}

/** Every object under the prefixes, by key. */
async function snapshot(bucket: string, prefixes: readonly string[]): Promise<Map<string, StoredObject>> {
  const out = new Map<string, StoredObject>();
  for (const prefix of prefixes) {
    for (const o of await listKeys(clients.s3, bucket, prefix)) out.set(o.key, { etag: o.etag, body: await getBytes(clients.s3, bucket, o.key) });
  }
  return out;
}

// docs/privacy.md §3: the tokens of a quarantine value that is not a JSON object.
const SEPARATORS = /[\s"',:;{}[\]()=&?/\\]+/;
function tokens(text: string): string[] {
  const found = text.split(SEPARATORS).filter((t) => t !== '');
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    try {
      found.push(JSON.parse(`"${m[1]}"`) as string);
    } catch {
      found.push(m[1]);
    }
  }
  return found;
}

/** The user a raw-zone line belongs to by the documented rules, when it is one of `ids`. */
function lineUser(kind: 'events' | 'quarantine', line: Buffer, ids: ReadonlySet<string>): string | undefined {
  const text = line.toString('utf8');
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return tokens(text).find((t) => ids.has(t));
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return tokens(text).find((t) => ids.has(t));
  const r = record as Record<string, unknown>;
  if (kind === 'events') return typeof r.user_id === 'string' && ids.has(r.user_id) ? r.user_id : undefined;
  if (typeof r.value !== 'string') return undefined;
  const value = r.encoding === 'base64' ? Buffer.from(r.value, 'base64').toString('utf8') : r.value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.replace(/^\ufeff/, ''));
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    for (const name of ['user_id', 'userId']) if (typeof o[name] === 'string' && ids.has(o[name] as string)) return o[name] as string;
    return undefined;
  }
  return tokens(value).find((t) => ids.has(t));
}

/** A table's rows in the aggregates bucket (part files; empty markers hold none), comparable across runs. */
async function tableRows(settings: PipelineSettings, table: TableName): Promise<string[]> {
  const rows: Array<Record<string, unknown>> = [];
  for (const { key } of await listKeys(clients.s3, settings.aggregatesBucket, `aggregates/${table}/`)) {
    if (!/\/part-[^/]*\.json$/.test(key)) continue;
    for (const line of objectLines(await getBytes(clients.s3, settings.aggregatesBucket, key))) rows.push(JSON.parse(line.toString('utf8')) as Record<string, unknown>);
  }
  return comparable(rows);
}

/** Rows without the computation time, numbers rounded, keys sorted, in a stable order. */
function comparable(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  const round = (v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v);
  return rows.map((row) => {
    const r = { ...row };
    delete r.computed_at;
    return JSON.stringify(Object.fromEntries(Object.keys(r).sort().map((k) => [k, round(r[k])])));
  }).sort();
}

async function documents(settings: PipelineSettings, table: TableName): Promise<Array<Record<string, unknown>>> {
  const docs = await fetchAllDocuments(clients.openSearch, aliasOf(settings, table));
  if (docs === undefined) throw new Error(`the alias ${aliasOf(settings, table)} does not exist`);
  return docs;
}

async function removePipeline(settings: PipelineSettings): Promise<void> {
  const tasks: Array<() => Promise<unknown>> = [
    async () => {
      for (const alias of allAliases(settings.aliasPrefix)) {
        await deleteAliasIndices(clients.openSearch, alias);
        await clients.openSearch.transport.request({ method: 'DELETE', path: `/_index_template/${indexNames(alias).templateName}` }, { ignore: [404] });
      }
    },
    async () => {
      const admin = clients.kafka.admin();
      await admin.connect();
      try {
        await admin.deleteGroups([settings.consumerGroup]).catch(() => undefined);
        if ((await admin.listTopics()).includes(settings.topic)) await admin.deleteTopics({ topics: [settings.topic] });
      } finally {
        await admin.disconnect();
      }
    },
    ...[settings.rawBucket, settings.aggregatesBucket].map((bucket) => async () => {
      await deletePrefix(clients.s3, bucket, '');
      await clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    }),
  ];
  for (const task of tasks) await task().catch(() => undefined);
}

// ------------------------------------------------------------------------------------------------
// The stream, the users to erase, and a date only the first of them was active on

const partitions = 3;
const generated = generateClicks({ count: 1500, seed: 'erase-local', days: 2, partitions, malformedRate: 0.05 });

function parsedObject(value: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(value.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

const userOf = (m: ClickMessage): string | undefined => {
  const o = parsedObject(m.value);
  const id = o?.user_id ?? o?.userId;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

/**
 * The first user: valid events and the most malformed messages that are JSON objects naming them;
 * the second: valid events and a truncated (unparseable) message that still names them in full,
 * matched by its tokens, else the next user of the first kind.
 */
function chooseUsers(): [string, string] {
  const valid = new Map<string, number>();
  const malformedObjects = new Map<string, number>();
  const truncated = new Set<string>();
  for (const m of generated) {
    if (m.kind === 'valid' || m.kind === 'late' || m.kind === 'duplicate') {
      const id = userOf(m);
      if (id) valid.set(id, (valid.get(id) ?? 0) + 1);
    } else if (m.kind === 'malformed:truncated_json') {
      const text = m.value.toString('utf8');
      const id = /"user_id":"([^"]+)"/.exec(text)?.[1];
      if (id) truncated.add(id);
    } else if (m.kind.startsWith('malformed:')) {
      const id = userOf(m);
      if (id) malformedObjects.set(id, (malformedObjects.get(id) ?? 0) + 1);
    }
  }
  const candidates = [...malformedObjects].filter(([id]) => valid.has(id)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  if (candidates.length < 2) throw new Error('the generated stream has too few users with malformed messages');
  const first = candidates[0];
  const second = [...truncated].filter((id) => id !== first && valid.has(id)).sort()[0] ?? candidates[1];
  return [first, second];
}

const [userA, userB] = chooseUsers();
const ghost = `not-stored-${userA}`;

/** Valid messages of the first user moved four days back (before the stream's first day): their date has no one else. */
function loneDateMessages(): { messages: ClickMessage[]; date: string } {
  const mine = generated.filter((m) => m.kind === 'valid' && userOf(m) === userA).slice(0, 3);
  const first = Math.min(...generated.map((m) => m.timestamp)) - 4 * DAY;
  const date = new Date(first).toISOString().slice(0, 10);
  const messages = mine.map((m, i) => {
    const o = parsedObject(m.value)!;
    for (const name of ['event_id', 'eventId', 'timestamp', 'ts']) delete o[name];
    o.timestamp = new Date(Date.parse(`${date}T10:00:00.000Z`) + i * 60_000).toISOString();
    return { ...m, value: Buffer.from(JSON.stringify(o), 'utf8') };
  });
  return { messages, date };
}

const lone = loneDateMessages();

/** Message values one per line, as `--events FILE` reads them. */
function eventsFile(name: string, messages: readonly ClickMessage[]): string {
  const file = join(work, name);
  const values = messages.map((m) => m.value).filter((v) => v.length > 0 && !v.includes(0x0a) && !v.includes(0x0d));
  writeFileSync(file, Buffer.concat(values.flatMap((v) => [v, Buffer.from('\n')])));
  return file;
}

beforeAll(async () => {
  await ensureEngines(['kafka', 's3', 'opensearch', 'spark']);
  work = mkdtempSync(join(tmpdir(), 'erase-local-'));
  keyFile = ensureLocalPrivacyKey(join(work, 'privacy', 'privacy-key'));
  key = readFileSync(keyFile, 'utf8').trim();
  const name = uniqueName('erase');
  erasedEnv = { ...namesEnv(name), PRIVACY_KEY_FILE: keyFile };
  freshEnv = { ...namesEnv(`${name}-fresh`), PRIVACY_KEY_FILE: keyFile };
  erased = settingsFromEnv({ ...process.env, ...erasedEnv });
  fresh = settingsFromEnv({ ...process.env, ...freshEnv });
  clients = createClients(erased);
}, 15 * 60_000);

afterAll(async () => {
  if (clients) {
    for (const settings of [erased, fresh]) if (settings) await removePipeline(settings);
    clients.s3.destroy();
    await clients.openSearch.close();
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 5 * 60_000);

describe('npm run erase -- --local', () => {
  const ids = new Set([userA, userB]);
  let rawBefore: Map<string, StoredObject>;
  /** Every table's documents before the erasure. */
  const servedBefore = new Map<TableName, string[]>();

  it('builds a pipeline state holding both users\' events and quarantined messages', async () => {
    const all = [...generated, ...lone.messages];
    await runCli(['--events', eventsFile('all.ndjson', all), ...outputs(join(work, 'erased'))], erasedEnv);
    rawBefore = await snapshot(erased.rawBucket, ['events/', 'quarantine/']);
    for (const table of TABLE_NAMES) servedBefore.set(table, comparable(await documents(erased, table)));
    const found = { events: new Map<string, number>(), quarantine: new Map<string, number>() };
    for (const [objectKey, { body }] of rawBefore) {
      const kind = objectKey.startsWith('events/') ? 'events' : 'quarantine';
      for (const line of objectLines(body)) {
        const user = lineUser(kind, line, ids);
        if (user) found[kind].set(user, (found[kind].get(user) ?? 0) + 1);
      }
    }
    // What the erasure has to find: both users' events, and quarantined lines of each.
    expect(found.events.get(userA)).toBeGreaterThan(lone.messages.length);
    expect(found.events.get(userB)).toBeGreaterThan(0);
    expect(found.quarantine.get(userA)).toBeGreaterThan(0);
    expect(found.quarantine.get(userB)).toBeGreaterThan(0);
    // The lone date's raw objects hold the first user's events only.
    const loneObjects = [...rawBefore].filter(([k]) => k.startsWith(`events/dt=${lone.date}/`));
    expect(loneObjects.length).toBeGreaterThan(0);
    for (const [, { body }] of loneObjects) for (const line of objectLines(body)) expect(lineUser('events', line, ids)).toBe(userA);
  });

  it('removes exactly the users\' lines from every raw and quarantine object, keeping the keys and every other line byte for byte', async () => {
    const { code, output } = await runErase(['--user-id', userA, '--user-id', userB, '--user-id', ghost], erasedEnv);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });

    const rawAfter = await snapshot(erased.rawBucket, ['events/', 'quarantine/']);
    expect([...rawAfter.keys()].sort()).toEqual([...rawBefore.keys()].sort());
    const removed = new Map<string, { events: number; quarantine: number }>([[userA, { events: 0, quarantine: 0 }], [userB, { events: 0, quarantine: 0 }]]);
    const changed: string[] = [];
    const eventDates = new Set<string>();
    for (const [objectKey, before] of rawBefore) {
      const kind = objectKey.startsWith('events/') ? 'events' : 'quarantine';
      const after = rawAfter.get(objectKey)!;
      const kept: Buffer[] = [];
      for (const line of objectLines(before.body)) {
        const user = lineUser(kind, line, ids);
        if (user === undefined) {
          kept.push(line);
        } else {
          removed.get(user)![kind === 'events' ? 'events' : 'quarantine']++;
          if (kind === 'events') eventDates.add(/\/dt=(\d{4}-\d{2}-\d{2})\//.exec(objectKey)![1]);
        }
      }
      const afterLines = objectLines(after.body);
      expect({ key: objectKey, lines: afterLines.map((l) => l.toString('base64')) }).toEqual({ key: objectKey, lines: kept.map((l) => l.toString('base64')) });
      if (kept.length === objectLines(before.body).length) {
        // An object without the users' lines is not touched at all.
        expect({ key: objectKey, same: after.body.equals(before.body) }).toEqual({ key: objectKey, same: true });
      } else {
        changed.push(objectKey);
      }
    }
    // The lone date's objects are left as empty gzip objects under their keys.
    for (const [objectKey, { body }] of rawAfter) {
      if (!objectKey.startsWith(`events/dt=${lone.date}/`)) continue;
      expect(body.length).toBeGreaterThan(0);
      expect(gunzipSync(body).length).toBe(0);
    }

    // The command's report, per ID; the unknown ID is not an error.
    for (const [user, n] of removed) expect(output).toContain(`  ${user}: ${n.events} events, ${n.quarantine} quarantine lines removed`);
    expect(output).toContain(`  ${ghost}: not found (nothing stored)`);
    const events = [...removed.values()].reduce((s, n) => s + n.events, 0);
    const quarantine = [...removed.values()].reduce((s, n) => s + n.quarantine, 0);
    expect(output).toContain(`events removed ${events}, quarantine lines removed ${quarantine}`);
    expect(output).toMatch(new RegExp(`rewritten ${changed.length}\\b`));

    // The report object agrees, and every date the users had events on was recomputed.
    const reports = await listKeys(clients.s3, erased.rawBucket, 'erasure/reports/');
    expect(reports).toHaveLength(1);
    const report = JSON.parse((await getBytes(clients.s3, erased.rawBucket, reports[0].key)).toString('utf8')) as {
      objects_rewritten: number; rewritten: string[]; events_removed: number; quarantine_lines_removed: number; dates_recomputed: string[];
    };
    expect(report.objects_rewritten).toBe(changed.length);
    expect(report.rewritten.map((uri) => uri.replace(/^s3a?:\/\/[^/]+\//, '')).sort()).toEqual(changed.sort());
    expect({ events: report.events_removed, quarantine: report.quarantine_lines_removed }).toEqual({ events, quarantine });
    expect(report.dates_recomputed).toEqual([...eventDates].sort());
    expect(report.dates_recomputed).toContain(lone.date);

    // The erasure record and the request hold keyed hashes under the pipeline's key, no clear ID.
    const record = JSON.parse((await getBytes(clients.s3, erased.rawBucket, 'erasure/erased-users.json')).toString('utf8')) as { entries: Array<{ hash: string }> };
    expect(record.entries.map((e) => e.hash).sort()).toEqual([userA, userB, ghost].map((id) => userIdHash(key, id)).sort());
    for (const { key: objectKey } of await listKeys(clients.s3, erased.rawBucket, 'erasure/')) {
      const text = (await getBytes(clients.s3, erased.rawBucket, objectKey)).toString('utf8');
      for (const id of [userA, userB, ghost]) expect({ objectKey, holdsId: text.includes(id) }).toEqual({ objectKey, holdsId: false });
    }
  });

  it('leaves every table, in S3 and in OpenSearch, equal to a fresh run over the stream without those users', async () => {
    const without = generated.filter((m) => !ids.has(userOf(m) ?? '') && !tokens(m.value.toString('utf8')).some((t) => ids.has(t)));
    expect(generated.length - without.length).toBeGreaterThan(0);
    await runCli(['--events', eventsFile('without.ndjson', without), ...outputs(join(work, 'fresh'))], freshEnv);
    const expected = computeExpected(await readTopic([...fresh.brokers], fresh.topic, 120_000));

    for (const table of TABLE_NAMES) {
      const s3Rows = await tableRows(erased, table);
      const freshRows = await tableRows(fresh, table);
      expect({ table, rows: s3Rows.length }).toEqual({ table, rows: freshRows.length });
      expect(s3Rows).toEqual(freshRows);
      const served = await documents(erased, table);
      expect(comparable(served)).toEqual(comparable(await documents(fresh, table)));
      expect({ table, differences: diffTable(table, expected.tables[table], served) }).toEqual({ table, differences: [] });
      expect(served.length).toBe(expected.tables[table].length);
      // The date only the first user was active on: the empty marker alone, no document.
      const folder = await listKeys(clients.s3, erased.aggregatesBucket, `aggregates/${table}/event_date=${lone.date}/`);
      expect(folder.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1))).toEqual(['_empty.json']);
      expect(served.filter((d) => String(d.event_date).slice(0, 10) === lone.date)).toEqual([]);
      // The users were visible in every table before (so the equality above is the erasure's doing).
      expect({ table, unchanged: comparable(served).join('\n') === servedBefore.get(table)!.join('\n') }).toEqual({ table, unchanged: false });
    }
  });

  it('changes nothing when run a second time', async () => {
    const raw = await snapshot(erased.rawBucket, ['events/', 'quarantine/']);
    const aggregates = await snapshot(erased.aggregatesBucket, ['aggregates/']);
    const docs = new Map<TableName, Array<Record<string, unknown>>>();
    for (const table of TABLE_NAMES) docs.set(table, await documents(erased, table));

    const { code, output } = await runErase(['--user-id', userB, '--user-id', userA], erasedEnv);
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    expect(output).toMatch(/rewritten 0\b/);
    expect(output).toContain('events removed 0, quarantine lines removed 0');
    expect(output).toContain('dates recomputed (0): none');
    expect(output).toContain(`  ${userA}: not found (nothing stored)`);

    const rawAgain = await snapshot(erased.rawBucket, ['events/', 'quarantine/']);
    expect([...rawAgain].map(([k, o]) => [k, o.etag, o.body.toString('base64')])).toEqual([...raw].map(([k, o]) => [k, o.etag, o.body.toString('base64')]));
    const aggregatesAgain = await snapshot(erased.aggregatesBucket, ['aggregates/']);
    expect([...aggregatesAgain].map(([k, o]) => [k, o.etag])).toEqual([...aggregates].map(([k, o]) => [k, o.etag]));
    for (const table of TABLE_NAMES) expect({ table, documents: await documents(erased, table) }).toEqual({ table, documents: docs.get(table) });
  });
});
