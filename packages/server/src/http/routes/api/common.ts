import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ErrorBody } from '@keyfob/protocol';
import { SESSION_COOKIE, clientIp } from '../../plugins/authenticate.js';
import type { StartedSession } from '../../../services/session-service.js';
import { decodeCursor, toPage, type Cursor } from '../../../domain/cursor.js';
import { ValidationError } from '../../../errors/keyfob-error.js';

/** Error responses documented on every route. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  503: ErrorBody,
} as const;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const NoContent = Type.Null({ description: 'No content' });

export function requestMeta(request: FastifyRequest): { ip: string; userAgent: string | null } {
  return { ip: clientIp(request), userAgent: request.headers['user-agent'] ?? null };
}

export function setSessionCookie(reply: FastifyReply, session: StartedSession, secure: boolean): void {
  reply.setCookie(SESSION_COOKIE, session.sessionToken, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    expires: new Date(session.expiresAt),
  });
}

/** Runs a keyset-paginated list query: fetch one more than asked, hand back the next cursor. */
export async function paginate<T>(
  query: { cursor?: string | undefined; limit?: number | undefined },
  fetch: (cursor: Cursor | undefined, limit: number) => Promise<readonly T[]>,
  position: (item: T) => Cursor,
): Promise<{ items: T[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50;
  return toPage(await fetch(decodeCursor(query.cursor), limit), limit, position);
}

/** Parses an ISO 8601 query or body time, naming the field when it is not one. */
export function parseTime(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new ValidationError(field, 'must be an ISO 8601 date-time');
  return at;
}
