import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CreatedWebhook, CreateWebhookBody, Page, PageQuery, UpdateWebhookBody, Webhook, WebhookDelivery } from '@keyfob/protocol';
import { actorOf } from '../../../services/principal.js';
import type { WebhookService } from '../../../services/webhook-service.js';
import { presentDelivery, presentWebhook } from '../../presenters.js';
import { IdParams, NoContent, errorResponses } from './common.js';
import type { ApiDeps } from './deps.js';

const DeliveryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), deliveryId: Type.String({ minLength: 1, maxLength: 100 }) });

/** Admins' webhooks and their delivery logs. */
export function adminWebhookRoutes(app: FastifyInstance, deps: ApiDeps & { webhooks: WebhookService }): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = deps.auth({ scope: 'admin:read' });
  const write = deps.auth({ scope: 'admin:write' });
  const tags = ['admin: webhooks'];
  const { webhooks } = deps;

  api.get('/admin/webhooks', { onRequest: read, schema: { tags, summary: 'List webhooks', response: { 200: Type.Object({ items: Type.Array(Webhook), nextCursor: Type.Null() }), ...errorResponses } } }, async () => ({
    items: (await webhooks.list()).map(presentWebhook),
    nextCursor: null,
  }));
  api.post('/admin/webhooks', { onRequest: write, schema: { tags, summary: 'Register a webhook; its signing secret is in this response only', body: CreateWebhookBody, response: { 201: CreatedWebhook, ...errorResponses } } }, async (request, reply) => {
    const { webhook, secret } = await webhooks.create(actorOf(request.principal), request.body);
    return reply.code(201).send({ ...presentWebhook(webhook), secret });
  });
  api.get('/admin/webhooks/:id', { onRequest: read, schema: { tags, summary: 'One webhook', params: IdParams, response: { 200: Webhook, ...errorResponses } } }, async (request) =>
    presentWebhook(await webhooks.get(request.params.id)),
  );
  api.patch('/admin/webhooks/:id', { onRequest: write, schema: { tags, summary: 'Change the URL, events or description; pause or resume', params: IdParams, body: UpdateWebhookBody, response: { 200: Webhook, ...errorResponses } } }, async (request) =>
    presentWebhook(await webhooks.update(actorOf(request.principal), request.params.id, request.body)),
  );
  api.post('/admin/webhooks/:id/secret', { onRequest: write, schema: { tags, summary: 'A new signing secret (the old one stops at once); in this response only', params: IdParams, response: { 201: CreatedWebhook, ...errorResponses } } }, async (request, reply) => {
    const { webhook, secret } = await webhooks.rotateSecret(actorOf(request.principal), request.params.id);
    return reply.code(201).send({ ...presentWebhook(webhook), secret });
  });
  api.delete('/admin/webhooks/:id', { onRequest: write, schema: { tags, summary: 'Delete a webhook and its delivery log', params: IdParams, response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {
    await webhooks.delete(actorOf(request.principal), request.params.id);
    return reply.code(204).send(null);
  });
  api.get('/admin/webhooks/:id/deliveries', { onRequest: read, schema: { tags, summary: 'The delivery log, newest first', params: IdParams, querystring: Type.Object(PageQuery), response: { 200: Page(WebhookDelivery), ...errorResponses } } }, async (request) => {
    const page = await webhooks.deliveries(request.params.id, request.query.cursor, request.query.limit ?? 50);
    return { items: page.items.map(presentDelivery), nextCursor: page.nextCursor };
  });
  api.get('/admin/webhooks/:id/deliveries/:deliveryId', { onRequest: read, schema: { tags, summary: 'One delivery with the body sent', params: DeliveryParams, response: { 200: WebhookDelivery, ...errorResponses } } }, async (request) =>
    presentDelivery(await webhooks.delivery(request.params.id, request.params.deliveryId)),
  );
  api.post('/admin/webhooks/:id/deliveries/:deliveryId/redeliver', { onRequest: write, schema: { tags, summary: 'Send a delivery again: a new delivery of the same event (same event id and body), signed anew', params: DeliveryParams, response: { 201: WebhookDelivery, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(presentDelivery(await webhooks.redeliver(actorOf(request.principal), request.params.id, request.params.deliveryId))),
  );
}
