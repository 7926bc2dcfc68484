import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../../services/clock.js';
import type { RateLimiter } from '../../../services/rate-limiter.js';
import type { Verifier } from '../../../services/verifier.js';
import { JSON_CONTENT_TYPE } from '../../json-text.js';
import { answerSoon, type AnswerSender } from '../../answer-batch.js';
import type { HttpLane } from '../../lane-server.js';
import { EXPIRY_HEADER, bearerOf, expiryWarningOf, socketAddressOf } from '../../plugins/authenticate.js';
import { tokenSelfTexts } from './me.js';

const PATH = '/api/v1/tokens/self';

export interface TokenSelfLaneDeps {
  readonly verifier: Verifier;
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  /** The request metrics Fastify's onResponse hook records for the route. */
  observe(method: string, route: string, status: number, seconds: number): void;
  /** An answer that could not be written (its connection was closed unanswered). */
  onError(error: unknown): void;
}

/**
 * GET /api/v1/tokens/self with a PAT the verification cache holds, answered on node:http before
 * Fastify sees the request, with the text the route itself wrote for that cached token
 * (`tokenSelfTexts`). It is the request a script makes to check its token, and Fastify's
 * per-request work was a fifth of its time (docs/PERFORMANCE.md, run R).
 *
 * It decides everything before anything happens: exactly this path (no query), no body and no
 * content type (the API guard's checks), a well-formed Bearer header, no address blocked for
 * failed authentication on this instance, and a cached token that passes now and whose route text
 * exists (`verifyCachedOnly`, which then records the use as the route's authentication hook
 * would, and otherwise records nothing). It answers with the route's headers. Anything else, a
 * failure included, goes to Fastify untouched and is verified and answered there, once.
 *
 * The caller's address matters here (IP allow-lists, the last-used address): the lane exists only
 * when keyfob trusts no proxy, where Fastify's address is the socket's (app.ts).
 */
export class TokenSelfLane implements HttpLane {
  /** Requests answered here (for the tests that tell the two ways apart). */
  served = 0;

  readonly #sender: AnswerSender;

  constructor(private readonly deps: TokenSelfLaneDeps) {
    this.#sender = {
      sent: (status, started) => deps.observe('GET', PATH, status, (performance.now() - started) / 1000),
      failed: (error) => deps.onError(error),
    };
  }

  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.url !== PATH || req.method !== 'GET') return false;
    const { headers } = req;
    if (headers['content-type'] !== undefined || headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    const authorization = headers.authorization;
    if (authorization === undefined || this.deps.limiter.hasOpenBlocks('authFailures')) return false;
    const token = bearerOf(authorization);
    const ip = socketAddressOf(req);
    if (typeof token !== 'string' || ip === undefined) return false;
    const started = performance.now();
    // Verified and recorded here only when the cache holds a token that passes and the route's text for it.
    const verified = this.deps.verifier.verifyCachedOnly(token, { ip }, (candidate) => tokenSelfTexts.known(candidate.pat) !== undefined);
    if (verified === undefined) return false;
    const text = tokenSelfTexts.known(verified.pat)!;
    const warning = expiryWarningOf(verified.expiresAtMs, this.deps.clock.now());
    // The route's headers in its order: the API guard's no-store, the hook's warning, the type.
    const answerHeaders = warning === undefined
      ? { 'cache-control': 'no-store', 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) }
      : { 'cache-control': 'no-store', [EXPIRY_HEADER]: warning, 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) };
    answerSoon(res, 200, answerHeaders, text, this.#sender, started);
    this.served++;
    return true;
  }
}
