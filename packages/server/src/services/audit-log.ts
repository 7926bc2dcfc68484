import { newId } from '../domain/ids.js';
import type { Repositories } from '../repositories/store.js';
import type { Actor, AuditEvent } from '../domain/models.js';
import { isPublishedEvent, type EventRecord } from '../domain/events.js';

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
export async function recordAudit(repos: Repositories, actor: Actor, entry: AuditEntry, now: number): Promise<AuditEvent> {
  const event = auditEvent(actor, entry, now);
  await repos.audit.insert(event);
  // The outbox row commits or rolls back with the change: no event for a change that did not
  // happen, no change without its event.
  if (isPublishedEvent(entry.action)) await repos.outbox.insertMany([{ id: event.id, type: entry.action, createdAt: now, record: eventRecordOf(event) }]);
  return event;
}

export function eventRecordOf(event: AuditEvent): EventRecord {
  const actor = event.actorUserId === null && event.actorTokenId === null && event.ip === null ? null : { userId: event.actorUserId, tokenId: event.actorTokenId, ip: event.ip };
  return { actor, target: event.targetType === null ? null : { type: event.targetType, id: event.targetId }, details: event.details };
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
