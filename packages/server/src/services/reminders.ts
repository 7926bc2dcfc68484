import { EXPIRED_NOTICE_HORIZON_MS, REMINDERS, reminderEventId, type ReminderKind } from '../domain/events.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';

/** [from, to) of expiry times a reminder of each kind is due for, now. */
function windowOf(kind: ReminderKind, now: number): [number, number] {
  switch (kind) {
    // The 1-day reminder covers the last day; a token met first inside it gets only that one.
    case 'expiring7d':
      return [now + REMINDERS.expiring1d.withinMs, now + REMINDERS.expiring7d.withinMs];
    case 'expiring1d':
      return [now, now + REMINDERS.expiring1d.withinMs];
    case 'expired':
      return [now - EXPIRED_NOTICE_HORIZON_MS, now];
  }
}

/**
 * Puts `token.expiring` and `token.expired` events in the outbox for tokens whose expiry comes
 * near, once per token and kind (the reminder row and the event commit together). A token whose
 * whole lifetime is shorter than a reminder's lead gets no such reminder: its owner chose it.
 */
export class ExpiryReminders {
  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  async run(limit = 500): Promise<number> {
    const now = this.deps.clock.now();
    let made = 0;
    for (const kind of Object.keys(REMINDERS) as ReminderKind[]) {
      const [from, to] = windowOf(kind, now);
      const due = await this.deps.store.repos.reminders.due(kind, from, to, REMINDERS[kind].withinMs, limit);
      if (due.length === 0) continue;
      made += await this.deps.store.transaction(async (repos) => {
        let count = 0;
        for (const token of due) {
          if (!(await repos.reminders.mark(token.patId, kind, now))) continue;
          const details = { kind, expiresAt: new Date(token.expiresAt).toISOString() };
          await repos.outbox.insertMany([{ id: reminderEventId(token.patId, kind), type: REMINDERS[kind].type, createdAt: now, record: { actor: null, target: { type: 'token', id: token.patId }, details } }]);
          count++;
        }
        return count;
      });
    }
    return made;
  }
}
