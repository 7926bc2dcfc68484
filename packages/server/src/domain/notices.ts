import type { EventType, PendingEvent } from './events.js';
import type { Notifications } from './models.js';

/** What an email about a token may say: its metadata, never its secret (keyfob does not have it). */
export interface NoticeToken {
  readonly id: string;
  readonly name: string;
  readonly displayHint: string;
  readonly scopes: readonly string[];
  readonly userId: string;
  readonly expiresAt: Date | null;
}

export interface NoticeRecipient {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly disabledAt: Date | null;
  readonly notifications: Notifications;
}

export interface NoticeDraft {
  readonly kind: keyof Notifications;
  readonly dedupeKey: string;
  readonly subject: string;
  readonly body: string;
}

const KIND_OF: Partial<Record<EventType, keyof Notifications>> = {
  'token.created': 'tokenCreated',
  'token.revoked': 'tokenRevoked',
  'token.leaked': 'tokenRevoked',
  'token.expiring': 'tokenExpiring',
  'token.expired': 'tokenExpiring',
  'token.idle': 'tokenExpiring',
  'token.new_ip': 'newIpUse',
};

const day = (d: Date) => d.toISOString().slice(0, 10);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * The email a token's owner gets about an event, if any: the kind must be one they kept on, they
 * must have an address and an enabled account, and a revocation they made themselves (or a leak
 * report's revocation, which has its own email) is not news to them.
 */
export function draftNotice(event: PendingEvent, token: NoticeToken, owner: NoticeRecipient, consoleUrl: string): NoticeDraft | undefined {
  const kind = KIND_OF[event.type];
  if (kind === undefined || !owner.email || owner.disabledAt !== null || !owner.notifications[kind]) return undefined;
  const details = event.record.details;
  const name = `"${token.name}" (${token.displayHint})`;
  let link = `${consoleUrl}/tokens/${token.id}`;
  let dedupeKey = `${event.id}:${owner.id}`;
  let subject: string;
  let lead: string;
  switch (event.type) {
    case 'token.created':
      subject = `A new personal access token: ${token.name}`;
      lead = `The token ${name} was created on your keyfob account with the scopes ${token.scopes.join(', ') || '(none)'}${token.expiresAt ? `; it expires on ${day(token.expiresAt)}` : ' and no expiry'}. If you did not create it, revoke it now.`;
      break;
    case 'token.revoked': {
      if (event.record.actor?.userId === token.userId || text(details['reason']).startsWith('leaked')) return undefined;
      const bulk = text(details['bulkRevocation']);
      if (bulk) {
        // One email per owner for a bulk revocation, naming the first of their tokens it met.
        dedupeKey = `${bulk}:${owner.id}`;
        link = `${consoleUrl}/tokens`;
        subject = 'Your tokens were revoked by an administrator';
        lead = `Tokens of yours, ${name} among them, were revoked by an administrator in one operation${text(details['reason']) ? ` (reason: ${text(details['reason'])})` : ''}. Anything that still uses them will be refused.`;
        break;
      }
      subject = `Your token ${token.name} was revoked`;
      lead = `The token ${name} was revoked ${event.record.actor?.userId ? 'by an administrator' : 'by keyfob'}${text(details['reason']) ? ` (reason: ${text(details['reason'])})` : ''}. Anything that still uses it will be refused; create a new token if you need one.`;
      break;
    }
    case 'token.leaked':
      subject = `Your token ${token.name} was found in public and revoked`;
      lead = `The token ${name} was reported as exposed${text(details['reporter']) ? ` by ${text(details['reporter'])}` : ''}${text(details['url']) ? ` at ${text(details['url'])}` : ''} and keyfob revoked it. Replace it wherever it was used and remove it from where it was found.`;
      break;
    case 'token.expiring':
      subject = `Your token ${token.name} expires on ${token.expiresAt ? day(token.expiresAt) : 'soon'}`;
      lead = `The token ${name} expires on ${token.expiresAt?.toISOString() ?? 'soon'}. Rotate it or create a new one before then, or whatever uses it will start failing.`;
      break;
    case 'token.expired':
      subject = `Your token ${token.name} has expired`;
      lead = `The token ${name} expired on ${token.expiresAt?.toISOString() ?? 'an earlier date'} and is no longer accepted.`;
      break;
    case 'token.idle':
      subject = `Your token ${token.name} will be revoked on ${text(details['revokeAt']).slice(0, 10)} unless it is used`;
      lead = `The token ${name} has not been used since ${text(details['lastActivityAt']).slice(0, 10)}. Tokens unused for ${String(details['idleRevokeDays'])} days are revoked by policy; if it is still needed, use it before ${text(details['revokeAt'])}, otherwise you can revoke it now.`;
      break;
    case 'token.new_ip':
      subject = `Your token ${token.name} was used from a new address`;
      lead = `The token ${name} was used from ${text(details['ip']) || 'an address'} for the first time. If you do not recognise it, revoke the token.`;
      break;
    default:
      return undefined;
  }
  return {
    kind,
    dedupeKey,
    subject,
    body: `Hello ${owner.username},\n\n${lead}\n\n${link}\n\nYou get this email because of your notification choices: ${consoleUrl}/profile\n`,
  };
}
