/**
 * A request body the client stopped sending: node's `aborted` (code ECONNRESET), which Fastify's
 * body reader hands on with status 400. It shares its code with a database connection reset, so
 * `isStoreUnavailableError` alone would answer it as an outage: 503, an error log line, and an
 * OAuth `temporarily_unavailable` count for a client that simply hung up. The 400 is what tells
 * the two apart: Fastify's raw-body reader is what sets it (every keyfob parser reads through it),
 * and neither driver's errors carry a status.
 */
export function isAbortedBody(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown } | null | undefined;
  return e?.code === 'ECONNRESET' && e.statusCode === 400;
}

/** What keyfob answers an aborted body with; the client is gone, but logs and metrics read it. */
export const ABORTED_BODY_MESSAGE = 'the request body ended early: the client closed the connection';
