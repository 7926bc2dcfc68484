import type { FastifyInstance } from 'fastify';
import { KeyfobError } from '../../errors/keyfob-error.js';

/**
 * One hook for every /api/v1 request (each hook costs every request a turn through Fastify's
 * hook runner). D5: an access token belongs in the Authorization header only. A token in the
 * query string or a form body is refused with 400 before anything reads it, and the query never
 * reaches the logs.
 */
export function registerApiGuards(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    // API answers carry secrets (new tokens, client secrets, CSRF tokens) or account data: never
    // cached. Set first, so that a route with a reason to differ can still say otherwise.
    reply.header('cache-control', 'no-store');
    const query = request.query as Record<string, unknown> | undefined;
    if (query && ('access_token' in query || 'token' in query)) {
      request.authFailure = true;
      done(new KeyfobError('invalid_request', 'access tokens are accepted only in the Authorization header, never in the URL'));
      return;
    }
    const type = request.headers['content-type'];
    if (type !== undefined && /^application\/x-www-form-urlencoded/i.test(type)) {
      request.authFailure = true;
      done(new KeyfobError('invalid_request', 'form bodies are not accepted: send JSON, and the access token only in the Authorization header'));
      return;
    }
    done();
  });
}
