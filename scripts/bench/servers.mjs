// The HTTP servers of the HTTP figures, each run as a child process (pinned to one core by the
// parent) that reports `{ port, ... }` over IPC when it listens:
//   node servers.mjs '{"kind":"keyfob","store":{...},"env":{...}}'  the real app (buildApp + listen)
//   node servers.mjs '{"kind":"floor","bodies":{"/path":"{...}"}}'   bare node:http, fixed JSON bodies
// and two points of reference beside the floor (measured, no target):
//   node servers.mjs '{"kind":"hashMap","bodies":{...},"tokens":[...]}'  the floor plus a SHA-256 and a Map lookup
//   node servers.mjs '{"kind":"fastify","bodies":{...}}'  bare Fastify routes (and a bare token exchange)
import { generateKeyPairSync, hash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { BENCH_AUDIENCE, benchEnv, childArgs, server } from './lib.mjs';

const args = childArgs();

async function keyfob() {
  // As `keyfob serve` does before it builds anything.
  (await server('heap-tuning.js')).tuneHeapForServing();
  const { loadConfig } = await server('config/load.js');
  const { createContainer } = await server('container.js');
  const { buildApp } = await server('app.js');
  const { SYSTEM_ACTOR } = await server('domain/models.js');
  // The default configuration (log level info; the access log off, its default, so that
  // introspection by a cached client takes the introspection lane), logging to the child's
  // stdout, which the parent points at /dev/null.
  const config = loadConfig(benchEnv(args.store, { KEYFOB_LOG_LEVEL: 'info', ...args.env }));
  const container = await createContainer(config);
  const { client, clientSecret } = await container.clients.create(SYSTEM_ACTOR, { name: `bench-${Date.now()}`, allowedAudiences: [BENCH_AUDIENCE], introspection: true });
  const app = await buildApp(container);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.send({ port: app.server.address().port, clientId: client.id, clientSecret });
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The fixed answers by path (the bytes keyfob answered for the same request). */
function fixedBodies() {
  const bodies = new Map(Object.entries(args.bodies).map(([path, body]) => [path, Buffer.from(body)]));
  return { bodyOf: (url) => bodies.get(url) ?? [...bodies.values()][0] };
}

/** Listens on loopback, reports the port, and exits when the parent stops it or goes away. */
function serve(srv) {
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
  process.on('SIGTERM', () => srv.close(() => process.exit(0)));
  process.on('disconnect', () => process.exit(0));
}

function floor() {
  const { bodyOf } = fixedBodies();
  serve(
    http.createServer((req, res) => {
      const body = bodyOf(req.url);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': body.length });
        res.end(body);
      });
    }),
  );
}

/**
 * The issue's own point of reference for the HTTP figures ("that bare server doing a SHA-256 + Map
 * lookup per request measured about 0.7 ×"): the floor, plus the token taken from the
 * Authorization header or the form body, its SHA-256, a Map lookup and an expiry compare.
 */
function hashMap() {
  const { bodyOf } = fixedBodies();
  const known = new Map(args.tokens.map((t) => [hash('sha256', t, 'base64url'), { expiresAt: Date.now() + 3_600_000 }]));
  serve(
    http.createServer((req, res) => {
      const body = bodyOf(req.url);
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const auth = req.headers.authorization ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : (new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? '');
        const entry = known.get(hash('sha256', token, 'base64url'));
        if (entry === undefined || entry.expiresAt <= Date.now()) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': body.length });
        res.end(body);
      });
    }),
  );
}

/**
 * Fastify with nothing of keyfob: each path answers its fixed bytes from a route (forms parsed by
 * @fastify/formbody, as keyfob's OAuth routes parse them), and POST /oauth/token signs the claims
 * of an exchanged token with keyfob's own signer (node:crypto Ed25519), with no client
 * authentication, no subject token check and no audit event. What the framework and the
 * signature alone cost on this machine.
 */
async function bareFastify() {
  const { default: Fastify } = await import('fastify');
  const { default: formbody } = await import('@fastify/formbody');
  const { encodeProtectedHeader, signWithEncodedHeader } = await server('crypto/jws.js');
  const app = Fastify({ logger: false });
  await app.register(formbody);
  for (const [path, body] of Object.entries(args.bodies)) {
    const answer = (_request, reply) => reply.type(JSON_TYPE).send(body);
    app.get(path, answer);
    app.post(path, answer);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const header = encodeProtectedHeader({ kid: 'bench-key-0123456789ab', typ: 'at+jwt' }, 'EdDSA');
  app.post('/oauth/token', (request, reply) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'http://localhost:8080', iat: now, sub: randomUUID(), aud: request.body.audience, exp: now + 900, jti: randomUUID(), client_id: 'kfc_bench', scope: 'tokens:read', kf_pat_id: randomUUID() };
    const accessToken = signWithEncodedHeader(header, claims, 'EdDSA', privateKey);
    reply.header('cache-control', 'no-store');
    return { access_token: accessToken, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 900, scope: 'tokens:read' };
  });
  await app.ready();
  serve(app.server);
}

if (args.kind === 'keyfob') await keyfob();
else if (args.kind === 'hashMap') hashMap();
else if (args.kind === 'fastify') await bareFastify();
else floor();
