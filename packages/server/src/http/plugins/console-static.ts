import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Everything the console loads comes from this origin; nothing inline, nothing framed. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_CONSOLE = /^\/(api|oauth|\.well-known|docs|openapi\.json|metrics|healthz|readyz)(\/|$|\?)/;

/** The built console (packages/console/dist), or undefined when it has not been built. */
export function findConsoleDir(override?: string): string | undefined {
  if (override) return existsSync(join(override, 'index.html')) ? override : undefined;
  try {
    const pkg = createRequire(import.meta.url).resolve('@keyfob/console/package.json');
    const dir = join(dirname(pkg), 'dist');
    return existsSync(join(dir, 'index.html')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function securityHeaders(reply: FastifyReply): void {
  reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/**
 * Serves the single-page console at `/`: hashed assets with long caching, and index.html (never
 * cached) for every other GET that is not an API, OAuth or operations path, so client-side routes
 * survive a reload. Returns the fallback for the not-found handler.
 */
export async function registerConsole(app: FastifyInstance, dir: string): Promise<(request: FastifyRequest, reply: FastifyReply) => boolean> {
  // Read per request (it is small and never cached) so a rebuilt console is served at once.
  const index = () => readFileSync(join(dir, 'index.html'));
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: false,
    setHeaders: (res, path) => {
      res.setHeader('content-security-policy', CONSOLE_CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const sendIndex = (reply: FastifyReply) => {
    securityHeaders(reply);
    return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(index());
  };
  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
  return (request, reply) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || NOT_CONSOLE.test(request.url)) return false;
    void sendIndex(reply);
    return true;
  };
}
