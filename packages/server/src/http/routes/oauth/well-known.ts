import type { FastifyInstance } from 'fastify';
import { TOKEN_EXCHANGE_GRANT } from '@keyfob/protocol';
import type { ScopeService } from '../../../services/scope-service.js';
import type { SigningKeyService } from '../../../services/signing-key-service.js';

/** RFC 8414 metadata and the JWKS that resource servers verify exchanged tokens against. */
export function wellKnownRoutes(app: FastifyInstance, deps: { issuer: string; keys: SigningKeyService; scopes: ScopeService; jwksMaxAgeSeconds: number }): void {
  const authMethods = ['client_secret_basic', 'client_secret_post'];
  app.get('/.well-known/oauth-authorization-server', { schema: { tags: ['oauth'], summary: 'RFC 8414 authorization server metadata' } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return {
      issuer: deps.issuer,
      token_endpoint: `${deps.issuer}/oauth/token`,
      introspection_endpoint: `${deps.issuer}/oauth/introspect`,
      revocation_endpoint: `${deps.issuer}/oauth/revoke`,
      jwks_uri: `${deps.issuer}/.well-known/jwks.json`,
      grant_types_supported: [TOKEN_EXCHANGE_GRANT],
      // D9: there is no authorization endpoint.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: authMethods,
      introspection_endpoint_auth_methods_supported: authMethods,
      revocation_endpoint_auth_methods_supported: authMethods,
      scopes_supported: (await deps.scopes.list()).map((s) => s.name),
      access_token_signing_alg_values_supported: deps.keys.algorithms(),
      service_documentation: `${deps.issuer}/docs`,
    };
  });

  app.get('/.well-known/jwks.json', { schema: { tags: ['oauth'], summary: 'Public keys of exchanged JWTs (next, active and still-valid retired keys)' } }, async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${deps.jwksMaxAgeSeconds}`);
    reply.header('content-type', 'application/jwk-set+json; charset=utf-8');
    return deps.keys.jwks();
  });
}
