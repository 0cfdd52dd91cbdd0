import type { FastifyPluginAsync } from 'fastify';
import type { Infer } from 'tjs';
import type { QualityGates } from '../../rollouts/quality.js';
import type { RolloutSelector, WaveSpec } from '../../rollouts/plan.js';
import { RolloutEventTail } from '../../rollouts/event-tail.js';
import type { RolloutState } from '../../rollouts/rollout-store.js';
import { RolloutError, type CreateRollout } from '../../rollouts/rollouts.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { SSE_HEADERS, sseComment, sseEvent } from '../sse.js';
import { createRolloutSchema, getRolloutSchema, listRolloutsSchema, moveRolloutSchema, previewRolloutSchema, rolloutEventStreamSchema, rolloutEventsSchema } from '../schemas/rollouts.js';
import type { TjsTypeProvider } from '../type-provider.js';

/** The rollouts' refusals as problems; their messages name the field or the state. */
function rolloutProblem(err: unknown): unknown {
  if (!(err instanceof RolloutError)) return err;
  switch (err.code) {
    case 'E_ROLLOUT_INVALID':
      return new ApiProblem(400, 'E_VALIDATION', `body.${err.message}`);
    case 'E_RELEASE_UNKNOWN':
      return new ApiProblem(400, 'E_RELEASE_UNKNOWN', err.message);
    case 'E_ROLLOUT_UNKNOWN':
      return new ApiProblem(404, 'E_NOT_FOUND', err.message);
    case 'E_ROLLOUT_STATE':
      return new ApiProblem(409, 'E_ROLLOUT_STATE', err.message);
  }
}

type CreateBody = Infer<typeof createRolloutSchema.body>;

/** The checked body of POST /v1/rollouts (and of its preview) as the rollouts take it. */
function createRequest(b: CreateBody): CreateRollout {
  return {
    target: b.target,
    selector: b.selector as RolloutSelector,
    waves: b.waves as WaveSpec[],
    ...(b.name === undefined ? {} : { name: b.name }),
    ...(b.gates === undefined ? {} : { gates: b.gates }),
    ...(b.quality === undefined ? {} : { quality: b.quality as Partial<QualityGates> }),
    ...(b.onGateFailure === undefined ? {} : { onGateFailure: b.onGateFailure }),
    ...(b.ratePerMinute === undefined ? {} : { ratePerMinute: b.ratePerMinute }),
    ...(b.windows === undefined ? {} : { windows: b.windows }),
    ...(b.gatewayTimeoutMs === undefined ? {} : { gatewayTimeoutMs: b.gatewayTimeoutMs }),
  };
}

/** Event streams open at once at most (each polls the database once a second). */
const MAX_STREAMS = 64;
const STREAM_POLL_MS = 1000;

/** Rollouts: start one, watch it, pause, resume or abort it. */
export function rolloutRoutes(deps: ApiDeps): FastifyPluginAsync {
  const rollouts = deps.rollouts;
  const streams = new Set<() => void>();
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();
    // Open streams end before the server closes (it would otherwise wait for them).
    app.addHook('preClose', async () => {
      for (const close of [...streams]) close();
    });

    r.post('/v1/rollouts', { schema: createRolloutSchema }, async (request, reply) => {
      const status = await rollouts.create(createRequest(request.body)).catch((err: unknown) => {
        throw rolloutProblem(err);
      });
      return reply.code(201).send(status);
    });

    // Reading: it plans and stores nothing, so a read-only token may preview.
    r.post('/v1/rollouts/preview', { schema: previewRolloutSchema, config: { access: 'read' } }, async (request) =>
      rollouts.preview(createRequest(request.body)).catch((err: unknown) => {
        throw rolloutProblem(err);
      }),
    );
    r.get('/v1/rollouts', { schema: listRolloutsSchema }, async (request) => ({ items: await rollouts.list(request.query.state as RolloutState | undefined) }));

    r.get('/v1/rollout-events', { schema: rolloutEventsSchema }, async (request) => {
      const after = request.query.after ?? 0;
      const items = await rollouts.store.eventsAfter(after, request.query.limit ?? 200);
      return { items, next: items.at(-1)?.seq ?? after };
    });

    r.get('/v1/rollout-events/stream', { schema: rolloutEventStreamSchema }, async (request, reply) => {
      if (streams.size >= MAX_STREAMS) throw new ApiProblem(503, 'E_TOO_MANY_STREAMS', `${MAX_STREAMS} event streams are open already; close one, or poll GET /v1/rollout-events`);
      // Counted and watched before anything is awaited: a client gone meanwhile must not leave a poller behind.
      let timer: NodeJS.Timeout | undefined;
      let closed = false;
      const res = reply.raw;
      const close = (): void => {
        closed = true;
        clearInterval(timer);
        streams.delete(close);
        if (!res.writableEnded) res.end();
      };
      streams.add(close);
      request.raw.on('close', close);
      // A reconnecting client's Last-Event-ID says where it stopped (and wins over the `after` it first opened with).
      const lastId = Number(request.headers['last-event-id']);
      const resumeAt = request.headers['last-event-id'] !== undefined && Number.isSafeInteger(lastId) && lastId >= 0 ? lastId : request.query.after;
      let after: number;
      try {
        after = resumeAt ?? (await rollouts.store.lastEventSeq());
      } catch (err) {
        close();
        throw err;
      }
      if (closed || request.raw.destroyed) {
        close();
        return;
      }
      reply.hijack();
      res.writeHead(200, SSE_HEADERS);
      res.write(sseComment('rollout decisions'));
      // Nothing at or below where the client starts is sent, late or not (RolloutEventTail).
      const tail = new RolloutEventTail(rollouts.store, after);
      let polling = false;
      let quietMs = 0;
      const poll = async (): Promise<void> => {
        // A client that does not read is not written more (the socket's buffer is its bound).
        if (polling || closed || res.writableNeedDrain) return;
        polling = true;
        try {
          for (const e of await tail.next(500)) {
            res.write(sseEvent('rollout', e, e.seq));
            quietMs = 0;
          }
          quietMs += STREAM_POLL_MS;
          if (quietMs >= 15_000) {
            res.write(sseComment('still here'));
            quietMs = 0;
          }
        } catch (err) {
          // The database is away for a moment: say so on the stream (not what it said), and try again next poll.
          res.write(sseComment('the fleet database did not answer; trying again'));
          request.log.warn({ component: 'api', event: 'rollout_events.poll_failed', code: 'E_DB', reason: (err as Error).message }, 'rollout event stream could not read decisions');
        } finally {
          polling = false;
        }
      };
      timer = setInterval(() => void poll(), STREAM_POLL_MS);
      void poll();
    });

    r.get('/v1/rollouts/:id', { schema: getRolloutSchema }, async (request) =>
      rollouts.status(request.params.id).catch((err: unknown) => {
        throw rolloutProblem(err);
      }),
    );

    r.post('/v1/rollouts/:id/:action', { schema: moveRolloutSchema }, async (request) => {
      const { id, action } = request.params;
      const move = action === 'pause' ? rollouts.pause(id) : action === 'resume' ? rollouts.resume(id) : rollouts.abort(id);
      return move.catch((err: unknown) => {
        throw rolloutProblem(err);
      });
    });
  };
}
