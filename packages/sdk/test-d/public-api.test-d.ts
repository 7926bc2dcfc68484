// Compile-only checks of the public types (`npm run typecheck`); nothing here runs.
import Fastify from 'fastify';
import express from 'express';
import { Hono } from 'hono';
import { createVerifier, KeyfobUnavailableError, type VerifyResult } from '@keyfob/sdk';
import { keyfobGuard, keyfobPlugin } from '@keyfob/sdk/fastify';
import { keyfobMiddleware } from '@keyfob/sdk/express';
import { keyfobHono, type KeyfobVariables } from '@keyfob/sdk/hono';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(): T => true as T;

const verifier = createVerifier({ issuer: 'https://keyfob.example.com', clientId: 'kfc_x', clientSecret: 'kf_cs_y', audience: 'https://api.example.com' });

async function narrowing(token: string): Promise<void> {
  const result: VerifyResult = await verifier.verify(token, { scopes: ['repo:read'] });
  if (result.ok) {
    assert<Equals<typeof result.kind, 'pat' | 'jwt'>>();
    assert<Equals<typeof result.subject, string>>();
    assert<Equals<typeof result.scopes, readonly string[]>>();
    assert<Equals<typeof result.expiresAt, Date | null>>();
    // @ts-expect-error: a principal has no error
    void result.error;
  } else {
    assert<Equals<typeof result.error, 'invalid_request' | 'invalid_token' | 'insufficient_scope'>>();
    // @ts-expect-error: a failure has no subject
    void result.subject;
  }
  const unavailable: KeyfobUnavailableError = new KeyfobUnavailableError('down');
  assert<Equals<typeof unavailable.retryAfterSeconds, number>>();
}
void narrowing;

// @ts-expect-error: the client secret is required
createVerifier({ issuer: 'https://keyfob.example.com', clientId: 'kfc_x' });
// @ts-expect-error: scopes are strings
void verifier.verify('t', { scopes: [1] });

async function fastifyApp(): Promise<void> {
  const app = Fastify();
  await app.register(keyfobPlugin, { verifier });
  app.get('/repos', { preHandler: app.keyfobGuard({ scopes: ['repo:read'] }) }, async (request) => {
    const principal = request.keyfob;
    assert<Equals<typeof principal, import('@keyfob/sdk').VerifiedPrincipal | null>>();
    return { user: principal?.subject };
  });
  app.get('/other', { preHandler: keyfobGuard(verifier) }, async () => ({}));
}
void fastifyApp;

const server = express();
server.get('/repos', keyfobMiddleware(verifier, { scopes: ['repo:read'] }), (req, res) => {
  res.json({ user: (req as import('@keyfob/sdk/express').KeyfobRequest).keyfob?.subject });
});

const hono = new Hono<{ Variables: KeyfobVariables }>();
hono.get('/repos', keyfobHono(verifier, { scopes: ['repo:read'] }), (c) => {
  const principal = c.get('keyfob');
  assert<Equals<typeof principal.subject, string>>();
  return c.json({ user: principal.subject });
});
