import type { FastifyPluginAsync } from 'fastify';
import type { EventKind } from '../../events/event-store.js';
import { decodeEventCursor, encodeEventCursor } from '../cursor.js';
import type { ApiDeps } from '../deps.js';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common.js';
import { ApiProblem } from '../problem.js';
import { getEventSchema, listEventsSchema } from '../schemas/events.js';
import type { TjsTypeProvider } from '../type-provider.js';

export function eventRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.get('/v1/events', { schema: listEventsSchema }, async (request) => {
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
      const before = q.before === undefined ? undefined : decodeEventCursor(q.before);
      const page = await deps.events.page({
        ...(q.gateway === undefined ? {} : { gatewayId: q.gateway }),
        ...(q.kind === undefined ? {} : { kind: q.kind as EventKind }),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(q.stream === undefined ? {} : { stream: q.stream }),
        ...(q.from === undefined ? {} : { fromMs: q.from }),
        ...(q.to === undefined ? {} : { toMs: q.to }),
        ...(before === undefined ? {} : { before }),
        limit,
      });
      const last = page.items[page.items.length - 1];
      return { items: page.items, next: page.more && last !== undefined ? encodeEventCursor(last) : null };
    });

    r.get('/v1/events/:gateway/:recordId', { schema: getEventSchema }, async (request) => {
      const { gateway, recordId } = request.params;
      const found = await deps.events.byKeys([{ gatewayId: gateway, recordId }]);
      const e = found.items[0];
      if (e === undefined) throw new ApiProblem(404, 'E_NOT_FOUND', `no event ${recordId} of gateway ${gateway}: never sent, or swept by the retention policy`);
      return e;
    });
  };
}
