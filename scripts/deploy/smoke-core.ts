/**
 * The core of `npm run smoke` (scripts/smoke.ts): a few hundred test clicks with a unique marker,
 * followed through every stage of a deployment (or of the local stack) and counted at the end.
 *
 * - `planSmoke`: the clicks (today, UTC; each URL carries the run's marker, so nothing else in the
 *   topic, the raw zone or the index is ever counted) and what the `url_country_daily` table must
 *   then say: clicks per page and country.
 * - `runSmoke`: runs the steps in order, prints each with its timing, and on a failure names the
 *   step and where its logs are. The steps themselves are arguments (scripts/deploy/smoke-aws.ts
 *   for a deployment, scripts/deploy/smoke-local.ts for the local stack).
 * - `compareServed`: the served rows against the plan.
 * The check is deliberately narrow (clicks of `url_country_daily` only): the smoke test proves the
 * pipeline is connected end to end; the numbers themselves are the unit and end-to-end tests' job.
 */
import { randomBytes } from 'crypto';

export interface SmokeClick {
  /** The message value, a JSON click (SPEC section 1). */
  readonly value: string;
  /** Partition to produce to (the local stack); a deployment lets the producer choose. */
  readonly partition: number;
  readonly key: string;
  readonly timestamp: number;
}

export interface SmokePlan {
  /** Lower-case letters, digits and dashes; in every URL of the run. */
  readonly marker: string;
  /** Event date of every click, YYYY-MM-DD (UTC). */
  readonly date: string;
  readonly clicks: readonly SmokeClick[];
  /** Expected clicks per `<page path>|<country>`, page path as `/<marker>/p/<n>`. */
  readonly expected: ReadonlyMap<string, number>;
}

export interface PlanOptions {
  /** @default 300 */
  readonly count?: number;
  /** @default now */
  readonly now?: Date;
  /** @default `smoke-<utc time>-<random hex>` */
  readonly marker?: string;
  /** Partitions to spread the clicks over. @default 3 */
  readonly partitions?: number;
}

const PAGES = 7;
const COUNTRIES = ['DE', 'FR', 'US'];
const USERS = 23;

export function planSmoke(options: PlanOptions = {}): SmokePlan {
  const count = options.count ?? 300;
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error(`smoke: count must be 1-100000, got ${count}`);
  const now = options.now ?? new Date();
  const marker = options.marker ?? `smoke-${now.toISOString().replace(/[-:TZ.]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9-]{6,64}$/.test(marker)) throw new Error(`smoke: the marker must be 6-64 of a-z, 0-9 and "-", got ${marker}`);
  const date = now.toISOString().slice(0, 10);
  const startOfDay = Date.parse(`${date}T00:00:00.000Z`);
  const partitions = options.partitions ?? 3;
  const expected = new Map<string, number>();
  const clicks: SmokeClick[] = [];
  for (let i = 0; i < count; i++) {
    const page = `/${marker}/p/${i % PAGES}`;
    const country = COUNTRIES[i % COUNTRIES.length];
    const user = `${marker}-u${i % USERS}`;
    // A second apart, ending now, never before today's midnight: every click is today's.
    const timestamp = Math.max(startOfDay, now.getTime() - (count - i) * 1000);
    clicks.push({
      value: JSON.stringify({ user_id: user, timestamp: new Date(timestamp).toISOString(), url: `https://smoke.example.com${page}`, country }),
      partition: i % partitions,
      key: user,
      timestamp,
    });
    expected.set(`${page}|${country}`, (expected.get(`${page}|${country}`) ?? 0) + 1);
  }
  return { marker, date, clicks, expected };
}

/** A served `url_country_daily` row, as much of it as the check reads. */
export interface ServedRow {
  readonly page_url: string;
  readonly country: string;
  readonly clicks: number;
  readonly event_date?: string;
}

/** Differences between the served rows of the marker and the plan; empty when they agree. */
export function compareServed(plan: SmokePlan, rows: readonly ServedRow[]): string[] {
  const served = new Map<string, number>();
  for (const row of rows) {
    if (!row.page_url.includes(`/${plan.marker}/`)) continue;
    const path = row.page_url.slice(row.page_url.indexOf(`/${plan.marker}/`)).replace(/\/$/, '');
    const key = `${path}|${row.country}`;
    served.set(key, (served.get(key) ?? 0) + Number(row.clicks));
  }
  const problems: string[] = [];
  for (const [key, clicks] of plan.expected) {
    const got = served.get(key);
    if (got !== clicks) problems.push(`${key}: ${got ?? 'no row'} clicks served, ${clicks} sent`);
  }
  for (const key of served.keys()) if (!plan.expected.has(key)) problems.push(`${key}: served but never sent`);
  return problems;
}

export const totalClicks = (rows: readonly ServedRow[]) => rows.reduce((n, r) => n + Number(r.clicks), 0);

/** One step of a smoke run: what it does and where to look when it fails. */
export interface SmokeStep {
  readonly name: string;
  /** The log group (or local file) to read when the step fails. */
  readonly logs: string;
  /** Does the step; resolves with a one-line result, throws with what went wrong. */
  readonly run: () => Promise<string>;
}

export interface StepReport {
  readonly name: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly detail: string;
}

export interface SmokeReport {
  readonly ok: boolean;
  readonly steps: readonly StepReport[];
  /** The failed step, with its logs. */
  readonly failed?: { readonly step: string; readonly error: string; readonly logs: string };
}

/** Runs the steps in order until one fails; prints each with its timing as it finishes. */
export async function runSmoke(steps: readonly SmokeStep[], log: (line: string) => void, now: () => number = Date.now): Promise<SmokeReport> {
  const reports: StepReport[] = [];
  for (const step of steps) {
    const started = now();
    log(`[${step.name}] ...`);
    try {
      const detail = await step.run();
      const seconds = (now() - started) / 1000;
      reports.push({ name: step.name, ok: true, seconds, detail });
      log(`[${step.name}] ok in ${seconds.toFixed(1)} s: ${detail}`);
    } catch (error) {
      const seconds = (now() - started) / 1000;
      const message = error instanceof Error ? error.message : String(error);
      reports.push({ name: step.name, ok: false, seconds, detail: message });
      log(`[${step.name}] FAILED after ${seconds.toFixed(1)} s: ${message}`);
      log(`  read: ${step.logs}`);
      return { ok: false, steps: reports, failed: { step: step.name, error: message, logs: step.logs } };
    }
  }
  const total = reports.reduce((s, r) => s + r.seconds, 0);
  log(`smoke test passed: ${reports.length} steps in ${total.toFixed(1)} s`);
  return { ok: true, steps: reports };
}

/** Polls `probe` until it returns a value, with growing pauses, up to `timeoutMs`; then throws `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)), now: () => number = Date.now): Promise<T> {
  const deadline = now() + timeoutMs;
  let delay = 1000;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (now() + delay > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${what}: not after ${Math.round(timeoutMs / 1000)} s${why}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 15_000);
  }
}
