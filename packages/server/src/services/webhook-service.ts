import type { SealedBox } from '../crypto/sealed-box.js';
import { newWebhookSecret } from '../crypto/webhook-signature.js';
import { decodeCursor, toPage } from '../domain/cursor.js';
import { isSubscriptionPattern } from '../domain/events.js';
import { newId } from '../domain/ids.js';
import type { Actor, Webhook, WebhookDelivery } from '../domain/models.js';
import { NotFound, ValidationError } from '../errors/keyfob-error.js';
import type { WebhookChanges } from '../repositories/webhooks.js';
import type { Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';

export interface WebhookInput {
  readonly url?: string | undefined;
  readonly events?: readonly string[] | undefined;
  readonly description?: string | undefined;
  readonly active?: boolean | undefined;
}

export interface WebhookWithSecret {
  readonly webhook: Webhook;
  /** Plaintext; returned once. */
  readonly secret: string;
}

/** Admins' webhooks: registration, changes, the delivery log and re-sending a delivery. */
export class WebhookService {
  constructor(private readonly deps: { store: Store; clock: Clock; sealedBox: SealedBox; onQueued?: () => void }) {}

  async create(actor: Actor, input: WebhookInput & { url: string; events: readonly string[] }): Promise<WebhookWithSecret> {
    const now = this.deps.clock.now();
    const secret = newWebhookSecret();
    const webhook: Webhook = {
      id: newId(now),
      url: checkUrl(input.url),
      description: (input.description ?? '').trim(),
      events: checkEvents(input.events),
      sealedSecret: this.deps.sealedBox.seal(secret),
      disabledAt: input.active === false ? new Date(now) : null,
      createdBy: actor.userId,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    await this.deps.store.transaction(async (repos) => {
      await repos.webhooks.insert(webhook);
      await recordAudit(repos, actor, { action: 'webhook.created', targetType: 'webhook', targetId: webhook.id, details: { url: webhook.url, events: webhook.events } }, now);
    });
    return { webhook, secret };
  }

  list(): Promise<Webhook[]> {
    return this.deps.store.repos.webhooks.list();
  }

  async get(id: string): Promise<Webhook> {
    const webhook = await this.deps.store.repos.webhooks.findById(id);
    if (!webhook) throw new NotFound('webhook');
    return webhook;
  }

  async update(actor: Actor, id: string, input: WebhookInput): Promise<Webhook> {
    const now = this.deps.clock.now();
    const changes: WebhookChanges = {
      ...(input.url !== undefined ? { url: checkUrl(input.url) } : {}),
      ...(input.events !== undefined ? { events: checkEvents(input.events) } : {}),
      ...(input.description !== undefined ? { description: input.description.trim() } : {}),
    };
    return this.#change(actor, id, now, (webhook) => ({
      ...changes,
      ...(input.active === undefined || input.active === (webhook.disabledAt === null) ? {} : { disabledAt: input.active ? null : now }),
    }), 'webhook.updated');
  }

  /** A new signing secret; the old one stops signing at once. */
  async rotateSecret(actor: Actor, id: string): Promise<WebhookWithSecret> {
    const secret = newWebhookSecret();
    const sealedSecret = this.deps.sealedBox.seal(secret);
    const webhook = await this.#change(actor, id, this.deps.clock.now(), () => ({ sealedSecret }), 'webhook.secret_rotated');
    return { webhook, secret };
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      const webhook = await repos.webhooks.findById(id);
      if (!webhook || !(await repos.webhooks.delete(id))) throw new NotFound('webhook');
      await recordAudit(repos, actor, { action: 'webhook.deleted', targetType: 'webhook', targetId: id, details: { url: webhook.url } }, now);
    });
  }

  async deliveries(id: string, cursor: string | undefined, limit: number): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
    await this.get(id);
    const rows = await this.deps.store.repos.webhooks.deliveries(id, decodeCursor(cursor), limit);
    return toPage(rows, limit, (d) => ({ at: d.createdAt.getTime(), id: d.id }));
  }

  async delivery(id: string, deliveryId: string): Promise<WebhookDelivery> {
    const delivery = await this.deps.store.repos.webhooks.findDelivery(id, deliveryId);
    if (!delivery) throw new NotFound('delivery');
    return delivery;
  }

  /** Sends a delivery's event again as a new delivery (same event id and body, signed anew). */
  async redeliver(actor: Actor, id: string, deliveryId: string): Promise<WebhookDelivery> {
    const now = this.deps.clock.now();
    const created = await this.deps.store.transaction(async (repos) => {
      const original = await repos.webhooks.findDelivery(id, deliveryId);
      if (!original) throw new NotFound('delivery');
      const copy = { id: newId(now), webhookId: id, eventId: original.eventId, eventType: original.eventType, body: original.body, createdAt: now, redeliveryOf: original.id };
      await repos.webhooks.insertDeliveries([copy]);
      await recordAudit(repos, actor, { action: 'webhook.redelivered', targetType: 'webhook', targetId: id, details: { deliveryId: original.id, eventId: original.eventId } }, now);
      return (await repos.webhooks.findDelivery(id, copy.id))!;
    });
    this.deps.onQueued?.();
    return created;
  }

  async #change(actor: Actor, id: string, now: number, changesOf: (webhook: Webhook) => WebhookChanges, action: string): Promise<Webhook> {
    return this.deps.store.transaction(async (repos) => {
      const webhook = await repos.webhooks.findById(id);
      if (!webhook) throw new NotFound('webhook');
      const changes = changesOf(webhook);
      await repos.webhooks.update(id, changes, now);
      // The secret's name only, never its value.
      const fields = Object.keys(changes).map((f) => (f === 'sealedSecret' ? 'secret' : f === 'disabledAt' ? 'active' : f));
      await recordAudit(repos, actor, { action, targetType: 'webhook', targetId: id, details: { fields } }, now);
      return (await repos.webhooks.findById(id))!;
    });
  }
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ValidationError('url', 'must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('url', 'must be an absolute http:// or https:// URL');
  // Credentials in the URL would be shown back in every list and log line.
  if (url.username !== '' || url.password !== '') throw new ValidationError('url', 'must not carry a user name or password; authenticate the delivery with its signature');
  if (url.hash !== '') throw new ValidationError('url', 'must not have a #fragment');
  // Normalising percent-encodes non-ASCII characters: the stored form can be longer than the input.
  const normal = url.toString();
  if (normal.length > 2048) throw new ValidationError('url', 'must be at most 2048 characters once percent-encoded');
  return normal;
}

function checkEvents(events: readonly string[]): string[] {
  if (events.length === 0) throw new ValidationError('events', 'pick at least one event type (or "*")');
  const unknown = events.find((e) => !isSubscriptionPattern(e));
  if (unknown !== undefined) throw new ValidationError('events', `"${unknown}" is not an event type keyfob sends, a "<kind>.*" pattern or "*"`);
  return [...new Set(events)];
}
