import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** A request handled on node:http before Fastify: `take` answers it and says so, or leaves it. */
export interface HttpLane {
  take(req: IncomingMessage, res: ServerResponse): boolean;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts `lanes` in front of Fastify on the server Fastify made: each request goes to the lanes first
 * and to Fastify's own handler when they leave it. The server keeps everything Fastify set on
 * it (timeouts, the header size limit); a `serverFactory` would have lost some of it, such as the
 * second loopback address Fastify binds for `localhost`. Servers Fastify makes later for further
 * addresses answer without the lane, which is only slower.
 */
export function putLanesBeforeFastify(server: Server, lanes: readonly HttpLane[], onLaneError: (error: unknown) => void): { close(): void } {
  const handlers = server.listeners('request') as RequestHandler[];
  // Fastify makes its server with its handler as the one 'request' listener; anything else means
  // a Fastify this code was not written for, and the lane must not guess.
  if (handlers.length !== 1) throw new Error(`expected Fastify's one request handler on its server, found ${handlers.length}`);
  const fastify = handlers[0]!;
  server.removeListener('request', fastify);
  let closing = false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (closing) return fastify(req, res);
    try {
      for (const lane of lanes) if (lane.take(req, res)) return;
    } catch (error) {
      // A lane's fault must not take the process down (this is the server's 'request' listener),
      // and the request may be half handled: it is closed unanswered, never answered twice.
      onLaneError(error);
      res.destroy();
      return;
    }
    fastify(req, res);
  });
  // From then on every request goes to Fastify, which answers 503 while it closes.
  return { close: () => void (closing = true) };
}
