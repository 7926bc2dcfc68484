import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { credentialKey, type ClientService } from '../../../services/client-service.js';
import type { OAuthClient } from '../../../domain/models.js';
import { OAuthError } from '../../../errors/oauth-error.js';
import type { RateLimiter } from '../../../services/rate-limiter.js';
import type { OAuthParams } from '../../../services/token-exchange.js';
import type { MaybePromise } from '../../../services/maybe-promise.js';
import { JSON_CONTENT_TYPE } from '../../json-text.js';
import { answerSoon, type AnswerSender } from '../../answer-batch.js';
import { parseForm } from './form.js';
import type { HttpLane } from '../../lane-server.js';
import { OAUTH_BODY_LIMIT, basicCredentialOf, checkBodyBesideBasic, oauthAnswerOf, oauthErrorHeaders } from './oauth-routes.js';

const DIGITS = /^\d+$/;
/** The spellings of a form body taken here; any other goes to the route, which takes them all. */
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8']);
/** Headers of the route's answer that belong to its own connection, not to the one answered here. */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
/** A request handed to the route after Fastify began to close. */
const SHUTTING_DOWN = new OAuthError('temporarily_unavailable', 'this keyfob instance is shutting down; retry', { headers: { 'retry-after': '1' } });
const isClosingRefusal = (error: unknown) => (error as { code?: unknown } | null)?.code === 'FST_ERR_REOPENED_CLOSE_SERVER';

/** A request handed to the Fastify route in process (`app.inject`), and the parts of its answer used here. */
export interface RouteRequest {
  readonly method: 'POST';
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly payload: Buffer;
  readonly remoteAddress: string;
}
export interface RouteAnswer {
  readonly statusCode: number;
  readonly headers: OutgoingHttpHeaders;
  readonly rawPayload: Buffer;
}

/**
 * One OAuth endpoint as the lane answers it: its path, the cached clients whose requests it takes,
 * and the text of its 200 answer.
 */
export interface OAuthLaneEndpoint {
  readonly path: string;
  /** Whether a request of this cached client is taken (the route answers the others). */
  takes(client: OAuthClient): boolean;
  /**
   * The JSON text the route answers with, after the route's own checks; throws (or rejects with)
   * what the route would throw. `req` is read only for the caller (`callerOf`), by the endpoints
   * that record it.
   */
  answer(client: OAuthClient, params: OAuthParams, req: IncomingMessage): MaybePromise<string>;
}

export interface OAuthFormLaneDeps {
  readonly endpoint: OAuthLaneEndpoint;
  readonly clients: ClientService;
  readonly limiter: RateLimiter;
  readonly log: FastifyBaseLogger;
  /** The request metrics Fastify's onResponse hook records for the route. */
  observe(method: string, route: string, status: number, seconds: number): void;
  readonly onError?: (endpoint: string, error: string) => void;
  /** The route itself, for a request the lane took but can no longer answer from the cache. */
  route(request: RouteRequest): Promise<RouteAnswer>;
}

/**
 * An OAuth POST (introspection, token exchange) from a client whose HTTP Basic credential is in the
 * authentication cache, answered on node:http before Fastify sees the request. A resource server
 * introspects or exchanges at the rate of its own traffic, and Fastify's request and reply objects,
 * hooks and content-type parsing were most of what kept introspection under issue 5's target
 * (docs/PERFORMANCE.md, run R), and a sixth of an exchange (run U).
 *
 * It takes a request only when the headers already say how the route would begin: exactly the
 * endpoint's path, a form body of a declared length within the route's limit, a cached client the
 * endpoint takes, and no address under an authentication block on this instance (the routes'
 * onRequest hook). Every other request goes to Fastify untouched. Once the body is in, it looks
 * the client up again, as the route does only then: a client changed, disabled or gone from the
 * cache meanwhile is the route's to judge, and the request is handed to it with the body read
 * (`route`). Otherwise it runs the route's own checks (`checkBodyBesideBasic`, the endpoint's
 * `answer`) and answers their errors as the route's error handler does (`oauthAnswerOf`), with
 * the same bytes. The caller's address is the socket's: the app makes the lanes that need it
 * only when no proxy is trusted.
 */
export class OAuthFormLane implements HttpLane {
  /** Requests taken here (for the tests that tell the two ways apart). */
  served = 0;
  readonly #path: string;

  readonly #sender: AnswerSender;

