import { subscribes, type PendingEvent } from '../domain/events.js';
import { newId } from '../domain/ids.js';
import type { Pat, User } from '../domain/models.js';
import { draftNotice } from '../domain/notices.js';
import { presentPat, presentUser } from '../http/presenters.js';
import { Conflict } from '../errors/keyfob-error.js';
import type { NewNotice } from '../repositories/notices.js';
import type { Repositories, Store } from '../repositories/store.js';
import type { NewDelivery } from '../repositories/webhooks.js';
import type { Clock } from './clock.js';

/** The JSON body of a webhook delivery. */
export interface WebhookEventBody {
  readonly id: string;
  readonly type: string;
  readonly createdAt: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Turns outbox events into webhook deliveries and email notices, in one transaction with taking
 * them out of the outbox: an event is fanned out once, or not at all and tried again.
 */
export class EventFanout {
  constructor(private readonly deps: { store: Store; clock: Clock; mailEnabled: boolean; consoleUrl: string }) {}

  /** Fans out up to `limit` of the oldest events; returns how many left the outbox. */
  async run(limit = 200): Promise<number> {
    return this.deps.store.transaction(async (repos) => {
      const { ids, events } = await repos.outbox.oldest(limit);
      if (ids.length === 0) return 0;
      const webhooks = await repos.webhooks.active();
      const deliveries: NewDelivery[] = [];
      const notices: NewNotice[] = [];
      const now = this.deps.clock.now();
      const lookups = new Lookups(repos);
      for (const event of events) {
        const subject = await lookups.subjectOf(event);
        const targets = webhooks.filter((w) => subscribes(w.events, event.type));
        if (targets.length > 0) {
          const body = JSON.stringify(eventBody(event, subject, now));
          for (const w of targets) deliveries.push({ id: newId(now), webhookId: w.id, eventId: event.id, eventType: event.type, body, createdAt: now });
        }
        if (this.deps.mailEnabled && subject.token && subject.owner) {
          const draft = draftNotice(event, subject.token, subject.owner, this.deps.consoleUrl);
          if (draft && subject.owner.email) {
            notices.push({ id: newId(now), dedupeKey: draft.dedupeKey, userId: subject.owner.id, kind: draft.kind, recipient: subject.owner.email, subject: draft.subject, body: draft.body, createdAt: now });
          }
        }
      }
      await repos.webhooks.insertDeliveries(deliveries);
      await repos.notices.insertMany(notices);
      const taken = await repos.outbox.delete(ids);
      // Another instance fanned out some of these meanwhile (a lease that lapsed mid-run): undo ours.
      if (taken !== ids.length) throw new Conflict('outbox events were taken by another instance');
      return taken;
    });
  }
}

interface Subject {
  readonly token?: Pat | undefined;
  readonly owner?: User | undefined;
  readonly user?: User | undefined;
}

/** Tokens and users the events of one batch name, each read once. */
class Lookups {
  readonly #pats = new Map<string, Promise<Pat | undefined>>();
  readonly #users = new Map<string, Promise<User | undefined>>();

  constructor(private readonly repos: Repositories) {}

  async subjectOf(event: PendingEvent): Promise<Subject> {
    const target = event.record.target;
    if (!target?.id) return {};
    if (target.type === 'token') {
      const token = await this.#pat(target.id);
      return { token, owner: token && (await this.#user(token.userId)) };
    }
    if (target.type === 'user') return { user: await this.#user(target.id) };
    return {};
  }

  #pat(id: string): Promise<Pat | undefined> {
    let found = this.#pats.get(id);
    if (!found) this.#pats.set(id, (found = this.repos.pats.findById(id)));
    return found;
  }

  #user(id: string): Promise<User | undefined> {
    let found = this.#users.get(id);
    if (!found) this.#users.set(id, (found = this.repos.users.findById(id)));
    return found;
  }
}

/**
 * `data` carries who did it (`actor`), the event's own details, and the token or user it is about
 * as it stands when the event is fanned out (seconds later), in the REST API's shapes.
 */
function eventBody(event: PendingEvent, subject: Subject, now: number): WebhookEventBody {
  const { actor, target, details } = event.record;
  const data: Record<string, unknown> = { actor, target, details };
  if (subject.token) data['token'] = { ...presentPat(subject.token, now), ownerUsername: subject.owner?.username ?? null };
  if (subject.user) data['user'] = presentUser(subject.user);
  return { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data };
}
