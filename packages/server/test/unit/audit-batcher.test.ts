import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { AuditBatcher } from '../../src/services/audit-batcher.js';

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
      let transactions = 0;
      const store = t.container.store;
      const original = store.transaction.bind(store);
      store.transaction = ((fn: Parameters<typeof original>[0]) => {
        transactions++;
        return original(fn);
      }) as typeof store.transaction;
      try {
        const appends = Array.from({ length: 40 }, (_, i) =>
          batcher.append(ACTOR, { action: 'test.batched', targetType: 'token', targetId: `t${i}` }, 1_700_000_000_000 + i).then(async () => {
            // Stored by the time the promise resolves.
            const found = await store.repos.audit.list({ action: 'test.batched' }, undefined, 100);
            expect(found.some((e) => e.targetId === `t${i}`)).toBe(true);
          }),
        );
        await Promise.all(appends);
        expect(transactions).toBeLessThan(40);
      } finally {
        store.transaction = original;
      }
      expect((await store.repos.audit.list({ action: 'test.batched' }, undefined, 100)).length).toBe(40);
    });
  });
}
