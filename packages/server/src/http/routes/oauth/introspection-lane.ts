import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { ClientService } from '../../../services/client-service.js';
import type { Introspection } from '../../../services/introspection.js';
import type { OAuthClient } from '../../../domain/models.js';
import type { RateLimiter } from '../../../services/rate-limiter.js';
import type { OAuthParams } from '../../../services/token-exchange.js';
import { JSON_CONTENT_TYPE } from '../../json-text.js';
import { parseForm } from './form.js';
import type { HttpLane } from '../../lane-server.js';
import {
  OAUTH_BODY_LIMIT,
  basicCredentialOf,
  checkBodyBesideBasic,
  introspectionText,
  oauthAnswerOf,
  oauthErrorHeaders,
} from './oauth-routes.js';

const PATH = '/oauth/introspect';
const DIGITS = /^\d+$/;
/** The spellings of a form body taken here; any other goes to the route, which takes them all. */
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8']);

export interface IntrospectionLaneDeps {
  readonly clients: ClientService;
  readonly introspection: Introspection;
  readonly limiter: RateLimiter;
  readonly log: FastifyBaseLogger;
  /** The request metrics Fastify's onResponse hook records for the route. */
  observe(method: string, route: string, status: number, seconds: number): void;
  readonly onError?: (endpoint: string, error: string) => void;
}

/**
 * POST /oauth/introspect from a client whose HTTP Basic credential is in the authentication
 * cache, answered on node:http before Fastify sees the request. A resource server introspects at
 * the rate of its own traffic, and Fastify's request and reply objects, hooks and content-type
 * parsing were a quarter of the time of such a request (docs/PERFORMANCE.md, run R).
 *
 * It takes a request only when everything the route would decide before reading the body is
 * already known from the headers: exactly this path, a form body of a declared length within the
 * route's limit, a cached client allowed to introspect, and no address under an authentication
 * block (the route's onRequest hook). Every other request goes to Fastify untouched. After the
 * body it runs the route's own checks (`checkBodyBesideBasic`, `introspectionText`) and answers
 * their errors as the route's error handler does (`oauthAnswerOf`), with the same bytes.
 */
export class IntrospectionLane implements HttpLane {
  #closing = false;
  /** Requests answered here (for the tests that tell the two ways apart). */
  served = 0;

  constructor(private readonly deps: IntrospectionLaneDeps) {}

  /** From now on every request goes to Fastify, which answers 503 while it closes. */
  close(): void {
    this.#closing = true;
  }

  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.url !== PATH || req.method !== 'POST' || this.#closing || this.deps.limiter.hasBlocks) return false;
    const { headers } = req;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || !DIGITS.test(length) || Number(length) > OAUTH_BODY_LIMIT) return false;
    const type = headers['content-type'];
    if (type === undefined || !FORM_TYPES.has(type.toLowerCase())) return false;
    const credential = headers.authorization === undefined ? undefined : basicCredentialOf(headers.authorization);
    const client = credential === undefined ? undefined : this.deps.clients.cached(credential);
    if (client === undefined || !client.canIntrospect) return false;
    const started = performance.now();
    this.served++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.#answer(res, client, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), started));
    // A client gone in the middle of its body: there is no one to answer.
    req.on('error', () => {});
    return true;
  }

  #answer(res: ServerResponse, client: OAuthClient, body: Buffer, started: number): void {
    let text: string | Promise<string>;
    try {
      const params = parseForm(body.toString()) as OAuthParams;
      checkBodyBesideBasic(params, client.id);
      text = introspectionText(client, params, this.deps.introspection);
    } catch (error) {
      return this.#fail(res, error, started);
    }
    if (text instanceof Promise) {
      text.then(
        (ready) => this.#ok(res, ready, started),
        (error: unknown) => this.#fail(res, error, started),
      );
    } else {
      this.#ok(res, text, started);
    }
  }

  /** The route's success headers (NO_STORE, then the type), spelled out: spreading objects per answer cost a tenth of the lane. */
  #ok(res: ServerResponse, text: string, started: number): void {
    res.writeHead(200, { 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    this.deps.observe('POST', PATH, 200, (performance.now() - started) / 1000);
  }

  #fail(res: ServerResponse, error: unknown, started: number): void {
    const { oauth, status, unexpected } = oauthAnswerOf(error);
    if (unexpected) this.deps.log.error({ err: error }, 'oauth request failed');
    this.deps.onError?.(PATH, oauth.error);
    const body = JSON.stringify({ error: oauth.error, error_description: oauth.description });
    res.writeHead(status, { ...oauthErrorHeaders(oauth), 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(body);
    this.deps.observe('POST', PATH, status, (performance.now() - started) / 1000);
  }
}
