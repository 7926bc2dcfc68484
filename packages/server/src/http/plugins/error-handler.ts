import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KeyfobError, StoreUnavailable } from '../../errors/keyfob-error.js';
import { isStoreUnavailableError } from '../../errors/store-errors.js';
import { ABORTED_BODY_MESSAGE, isAbortedBody } from '../aborted-body.js';
import { writeChallenge } from '../challenge.js';

interface AjvIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** Names the field an Ajv issue is about: `scopes[0]`, `name`, or the missing/extra property. */
function fieldOf(issue: AjvIssue, context: string | undefined): string {
  const path = (issue.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
  const property = (issue.params?.['missingProperty'] ?? issue.params?.['additionalProperty']) as string | undefined;
  const field = [path, property].filter(Boolean).join('.');
  return field || context || 'body';
}

function describeValidation(error: FastifyError): KeyfobError {
  const issue = (error.validation?.[0] ?? {}) as AjvIssue;
  const field = fieldOf(issue, error.validationContext);
  const detail =
    issue.keyword === 'additionalProperties'
      ? 'is not a known field'
      : issue.keyword === 'required'
        ? 'is required'
        : issue.keyword === 'minLength' && issue.params?.['limit'] === 1
          ? 'must not be empty'
          : (issue.message ?? 'is invalid').replace(/must NOT/g, 'must not');
  return new KeyfobError('invalid_request', `${field}: ${detail}`, { field });
}

/** Maps anything thrown to the one error shape. Unknown errors become a generic 500. */
export function toKeyfobError(error: unknown): KeyfobError {
  if (error instanceof KeyfobError) return error;
  const fe = error as FastifyError;
  if (fe?.validation) return describeValidation(fe);
  if (isAbortedBody(error)) return new KeyfobError('invalid_request', ABORTED_BODY_MESSAGE);
  if (isStoreUnavailableError(error)) return new StoreUnavailable(error);
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new KeyfobError('unsupported_media_type', 'the body must be application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new KeyfobError('payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new KeyfobError('invalid_request', 'body: a JSON body was announced but is empty', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new KeyfobError('invalid_request', 'Content-Length does not match the body');
    default:
  }
  if (fe instanceof SyntaxError || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new KeyfobError('invalid_request', 'body: is not valid JSON', { field: 'body' });
  }
  if (fe?.statusCode === 413) return new KeyfobError('payload_too_large', 'the request body is too large');
  if (fe?.statusCode === 415) return new KeyfobError('unsupported_media_type', 'the body must be application/json');
  return new KeyfobError('server_error', 'an unexpected error occurred', { cause: error });
}

const RESOURCE_AUTH_CODES = new Set(['unauthorized', 'invalid_token', 'insufficient_scope', 'session_expired']);

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const kf = toKeyfobError(error);
  if (kf.status >= 500) request.log.error({ err: error, code: kf.code }, 'request failed');
  for (const [name, value] of Object.entries(kf.headers)) reply.header(name, value);
  if (RESOURCE_AUTH_CODES.has(kf.code) || (kf.code === 'invalid_request' && request.authFailure === true)) writeChallenge(reply, kf);
  reply.header('cache-control', 'no-store');
  return reply.code(kf.status).send({ error: kf.code, message: kf.expose ? kf.message : 'an unexpected error occurred' });
}

/** `fallback` may answer a not-found request itself (the console's client-side routes). */
export function registerErrorHandler(app: FastifyInstance, fallback?: () => ((request: FastifyRequest, reply: FastifyReply) => boolean) | undefined): void {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => {
    if (fallback?.()?.(request, reply)) return reply;
    return sendError(request, reply, new KeyfobError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the failure concerns the presented credentials, so the response carries a challenge. */
    authFailure?: boolean;
  }
}
