/**
 * `local/cli.ts` as a user runs it (Node with tsx's loader, as scripts/local.sh does), for tests: its own process
 * group, so a test can send it the SIGINT a terminal's Ctrl-C sends; and the topic read back
 * from the broker, to compute independently what the pipeline must serve.
 */
import { spawn, type ChildProcess } from 'child_process';
import { Kafka, logLevel } from 'kafkajs';
import * as path from 'path';
import type { ProducedMessage } from '../../local/expected';

const REPO = path.resolve(__dirname, '..', '..');

export interface CliRun {
  readonly child: ChildProcess;
  /** Everything printed so far (stdout and stderr, in order). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGINT to the whole process group, as Ctrl-C in a terminal. */
  interrupt(): void;
}

/** The pipeline's names in the environment (local/resources.ts settingsFromEnv). */
export function namesEnv(name: string): NodeJS.ProcessEnv {
  return {
    CLICKSTREAM_TOPIC: name,
    CLICKSTREAM_CONSUMER_GROUP: `${name}-ingest`,
    RAW_BUCKET: `${name}-raw`,
    AGGREGATES_BUCKET: `${name}-agg`,
    OPENSEARCH_ALIAS_PREFIX: name,
  };
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 20 * 60_000): CliRun {
  // As scripts/local.sh runs it: one Node process with tsx's loader.
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  child.stderr!.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => group('SIGKILL'), timeoutMs);
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return { child, output: () => text, exited, interrupt: () => group('SIGINT') };
}

/** Runs the CLI to its end; rejects with its output when it exits with another code than `expectCode`. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv, expectCode = 0): Promise<string> {
  const run = startCli(args, env);
  const code = await run.exited;
  if (code !== expectCode) throw new Error(`local/cli.ts ${args.join(' ')} exited with ${code}, not ${expectCode}:\n${run.output().slice(-6000)}`);
  return run.output();
}

/** Every message of the topic, with its coordinates and record timestamp. */
export async function readTopic(brokers: string[], topic: string, timeoutMs = 60_000): Promise<ProducedMessage[]> {
  const kafka = new Kafka({ clientId: 'topic-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${topic}-reader-${process.pid}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  try {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    const out: ProducedMessage[] = [];
    if (total === 0) return out;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic}: ${out.length} of ${total} messages after ${timeoutMs / 1000} s`)), timeoutMs);
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (Number(message.offset) >= (ends.get(partition) ?? 0)) return;
          out.push({ topic, partition, offset: Number(message.offset), timestamp: Number(message.timestamp), value: message.value ?? Buffer.alloc(0) });
          if (out.length === total) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    return out;
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** A table's documents as written by --out-dir, without the computation time, in a stable order. */
export function comparableDocuments(ndjson: string): string[] {
  const round = (v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v);
  return ndjson.split('\n').filter((l) => l.trim() !== '').map((line) => {
    const doc = JSON.parse(line) as Record<string, unknown>;
    delete doc.computed_at;
    return JSON.stringify(Object.fromEntries(Object.keys(doc).sort().map((k) => [k, round(doc[k])])));
  }).sort();
}
