/**
 * `npm run local [-- options]`: runs the whole pipeline on this machine with the real local
 * engines (scripts/local.sh starts them first and stops them afterwards).
 */
import { existsSync, statSync } from 'fs';
import { resolve } from 'path';

export interface CliOptions {
  /** Where the messages come from. */
  readonly source: { readonly kind: 'generate'; readonly count: number; readonly seed: string; readonly days: number } | { readonly kind: 'file'; readonly path: string };
  readonly out: string;
  /** `--out-dir`: one `<table>.ndjson` per aggregate table. @default none */
  readonly outDir?: string;
  readonly report: string;
  readonly keepRunning: boolean;
  readonly reset: boolean;
  /** Top pages shown per country. */
  readonly top: number;
  /**
   * `--follow`: keep running, producing at `rate` per second and aggregating every `everySeconds`;
   * with `durationSeconds`, stop by itself after that long with everything consumed, aggregated
   * and indexed. @default a single run
   */
  readonly follow?: { readonly rate: number; readonly everySeconds: number; readonly durationSeconds?: number };
}

export const DEFAULT_COUNT = 20_000;
export const DEFAULT_DAYS = 3;
export const DEFAULT_OUT = 'local-output/aggregates.ndjson';
export const DEFAULT_REPORT = 'local-output/report.html';
export const DEFAULT_RATE = 20;
export const DEFAULT_EVERY_SECONDS = 60;

export const USAGE = `Usage: npm run local -- [options]

Runs the clickstream pipeline end to end on this machine with the real local engines:
Kafka -> ingest handler -> raw bucket -> Spark job -> aggregates bucket -> indexer -> OpenSearch.

Options
  --events N          generate N realistic click messages (default ${DEFAULT_COUNT})
  --events FILE       produce the message values of FILE instead, one per line, exactly as given
                      (a value that is a number is a count; anything else is a file path)
  --count N           same as --events N
  --events-file FILE  same as --events FILE
  --seed S            seed of the generator (default: a random one, printed; give the same seed
                      to reproduce a stream, a new one to add new events)
  --days D            days of traffic the generator spreads events over, up to 6 (default ${DEFAULT_DAYS})
  --out FILE          NDJSON file of url_country_daily read back from OpenSearch (default ${DEFAULT_OUT})
  --out-dir DIR       also write DIR/<table>.ndjson for every aggregate table, read back from OpenSearch
  --report FILE       HTML report with charts (default ${DEFAULT_REPORT})
  --top N             top pages shown per country (default 5)
  --reset             start from scratch: delete and recreate the topic, buckets and index
  --keep-running      leave the engines running afterwards and print their endpoints
  -h, --help          this text

Live (runs until Ctrl-C, or for --duration)
  --follow            keep the pipeline running: the generator produces at a steady rate, the
                      event source mapping consumes continuously, the Spark job runs every
                      --every seconds, the indexer gets its notifications, and the terminal shows
                      a live view; report.html (and --out, --out-dir) are rewritten after each job
  --rate N            messages per second the generator produces (default ${DEFAULT_RATE}); 0: none, only
                      what other producers write to the topic (e.g. kcat -b 127.0.0.1:9092 -t clickstream -P)
  --every SECONDS     interval of the Spark job (default ${DEFAULT_EVERY_SECONDS})
  --duration SECONDS  stop by itself after SECONDS: the generator stops, everything in the topic
                      is consumed, a last job runs and is indexed, then the run ends (exit 0)
  Ctrl-C stops cleanly (exit 0): the batch in hand and a running job finish; what was consumed
  after the last job is aggregated by the next run, which goes on from there.

The engines keep their data between runs: a second run adds its events to what is there and the
Spark job recomputes only the days whose input changed (the scheduled job's behaviour). A run
that finds the engines' data not fitting together (one of them lost or reset on its own) stops
and says so; --reset starts over with all of them empty.`;

export class UsageError extends Error {}

function positiveInt(flag: string, text: string | undefined, allowZero = false): number {
  if (text === undefined) throw new UsageError(`${flag} needs a value`);
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || (!allowZero && n === 0)) throw new UsageError(`${flag} must be a positive whole number, got "${text}"`);
  return n;
}

