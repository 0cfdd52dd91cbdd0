import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { LiveHub, type LiveOptions } from '../live/live-hub.js';
import { ApiProblem } from '../problem.js';
import { liveSchema } from '../schemas/live.js';

/** `GET /v1/live`: the console's one live feed (see LiveHub for what it sends and when). */
export function liveRoutes(deps: ApiDeps, options: LiveOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const hub = new LiveHub(
      {
        changes: deps.changes,
        gateways: deps.registry.store,
        events: deps.events,
        rollouts: deps.rollouts.store,
        metrics: deps.metrics,
        log: { warn: (fields, message) => app.log.warn(fields, message) },
      },
      options,
    );
    // Open streams end before the server closes (it would otherwise wait for them).
    app.addHook('preClose', async () => hub.close());

    app.get('/v1/live', { schema: liveSchema }, async (request, reply) => {
      if (!hub.reserve()) throw new ApiProblem(503, 'E_TOO_MANY_STREAMS', `${hub.maxStreams} live streams are open already; close one (each console tab holds one)`);
      // The slot is held from here: a client gone while the hub starts gives it back.
      try {
        await hub.ready();
      } catch (err) {
        hub.release();
        throw err;
      }
      if (request.raw.destroyed || reply.raw.destroyed) {
        hub.release();
        return;
      }
      reply.hijack();
      const client = hub.attach(reply.raw);
      request.raw.on('close', () => hub.detach(client));
      reply.raw.on('close', () => hub.detach(client));
    });
  };
}