  constructor(private readonly deps: OAuthFormLaneDeps) {
    const path = (this.#path = deps.endpoint.path);
    this.#sender = {
      sent: (status, started) => deps.observe('POST', path, status, (performance.now() - started) / 1000),
      failed: (error) => deps.log.error({ err: error }, 'OAuth lane: could not answer'),
    };
  }

  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.url !== this.#path || req.method !== 'POST') return false;
    let key: string | undefined;
    try {
      key = this.#credentialKeyToTake(req.headers);
    } catch (error) {
      // Nothing is read yet: the route can still have the request, and answers whatever this was.
      this.deps.log.error({ err: error }, 'OAuth lane: check before the body failed');
      return false;
    }
    if (key === undefined) return false;
    const started = performance.now();
    this.served++;
    const chunks: Buffer[] = [];
    let ended = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      ended = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        this.#answer(req, res, key, body, started);
      } catch (error) {
        this.#fail(res, error, started);
      }
    });
    // A client gone in the middle of its body: there is no one to answer. The route counts it as
    // invalid_request (isAbortedBody), and so does the lane.
    req.on('error', () => {
      if (!ended) this.deps.onError?.(this.#path, 'invalid_request');
    });
    return true;
  }

  /** The cache key of the credential of a request the lane may take, from its headers alone. */
  #credentialKeyToTake(headers: IncomingHttpHeaders): string | undefined {
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || !DIGITS.test(length) || Number(length) > OAUTH_BODY_LIMIT) return undefined;
    const type = headers['content-type'];
    if (type === undefined || !FORM_TYPES.has(type.toLowerCase())) return undefined;
    if (headers.authorization === undefined || this.deps.limiter.hasOpenBlocks('authFailures')) return undefined;
    const credential = basicCredentialOf(headers.authorization);
    const key = credential === undefined ? undefined : credentialKey(credential);
    const client = key === undefined ? undefined : this.deps.clients.cachedByKey(key);
    return client !== undefined && this.deps.endpoint.takes(client) ? key : undefined;
  }

  #answer(req: IncomingMessage, res: ServerResponse, key: string, body: Buffer, started: number): void {
    const client: OAuthClient | undefined = this.deps.clients.cachedByKey(key);
    if (client === undefined || !this.deps.endpoint.takes(client)) return this.#handOver(req, res, body, started);
    let text: MaybePromise<string>;
    try {
      const params = parseForm(body.toString()) as OAuthParams;
      checkBodyBesideBasic(params, client.id);
      text = this.deps.endpoint.answer(client, params, req);
    } catch (error) {
      return this.#fail(res, error, started);
    }
    if (text instanceof Promise) {
      text
        .then(
          (ready) => this.#ok(res, ready, started),
          (error: unknown) => this.#fail(res, error, started),
        )
        .catch((error: unknown) => this.#drop(res, error));
    } else {
      this.#ok(res, text, started);
    }
  }

  /** The route's success headers (NO_STORE, then the type), spelled out: spreading objects per answer cost a tenth of the lane. */
  #ok(res: ServerResponse, text: string, started: number): void {
    answerSoon(res, 200, { 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) }, text, this.#sender, started);
  }

  #fail(res: ServerResponse, error: unknown, started: number): void {
    const { oauth, status, unexpected } = oauthAnswerOf(error);
    if (unexpected) this.deps.log.error({ err: error }, 'oauth request failed');
    this.deps.onError?.(this.#path, oauth.error);
    const body = JSON.stringify({ error: oauth.error, error_description: oauth.description });
    answerSoon(res, status, { ...oauthErrorHeaders(oauth), 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) }, body, this.#sender, started);
  }

  /** The route answers, through Fastify in process, with the caller's address; it counts its own metrics. */
  #handOver(req: IncomingMessage, res: ServerResponse, body: Buffer, started: number): void {
    const remoteAddress = req.socket.remoteAddress;
    // Without the address the route would count a failure against the wrong one; the socket is gone anyway.
    if (remoteAddress === undefined) return void res.destroy();
    this.deps
      .route({ method: 'POST', url: this.#path, headers: req.headers, payload: body, remoteAddress })
      .then((answer) => {
        const headers: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers)) if (!CONNECTION_HEADERS.has(name)) headers[name] = value;
        res.writeHead(answer.statusCode, headers);
        res.end(answer.rawPayload);
      })
      .catch((error: unknown) => {
        // Fastify refuses to run a route once it has begun to close, and answers requests arriving
        // meanwhile 503 with the connection closed: so does the lane, for the one it took before.
        if (!isClosingRefusal(error)) return this.#drop(res, error);
        res.setHeader('connection', 'close');
        this.#fail(res, SHUTTING_DOWN, started);
      })
      .catch((error: unknown) => this.#drop(res, error));
  }

  /** Nothing could be answered (a failure while answering): the connection is closed rather than left waiting. */
  #drop(res: ServerResponse, error: unknown): void {
    this.deps.log.error({ err: error }, 'OAuth lane: could not answer');
    res.destroy();
  }
}
