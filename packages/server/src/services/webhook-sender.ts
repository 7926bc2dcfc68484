import type { SealedBox } from '../crypto/sealed-box.js';
import { signatureHeader } from '../crypto/webhook-signature.js';
import { WEBHOOK_RETRY_DELAYS_MS, nextAttemptAt } from '../domain/delivery-schedule.js';
import type { Webhook, WebhookDelivery } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import type { AttemptOutcome } from '../repositories/webhooks.js';
import type { Clock } from './clock.js';

/** At most this many deliveries are in flight at once, so one slow receiver cannot hold up the rest for long. */
const PARALLEL = 8;

/**
 * Posts due webhook deliveries, each signed with its webhook's secret at the moment it is sent.
 * A 2xx answer is success; anything else (3xx included: redirects are not followed, so a
 * delivery never lands somewhere the admin did not name) is retried on the back-off schedule.
 */
export class WebhookSender {
  constructor(private readonly deps: { store: Store; clock: Clock; sealedBox: SealedBox; timeoutMs: number; userAgent: string; onAttempt?: (outcome: 'succeeded' | 'failed') => void }) {}

  /** Sends what is due; returns how many attempts were made. */
  async run(limit = 50): Promise<number> {
    const { store, clock } = this.deps;
    const due = await store.repos.webhooks.due(clock.now(), limit);
    const hooks = new Map<string, Promise<Webhook | undefined>>();
    let next = 0;
    let attempts = 0;
    const worker = async () => {
      while (next < due.length) {
        const delivery = due[next++]!;
        if (!hooks.has(delivery.webhookId)) hooks.set(delivery.webhookId, store.repos.webhooks.findById(delivery.webhookId));
        const webhook = await hooks.get(delivery.webhookId)!;
        if (!(await store.repos.webhooks.claim(delivery, clock.now()))) continue;
        attempts++;
        const outcome = await this.#attempt(delivery, webhook);
        this.deps.onAttempt?.(outcome.error === null ? 'succeeded' : 'failed');
        await store.repos.webhooks.finishAttempt(delivery.id, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, due.length) }, worker));
    return attempts;
  }

  async #attempt(delivery: WebhookDelivery, webhook: Webhook | undefined): Promise<AttemptOutcome> {
    const at = this.deps.clock.now();
    const attempt = delivery.attempts + 1;
    const failed = (responseStatus: number | null, error: string): AttemptOutcome => ({ at, responseStatus, error, retryAt: nextAttemptAt(WEBHOOK_RETRY_DELAYS_MS, attempt, at) });
    if (!webhook || webhook.disabledAt !== null) return { at, responseStatus: null, error: 'the webhook is disabled', retryAt: undefined };
    let secret: string;
    try {
      secret = this.deps.sealedBox.open(webhook.sealedSecret);
    } catch (error) {
      return failed(null, (error as Error).message);
    }
    try {
      const res = await fetch(webhook.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.deps.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': this.deps.userAgent,
          'keyfob-event': delivery.eventType,
          'keyfob-delivery': delivery.id,
          'keyfob-signature': signatureHeader(secret, Math.floor(at / 1000), delivery.body),
        },
        body: delivery.body,
      });
      // The answer's body is not kept; reading it frees the connection.
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? { at, responseStatus: res.status, error: null, retryAt: undefined } : failed(res.status, `the receiver answered ${res.status}`);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.deps.timeoutMs} ms` : `${cause?.code ?? (error as Error).message}${cause?.message ? `: ${cause.message}` : ''}`;
      return failed(null, reason);
    }
  }
}
