import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CreateClientBody, CreatedOAuthClient, OAuthClient, SigningKey, UpdateClientBody } from '@keyfob/protocol';
import { actorOf } from '../../../services/principal.js';
import type { ClientService } from '../../../services/client-service.js';
import type { SigningKeyService } from '../../../services/signing-key-service.js';
import { presentClient, presentSigningKey } from '../../presenters.js';
import { IdParams, NoContent, errorResponses } from './common.js';
import type { ApiDeps } from './deps.js';

const List = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Type.Null() });

/** Admin routes of the OAuth surface: clients and signing keys. */
export function adminOAuthRoutes(app: FastifyInstance, deps: ApiDeps & { clients: ClientService; keys: SigningKeyService }): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = deps.auth({ scope: 'admin:read' });
  const write = deps.auth({ scope: 'admin:write' });
  const tags = ['admin: oauth clients'];

  api.get('/admin/clients', { onRequest: read, schema: { tags, summary: 'List OAuth clients', response: { 200: List(OAuthClient), ...errorResponses } } }, async () => ({
    items: (await deps.clients.list()).map(presentClient),
    nextCursor: null,
  }));
  api.post('/admin/clients', { onRequest: write, schema: { tags, summary: 'Register a client; the secret is in this response only', body: CreateClientBody, response: { 201: CreatedOAuthClient, ...errorResponses } } }, async (request, reply) => {
    const { client, clientSecret } = await deps.clients.create(actorOf(request.principal), request.body);
    return reply.code(201).send({ ...presentClient(client), clientSecret });
  });
  api.get('/admin/clients/:id', { onRequest: read, schema: { tags, summary: 'One client', params: IdParams, response: { 200: OAuthClient, ...errorResponses } } }, async (request) =>
    presentClient(await deps.clients.get(request.params.id)),
  );
  api.patch('/admin/clients/:id', { onRequest: write, schema: { tags, summary: 'Change, disable or enable a client', params: IdParams, body: UpdateClientBody, response: { 200: OAuthClient, ...errorResponses } } }, async (request) =>
    presentClient(await deps.clients.update(actorOf(request.principal), request.params.id, request.body)),
  );
  api.post('/admin/clients/:id/secret', { onRequest: write, schema: { tags, summary: 'Rotate the client secret (the old one stops at once)', params: IdParams, response: { 201: CreatedOAuthClient, ...errorResponses } } }, async (request, reply) => {
    const { client, clientSecret } = await deps.clients.rotateSecret(actorOf(request.principal), request.params.id);
    return reply.code(201).send({ ...presentClient(client), clientSecret });
  });
  api.delete('/admin/clients/:id', { onRequest: write, schema: { tags, summary: 'Delete a client', params: IdParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await deps.clients.delete(actorOf(request.principal), request.params.id);
    return reply.code(204).send(null);
  });

  const keyTags = ['admin: signing keys'];
  api.get('/admin/signing-keys', { onRequest: read, schema: { tags: keyTags, summary: 'Signing keys of exchanged JWTs', response: { 200: List(SigningKey), ...errorResponses } } }, async () => ({
    items: (await deps.keys.list()).map(presentSigningKey),
    nextCursor: null,
  }));
  api.post('/admin/signing-keys/rotate', { onRequest: write, schema: { tags: keyTags, summary: 'Promote the published next key to active, retire the active one, publish a new next key', response: { 200: List(SigningKey), ...errorResponses } } }, async (request) => ({
    items: (await deps.keys.rotate(actorOf(request.principal))).map(presentSigningKey),
    nextCursor: null,
  }));
}
