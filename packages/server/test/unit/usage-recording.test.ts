import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { asSession, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { LAST_USE_PRECISION_MS, UsageRecorder, changesLastUse } from '../../src/services/usage-recorder.js';
import type { Repositories, Store } from '../../src/repositories/store.js';

const T0 = Date.parse('2026-11-20T23:59:00Z');
/** Successful uses in the first hour of a UTC day. */
const ok = (day: string, count: number) => ({ hour: Date.parse(`${day}T00:00:00Z`), outcome: 'ok', count });

describe('changesLastUse', () => {
  it('writes a first use, a use a minute after the stored one, and a use from a new address; not a repeat', () => {
    expect(changesLastUse(-Infinity, null, T0, null)).toBe(true);
    expect(changesLastUse(T0, '192.0.2.1', T0 + LAST_USE_PRECISION_MS - 1, '192.0.2.1')).toBe(false);
    expect(changesLastUse(T0, '192.0.2.1', T0 + 1, null)).toBe(false);
    expect(changesLastUse(T0, '192.0.2.1', T0 + 1, '192.0.2.2')).toBe(true);
    expect(changesLastUse(T0, '192.0.2.1', T0 + LAST_USE_PRECISION_MS, '192.0.2.1')).toBe(true);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`usage recording in batches [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('writes many tokens in one flush: newest use wins, a missing IP keeps the last one, counts add up per day, deleted tokens are skipped', async () => {
      const [a, b, gone] = [await createToken(t, admin), await createToken(t, admin), await createToken(t, admin)];
      const pats = t.container.store.repos.pats;
      await t.container.store.transaction((repos) =>
        repos.pats.recordUsage([
          { patId: a.id, lastUse: { at: T0, ip: '192.0.2.1' }, counts: [ok('2026-11-20', 2)] },
          { patId: b.id, lastUse: { at: T0 + 120_000, ip: '2001:db8::1' }, counts: [ok('2026-11-20', 1), ok('2026-11-21', 4)] },
        ]),
      );
      // A token deleted between its use and the flush (its owner was deleted).
      await t.container.store.db.deleteFrom('pats').where('id', '=', gone.id).execute();
      await t.container.store.transaction((repos) =>
        repos.pats.recordUsage([
          { patId: a.id, lastUse: { at: T0 - 60_000, ip: '192.0.2.99' }, counts: [ok('2026-11-20', 3)] }, // older than what is stored
          { patId: b.id, lastUse: { at: T0 + 180_000, ip: null }, counts: [ok('2026-11-21', 1)] },
          { patId: gone.id, lastUse: { at: T0, ip: '192.0.2.5' }, counts: [ok('2026-11-20', 1)] },
        ]),
      );
      const one = await pats.findById(a.id);
      expect(one?.lastUsedAt?.getTime()).toBe(T0);
      expect(one?.lastUsedIp).toBe('192.0.2.1');
      const two = await pats.findById(b.id);
      expect(two?.lastUsedAt?.getTime()).toBe(T0 + 180_000);
      expect(two?.lastUsedIp).toBe('2001:db8::1');
      expect(await pats.usageByDay(a.id)).toEqual([{ day: '2026-11-20', count: 5 }]);
      expect(await pats.usageByDay(b.id)).toEqual([
        { day: '2026-11-20', count: 1 },
        { day: '2026-11-21', count: 5 },
      ]);
      expect(await pats.usageByDay(gone.id)).toEqual([]);
    });

    it('writes a token\'s last use when it moves by a minute or comes from another address, and every use\'s count', async () => {
      const tok = await createToken(t, admin);
      const pats = t.container.store.repos.pats;
      // Steps longer than the verification cache's lifetime: each use reads the stored last use.
      const useAt = async (at: number, ip: string) => {
        t.clock.advance(at - t.clock.now());
        expect((await t.container.verifier.verify(tok.token, { ip })).ok).toBe(true);
        await t.container.usage.flush();
        return pats.findById(tok.id);
      };
      const start = t.clock.now() + 20_000;
      expect(await useAt(start, '192.0.2.1')).toMatchObject({ lastUsedAt: new Date(start), lastUsedIp: '192.0.2.1' });
      expect(await useAt(start + 30_000, '192.0.2.1')).toMatchObject({ lastUsedAt: new Date(start) });
      expect(await useAt(start + 40_000, '192.0.2.2')).toMatchObject({ lastUsedAt: new Date(start + 40_000), lastUsedIp: '192.0.2.2' });
      expect(await useAt(start + 100_000, '192.0.2.2')).toMatchObject({ lastUsedAt: new Date(start + 100_000), lastUsedIp: '192.0.2.2' });
      expect(await pats.usageByDay(tok.id)).toEqual([{ day: new Date(start).toISOString().slice(0, 10), count: 4 }]);
    });

    it('does not rewrite a last use it wrote itself a moment ago, when the token it sees is a cached (stale) copy', async () => {
      const tok = await createToken(t, admin);
      const pats = t.container.store.repos.pats;
      const first = t.clock.now();
      // The first use fills the cache with the token as it was (never used) and records the use.
      expect((await t.container.verifier.verify(tok.token, { ip: '192.0.2.40' })).ok).toBe(true);
      await t.container.usage.flush();
      expect((await pats.findById(tok.id))?.lastUsedAt?.getTime()).toBe(first);
      // 5 s later the cache still holds the never-used copy; the use is counted, the last use kept.
      t.clock.advance(5000);
      expect((await t.container.verifier.verify(tok.token, { ip: '192.0.2.40' })).ok).toBe(true);
      await t.container.usage.flush();
      expect((await pats.findById(tok.id))?.lastUsedAt?.getTime()).toBe(first);
      // From another address it is news, and written.
      t.clock.advance(1000);
      expect((await t.container.verifier.verify(tok.token, { ip: '192.0.2.41' })).ok).toBe(true);
      await t.container.usage.flush();
      expect(await pats.findById(tok.id)).toMatchObject({ lastUsedAt: new Date(first + 6000), lastUsedIp: '192.0.2.41' });
    });

    it('writes last uses spread over several statements (more tokens than one statement holds)', async () => {
      const [a, b] = [await createToken(t, admin), await createToken(t, admin)];
      const missing = Array.from({ length: 250 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`);
      const ids = [...missing.slice(0, 120), a.id, ...missing.slice(120), b.id];
      await t.container.store.transaction((repos) =>
        repos.pats.recordUsage(ids.map((patId, i) => ({ patId, lastUse: { at: T0 + i, ip: '203.0.113.1' }, counts: [ok('2026-11-20', 1)] }))),
      );
      expect((await pats(a.id))?.lastUsedAt?.getTime()).toBe(T0 + 120);
      expect((await pats(b.id))?.lastUsedAt?.getTime()).toBe(T0 + 251);
      expect(await t.container.store.repos.pats.usageByDay(b.id)).toEqual([{ day: '2026-11-20', count: 1 }]);
      function pats(id: string) {
        return t.container.store.repos.pats.findById(id);
      }
    });

    it('shows the written use on the token', async () => {
      const c = await createToken(t, admin);
      await t.container.store.transaction((repos) => repos.pats.recordUsage([{ patId: c.id, lastUse: { at: T0, ip: '198.51.100.9' }, counts: [ok('2026-11-20', 1)] }]));
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${c.id}`, headers: asSession(admin) });
      expect(res.json()).toMatchObject({ lastUsedAt: new Date(T0).toISOString(), lastUsedIp: '198.51.100.9' });
    });

    it('writes a flush in transactions of a bounded size, letting the event loop run between them', async () => {
      const tokens = await createTokens(t, admin, 5);
      let immediateRan = false;
      const startedAfterImmediate: boolean[] = [];
      const store = countingTransactions(t.container.store, () => startedAfterImmediate.push(immediateRan));
      const recorder = new UsageRecorder({ store, flushIntervalMs: 600_000, tokensPerTransaction: 2, now: () => T0 });
      for (const tok of tokens) recorder.record(tok.id, T0, '192.0.2.8');
      setImmediate(() => (immediateRan = true));
      await recorder.flush();
      // Five tokens, two per transaction: three transactions, and a callback queued before the
      // flush ran before the second one began.
      expect(startedAfterImmediate).toEqual([false, true, true]);
      expect(await Promise.all(tokens.map((tok) => usesOf(t, tok.id)))).toEqual([1, 1, 1, 1, 1]);
    });

    it('keeps the tokens of a failed transaction and of those after it, and writes each use once on the next flush', async () => {
      const tokens = await createTokens(t, admin, 5);
      let started = 0;
      const errors: unknown[] = [];
      const store = countingTransactions(t.container.store, () => {
        if (++started === 2) throw new Error('the store failed');
      });
      const recorder = new UsageRecorder({ store, flushIntervalMs: 600_000, tokensPerTransaction: 2, now: () => T0, onError: (e) => errors.push(e) });
      // Sorted by id: the order the flush takes them in is the order they were recorded in.
      const ids = tokens.map((tok) => tok.id).sort();
      for (const id of ids) recorder.record(id, T0, '192.0.2.9');
      await recorder.flush();
      expect(errors).toHaveLength(1);
      expect(recorder.pendingCount).toBe(3);
      expect(await Promise.all(ids.map((id) => usesOf(t, id)))).toEqual([1, 1, 0, 0, 0]);
      await recorder.flush();
      expect(recorder.pendingCount).toBe(0);
      expect(await Promise.all(ids.map((id) => usesOf(t, id)))).toEqual([1, 1, 1, 1, 1]);
    });

    it('answers a flush only once the write holding its uses is done, when another flush started that write', async () => {
      const tokens = await createTokens(t, admin, 5);
      const recorder = new UsageRecorder({ store: t.container.store, flushIntervalMs: 600_000, tokensPerTransaction: 1, now: () => T0 });
      for (const tok of tokens.slice(0, 3)) recorder.record(tok.id, T0, '192.0.2.10');
      const first = recorder.flush();
      for (const tok of tokens.slice(3)) recorder.record(tok.id, T0, '192.0.2.10');
      // Both wait for the first; the one that resumes first writes the last two tokens, in two
      // transactions with a turn of the event loop between them.
      const second = recorder.flush();
      const third = recorder.flush();
      await third;
      expect(await Promise.all(tokens.map((tok) => usesOf(t, tok.id)))).toEqual([1, 1, 1, 1, 1]);
      await Promise.all([first, second]);
    });

    it('puts back the uses of a failed transaction even when new tokens filled its bound meanwhile', async () => {
      const tokens = await createTokens(t, admin, 7);
      const ids = tokens.map((tok) => tok.id).sort();
      let started = 0;
      const store = countingTransactions(t.container.store, () => {
        if (++started === 2) throw new Error('the store failed');
      });
      const recorder = new UsageRecorder({ store, flushIntervalMs: 600_000, maxPending: 4, tokensPerTransaction: 1, now: () => T0, onError: () => {} });
      recorder.record(ids[0]!, T0, '192.0.2.11');
      recorder.record(ids[1]!, T0, '192.0.2.11');
      const flushing = recorder.flush();
      // Recorded while the first token is written: four fill the bound, the fifth is not counted.
      for (const id of ids.slice(2)) recorder.record(id, T0, '192.0.2.11');
      await flushing;
      await recorder.flush();
      // The second token's transaction failed while four newer tokens were held: it is kept.
      expect(await Promise.all(ids.map((id) => usesOf(t, id)))).toEqual([1, 1, 1, 1, 1, 1, 0]);
    });

    it('writes early, before its timer, once half of its bound of distinct tokens is held', async () => {
      const tokens = [await createToken(t, admin), await createToken(t, admin), await createToken(t, admin)];
      const recorder = new UsageRecorder({ store: t.container.store, flushIntervalMs: 600_000, maxPending: 4, now: () => T0 });
      recorder.record(tokens[0]!.id, T0, '192.0.2.7');
      recorder.record(tokens[1]!.id, T0, '192.0.2.7');
      expect(recorder.pendingCount).toBe(2);
      // The third distinct token finds two held (half of four): a flush takes those two at once,
      // no timer involved, and the third waits for the next one.
      recorder.record(tokens[2]!.id, T0, '192.0.2.7');
      expect(recorder.pendingCount).toBe(1);
      const uses = async (id: string) => (await t.container.store.repos.pats.usageSince(id, 0)).reduce((n, c) => n + c.count, 0);
      for (let i = 0; i < 100 && (await uses(tokens[1]!.id)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect([await uses(tokens[0]!.id), await uses(tokens[1]!.id), await uses(tokens[2]!.id)]).toEqual([1, 1, 0]);
      await recorder.flush();
      expect(await uses(tokens[2]!.id)).toBe(1);
    });
  });
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`verification beside an open transaction [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('never reads a change that is not committed (and then rolled back)', async () => {
      const owner = await createUser(t, admin, 'rolled-back');
      const tok = await createToken(t, owner);
      const disabled = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${owner.userId}`, headers: asSession(admin), payload: { disabled: true } });
      expect(disabled.statusCode).toBe(200);
      let during: boolean | undefined;
      const rollback = t.container.store
        .transaction(async (repos) => {
          await repos.users.update(owner.userId, { disabledAt: null }, t.clock.now());
          // Something slow inside the transaction: other requests run meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
      during = (await t.container.verifier.verify(tok.token)).ok;
      await rollback;
      expect(during).toBe(false);
      expect((await t.container.verifier.verify(tok.token)).ok).toBe(false);
    });
  });
}

async function createTokens(t: TestApp, owner: Session, count: number) {
  const tokens = [];
  for (let i = 0; i < count; i++) tokens.push(await createToken(t, owner));
  return tokens;
}

/** Successful and refused uses of a token, all hours. */
async function usesOf(t: TestApp, patId: string): Promise<number> {
  return (await t.container.store.repos.pats.usageSince(patId, 0)).reduce((n, c) => n + c.count, 0);
}

/** The real store, calling `onStart` as each transaction begins (a throw there fails that transaction). */
function countingTransactions(real: Store, onStart: () => void): Store {
  return new Proxy(real, {
    get: (target, key) =>
      key === 'transaction'
        ? async <T>(fn: (repos: Repositories) => Promise<T>): Promise<T> => {
            onStart();
            return target.transaction(fn);
          }
        : Reflect.get(target, key),
  });
}

describe('usage recording when the store fails', () => {
  let t: TestApp;
  afterAll(async () => t?.close());

  it('keeps what a failed early flush took and leaves the retry to its timer (no loop)', async () => {
    t = await createTestApp(DIALECTS[0]!);
    const admin = await setupAdmin(t);
    const tokens = [await createToken(t, admin), await createToken(t, admin), await createToken(t, admin)];
    // A real failure of the store: the table the counts go to is gone.
    await t.container.store.db.schema.dropTable('usage_hourly').execute();
    const errors: unknown[] = [];
    const recorder = new UsageRecorder({ store: t.container.store, flushIntervalMs: 600_000, maxPending: 4, now: () => T0, onError: (e) => errors.push(e) });
    for (const tok of tokens) recorder.record(tok.id, T0, '192.0.2.7');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(errors).toHaveLength(1);
    expect(recorder.pendingCount).toBe(3);
  });
});
