import { WEBHOOK_EVENT_TYPES } from '@keyfob/protocol';

/**
 * The events keyfob publishes to webhooks (and turns into email notices): most audit actions, and
 * a few that only time or use produce (a token about to expire, a token used from a new address).
 * Sign-ins and token exchanges are left out: they are frequent and say nothing about a token's state.
 */
export type EventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const PUBLISHED: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isPublishedEvent(type: string): type is EventType {
  return PUBLISHED.has(type);
}

const NAMESPACES: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES.map((t) => t.slice(0, t.indexOf('.'))));

/** What a webhook may subscribe to: an event type, `<namespace>.*`, or `*`. */
export function isSubscriptionPattern(pattern: string): boolean {
  if (pattern === '*' || PUBLISHED.has(pattern)) return true;
  return pattern.endsWith('.*') && NAMESPACES.has(pattern.slice(0, -2));
}

export function subscribes(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === type || p === '*' || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

/** Who did it and to what, as recorded when the event happened (no secrets, by construction of the audit details). */
export interface EventRecord {
  readonly actor: { readonly userId: string | null; readonly tokenId: string | null; readonly ip: string | null } | null;
  readonly target: { readonly type: string; readonly id: string | null } | null;
  readonly details: Readonly<Record<string, unknown>>;
}

/** A row of the outbox: an event waiting to be fanned out to webhooks and notices. */
export interface PendingEvent {
  readonly id: string;
  readonly type: EventType;
  readonly createdAt: Date;
  readonly record: EventRecord;
}

/** Time-driven reminders about a token; each is made at most once per token. */
export const REMINDERS = {
  expiring7d: { type: 'token.expiring', withinMs: 7 * 86_400_000 },
  expiring1d: { type: 'token.expiring', withinMs: 86_400_000 },
  expired: { type: 'token.expired', withinMs: 0 },
} as const satisfies Record<string, { type: EventType; withinMs: number }>;

export type ReminderKind = keyof typeof REMINDERS;

/** An expiry already further back than this is not announced (a first start on an old database). */
export const EXPIRED_NOTICE_HORIZON_MS = 86_400_000;

/** The outbox id of a use from a new address: made once per token and address. */
export const newAddressEventId = (patId: string, ip: string): string => `new_ip:${patId}:${ip}`;
/**
 * One idle warning per token, period of idleness, policy and hour: a warning made again (the
 * policy changed, or the last one went stale) is a new event, and a new email.
 */
export const idleWarningEventId = (patId: string, lastActivity: number, idleRevokeDays: number, now: number): string =>
  `idle:${patId}:${lastActivity}:${idleRevokeDays}:${Math.floor(now / 3_600_000)}`;
export const reminderEventId = (patId: string, kind: ReminderKind): string => `reminder:${kind}:${patId}`;
