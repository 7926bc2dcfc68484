import type { AdminPatDto, AuditEventDto, MostUsedTokensDto, OAuthClientDto, PatDto, ScopeEntryDto, SigningKeyDto, UserDto, WebhookDeliveryDto, WebhookDto } from '@keyfob/protocol';
import { isAdminScope } from '@keyfob/protocol';
import type { Account, PatView } from '../domain/verified-token.js';
import type { MostUsed } from '../services/usage-reports.js';
import { patStatus, type AuditEvent, type OAuthClient, type ScopeEntry, type SigningKeyRecord, type Webhook, type WebhookDelivery } from '../domain/models.js';

// The one place that decides what leaves the server; the response schemas are the second fence.

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** Metadata of a token. A rotation grace period in the future is not yet a revocation. */
export function presentPat(pat: PatView, now: number): PatDto {
  const revoked = pat.revokedAt !== null && pat.revokedAt.getTime() <= now;
  return {
    id: pat.id,
    name: pat.name,
    description: pat.description,
    scopes: [...pat.scopes],
    displayHint: pat.displayHint,
    createdAt: pat.createdAt.toISOString(),
    expiresAt: iso(pat.expiresAt),
    lastUsedAt: iso(pat.lastUsedAt),
    lastUsedIp: pat.lastUsedIp,
    revokedAt: revoked ? iso(pat.revokedAt) : null,
    audiences: [...pat.audiences],
    allowedIps: [...pat.allowedIps],
    status: patStatus(pat, now),
    userId: pat.userId,
  };
}

/** A token with its owner's username, for admin lists that span users. */
export function presentAdminPat(item: { readonly pat: PatView; readonly ownerUsername: string }, now: number): AdminPatDto {
  return { ...presentPat(item.pat, now), ownerUsername: item.ownerUsername };
}

/** The most used tokens and the window they were counted in. */
export function presentMostUsed(report: MostUsed, now: number): MostUsedTokensDto {
  return {
    days: report.days,
    from: new Date(report.from).toISOString(),
    to: new Date(report.to).toISOString(),
    items: report.items.map((item) => ({ pat: presentAdminPat(item, now), uses: item.uses, failures: item.failures })),
  };
}

export function presentUser(user: Account): UserDto {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    role: user.role,
    disabled: user.disabledAt !== null,
    disabledAt: iso(user.disabledAt),
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    notifications: { ...user.notifications },
  };
}

export function presentScope(entry: ScopeEntry): ScopeEntryDto {
  return {
    name: entry.name,
    description: entry.description,
    builtin: entry.builtin,
    adminOnly: isAdminScope(entry.name),
    createdAt: entry.createdAt.toISOString(),
  };
}

export function presentAuditEvent(event: AuditEvent): AuditEventDto {
  return {
    id: event.id,
    createdAt: event.createdAt.toISOString(),
    action: event.action,
    actorUserId: event.actorUserId,
    actorTokenId: event.actorTokenId,
    targetType: event.targetType,
    targetId: event.targetId,
    ip: event.ip,
    userAgent: event.userAgent,
    details: { ...event.details },
  };
}

export function presentClient(client: OAuthClient): OAuthClientDto {
  return {
    clientId: client.id,
    name: client.name,
    grantTypes: [...client.grantTypes],
    allowedAudiences: [...client.allowedAudiences],
    allowedScopes: client.allowedScopes === null ? null : [...client.allowedScopes],
    introspection: client.canIntrospect,
    disabled: client.disabledAt !== null,
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
  };
}

/** Public half only: the sealed private key never leaves the store. */
export function presentSigningKey(key: SigningKeyRecord): SigningKeyDto {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    createdAt: key.createdAt.toISOString(),
    activatedAt: iso(key.activatedAt),
    retiredAt: iso(key.retiredAt),
    unpublishAt: iso(key.unpublishAt),
    publicJwk: { ...key.publicJwk, kid: key.kid },
  };
}

export function presentWebhook(webhook: Webhook): WebhookDto {
  return {
    id: webhook.id,
    url: webhook.url,
    description: webhook.description,
    events: [...webhook.events],
    active: webhook.disabledAt === null,
    createdAt: webhook.createdAt.toISOString(),
    updatedAt: webhook.updatedAt.toISOString(),
  };
}

export function presentDelivery(delivery: WebhookDelivery): WebhookDeliveryDto {
  return {
    id: delivery.id,
    webhookId: delivery.webhookId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    createdAt: delivery.createdAt.toISOString(),
    lastAttemptAt: iso(delivery.lastAttemptAt),
    nextAttemptAt: iso(delivery.nextAttemptAt),
    deliveredAt: iso(delivery.deliveredAt),
    responseStatus: delivery.responseStatus,
    error: delivery.error,
    redeliveryOf: delivery.redeliveryOf,
    payload: JSON.parse(delivery.body) as unknown,
  };
}
