import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
