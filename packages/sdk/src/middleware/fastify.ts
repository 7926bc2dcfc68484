import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { authorize, type GuardOptions } from '../authorize.js';
import type { VerifiedPrincipal, Verifier } from '../types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a keyfob guard: the principal behind the bearer token. */
    keyfob: VerifiedPrincipal | null;
  }
}

export interface KeyfobFastifyOptions extends GuardOptions {
  readonly verifier: Verifier;
}

/**
 * A Fastify plugin: `await app.register(keyfobPlugin, { verifier })` decorates requests with
 * `request.keyfob`; guard routes with `{ preHandler: app.keyfobGuard({ scopes: ['repo:read'] }) }`.
 * Registered without encapsulation, so the guard is available everywhere after it.
 */
export async function keyfobPlugin(app: FastifyInstance, options: KeyfobFastifyOptions): Promise<void> {
  if (!app.hasRequestDecorator('keyfob')) app.decorateRequest('keyfob', null);
  app.decorate('keyfobGuard', (routeOptions: GuardOptions = {}) => keyfobGuard(options.verifier, { ...options, ...routeOptions }));
}
// Fastify's own convention for plugins that must not be encapsulated (what fastify-plugin sets).
Object.assign(keyfobPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@keyfob/sdk' });

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that admits only requests with a token granting `scopes` (from keyfobPlugin). */
    keyfobGuard(options?: GuardOptions): preHandlerAsyncHookHandler;
  }
}

/**
 * A preHandler that answers the RFC 6750 refusal itself, or sets `request.keyfob` and lets the
 * request on. The caller's address is `request.ip` (set Fastify's `trustProxy` behind a proxy).
 */
export function keyfobGuard(verifier: Verifier, options: GuardOptions = {}): preHandlerAsyncHookHandler {
  return async function keyfobGuardHook(request: FastifyRequest, reply: FastifyReply) {
    const decision = await authorize(verifier, request.headers.authorization, options, request.ip);
    if (decision.ok) {
      request.keyfob = decision.principal;
      return;
    }
    const { status, headers, body } = decision.refusal;
    await reply.code(status).headers(headers).header('cache-control', 'no-store').send(body);
  };
}