/** Parses the arguments. Returns null for --help. `randomSeed` is used when no --seed is given. */
export function parseArgs(argv: readonly string[], randomSeed: () => string = () => String(Math.floor(Math.random() * 1e9))): CliOptions | null {
  let count: number | undefined;
  let file: string | undefined;
  let seed: string | undefined;
  let days = DEFAULT_DAYS;
  let out = DEFAULT_OUT;
  let report = DEFAULT_REPORT;
  let keepRunning = false;
  let reset = false;
  let top = 5;
  let outDir: string | undefined;
  let follow = false;
  let rate: number | undefined;
  let every: number | undefined;
  let duration: number | undefined;
  const setCount = (flag: string, v: string | undefined) => {
    if (file !== undefined || count !== undefined) throw new UsageError(`${flag}: the events were already given`);
    count = positiveInt(flag, v, true);
  };
  const setFile = (flag: string, v: string | undefined) => {
    if (file !== undefined || count !== undefined) throw new UsageError(`${flag}: the events were already given`);
    if (v === undefined || v === '') throw new UsageError(`${flag} needs a file`);
    file = v;
  };
  for (let i = 0; i < argv.length; i++) {
    // Both `--flag value` and `--flag=value`.
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (arg) {
      case '-h':
      case '--help':
        return null;
      case '--events': {
        const v = value();
        if (v !== undefined && /^\d+$/.test(v)) setCount(arg, v); else setFile(arg, v);
        break;
      }
      case '--count': setCount(arg, value()); break;
      case '--events-file': setFile(arg, value()); break;
      case '--seed': {
        const v = value();
        if (v === undefined || v === '') throw new UsageError('--seed needs a value');
        seed = v;
        break;
      }
      case '--days': {
        const v = value();
        const d = Number(v);
        if (v === undefined || !Number.isFinite(d) || d <= 0 || d > 6) throw new UsageError(`--days must be a number in (0, 6], got "${v}"`);
        days = d;
        break;
      }
      case '--out': {
        const v = value();
        if (!v) throw new UsageError('--out needs a file');
        out = v;
        break;
      }
      case '--report': {
        const v = value();
        if (!v) throw new UsageError('--report needs a file');
        report = v;
        break;
      }
      case '--out-dir': {
        const v = value();
        if (!v) throw new UsageError('--out-dir needs a folder');
        outDir = v;
        break;
      }
      case '--follow': follow = true; break;
      case '--rate': rate = positiveInt(arg, value(), true); break;
      case '--every': every = positiveInt(arg, value()); break;
      case '--duration': duration = positiveInt(arg, value()); break;
      case '--top': top = positiveInt(arg, value()); break;
      case '--keep-running': keepRunning = true; break;
      case '--reset': reset = true; break;
      default:
        throw new UsageError(`unknown option "${argv[i]}"`);
    }
  }
  const common = {
    out: resolve(out),
    ...(outDir !== undefined ? { outDir: resolve(outDir) } : {}),
    report: resolve(report),
    keepRunning,
    reset,
    top,
  };
  if (!follow) {
    const live = rate !== undefined ? '--rate' : every !== undefined ? '--every' : duration !== undefined ? '--duration' : undefined;
    if (live) throw new UsageError(`${live} only applies with --follow`);
  }
  if (follow) {
    if (file !== undefined || count !== undefined) throw new UsageError('--follow produces at --rate until stopped; --events and --count apply to a single run');
    return {
      source: { kind: 'generate', count: 0, seed: seed ?? randomSeed(), days },
      ...common,
      follow: { rate: rate ?? DEFAULT_RATE, everySeconds: every ?? DEFAULT_EVERY_SECONDS, ...(duration !== undefined ? { durationSeconds: duration } : {}) },
    };
  }
  if (file !== undefined) {
    if (seed !== undefined) throw new UsageError('--seed only applies to generated events, not to --events FILE');
    const path = resolve(file);
    if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`--events: no such file "${file}" (a count must be a whole number)`);
    return { source: { kind: 'file', path }, ...common };
  }
  return { source: { kind: 'generate', count: count ?? DEFAULT_COUNT, seed: seed ?? randomSeed(), days }, ...common };
}

async function main(): Promise<number> {
  let options: CliOptions | null;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  // The SDK's notice that future releases need Node 22 is not actionable here (Node 20 is pinned).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Imported here so that --help and argument errors do not load the AWS SDK and friends.
  const { runLocalPipeline, InconsistentStateError } = await import('./pipeline');
  try {
    if (options.follow) {
      const { runFollow } = await import('./follow');
      await runFollow(options);
    } else {
      await runLocalPipeline(options);
    }
  } catch (e) {
    if (e instanceof InconsistentStateError) {
      console.error(`\n${e.message}`);
      return 3;
    }
    const { recentKafkaLogLines } = await import('./resources');
    const kafkaLines = recentKafkaLogLines();
    if (kafkaLines.length > 0) console.error(`\nLast messages of the Kafka client (retried quietly during the run):\n${kafkaLines.map((l) => `  ${l}`).join('\n')}`);
    throw e;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`\nlocal pipeline failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
