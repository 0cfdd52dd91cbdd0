import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { listReleasesSchema } from '../schemas/releases.js';
import type { TjsTypeProvider } from '../type-provider.js';

export function releaseRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.get('/v1/releases', { schema: listReleasesSchema }, async (request) => {
      const all = await deps.releases();
      const model = request.query.model;
      return { items: model === undefined ? all : all.filter((x) => x.model === model) };
    });
  };
}
