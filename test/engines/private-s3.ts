/**
 * A private S3 server beside the shared one, for tests that stop and start it: the same
 * local-stack/s3 scripts with another instance name (its own pid, log and settings files), port
 * and data folder, so restarting it never disturbs other tests using the shared server.
 *
 *   const server = await PrivateS3.start('restart-test');
 *   ... server.endpoint ...
 *   await server.restart();
 *   await server.stop();      // the data folder stays until remove()
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');

/** A TCP port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function run(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(REPO, 'local-stack', 's3', script)], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`local-stack/s3/${script} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export class PrivateS3 {
  private constructor(
    readonly instance: string,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The environment the local-stack scripts (and Spark's submit.sh) need to reach this server. */
  get env(): NodeJS.ProcessEnv {
    return { S3_INSTANCE: this.instance, S3_PORT: String(this.port), S3_ENDPOINT: this.endpoint, S3_DATA_DIR: this.dataDir };
  }

  static async start(name: string): Promise<PrivateS3> {
    const instance = `s3-${name}-${process.pid}`;
    const server = new PrivateS3(instance, await freePort(), mkdtempSync(path.join(tmpdir(), `${instance}-`)));
    await server.startAgain();
    return server;
  }

  async startAgain(): Promise<void> {
    await run('start.sh', this.env);
  }

  async stop(): Promise<void> {
    await run('stop.sh', this.env);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startAgain();
  }

  /** Stops the server and deletes its data folder and its files under the stack's run/ and logs/. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
    const home = process.env.LOCAL_STACK_HOME ?? path.join(REPO, '.local-stack');
    for (const file of [`run/${this.instance}.properties`, `run/${this.instance}-start.lock`, `logs/${this.instance}.log`]) {
      rmSync(path.join(home, file), { force: true });
    }
  }
}
