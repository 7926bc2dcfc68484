import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorize, type GuardOptions } from '../authorize.js';
import type { VerifiedPrincipal, Verifier } from '../types.js';

/** A request as Express and Connect hand it over, with the principal once admitted. */
export type KeyfobRequest = IncomingMessage & { keyfob?: VerifiedPrincipal | undefined; /** Express's address (honours its "trust proxy"). */ ip?: string | undefined };

export type ConnectMiddleware = (req: KeyfobRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Express/Connect middleware: `app.get('/repos', keyfobMiddleware(verifier, { scopes: ['repo:read'] }), handler)`.
 * Refuses with the RFC 6750 status and `WWW-Authenticate`, or sets `req.keyfob` and calls next().
 */
export function keyfobMiddleware(verifier: Verifier, options: GuardOptions = {}): ConnectMiddleware {
  return (req, res, next) => {
    authorize(verifier, req.headers.authorization, options, req.ip ?? req.socket.remoteAddress).then((decision) => {
      if (decision.ok) {
        req.keyfob = decision.principal;
        next();
        return;
      }
      const { status, headers, body } = decision.refusal;
      res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    }, next);
  };
}
