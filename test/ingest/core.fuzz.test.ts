/**
 * Fuzzing the ingest core with random bytes and random JSON (seeded, so a failure is
 * reproducible: the seed is in the test name). Properties:
 * - it never throws;
 * - every input record is in exactly one output object (count in = count out, no offset twice);
 * - every stored line is a well-formed canonical record, enrichment fields included; every
 *   quarantine line has a known reason.
 * 100,000 records in all (50 seeds of 2,000).
 */
import { buildRawObjects } from '../../lambdas/ingest/core';
import { REJECTION_REASONS } from '../../lambdas/ingest/reasons';
import { clickEvent, mskEvent, ndjsonLines, seededRandom, type RecordSpec } from './fixtures';

const FIELD_NAMES = [
  'user_id', 'userId', 'timestamp', 'ts', 'url', 'country', 'city', 'user_agent', 'userAgent', 'event_id', 'eventId',
  'session_id', 'sessionId', 'referrer', 'extra', '__proto__', 'constructor', 'toString',
];
const INTERESTING_STRINGS = [
  '', ' ', 'de', 'US', 'UK', 'Germany', 'DEU', 'Narnia', 'curl/8.5.0', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'https://www.google.co.uk/', 'https://m.facebook.com/x', 'https://e.com/?utm_source=A&utm_medium=CPC&utm_campaign=%E9%zz%', 'https://e.com/?utm_medium=%C3%A9+x',
  'https://user:pw@[::1]:8080/?utm_medium', 'http://999.1.1.1/', 'https://xn--bcher-kva.example/', 'https://www./', 'https://example.com/', 'HTTP://EXAMPLE.COM/A/', 'http://', 'ftp://x', 'javascript:x',
  '2024-05-01T10:00:00Z', '2024-05-01T10:00:00+02:00', '2024-02-30T00:00:00Z', '1999-01-01T00:00:00Z', '9999-01-01T00:00:00Z',
  '\u0000', '\ud800', '\u{1F600}', '"', '\\', '\n', 'x'.repeat(300), 'https://e.com/' + 'a'.repeat(9000),
];

function randomJson(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (r < 0.1) return null;
  if (r < 0.2) return rand() < 0.5;
  if (r < 0.35) return [0, 1, -1, 1714557600000, 946684799999, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER][Math.floor(rand() * 9)];
  if (r < 0.6) return INTERESTING_STRINGS[Math.floor(rand() * INTERESTING_STRINGS.length)];
  if (r < 0.7) return String.fromCharCode(...Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 0xffff)));
  if (depth > 2 || r < 0.8) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 8); i > 0; i--) {
    obj[FIELD_NAMES[Math.floor(rand() * FIELD_NAMES.length)]] = randomJson(rand, depth + 1);
  }
  return obj;
}

/** A valid event with one or two fields replaced by random JSON: reaches the deep validation paths. */
function mutatedEvent(rand: () => number): unknown {
  const event: Record<string, unknown> = clickEvent({ event_id: undefined });
  for (let i = 1 + Math.floor(rand() * 2); i > 0; i--) {
    const field = FIELD_NAMES[Math.floor(rand() * FIELD_NAMES.length)];
    if (rand() < 0.2) delete event[field];
    else event[field] = randomJson(rand, 2);
  }
  return event;
}

function randomBytes(rand: () => number): Buffer {
  return Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
}

function randomBatch(seed: number, size: number): RecordSpec[] {
  const rand = seededRandom(seed);
  const next = new Map<number, number>();
  return Array.from({ length: size }, () => {
    const partition = Math.floor(rand() * 4);
    const offset = next.get(partition) ?? Math.floor(rand() * 1e6);
    next.set(partition, offset + 1 + Math.floor(rand() * 3));
    const kind = rand();
    const value =
      kind < 0.2 ? randomBytes(rand)
      : kind < 0.25 ? null
      : kind < 0.5 ? JSON.stringify(randomJson(rand))
      : kind < 0.55 ? JSON.stringify(mutatedEvent(rand)).slice(0, Math.floor(rand() * 80))
      : JSON.stringify(mutatedEvent(rand));
    // Kafka timestamps around the event times, sometimes missing (-1) or absurd.
    const tsKind = rand();
    const timestamp = tsKind < 0.05 ? -1 : tsKind < 0.1 ? 8.7e15 : Date.UTC(2024, 4, 1) + Math.floor(rand() * 86400_000);
    return { partition, offset, timestamp, value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value) };
  });
}

const CANONICAL_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DEVICE_TYPES = ['bot', 'mobile', 'tablet', 'other', 'desktop', 'unknown'];
const CHANNELS = ['paid', 'email', 'social', 'campaign', 'direct', 'internal', 'search', 'referral'];
const nullOrString = (v: unknown) => v === null || typeof v === 'string';

