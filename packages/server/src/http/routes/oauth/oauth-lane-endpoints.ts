import type { IncomingMessage } from 'node:http';
import { OAuthError } from '../../../errors/oauth-error.js';
import type { Introspection } from '../../../services/introspection.js';
import type { TokenExchange } from '../../../services/token-exchange.js';
import { ABORTED_BODY_MESSAGE } from '../../aborted-body.js';
import { callerOf } from '../../plugins/authenticate.js';
import type { OAuthLaneEndpoint } from './oauth-form-lane.js';
import { exchangeText, introspectionText } from './oauth-routes.js';

/** Introspection as the OAuth lane answers it: by clients that may introspect. */
export function introspectionEndpoint(introspection: Introspection): OAuthLaneEndpoint {
  return { path: '/oauth/introspect', takes: (client) => client.canIntrospect, answer: (client, params) => introspectionText(client, params, introspection) };
}

/**
 * Token exchange as the OAuth lane answers it: any cached client (the exchange checks its grant
 * types). The exchange's audit event and the PAT's IP allow-list need the caller, which is the
 * socket's only when no proxy is trusted: the app makes this lane only then.
 */
export function tokenEndpoint(exchange: TokenExchange): OAuthLaneEndpoint {
  return {
    path: '/oauth/token',
    takes: () => true,
    answer: (client, params, req: IncomingMessage) => {
      const caller = callerOf(req);
      // A socket already gone: no one to answer, and no address to audit the exchange under.
      if (caller === undefined) throw new OAuthError('invalid_request', ABORTED_BODY_MESSAGE);
      return exchangeText(exchange, client, params, caller.ip, caller.userAgent);
    },
  };
}
