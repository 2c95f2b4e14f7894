/**
 * Private Kafka, S3 and OpenSearch instances beside the shared local stack, for tests that stop
 * and start the engines: the same local-stack scripts with other instance names (their own pid
 * and log files), free ports and fresh data folders, so stopping them never disturbs the tests
 * that use the shared engines at the same time.
 *
 *   const engines = await PrivateEngines.start('restart');
 *   ... spawn the pipeline with { ...process.env, ...engines.env } ...
 *   await engines.stop(); await engines.startAgain();   // every engine's data stays on disk
 *   await engines.remove();                              // stops them and deletes their folders
 */
import { execFile } from 'child_process';
import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { freePort, PrivateS3 } from '../engines/private-s3';

const REPO = path.resolve(__dirname, '..', '..');

function run(engine: 'kafka' | 'opensearch', script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(REPO, 'local-stack', engine, script)], { env: { ...process.env, ...env }, timeout: 5 * 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`local-stack/${engine}/${script} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** One private Kafka broker or OpenSearch node. */
class PrivateNode {
  constructor(
    readonly engine: 'kafka' | 'opensearch',
    readonly instance: string,
    readonly dataDir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(engine: 'kafka' | 'opensearch', name: string): Promise<PrivateNode> {
    const instance = `${engine}-${name}-${process.pid}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), `${instance}-`));
    const [port, second] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = engine === 'kafka'
      ? { KAFKA_INSTANCE: instance, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(second), KAFKA_BROKERS: `127.0.0.1:${port}`, KAFKA_DATA_DIR: dataDir }
      : { OPENSEARCH_INSTANCE: instance, OPENSEARCH_PORT: String(port), OPENSEARCH_TRANSPORT_PORT: String(second), OPENSEARCH_ENDPOINT: `http://127.0.0.1:${port}`, OPENSEARCH_DATA_DIR: dataDir };
    return new PrivateNode(engine, instance, dataDir, env);
  }

  start(): Promise<string> {
    return run(this.engine, 'start.sh', this.env);
  }

  stop(): Promise<string> {
    return run(this.engine, 'stop.sh', this.env);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
    const home = process.env.LOCAL_STACK_HOME ?? path.join(REPO, '.local-stack');
    for (const dir of ['run', 'logs']) {
      let names: string[] = [];
      try {
        names = readdirSync(path.join(home, dir));
      } catch {
        continue;
      }
      for (const name of names) if (name.startsWith(this.instance)) rmSync(path.join(home, dir, name), { force: true });
    }
  }
}

export class PrivateEngines {
  private constructor(
    readonly kafka: PrivateNode,
    readonly s3: PrivateS3,
    readonly openSearch: PrivateNode,
  ) {}

  /** Starts a private broker, S3 server and OpenSearch node (side by side). */
  static async start(name: string): Promise<PrivateEngines> {
    const kafka = await PrivateNode.create('kafka', name);
    const openSearch = await PrivateNode.create('opensearch', name);
    const [s3] = await Promise.all([PrivateS3.start(name), kafka.start(), openSearch.start()]);
    return new PrivateEngines(kafka, s3, openSearch);
  }

  /** What the pipeline (and the scripts) need to use these engines instead of the shared ones. */
  get env(): NodeJS.ProcessEnv {
    return { ...this.kafka.env, ...this.s3.env, ...this.openSearch.env };
  }

  get brokers(): string[] {
    return [this.kafka.env.KAFKA_BROKERS!];
  }

  /** Stops all three, as `npm run local` does at its end; their data stays on disk. */
  async stop(): Promise<void> {
    await Promise.all([this.kafka.stop(), this.s3.stop(), this.openSearch.stop()]);
  }

  async startAgain(): Promise<void> {
    await Promise.all([this.kafka.start(), this.s3.startAgain(), this.openSearch.start()]);
  }

  /** Stops them and deletes their data folders, pid and log files. */
  async remove(): Promise<void> {
    await Promise.all([this.kafka.remove(), this.s3.remove(), this.openSearch.remove()]);
  }
}
