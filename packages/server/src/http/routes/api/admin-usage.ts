import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AdminPat, MostUsedQuery, MostUsedTokens, Page, UnusedTokensQuery } from '@keyfob/protocol';
import type { UsageReports } from '../../../services/usage-reports.js';
import { presentAdminPat, presentMostUsed } from '../../presenters.js';
import { errorResponses, paginate } from './common.js';
import type { ApiDeps } from './deps.js';

/** The admin usage reports: the most used tokens, and the unused ones (candidates to revoke). */
export function adminUsageRoutes(app: FastifyInstance, deps: ApiDeps & { reports: UsageReports }): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = deps.auth({ scope: 'admin:read' });
  const tags = ['admin: usage'];

  api.get(
    '/admin/usage/most-used',
    { onRequest: read, schema: { tags, summary: 'Tokens with the most successful uses over the last days (whole UTC days, today included)', querystring: MostUsedQuery, response: { 200: MostUsedTokens, ...errorResponses } } },
    async (request) => presentMostUsed(await deps.reports.mostUsed(request.query), deps.clock.now()),
  );

  api.get(
    '/admin/usage/never-used',
    { onRequest: read, schema: { tags, summary: 'Active tokens never used (or not used for unusedForDays), oldest first', querystring: UnusedTokensQuery, response: { 200: Page(AdminPat), ...errorResponses } } },
    async (request) => {
      const page = await paginate(request.query, (cursor, limit) => deps.reports.unused(request.query, cursor, limit), ({ pat }) => ({ at: pat.createdAt.getTime(), id: pat.id }));
      const now = deps.clock.now();
      return { items: page.items.map((item) => presentAdminPat(item, now)), nextCursor: page.nextCursor };
    },
  );
}
