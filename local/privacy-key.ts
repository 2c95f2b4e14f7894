/**
 * The local stand-in for the stack's privacy key (docs/privacy.md §1): a file of 64 random hex
 * digits in the local stack's data folder, created on first use (mode 0600) and then reused, so
 * pseudonyms and erasure hashes stay stable across local runs. Used by the local ingest stage
 * (PRIVACY_KEY_FILE) and by `npm run erase -- --local`.
 */
import { randomBytes } from 'crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { dirname, join, resolve } from 'path';

/** `.local-stack/data/privacy/privacy-key` (or under `LOCAL_STACK_HOME`). */
export function localPrivacyKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.LOCAL_STACK_HOME || resolve(__dirname, '..', '.local-stack');
  return join(home, 'data', 'privacy', 'privacy-key');
}

/** The key file's path, after creating the file with a new random key when there is none. */
export function ensureLocalPrivacyKey(path: string = localPrivacyKeyPath()): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    readFileSync(path, 'utf8');
    return path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Written aside, then linked into place: two processes starting at once agree on one key
  // (link fails when the file exists; the loser keeps the winner's key).
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  return path;
}
