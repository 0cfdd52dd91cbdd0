import type { FastifyPluginAsync } from 'fastify';
import type { QualityGates } from '../../rollouts/quality.js';
import type { RolloutSelector, WaveSpec } from '../../rollouts/plan.js';
import type { RolloutState } from '../../rollouts/rollout-store.js';
import { RolloutError, type CreateRollout } from '../../rollouts/rollouts.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { createRolloutSchema, getRolloutSchema, listRolloutsSchema, moveRolloutSchema } from '../schemas/rollouts.js';
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

/** Rollouts: start one, watch it, pause, resume or abort it. */
export function rolloutRoutes(deps: ApiDeps): FastifyPluginAsync {
  const rollouts = deps.rollouts;
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.post('/v1/rollouts', { schema: createRolloutSchema }, async (request, reply) => {
      const b = request.body;
      const req: CreateRollout = {
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
      const status = await rollouts.create(req).catch((err: unknown) => {
        throw rolloutProblem(err);
      });
      return reply.code(201).send(status);
    });

    r.get('/v1/rollouts', { schema: listRolloutsSchema }, async (request) => ({ items: await rollouts.list(request.query.state as RolloutState | undefined) }));

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
