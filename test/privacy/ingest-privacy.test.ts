/**
 * The ingest core with a user ID policy (docs/privacy.md): pseudonyms instead of user IDs with
 * every count unchanged on a generated stream, and the erasure rule (events of erased users timed
 * before the erasure are dropped, quarantined messages naming them too).
 */
import type { MSKEvent } from 'aws-lambda';
import { buildRawObjects, type IngestResult } from '../../lambdas/ingest/core';
import { EMPTY_ERASURE_RECORD, userIdHash, userIdPolicy, withErasures } from '../../lambdas/ingest/pseudonymize';
import { aggregate, type ValidEvent } from '../../local/expected';
import { generateClicks } from '../../local/generator';
import { clickEvent, mskEvent, ndjsonLines } from '../ingest/fixtures';

const KEY = 'a-test-key-that-is-long-enough-0123456789';
const NOW = () => Date.UTC(2026, 10, 20, 12, 0, 0);
const END = Date.UTC(2026, 10, 20, 0, 0, 0);

function linesOf(result: IngestResult, kind: 'events' | 'quarantine'): Record<string, any>[] {
  return result.objects.filter((o) => o.kind === kind).flatMap((o) => ndjsonLines(o.body));
}

/** A generated stream (malformed messages, duplicates and late events included) as one MSK event. */
function generatedStream(seed: string, count: number): MSKEvent {
  const messages = generateClicks({ count, seed, endTime: END, days: 3, partitions: 2 });
  const offsets = [0, 0];
  return mskEvent(messages.map((m) => ({ partition: m.partition, offset: offsets[m.partition]++, timestamp: m.timestamp, value: m.value, key: m.key })));
}

function asValidEvents(lines: Record<string, any>[]): ValidEvent[] {
  return lines.map((r) => ({
    eventId: r.event_id, userId: r.user_id, ts: Date.parse(r.ts), pageUrl: r.page_url, country: r.country,
    partition: r.kafka.partition, offset: r.kafka.offset,
  }));
}

describe('pseudonymization at ingest', () => {
  const stream = generatedStream('pseudonyms-seed-17', 3000);
  const clear = buildRawObjects(stream, { now: NOW });
  const pseudo = buildRawObjects(stream, { now: NOW, userIds: userIdPolicy({ key: KEY, pseudonymize: true }) });

  it('stores HMAC-SHA-256 of user_id and no clear user ID in any event', () => {
    const clearLines = linesOf(clear, 'events');
    const pseudoLines = linesOf(pseudo, 'events');
    expect(pseudoLines).toHaveLength(clearLines.length);
    expect(clearLines.length).toBeGreaterThan(2500);
    const clearIds = new Set(clearLines.map((l) => l.user_id));
    for (let i = 0; i < pseudoLines.length; i++) {
      expect(pseudoLines[i].user_id).toBe(userIdHash(KEY, clearLines[i].user_id));
      expect(clearIds.has(pseudoLines[i].user_id)).toBe(false);
      // Every other field as without pseudonymization, in the same order.
      expect({ ...pseudoLines[i], user_id: null }).toEqual({ ...clearLines[i], user_id: null });
      expect(Object.keys(pseudoLines[i])).toEqual(Object.keys(clearLines[i]));
    }
  });

  it('leaves every count unchanged: same user, same pseudonym; different users, different pseudonyms', () => {
    const clearLines = linesOf(clear, 'events');
    const pseudoLines = linesOf(pseudo, 'events');
    const mapping = new Map<string, string>();
    const reverse = new Map<string, string>();
    clearLines.forEach((l, i) => {
      const p = pseudoLines[i].user_id;
      expect(mapping.get(l.user_id) ?? p).toBe(p);
      expect(reverse.get(p) ?? l.user_id).toBe(l.user_id);
      mapping.set(l.user_id, p);
      reverse.set(p, l.user_id);
    });
    expect(mapping.size).toBeGreaterThan(20);
    // The aggregation (an independent implementation of SPEC §3) gives the same rows.
    const strip = (rows: ReturnType<typeof aggregate>['rows']) => rows.map((r) => ({ ...r }));
    expect(strip(aggregate(asValidEvents(pseudoLines)).rows)).toEqual(strip(aggregate(asValidEvents(clearLines)).rows));
  });

  it('writes the same objects under the same keys, with the same quarantine lines (kept as received)', () => {
    expect(pseudo.objects.map((o) => o.key)).toEqual(clear.objects.map((o) => o.key));
    expect(linesOf(pseudo, 'quarantine')).toEqual(linesOf(clear, 'quarantine'));
    expect({ ...pseudo, objects: null }).toEqual({ ...clear, objects: null });
  });
});

describe('the erasure rule at ingest', () => {
  const erasedAt = Date.parse('2024-05-01T12:00:00.000Z');
  const erasures = withErasures(EMPTY_ERASURE_RECORD, [userIdHash(KEY, 'alice')], new Date(erasedAt));
  const batch = mskEvent([
    { offset: 1, value: clickEvent({ event_id: 'a-before', user_id: 'alice', timestamp: '2024-05-01T11:59:59.999Z' }) },
    { offset: 2, value: clickEvent({ event_id: 'a-after', user_id: 'alice', timestamp: '2024-05-01T12:00:00.000Z' }) },
    { offset: 3, value: clickEvent({ event_id: 'b-before', user_id: 'bob', timestamp: '2024-05-01T11:00:00.000Z' }) },
    { offset: 4, value: clickEvent({ event_id: 'a-camel', userId: 'alice', user_id: undefined, timestamp: '2024-05-01T11:00:00.000Z' }) },
    // Quarantined (no url) and naming alice, received before / after the erasure.
    { offset: 5, timestamp: erasedAt - 1, value: { user_id: 'alice', timestamp: '2024-05-01T11:00:00Z' } },
    { offset: 6, timestamp: erasedAt + 1, value: { user_id: 'alice', timestamp: '2024-05-01T11:00:00Z' } },
    { offset: 7, timestamp: erasedAt - 1, value: { user_id: 'bob' } },
  ]);

  it.each([false, true])('drops alice\'s messages from before the erasure and keeps the rest (pseudonymize %s)', (pseudonymize) => {
    const result = buildRawObjects(batch, { now: NOW, userIds: userIdPolicy({ key: KEY, pseudonymize, erasures }) });
    const events = linesOf(result, 'events');
    expect(events.map((e) => e.event_id).sort()).toEqual(['a-after', 'b-before']);
    const alice = pseudonymize ? userIdHash(KEY, 'alice') : 'alice';
    expect(events.find((e) => e.event_id === 'a-after')!.user_id).toBe(alice);
    expect(linesOf(result, 'quarantine').map((q) => q.offset)).toEqual([6, 7]);
    expect(result).toMatchObject({ recordsIn: 7, recordsStored: 2, recordsErased: 3, recordsQuarantined: 2 });
  });

  it('drops nothing without a policy', () => {
    const result = buildRawObjects(batch, { now: NOW });
    expect(result).toMatchObject({ recordsIn: 7, recordsStored: 4, recordsErased: 0, recordsQuarantined: 3 });
  });
});
