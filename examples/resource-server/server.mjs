// A small API protected by keyfob tokens: PATs (introspected by keyfob, cached for a few seconds)
// and JWTs from token exchange (checked locally against keyfob's JWKS). See README.md.
import Fastify from 'fastify';
import { createVerifier } from '@keyfob/sdk';
import { keyfobPlugin } from '@keyfob/sdk/fastify';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`set ${name} (see examples/resource-server/README.md)`);
    process.exit(2);
  }
  return value;
};

const verifier = createVerifier({
  issuer: env('KEYFOB_URL', 'http://localhost:8080'),
  clientId: env('KEYFOB_CLIENT_ID'),
  clientSecret: env('KEYFOB_CLIENT_SECRET'),
  // This API's identifier: exchanged JWTs must be issued for it.
  audience: env('API_AUDIENCE', 'https://api.example.com'),
  cacheTtlMs: Number(env('KEYFOB_CACHE_TTL_MS', '5000')),
});

const app = Fastify({ logger: process.env.LOG === '1' });
await app.register(keyfobPlugin, { verifier, realm: 'example-api' });

// Any valid token.
app.get('/hello', { preHandler: app.keyfobGuard() }, async (request) => ({
  hello: request.keyfob.subject,
  via: request.keyfob.kind,
  scopes: request.keyfob.scopes,
}));

// Only tokens granting reports:read.
app.get('/reports', { preHandler: app.keyfobGuard({ scopes: ['reports:read'] }) }, async (request) => ({
  reports: [{ id: 1, title: 'Quarterly numbers' }],
  for: request.keyfob.subject,
}));

const port = Number(env('PORT', '3000'));
await app.listen({ host: env('HOST', '127.0.0.1'), port });
console.log(`example API on http://127.0.0.1:${port} (keyfob at ${env('KEYFOB_URL', 'http://localhost:8080')})`);
