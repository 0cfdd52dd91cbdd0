import type { FastifyPluginAsync } from 'fastify';
import { FederatedRoundError } from '../../federated/round/errors.js';
import type { LearningRound, LearningTask, LearningTaskState } from '../../federated/service/federated-store.js';
import { FederatedServiceError } from '../../federated/service/service-error.js';
import { RolloutError, type RolloutSpec } from '../../rollouts/rollouts.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common.js';
import { createTaskSchema, getRoundSchema, getTaskSchema, listRoundsSchema, listTasksSchema, stopTaskSchema } from '../schemas/learning.js';
import type { TjsTypeProvider } from '../type-provider.js';

/** The round service's refusals as problems; a task definition's names the field under body.task. */
function learningProblem(err: unknown): unknown {
  if (err instanceof FederatedRoundError && err.code === 'E_FEDERATED_TASK') return new ApiProblem(400, 'E_VALIDATION', `body.task.${err.message}`);
  if (err instanceof RolloutError && err.code === 'E_ROLLOUT_INVALID') return new ApiProblem(400, 'E_VALIDATION', `body.rollout.${err.message}`);
  if (!(err instanceof FederatedServiceError)) return err;
  switch (err.code) {
    case 'E_RELEASE_UNKNOWN':
      return new ApiProblem(400, 'E_RELEASE_UNKNOWN', err.message);
    case 'E_LEARNING_TASK_EXISTS':
      return new ApiProblem(409, 'E_LEARNING_TASK_EXISTS', err.message);
    case 'E_LEARNING_TASK_UNKNOWN':
      return new ApiProblem(404, 'E_NOT_FOUND', err.message);
    case 'E_LEARNING_TASK_STATE':
      return new ApiProblem(409, 'E_LEARNING_TASK_STATE', err.message);
  }
}

const rethrow = (err: unknown): never => {
  throw learningProblem(err);
};

/** The typed values as the reply schemas hold them: the definition, history and record are plain JSON objects. */
const json = (value: object): Record<string, unknown> => value as Record<string, unknown>;
const taskView = (t: LearningTask) => ({ ...t, definition: json(t.definition), schedule: { ...t.schedule, rollout: t.schedule.rollout === null ? null : json(t.schedule.rollout) }, privacyHistory: t.privacyHistory.map(json) });
const roundView = (r: LearningRound) => ({ ...r, record: r.record === null ? null : json(r.record) });

/** Federated learning: create a task, watch its rounds and their records, stop it. */
export function learningRoutes(deps: ApiDeps): FastifyPluginAsync {
  const learning = deps.learning;
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.post('/v1/learning/tasks', { schema: createTaskSchema }, async (request, reply) => {
      const b = request.body;
      const task = await learning
        .createTask({
          task: b.task,
          ...(b.initialRelease === undefined ? {} : { initialRelease: b.initialRelease }),
          ...(b.rounds === undefined ? {} : { rounds: b.rounds }),
          ...(b.roundIntervalMs === undefined ? {} : { roundIntervalMs: b.roundIntervalMs }),
          ...(b.rollout === undefined ? {} : { rollout: b.rollout as RolloutSpec }),
        })
        .catch(rethrow);
      return reply.code(201).send(taskView(task));
    });

    r.get('/v1/learning/tasks', { schema: listTasksSchema }, async (request) => {
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
      const rows = await learning.listTasks({ limit: limit + 1, ...(q.state === undefined ? {} : { state: q.state as LearningTaskState }), ...(q.after === undefined ? {} : { after: q.after }) });
      const items = rows.slice(0, limit);
      return { items: items.map(taskView), next: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    });

    r.get('/v1/learning/tasks/:id', { schema: getTaskSchema }, async (request) => taskView(await learning.getTask(request.params.id).catch(rethrow)));

    r.post('/v1/learning/tasks/:id/stop', { schema: stopTaskSchema }, async (request) => taskView(await learning.stopTask(request.params.id).catch(rethrow)));

    r.get('/v1/learning/tasks/:id/rounds', { schema: listRoundsSchema }, async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_LIMIT;
      const rows = await learning.listRounds(request.params.id, { limit: limit + 1, ...(request.query.before === undefined ? {} : { before: request.query.before }) }).catch(rethrow);
      const items = rows.slice(0, limit);
      return { items: items.map(roundView), next: rows.length > limit ? (items.at(-1)?.round ?? null) : null };
    });

    r.get('/v1/learning/tasks/:id/rounds/:round', { schema: getRoundSchema }, async (request) => roundView(await learning.getRound(request.params.id, request.params.round).catch(rethrow)));
  };
}
