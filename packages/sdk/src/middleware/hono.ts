import type { Context, MiddlewareHandler } from 'hono';
import { authorize, type GuardOptions } from '../authorize.js';
import type { VerifiedPrincipal, Verifier } from '../types.js';

/** Hono variables set by the guard: `c.get('keyfob')`. */
export interface KeyfobVariables {
  keyfob: VerifiedPrincipal;
}

export interface KeyfobHonoOptions extends GuardOptions {
  /**
   * The caller's address, which Hono's runtimes expose differently (`getConnInfo(c).remote.address`
   * on Node). Without it, PATs with an IP allow-list are refused.
   */
  readonly clientIp?: (c: Context) => string | undefined;
}

/**
 * Hono middleware: `app.get('/repos', keyfobHono(verifier, { scopes: ['repo:read'] }), (c) => …)`.
 * Refuses with the RFC 6750 status and `WWW-Authenticate`, or sets `c.var.keyfob`.
 */
export function keyfobHono(verifier: Verifier, options: KeyfobHonoOptions = {}): MiddlewareHandler<{ Variables: KeyfobVariables }> {
  return async (c, next) => {
    const decision = await authorize(verifier, c.req.header('authorization'), options, options.clientIp?.(c));
    if (!decision.ok) {
      const { status, headers, body } = decision.refusal;
      return c.json(body, status, { ...headers, 'cache-control': 'no-store' });
    }
    c.set('keyfob', decision.principal);
    await next();
    return undefined;
  };
}
