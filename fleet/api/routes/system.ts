import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { healthSchema, metricsSchema, openApiSchema } from '../schemas/system.js';
import type { TjsTypeProvider } from '../type-provider.js';

/** `/health`, `/metrics` and `/openapi.json`: no token, for probes, Prometheus and tools. */
export function systemRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.get('/health', { schema: healthSchema, config: { access: 'public' } }, async (_request, reply) => {
      const health = await deps.health();
      return reply.code(health.status === 'ok' ? 200 : 503).send(health);
    });

    r.get('/metrics', { schema: metricsSchema, config: { access: 'public' } }, async (_request, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    });

    r.get('/openapi.json', { schema: openApiSchema, config: { access: 'public' } }, async () => app.swagger() as unknown as Record<string, unknown>);
  };
}
