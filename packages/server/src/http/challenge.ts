import type { FastifyReply } from 'fastify';
import type { KeyfobError } from '../errors/keyfob-error.js';

export const REALM = 'keyfob';

const quote = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/**
 * Writes the RFC 6750 §3 `WWW-Authenticate` challenge for a resource-access failure. Without
 * credentials the challenge carries no error code (§3.1); otherwise it names the error, and
 * `scope` for insufficient_scope.
 */
export function writeChallenge(reply: FastifyReply, error: KeyfobError): void {
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
      return;
  }
  reply.header('www-authenticate', `Bearer ${parts.join(', ')}`);
}
