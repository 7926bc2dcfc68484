import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';
import type { LogLevel } from '../config/config.js';

/** Paths pino replaces with "[redacted]": credentials in headers and token fields in bodies. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'token',
  'password',
  '*.token',
  '*.password',
  '*.access_token',
  '*.subject_token',
  '*.client_secret',
];

/** Logged form of a URL: the path only, since a query string may carry a misplaced secret (D5). */
function safeUrl(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : `${url.slice(0, at)}?[redacted]`;
}

export function loggerOptions(level: LogLevel, stream?: DestinationStream): Exclude<FastifyServerOptions['logger'], undefined> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
    serializers: {
      req: (req: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) => ({
        method: req.method,
        url: safeUrl(req.url),
        remoteAddress: req.ip,
        userAgent: req.headers?.['user-agent'],
      }),
    },
  } as Exclude<FastifyServerOptions['logger'], undefined>;
}
