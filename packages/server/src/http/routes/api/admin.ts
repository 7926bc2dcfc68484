import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AuditEvent,
  BulkRevokeBody,
  CreateScopeBody,
  CreateUserBody,
  Page,
  PageQuery,
  Pat,
  Policy,
  PolicyUpdate,
  RevokeBody,
  Role,
  ScopeEntry,
  ScopeName,
  TokenStatus,
  UpdateUserBody,
  TokenAddresses,
  UsageQuery,
  UsageSeries,
  User,
} from '@keyfob/protocol';
import { actorOf } from '../../../services/principal.js';
import { presentAuditEvent, presentPat, presentScope, presentUser } from '../../presenters.js';
import { optionalBody } from '../../plugins/validation.js';
import { IdParams, NoContent, errorResponses, paginate, parseTime } from './common.js';
import type { ApiDeps } from './deps.js';

const byCreated = (item: { createdAt: Date; id: string }) => ({ at: item.createdAt.getTime(), id: item.id });

const UserListQuery = Type.Object(
  { role: Type.Optional(Role), disabled: Type.Optional(Type.Boolean()), q: Type.Optional(Type.String({ maxLength: 100 })), ...PageQuery },
  { additionalProperties: false },
);

const AdminTokenQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ maxLength: 100, description: 'user id or username' })),
    userId: Type.Optional(Type.String({ maxLength: 100 })),
    status: Type.Optional(Type.Union([TokenStatus, Type.Literal('all')], { default: 'all' })),
    scope: Type.Optional(ScopeName),
    q: Type.Optional(Type.String({ maxLength: 100 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const AuditQuery = Type.Object(
  {
    action: Type.Optional(Type.String({ maxLength: 64, description: 'an action, or a family such as "token.*"' })),
    actorUserId: Type.Optional(Type.String({ maxLength: 100 })),
    targetId: Type.Optional(Type.String({ maxLength: 100 })),
    since: Type.Optional(Type.String({ maxLength: 40 })),
    until: Type.Optional(Type.String({ maxLength: 40 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) });

export function adminRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = deps.auth({ scope: 'admin:read' });
  const write = deps.auth({ scope: 'admin:write' });
  const now = () => deps.clock.now();

  // Users
  const users = ['admin: users'];
  api.get('/admin/users', { onRequest: read, schema: { tags: users, summary: 'List users', querystring: UserListQuery, response: { 200: Page(User), ...errorResponses } } }, async (request) => {
    const { role, disabled, q } = request.query;
    const page = await paginate(request.query, (cursor, limit) => deps.users.list({ role, disabled, q }, cursor, limit), byCreated);
    return { items: page.items.map(presentUser), nextCursor: page.nextCursor };
  });
  api.post('/admin/users', { onRequest: write, schema: { tags: users, summary: 'Create a user', body: CreateUserBody, response: { 201: User, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(presentUser(await deps.users.create(actorOf(request.principal), request.body))),
  );
  api.get('/admin/users/:id', { onRequest: read, schema: { tags: users, summary: 'One user', params: IdParams, response: { 200: User, ...errorResponses } } }, async (request) =>
    presentUser(await deps.users.get(request.params.id)),
  );
  api.patch('/admin/users/:id', { onRequest: write, schema: { tags: users, summary: 'Change role, disable/enable, profile or password', params: IdParams, body: UpdateUserBody, response: { 200: User, ...errorResponses } } }, async (request) =>
    presentUser(await deps.users.update(actorOf(request.principal), request.params.id, request.body)),
  );
  api.delete('/admin/users/:id', { onRequest: write, schema: { tags: users, summary: 'Delete a user and their tokens', params: IdParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await deps.users.delete(actorOf(request.principal), request.params.id);
    return reply.code(204).send(null);
  });

  // Tokens
  const tokens = ['admin: tokens'];
  api.get('/admin/tokens', { onRequest: read, schema: { tags: tokens, summary: 'List all tokens', querystring: AdminTokenQuery, response: { 200: Page(Pat), ...errorResponses } } }, async (request) => {
    const { user, userId, status, scope, q } = request.query;
    let owner = userId;
    if (user !== undefined && owner === undefined) {
      owner = (await deps.users.findByUsername(user))?.id ?? user;
    }
    const page = await paginate(request.query, (cursor, limit) => deps.pats.list({ userId: owner, status, scope, name: q }, cursor, limit), byCreated);
    return { items: page.items.map((p) => presentPat(p, now())), nextCursor: page.nextCursor };
  });
  api.get('/admin/tokens/:id', { onRequest: read, schema: { tags: tokens, summary: 'One token', params: IdParams, response: { 200: Pat, ...errorResponses } } }, async (request) =>
    presentPat(await deps.pats.get(request.params.id), now()),
  );
  api.get('/admin/tokens/:id/usage', { onRequest: read, schema: { tags: tokens, summary: 'Uses of any token by day or hour, by outcome', params: IdParams, querystring: UsageQuery, response: { 200: UsageSeries, ...errorResponses } } }, async (request) =>
    deps.pats.usage(await deps.pats.get(request.params.id), request.query),
  );
  api.get('/admin/tokens/:id/addresses', { onRequest: read, schema: { tags: tokens, summary: 'Addresses any token was used from, most recent first (up to 20)', params: IdParams, response: { 200: TokenAddresses, ...errorResponses } } }, async (request) =>
    deps.pats.addresses(await deps.pats.get(request.params.id)),
  );
  api.delete('/admin/tokens/:id', { onRequest: write, preValidation: optionalBody, schema: { tags: tokens, summary: 'Revoke any token (idempotent)', params: IdParams, body: RevokeBody, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await deps.pats.revoke(actorOf(request.principal), request.params.id, request.body.reason);
    return reply.code(204).send(null);
  });
  api.post(
    '/admin/tokens/revoke',
    { onRequest: write, schema: { tags: tokens, summary: 'Revoke every usable token of a user, issued before a time, or holding a scope', body: BulkRevokeBody, response: { 200: Type.Object({ revoked: Type.Integer() }), ...errorResponses } } },
    async (request) => {
      const { userId, issuedBefore, scope, reason } = request.body;
      const revoked = await deps.pats.revokeMatching(actorOf(request.principal), { userId, issuedBefore: parseTime('issuedBefore', issuedBefore), scope }, reason);
      return { revoked };
    },
  );

  // Policy
  api.get('/policy', { onRequest: deps.auth(), schema: { tags: ['tokens'], summary: 'The token policy, for choosing an expiry', response: { 200: Policy, ...errorResponses } } }, async () => deps.policy.get());
  api.get('/admin/policy', { onRequest: read, schema: { tags: ['admin: policy'], summary: 'The token policy', response: { 200: Policy, ...errorResponses } } }, async () => deps.policy.get());
  api.put('/admin/policy', { onRequest: write, schema: { tags: ['admin: policy'], summary: 'Change the token policy (fields left out keep their value)', body: PolicyUpdate, response: { 200: Policy, ...errorResponses } } }, async (request) =>
    deps.policy.update(actorOf(request.principal), request.body),
  );

  // Scope catalogue
  const scopes = ['admin: scopes'];
  const catalogue = async () => ({ items: (await deps.scopes.list()).map(presentScope), nextCursor: null });
  const CatalogueResponse = { 200: Type.Object({ items: Type.Array(ScopeEntry), nextCursor: Type.Null() }), ...errorResponses };
  api.get('/admin/scopes', { onRequest: read, schema: { tags: scopes, summary: 'The scope catalogue', response: CatalogueResponse } }, catalogue);
  api.get('/scopes', { onRequest: deps.auth(), schema: { tags: ['tokens'], summary: 'The scope catalogue, for choosing the scopes of a new token', response: CatalogueResponse } }, catalogue);
  api.post('/admin/scopes', { onRequest: write, schema: { tags: scopes, summary: 'Add a scope', body: CreateScopeBody, response: { 201: ScopeEntry, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(presentScope(await deps.scopes.add(actorOf(request.principal), request.body.name, request.body.description ?? ''))),
  );
  api.delete('/admin/scopes/:name', { onRequest: write, schema: { tags: scopes, summary: 'Remove a scope (409 while active tokens hold it)', params: NameParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await deps.scopes.remove(actorOf(request.principal), request.params.name);
    return reply.code(204).send(null);
  });

  // Audit log
  api.get('/admin/audit', { onRequest: read, schema: { tags: ['admin: audit'], summary: 'Audit events, newest first', querystring: AuditQuery, response: { 200: Page(AuditEvent), ...errorResponses } } }, async (request) => {
    const { action, actorUserId, targetId, since, until } = request.query;
    const filter = { action, actorUserId, targetId, since: parseTime('since', since), until: parseTime('until', until) };
    const page = await paginate(request.query, (cursor, limit) => deps.audit.list(filter, cursor, limit), byCreated);
    return { items: page.items.map(presentAuditEvent), nextCursor: page.nextCursor };
  });
}
