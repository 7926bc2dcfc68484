import { EMAIL_RETRY_DELAYS_MS, nextAttemptAt } from '../domain/delivery-schedule.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';
import { MailError, type Mailer } from './mailer.js';

/**
 * Emails pending notices, one at a time (a notice is small and mail servers throttle parallel
 * senders). The server is checked first, so that one that is down costs one connection attempt
 * a round and no notice an attempt. Each notice is claimed before it is sent, so no two instances
 * send the same one; a send that fails without the server's refusal may have gone out, and is
 * never tried again.
 */
export class NoticeSender {
  constructor(private readonly deps: { store: Store; clock: Clock; mailer: Mailer; onSent?: (outcome: 'sent' | 'failed') => void; onUnreachable?: (error: unknown) => void }) {}

  async run(limit = 20): Promise<number> {
    const { store, clock, mailer } = this.deps;
    const due = await store.repos.notices.due(clock.now(), limit);
    if (due.length === 0) return 0;
    try {
      await mailer.verify();
    } catch (error) {
      this.deps.onUnreachable?.(error);
      return 0;
    }
    let sent = 0;
    for (const notice of due) {
      if (!(await store.repos.notices.claim(notice.id, clock.now()))) continue;
      try {
        await mailer.send({ to: notice.recipient, subject: notice.subject, text: notice.body });
        await store.repos.notices.markSent(notice.id, clock.now());
        this.deps.onSent?.('sent');
        sent++;
      } catch (error) {
        this.deps.onSent?.('failed');
        const message = error instanceof MailError ? error.message : String((error as Error).message ?? error);
        if (!(error instanceof MailError) || error.maybeSent) {
          await store.repos.notices.markUnknown(notice.id, `${message} (may have been delivered; not sent again)`);
          // The connection is in trouble: the rest waits for the next round.
          break;
        }
        await store.repos.notices.markRefused(notice.id, message, nextAttemptAt(EMAIL_RETRY_DELAYS_MS, notice.attempts + 1, clock.now()));
      }
    }
    return sent;
  }
}
