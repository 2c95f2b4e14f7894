/**
 * Headless Debian `chromium` (no browser download): a screenshot and the rendered DOM of a local
 * HTML file. Every call uses a fresh profile folder and switches off everything that would reach
 * the network (there is none on this machine, and the report must not need it).
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { pathToFileURL } from 'url';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

export function chromiumBinary(): string {
  return process.env.CHROMIUM ?? 'chromium';
}

function run(args: string[], timeoutMs: number): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  return new Promise<string>((resolve, reject) => {
    execFile(chromiumBinary(), [...FLAGS, `--user-data-dir=${profile}`, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (error) reject(new Error(`${chromiumBinary()} ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

/** Writes a PNG screenshot of the page, opened at `#fragment` when one is given. */
export async function screenshot(htmlFile: string, pngFile: string, width = 1400, height = 2400, timeoutMs = 60_000, fragment?: string): Promise<void> {
  const url = pathToFileURL(htmlFile).href + (fragment ? `#${fragment}` : '');
  await run([`--screenshot=${pngFile}`, `--window-size=${width},${height}`, url], timeoutMs);
}

/** The DOM after the page loaded, serialized. */
export async function dumpDom(htmlFile: string, timeoutMs = 60_000): Promise<string> {
  return run(['--dump-dom', pathToFileURL(htmlFile).href], timeoutMs);
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.readUInt32BE(0) !== 0x89504e47 || png.toString('ascii', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG file');
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
