import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const base: Options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false };

/**
 * Two validators: query strings are text and need coercion ("50" → 50); JSON bodies must not be
 * coerced, or `expiresInDays: 0` would quietly become `null` (never expires) through a
 * nullable union.
 */
export function registerValidation(app: FastifyInstance): void {
  const strict = addFormats(new Ajv({ ...base, coerceTypes: false }));
  const coercing = addFormats(new Ajv({ ...base, coerceTypes: 'array' }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  // Only JSON bodies are accepted on the API; anything else is a 415 rather than a confusing 400.
  app.removeContentTypeParser('text/plain');
  // Many clients send Content-Type: application/json on every request, also body-less ones
  // (DELETE, rotate, logout): an empty body is "no body", not a parse error. The default parser
  // (with its prototype-poisoning protection) handles everything else.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, done);
  });
}

/** For routes whose JSON body is optional: an absent body validates as `{}`. */
export async function optionalBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}
