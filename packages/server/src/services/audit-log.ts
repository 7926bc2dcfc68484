import { newId } from '../domain/ids.js';
import type { Repositories } from '../repositories/store.js';
import type { Actor, AuditEvent } from '../domain/models.js';

export interface AuditEntry {
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly details?: Record<string, unknown>;
}

/**
 * Appends an audit event through the given repositories (pass the transaction's, so the event
 * lands with the change). Callers must never put secrets in `details`.
 */
export function recordAudit(repos: Repositories, actor: Actor, entry: AuditEntry, now: number): Promise<void> {
  return repos.audit.insert(auditEvent(actor, entry, now));
}

export function auditEvent(actor: Actor, entry: AuditEntry, now: number): AuditEvent {
  return {
    id: newId(now),
    createdAt: new Date(now),
    action: entry.action,
    actorUserId: actor.userId,
    actorTokenId: actor.tokenId,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    ip: actor.ip,
    userAgent: actor.userAgent,
    details: entry.details ?? {},
  };
}