/** The SPEC §2 enrichment invariants of one stored line, as problems. */
function enrichmentProblems(id: string, line: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const country = String(line.country);
  if (!(country === 'unknown' || /^[A-Z]{2}$/.test(country))) problems.push(`${id}: country ${country}`);
  if (line.country_raw !== null && (country !== 'unknown' || typeof line.country_raw !== 'string' || line.country_raw === '' || line.country_raw !== String(line.country_raw).trim())) {
    problems.push(`${id}: country_raw ${String(line.country_raw)} with country ${country}`);
  }
  if (!DEVICE_TYPES.includes(String(line.device_type))) problems.push(`${id}: device_type ${String(line.device_type)}`);
  if (line.is_bot !== (line.device_type === 'bot')) problems.push(`${id}: is_bot ${String(line.is_bot)} for ${String(line.device_type)}`);
  const noUserAgent = line.user_agent === null || String(line.user_agent).trim() === '';
  if (noUserAgent !== (line.device_type === 'unknown')) problems.push(`${id}: device_type ${String(line.device_type)} for ${String(line.user_agent)}`);
  for (const f of ['browser', 'os', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer_host']) if (!nullOrString(line[f]) || line[f] === '') problems.push(`${id}: ${f} ${String(line[f])}`);
  for (const f of ['utm_source', 'utm_medium', 'utm_campaign']) {
    const v = line[f];
    if (typeof v === 'string' && (v !== v.toLowerCase() || [...v].length > 256)) problems.push(`${id}: ${f} ${v}`);
  }
  if (!CHANNELS.includes(String(line.channel))) problems.push(`${id}: channel ${String(line.channel)}`);
  if (line.referrer === null && line.referrer_host !== null) problems.push(`${id}: referrer_host without referrer`);
  if (line.utm_medium === null && (line.referrer_host === null) !== (line.channel === 'direct')) problems.push(`${id}: channel ${String(line.channel)} for referrer_host ${String(line.referrer_host)}`);
  return problems;
}

describe('ingest core under fuzzing', () => {
  it.each(Array.from({ length: 50 }, (_, i) => i + 1))('seed %i: 2,000 random records are each stored or quarantined exactly once', (seed) => {
    const specs = randomBatch(seed, 2000);
    const result = buildRawObjects(mskEvent(specs), { now: () => Date.UTC(2024, 4, 1, 12) });

    expect(result.recordsIn).toBe(specs.length);
    expect(result.recordsStored + result.recordsQuarantined).toBe(specs.length);
    const reasonTotal = Object.values(result.quarantinedByReason).reduce((a, b) => a + (b ?? 0), 0);
    expect(reasonTotal).toBe(result.recordsQuarantined);

    // Checked line by line into a list, so that a failure names every bad line at once.
    const problems: string[] = [];
    const seen = new Set<string>();
    let stored = 0;
    for (const object of result.objects) {
      const lines = ndjsonLines(object.body);
      if (lines.length !== object.recordCount) problems.push(`${object.key}: ${lines.length} lines, recordCount ${object.recordCount}`);
      const offsets = lines.map((l) => (object.kind === 'events' ? (l.kafka as { offset: number }).offset : (l.offset as number)));
      if (object.firstOffset !== Math.min(...offsets) || object.lastOffset !== Math.max(...offsets)) {
        problems.push(`${object.key}: offsets ${Math.min(...offsets)}..${Math.max(...offsets)} not in the key`);
      }
      for (const [i, line] of lines.entries()) {
        const id = `${object.partition}/${offsets[i]}`;
        if (seen.has(id)) problems.push(`${id} is in more than one line`);
        seen.add(id);
        if (object.kind === 'events') {
          stored++;
          const ts = String(line.ts);
          if (!CANONICAL_TS.test(ts)) problems.push(`${id}: ts ${ts}`);
          if (typeof line.user_id !== 'string') problems.push(`${id}: user_id ${String(line.user_id)}`);
          if (!/^https?:\/\/[^/?#]+\/[^?#]*$/.test(String(line.page_url))) problems.push(`${id}: page_url ${String(line.page_url)}`);
          if (!object.key.startsWith(`events/dt=${ts.slice(0, 10)}/hr=${ts.slice(11, 13)}/`)) problems.push(`${id}: in ${object.key}`);
          problems.push(...enrichmentProblems(id, line));
        } else if (!(REJECTION_REASONS as readonly unknown[]).includes(line.reason)) {
          problems.push(`${id}: reason ${String(line.reason)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(seen.size).toBe(specs.length);
    expect(stored).toBe(result.recordsStored);
  });

  it('produces at least one of each kind of outcome, so the fuzzer reaches deep paths', () => {
    const result = buildRawObjects(mskEvent(randomBatch(99, 5000)), { now: () => Date.UTC(2024, 4, 1, 12) });
    expect(result.recordsStored).toBeGreaterThan(100);
    for (const reason of ['invalid_utf8', 'invalid_json', 'not_an_object', 'null_value', 'bad_field_type', 'bad_timestamp'] as const) {
      expect(result.quarantinedByReason[reason] ?? 0).toBeGreaterThan(0);
    }
  });
});
