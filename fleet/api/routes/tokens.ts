import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { createTokenSchema, listTokensSchema, meSchema, revokeTokenSchema } from '../schemas/tokens.js';
import type { TokenRole } from '../tokens.js';
import type { TjsTypeProvider } from '../type-provider.js';

/** Token management: read-write tokens only, reading included (names say who holds which access). */
export function tokenRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    // Any live token may ask who it is (the onRequest hook has set request.operator).
    r.get('/v1/me', { schema: meSchema }, async (request) => {
      const me = request.operator;
      if (me === null) throw new Error('GET /v1/me ran without an operator: the route must not be public');
      return { id: me.id, name: me.name, role: me.role };
    });

    r.get('/v1/tokens', { schema: listTokensSchema, config: { access: 'write' } }, async () => ({ items: await deps.tokens.list() }));

    r.post('/v1/tokens', { schema: createTokenSchema }, async (request, reply) => {
      const created = await deps.tokens.create(request.body.role as TokenRole, request.body.name);
      return reply.code(201).send(created);
    });

    r.post('/v1/tokens/:id/revoke', { schema: revokeTokenSchema }, async (request) => {
      const token = await deps.tokens.revoke(request.params.id);
      if (token === undefined) throw new ApiProblem(404, 'E_NOT_FOUND', `no token has id ${request.params.id}; GET /v1/tokens lists them`);
      return token;
    });
  };
}
