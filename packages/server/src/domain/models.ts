import type { NotificationsDto, Role, TokenStatus } from '@keyfob/protocol';

export type Notifications = NotificationsDto;

export const DEFAULT_NOTIFICATIONS: Notifications = Object.freeze({
  tokenExpiring: true,
  tokenRevoked: true,
  tokenCreated: true,
  newIpUse: true,
});

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string | null;
  readonly passwordHash: string | null;
  readonly role: Role;
  readonly disabledAt: Date | null;
  readonly notifications: Notifications;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A user as requests see it: never the password hash. */
export type Account = Omit<User, 'passwordHash'>;

export interface Pat {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly description: string;
  readonly tokenHash: string;
  readonly pepperKeyId: string;
  readonly displayHint: string;
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly allowedIps: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastUsedAt: Date | null;
  readonly lastUsedIp: string | null;
  /** May lie in the future: a rotated token keeps working until the end of its grace period. */
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
  readonly rotatedFromId: string | null;
  readonly createdByTokenId: string | null;
}

export interface ScopeEntry {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly createdAt: Date;
}

export interface AuditEvent {
  readonly id: string;
  readonly createdAt: Date;
  readonly action: string;
  readonly actorUserId: string | null;
  readonly actorTokenId: string | null;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Who did something, for the audit record. */
export interface Actor {
  readonly userId: string | null;
  readonly tokenId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export const SYSTEM_ACTOR: Actor = Object.freeze({ userId: null, tokenId: null, ip: null, userAgent: 'keyfob' });

export function patStatus(pat: Pick<Pat, 'revokedAt' | 'expiresAt'>, now: number): TokenStatus {
  if (pat.revokedAt !== null && pat.revokedAt.getTime() <= now) return 'revoked';
  if (pat.expiresAt !== null && pat.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

/**
 * When an active token stops working, in epoch ms, or null if never: its expiry, or the end of
 * its rotation grace period when that comes first (a rotated token's revokedAt lies ahead).
 * What introspection answers as `exp` and what an exchanged token may not outlive.
 */
export function usableUntil(pat: Pick<Pat, 'revokedAt' | 'expiresAt'>): number | null {
  const revoked = pat.revokedAt?.getTime() ?? Infinity;
  const expires = pat.expiresAt?.getTime() ?? Infinity;
  const until = Math.min(revoked, expires);
  return until === Infinity ? null : until;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface OAuthClient {
  readonly id: string;
  readonly name: string;
  readonly secretHash: string;
  readonly secretKeyId: string;
  readonly grantTypes: readonly string[];
  /** Empty: any audience. */
  readonly allowedAudiences: readonly string[];
  /** null: no ceiling beyond the PAT's own scopes. */
  readonly allowedScopes: readonly string[] | null;
  readonly canIntrospect: boolean;
  readonly disabledAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SigningKeyRecord {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: Readonly<Record<string, unknown>>;
  readonly sealedPrivateKey: string;
  readonly status: 'next' | 'active' | 'retired';
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
  readonly unpublishAt: Date | null;
}

/** Usernames are unique and looked up case-insensitively, by this key. */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

export interface Webhook {
  readonly id: string;
  readonly url: string;
  readonly description: string;
  readonly events: readonly string[];
  /** Sealed at rest; opened only to sign a delivery. */
  readonly sealedSecret: string;
  readonly disabledAt: Date | null;
  readonly createdBy: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed';

export interface WebhookDelivery {
  readonly id: string;
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly body: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  readonly lastAttemptAt: Date | null;
  readonly responseStatus: number | null;
  readonly error: string | null;
  readonly redeliveryOf: string | null;
  readonly createdAt: Date;
  readonly deliveredAt: Date | null;
}

/** `unknown`: the process stopped while sending; never sent again, since it may have gone out. */
export type NoticeStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'unknown';

export interface Notice {
  readonly id: string;
  readonly dedupeKey: string;
  readonly userId: string;
  readonly kind: string;
  readonly recipient: string;
  readonly subject: string;
  readonly body: string;
  readonly status: NoticeStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  readonly createdAt: Date;
  readonly sentAt: Date | null;
}
