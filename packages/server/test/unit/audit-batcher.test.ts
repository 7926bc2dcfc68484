import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { readdirSync, readlinkSync } from 'node:fs';
import { DIALECTS } from '../helpers/dialects.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { AuditBatcher } from '../../src/services/audit-batcher.js';
import { auditEvent } from '../../src/services/audit-log.js';

const ACTOR = { userId: null, tokenId: null, ip: '127.0.0.1', userAgent: 'test' };

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`AuditBatcher [${dialect.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect);
    });
    afterAll(async () => t?.close());

    it('answers each append only once its event is stored, sharing commits between concurrent appends', async () => {
      const batcher = new AuditBatcher(t.container.store);
      let writes = 0;
      const store = t.container.store;
      const audit = store.repos.audit;
      const original = audit.insertMany.bind(audit);
      audit.insertMany = (events) => {
        writes++;
        return original(events);
      };
      try {
        const appends = Array.from({ length: 40 }, (_, i) =>
          batcher.append(ACTOR, { action: 'test.batched', targetType: 'token', targetId: `t${i}` }, 1_700_000_000_000 + i).then(async () => {
            // Stored by the time the promise resolves.
            const found = await store.repos.audit.list({ action: 'test.batched' }, undefined, 100);
            expect(found.some((e) => e.targetId === `t${i}`)).toBe(true);
          }),
        );
        await Promise.all(appends);
        expect(writes).toBeLessThan(40);
      } finally {
        audit.insertMany = original;
      }
      expect((await store.repos.audit.list({ action: 'test.batched' }, undefined, 100)).length).toBe(40);
    });

    it('writes a batch whole or not at all: one event that cannot be stored keeps the others out too', async () => {
      const audit = t.container.store.repos.audit;
      const stored = auditEvent(ACTOR, { action: 'test.atomic', targetId: 'first' }, 1_700_000_100_000);
      await audit.insertMany([stored]);
      const fresh = auditEvent(ACTOR, { action: 'test.atomic', targetId: 'fresh' }, 1_700_000_100_001);
      const clash = { ...auditEvent(ACTOR, { action: 'test.atomic', targetId: 'clash' }, 1_700_000_100_002), id: stored.id };
      await expect(audit.insertMany([fresh, clash])).rejects.toThrow();
      const found = await audit.list({ action: 'test.atomic' }, undefined, 10);
      expect(found.map((e) => e.targetId)).toEqual(['first']);
      // The connection is usable afterwards (no transaction left open on SQLite).
      await audit.insertMany([fresh]);
      expect((await audit.list({ action: 'test.atomic' }, undefined, 10)).length).toBe(2);
    });
  });
}

describe('AuditRepository on SQLite', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(DIALECTS.find((d) => d.name === 'sqlite')!);
  });
  afterAll(async () => t?.close());

  it('leaves every other write on SQLite at synchronous=FULL, whether a batch is stored or refused', async () => {
    const store = t.container.store;
    const synchronous = async () => (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(store.db)).rows[0]?.synchronous;
    const FULL = 2;
    expect(await synchronous()).toBe(FULL);
    const first = auditEvent(ACTOR, { action: 'test.synchronous', targetId: 'first' }, 1_700_000_200_000);
    await store.repos.audit.insertMany([first]);
    expect(await synchronous()).toBe(FULL);
    await expect(store.repos.audit.insertMany([{ ...first }])).rejects.toThrow();
    expect(await synchronous()).toBe(FULL);
    // Concurrent batches (the second commits while the first one's flush is under way) all land.
    const later = Array.from({ length: 5 }, (_, i) => auditEvent(ACTOR, { action: 'test.synchronous', targetId: `later${i}` }, 1_700_000_200_001 + i));
    await Promise.all(later.map((e) => store.repos.audit.insertMany([e])));
    expect((await store.repos.audit.list({ action: 'test.synchronous' }, undefined, 10)).length).toBe(6);
    expect(await synchronous()).toBe(FULL);
    // The commits were made durable by keyfob's own flush of the log: it holds the log open
    // beside SQLite's descriptor.
    expect(descriptorsOnLog(t)).toBeGreaterThanOrEqual(2);
  });

  it('lets go of the log when the store closes', async () => {
    const other = await createTestApp(DIALECTS.find((d) => d.name === 'sqlite')!);
    await other.container.store.repos.audit.insertMany([auditEvent(ACTOR, { action: 'test.close', targetId: 'x' }, 1_700_000_300_000)]);
    expect(descriptorsOnLog(other)).toBeGreaterThanOrEqual(2);
    await other.close();
    await vi.waitFor(() => expect(descriptorsOnLog(other)).toBe(0));
  });
});

/** Descriptors of this process open on a test app's SQLite write-ahead log. */
function descriptorsOnLog(app: TestApp): number {
  const database = app.container.config.database;
  if (database.kind !== 'sqlite') throw new Error('a SQLite test app');
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      // SQLite deletes the log when it closes the database; a descriptor left open would still show.
      return readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === `${database.file}-wal`;
    } catch {
      return false; // closed since the listing
    }
  }).length;
}
