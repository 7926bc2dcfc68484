import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { FastifyServerFactory } from 'fastify';

/** A request handled on node:http before Fastify: `take` answers it and says so, or leaves it. */
export interface HttpLane {
  take(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Fastify's own defaults for what it sets on a server it makes (fastify.js, lib/server.js). */
const FASTIFY_KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Fastify's serverFactory: the node:http server Fastify would make, whose requests a lane may
 * take first (`lane()` is read per request: the lane is built once the routes are). Fastify sets
 * the timeouts below only on a server it makes itself, so they are set here as it would.
 */
export function serverWithLane(lane: () => HttpLane | undefined): FastifyServerFactory {
  return (handler, options) => {
    const opts = options as {
      http?: http.ServerOptions;
      keepAliveTimeout?: number;
      requestTimeout?: number;
      connectionTimeout?: number;
      maxRequestsPerSocket?: number;
    };
    const server = http.createServer(opts.http ?? {}, (req, res) => {
      if (lane()?.take(req, res) !== true) handler(req, res);
    });
    server.keepAliveTimeout = opts.keepAliveTimeout || FASTIFY_KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = opts.requestTimeout ?? 0;
    server.setTimeout(opts.connectionTimeout ?? 0);
    if ((opts.maxRequestsPerSocket ?? 0) > 0) server.maxRequestsPerSocket = opts.maxRequestsPerSocket!;
    return server;
  };
}
