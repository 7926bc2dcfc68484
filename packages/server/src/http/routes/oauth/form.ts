import querystring from 'fast-querystring';

/**
 * The form parser of the /oauth routes: @fastify/formbody's own default, named here so that the
 * OAuth lanes, which read their bodies themselves, parse exactly as the routes do.
 */
export function parseForm(text: string): Record<string, unknown> {
  return querystring.parse(text) as Record<string, unknown>;
}
