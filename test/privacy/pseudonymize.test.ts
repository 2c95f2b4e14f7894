/**
 * lambdas/ingest/pseudonymize.ts: the keyed hash, the erasure record and the per-batch policy.
 */
import { createHmac } from 'crypto';
import {
  checkedKey, EMPTY_ERASURE_RECORD, parseErasureRecord, userIdHash, userIdPolicy, withErasures,
} from '../../lambdas/ingest/pseudonymize';

const KEY = 'k'.repeat(40);
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

describe('userIdHash', () => {
  it('is HMAC-SHA-256 in hex (RFC 4231 test case 2)', () => {
    expect(userIdHash('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('gives the same pseudonym for the same user and different ones for different users or keys', () => {
    expect(userIdHash(KEY, 'user-1')).toBe(userIdHash(KEY, 'user-1'));
    expect(userIdHash(KEY, 'user-1')).not.toBe(userIdHash(KEY, 'user-2'));
    expect(userIdHash(KEY, 'user-1')).not.toBe(userIdHash(`${KEY}x`, 'user-1'));
  });

  it('hashes the UTF-8 bytes of non-ASCII IDs', () => {
    expect(userIdHash(KEY, 'Zoë')).toBe(createHmac('sha256', Buffer.from(KEY)).update(Buffer.from('Zoë', 'utf8')).digest('hex'));
  });
});

describe('checkedKey', () => {
  it('fails when the key is shorter than 32 characters, without printing it', () => {
    expect(() => checkedKey('short-secret-value', 'the secret X')).toThrow('the pseudonymization key from the secret X is shorter than 32 characters');
    try { checkedKey('short-secret-value', 'X'); } catch (e) { expect(String(e)).not.toContain('short-secret-value'); }
  });

  it('trims a trailing newline of a key file', () => {
    expect(checkedKey(`${KEY}\n`, 'f')).toBe(KEY);
  });
});

describe('erasure record', () => {
  const h1 = userIdHash(KEY, 'alice');
  const h2 = userIdHash(KEY, 'bob');

  it('round-trips and sorts entries by hash', () => {
    const record = withErasures(EMPTY_ERASURE_RECORD, [h1, h2], new Date(T0));
    expect(record.entries.map((e) => e.hash)).toEqual([h1, h2].sort());
    expect(parseErasureRecord(JSON.stringify(record))).toEqual(record);
  });

  it('keeps the later time when a user is erased again', () => {
    const first = withErasures(EMPTY_ERASURE_RECORD, [h1], new Date(T0));
    const again = withErasures(first, [h1], new Date(T0 + 1000));
    expect(again.entries).toEqual([{ hash: h1, erased_at: new Date(T0 + 1000).toISOString() }]);
    expect(withErasures(again, [h1], new Date(T0)).entries[0].erased_at).toBe(new Date(T0 + 1000).toISOString());
  });

  it('fails when an entry is not a keyed hash (a clear ID must never get in)', () => {
    expect(() => withErasures(EMPTY_ERASURE_RECORD, ['alice'], new Date(T0))).toThrow('not a keyed hash');
    expect(() => parseErasureRecord('{"version":1,"entries":[{"hash":"alice","erased_at":"2026-11-20T10:00:00Z"}]}'))
      .toThrow('erasure record entry 0: hash must be 64 lower-case hex digits');
    expect(() => parseErasureRecord(`{"version":1,"entries":[{"hash":"${h1}","erased_at":"soon"}]}`))
      .toThrow('erasure record entry 0: erased_at must be an ISO-8601 time');
    expect(() => parseErasureRecord('{"entries":[]}')).toThrow('{"version": 1, "entries": [...]}');
    expect(() => parseErasureRecord('nope')).toThrow('not JSON');
  });
});

describe('userIdPolicy', () => {
  const erasures = withErasures(EMPTY_ERASURE_RECORD, [userIdHash(KEY, 'alice')], new Date(T0));

  it('is undefined when nothing would change (no pseudonyms, no erasures): no key needed, no hashing', () => {
    expect(userIdPolicy({})).toBeUndefined();
    expect(userIdPolicy({ pseudonymize: false, erasures: EMPTY_ERASURE_RECORD })).toBeUndefined();
  });

  it('fails when a key is needed and none was loaded', () => {
    expect(() => userIdPolicy({ pseudonymize: true })).toThrow('need the key');
    expect(() => userIdPolicy({ erasures })).toThrow('need the key');
  });

  it('stores the pseudonym with pseudonymization on, the ID as received with it off', () => {
    expect(userIdPolicy({ key: KEY, pseudonymize: true })!.storedUserId('bob', T0)).toBe(userIdHash(KEY, 'bob'));
    expect(userIdPolicy({ key: KEY, erasures })!.storedUserId('bob', T0 - 1)).toBe('bob');
  });

  it('drops an erased user\'s event from before the erasure and keeps one from after it', () => {
    for (const pseudonymize of [false, true]) {
      const policy = userIdPolicy({ key: KEY, pseudonymize, erasures })!;
      expect(policy.storedUserId('alice', T0 - 1)).toBeNull();
      expect(policy.storedUserId('alice', T0)).toBe(pseudonymize ? userIdHash(KEY, 'alice') : 'alice');
      expect(policy.storedUserId('bob', T0 - 1)).not.toBeNull();
    }
  });

  it('drops a quarantined message whose value names an erased user (user_id or userId) before the erasure', () => {
    const policy = userIdPolicy({ key: KEY, erasures })!;
    expect(policy.dropsQuarantined({ user_id: 'alice', url: 'x' }, T0 - 1)).toBe(true);
    expect(policy.dropsQuarantined({ userId: 'alice' }, T0 - 1)).toBe(true);
    expect(policy.dropsQuarantined({ user_id: 'alice' }, T0 + 1)).toBe(false);
    expect(policy.dropsQuarantined({ user_id: 'bob' }, T0 - 1)).toBe(false);
    expect(policy.dropsQuarantined(['alice'], T0 - 1)).toBe(false);
    expect(policy.dropsQuarantined('alice', T0 - 1)).toBe(false);
    expect(policy.dropsQuarantined(null, T0 - 1)).toBe(false);
  });

  it('remembers hashes in the cache it is given, bounded by cacheSize', () => {
    const cache = new Map<string, string>();
    const policy = userIdPolicy({ key: KEY, pseudonymize: true, cacheSize: 2 }, cache)!;
    policy.storedUserId('a', T0);
    policy.storedUserId('b', T0);
    expect([...cache.keys()]).toEqual(['a', 'b']);
    policy.storedUserId('c', T0);
    expect(cache.size).toBeLessThanOrEqual(2);
    expect(cache.get('c')).toBe(userIdHash(KEY, 'c'));
  });
});
