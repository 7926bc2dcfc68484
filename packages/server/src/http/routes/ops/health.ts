import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { StoreUnavailable } from '../../../errors/keyfob-error.js';
import type { Store } from '../../../repositories/store.js';
import type { Metrics } from '../../metrics.js';

const Status = Type.Object({ status: Type.String() });

export function healthRoutes(app: FastifyInstance, deps: { store: Store; metrics: Metrics }): void {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The store answers', response: { 200: Status } } }, async () => {
    try {
      await deps.store.ping();
    } catch (error) {
      throw new StoreUnavailable(error);
    }
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: true } }, async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
