import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuditEvent, CreatePatBody, CreatedPat, Page, PageQuery, Pat, RevokeBody, RotatePatBody, TokenStatus, UpdateMeBody, UpdatePatBody, TokenAddresses, UsageQuery, UsageSeries, User } from '@keyfob/protocol';
import { KeyfobError } from '../../../errors/keyfob-error.js';
import { actorOf } from '../../../services/principal.js';
import { presentAuditEvent, presentPat, presentUser } from '../../presenters.js';
import { optionalBody } from '../../plugins/validation.js';
import { JSON_CONTENT_TYPE, JsonTextMemo } from '../../json-text.js';
import type { PatView } from '../../../domain/verified-token.js';
import { IdParams, NoContent, errorResponses, paginate } from './common.js';
import type { ApiDeps } from './deps.js';

export const PatListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([TokenStatus, Type.Literal('all')], { default: 'all' })),
    q: Type.Optional(Type.String({ maxLength: 100, description: 'part of the token name' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

/**
 * The answer of GET /tokens/self per cached token view, as the route serialized it: read by the
 * token-self lane too (token-self-lane.ts), which answers only with text the route wrote.
 */
export const tokenSelfTexts = new JsonTextMemo<PatView>();

const byCreated = (p: { createdAt: Date; id: string }) => ({ at: p.createdAt.getTime(), id: p.id });

export function meRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const now = () => deps.clock.now();
  const tags = ['me'];

  api.get('/me', { onRequest: deps.auth(), schema: { tags, summary: 'The caller', response: { 200: User, ...errorResponses } } }, async (request) =>
    presentUser(request.principal.user),
  );

  api.patch(
    '/me',
    { onRequest: deps.auth({ scope: 'tokens:write' }), schema: { tags, summary: 'Change own display name, email, password or notification choices', body: UpdateMeBody, response: { 200: User, ...errorResponses } } },
    async (request) => {
      const p = request.principal;
      // A leaked token must not be able to redirect or silence the owner's alerts, or take the account.
      const sensitive = (['email', 'password', 'notifications'] as const).find((f) => request.body[f] !== undefined);
      if (p.kind === 'pat' && sensitive !== undefined) {
        throw new KeyfobError('forbidden', `${sensitive}: changing email, password or notifications needs a console session`, { field: sensitive });
      }
      return presentUser(await deps.users.updateMe(actorOf(p), p.user, request.body, p.sessionIdHash));
    },
  );

  api.get(
    '/me/tokens',
    { onRequest: deps.auth({ scope: 'tokens:read' }), schema: { tags, summary: 'List own tokens, newest first', querystring: PatListQuery, response: { 200: Page(Pat), ...errorResponses } } },
    async (request) => {
      const { status, q } = request.query;
      const page = await paginate(request.query, (cursor, limit) => deps.pats.list({ userId: request.principal.user.id, status, name: q }, cursor, limit), byCreated);
      return { items: page.items.map((p) => presentPat(p, now())), nextCursor: page.nextCursor };
    },
  );

  api.post(
    '/me/tokens',
    { onRequest: deps.auth({ scope: 'tokens:write' }), schema: { tags, summary: 'Create a token; the secret is in this response only', body: CreatePatBody, response: { 201: CreatedPat, ...errorResponses } } },
    async (request, reply) => {
      const created = await deps.pats.create(request.principal, request.body);
      return reply.code(201).send({ token: created.token, pat: presentPat(created.pat, now()) });
    },
  );

  api.get(
    '/me/tokens/:id',
    { onRequest: deps.auth({ scope: 'tokens:read' }), schema: { tags, summary: 'One own token', params: IdParams, response: { 200: Pat, ...errorResponses } } },
    async (request) => presentPat(await deps.pats.get(request.params.id, request.principal.user.id), now()),
  );

  api.patch(
    '/me/tokens/:id',
    { onRequest: deps.auth({ scope: 'tokens:write' }), schema: { tags, summary: 'Rename or re-describe an own token', params: IdParams, body: UpdatePatBody, response: { 200: Pat, ...errorResponses } } },
    async (request) => presentPat(await deps.pats.update(request.principal, request.params.id, request.body, request.principal.user.id), now()),
  );

  api.delete(
    '/me/tokens/:id',
    { onRequest: deps.auth({ scope: 'tokens:write' }), preValidation: optionalBody, schema: { tags, summary: 'Revoke an own token (idempotent)', params: IdParams, body: RevokeBody, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      await deps.pats.revoke(actorOf(request.principal), request.params.id, request.body.reason, request.principal.user.id);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/me/tokens/:id/rotate',
    { onRequest: deps.auth({ scope: 'tokens:write' }), preValidation: optionalBody, schema: { tags, summary: 'New secret with the same settings; the old one stops (after the grace period)', params: IdParams, body: RotatePatBody, response: { 201: CreatedPat, ...errorResponses } } },
    async (request, reply) => {
      const created = await deps.pats.rotate(request.principal, request.params.id, request.body.gracePeriodSeconds, request.principal.user.id);
      return reply.code(201).send({ token: created.token, pat: presentPat(created.pat, now()) });
    },
  );

  api.get(
    '/me/tokens/:id/events',
    { onRequest: deps.auth({ scope: 'tokens:read' }), schema: { tags, summary: 'Audit events of one own token, newest first', params: IdParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: Page(AuditEvent), ...errorResponses } } },
    async (request) => {
      const pat = await deps.pats.get(request.params.id, request.principal.user.id);
      const page = await paginate(request.query, (cursor, limit) => deps.audit.list({ targetId: pat.id }, cursor, limit), byCreated);
      return { items: page.items.map(presentAuditEvent), nextCursor: page.nextCursor };
    },
  );

  api.get(
    '/me/tokens/:id/usage',
    { onRequest: deps.auth({ scope: 'tokens:read' }), schema: { tags, summary: 'Uses of one own token by day or hour, by outcome (written behind: the last few seconds may be missing)', params: IdParams, querystring: UsageQuery, response: { 200: UsageSeries, ...errorResponses } } },
    async (request) => deps.pats.usage(await deps.pats.get(request.params.id, request.principal.user.id), request.query),
  );

  api.get(
    '/me/tokens/:id/addresses',
    { onRequest: deps.auth({ scope: 'tokens:read' }), schema: { tags, summary: 'Addresses one own token was used from, most recent first (up to 20)', params: IdParams, response: { 200: TokenAddresses, ...errorResponses } } },
    async (request) => deps.pats.addresses(await deps.pats.get(request.params.id, request.principal.user.id)),
  );

  // On the untyped instance: the answer is sent as JSON text, which the typed reply would refuse.
  app.get(
    '/tokens/self',
    { onRequest: deps.auth({ bearerOnly: true }), schema: { tags: ['tokens'], summary: 'The presented token’s own details', response: { 200: Pat, ...errorResponses } } },
    // Not async, and the text written once per cached token: the token was verified just now, so
    // its description (status active, no revocation in force) is the same on every request the
    // cache answers for it. Serialized through the route's schema, like any other answer.
    (request, reply) => {
      const pat = request.principal.pat;
      if (!pat) throw new KeyfobError('invalid_request', 'this route describes the presented bearer token');
      void reply.type(JSON_CONTENT_TYPE).send(tokenSelfTexts.text(pat, (view) => reply.serialize(presentPat(view, now())) as string));
    },
  );
}
