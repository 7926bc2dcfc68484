import type { FastifyReply } from 'fastify';
import type { KeyfobError } from '../errors/keyfob-error.js';

export const REALM = 'keyfob';

/**
 * RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E inside error, error_description and scope
 * values: no quote, no backslash, nothing outside printable ASCII (a line break would even make
 * node:http refuse the header). Anything else is replaced, never passed through.
 */
const quote = (value: string) => `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`;

/**
 * Writes the RFC 6750 §3 `WWW-Authenticate` challenge for a resource-access failure. Without
 * credentials the challenge carries no error code (§3.1); otherwise it names the error, and
 * `scope` for insufficient_scope.
 */
export function writeChallenge(reply: FastifyReply, error: KeyfobError): void {
  const header = challengeOf(error);
  if (header !== undefined) reply.header('www-authenticate', header);
}

/** The `WWW-Authenticate` value for an error, or undefined when the error carries no challenge. */
export function challengeOf(error: Pick<KeyfobError, 'code' | 'message' | 'scope'>): string | undefined {
  const parts = [`realm=${quote(REALM)}`];
  switch (error.code) {
    case 'unauthorized':
    case 'session_expired':
      break;
    case 'invalid_token':
    case 'invalid_request':
      parts.push(`error=${quote(error.code)}`, `error_description=${quote(error.message)}`);
      break;
    case 'insufficient_scope':
      parts.push(`error=${quote(error.code)}`, `error_description=${quote(error.message)}`);
      if (error.scope) parts.push(`scope=${quote(error.scope)}`);
      break;
    default:
      return undefined;
  }
  return `Bearer ${parts.join(', ')}`;
}
