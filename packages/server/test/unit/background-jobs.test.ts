import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`the event jobs' tick [${dialect.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect);
    });
    afterAll(async () => t?.close());

    it('lets the event loop run between its steps, so requests are answered during a long tick', async () => {
      let turns = 0;
      let counting = true;
      const count = () => {
        turns++;
        if (counting) setImmediate(count);
      };
      setImmediate(count);
      expect(await t.container.jobs.runOnce()).toBe(true);
      counting = false;
      // Reminders, idle expiry, the outbox, webhooks and email notices each start after a turn.
      // On SQLite every statement answers synchronously: without those turns there is none.
      expect(turns).toBeGreaterThanOrEqual(5);
    });
  });
}
