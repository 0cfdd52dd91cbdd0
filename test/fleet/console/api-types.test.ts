import type { Infer } from 'tjs';
import { describe, it } from 'vitest';
import { listEventsSchema } from '../../../fleet/api/schemas/events.js';
import { gatewayCountsSchema, getGatewaySchema, listGatewaysSchema } from '../../../fleet/api/schemas/gateways.js';
import { getRoundSchema, getTaskSchema } from '../../../fleet/api/schemas/learning.js';
import { listReleasesSchema } from '../../../fleet/api/schemas/releases.js';
import { getRolloutSchema, listRolloutsSchema, rolloutEventsSchema } from '../../../fleet/api/schemas/rollouts.js';
import type {
  FleetEvent,
  GatewayCounts,
  GatewayDetail,
  GatewaySummary,
  LearningRound,
  LearningTask,
  Release,
  Rollout,
  RolloutEvent,
  RolloutStatus,
} from '../../../fleet/console/api/types.js';

type Reply<S extends { response: { 200: unknown } }> = Infer<S['response'][200]>;
/** Compiles only when every A is a B (plain assignability: expect-type's toExtend trips over tjs's nullable objects). */
type Fits<A, B> = [A] extends [B] ? true : false;
function fits<T extends true>(): T | undefined {
  return undefined;
}

/**
 * The console bundles none of the fleet's code: fleet/console/api/types.ts writes the reply
 * shapes out by hand. These checks (run by `tsc`, the runtime part is empty) hold them to the
 * schemas the API serialises with: every reply the fleet can send is a value of the console's
 * type.
 */
describe('the console\'s API types', () => {
  it('accept every reply the fleet sends', () => {
    // tjs infers the maps `releases` and `labels` (additionalProperties) as Record<string, unknown>: those fields are the console's reading of the schema alone.
    fits<Fits<Omit<Reply<typeof listGatewaysSchema>['items'][number], 'releases' | 'labels'>, Omit<GatewaySummary, 'releases' | 'labels'>>>();
    fits<Fits<Omit<Reply<typeof getGatewaySchema>, 'releases' | 'labels'>, Omit<GatewayDetail, 'releases' | 'labels'>>>();
    fits<Fits<Reply<typeof gatewayCountsSchema>, GatewayCounts>>();
    fits<Fits<Reply<typeof listEventsSchema>['items'][number], FleetEvent>>();
    fits<Fits<Reply<typeof listReleasesSchema>['items'][number], Release>>();
    fits<Fits<Reply<typeof listRolloutsSchema>['items'][number], Rollout>>();
    fits<Fits<Reply<typeof getRolloutSchema>, RolloutStatus>>();
    fits<Fits<Reply<typeof rolloutEventsSchema>['items'][number], RolloutEvent>>();
    fits<Fits<Reply<typeof getTaskSchema>, LearningTask>>();
    fits<Fits<Reply<typeof getRoundSchema>, LearningRound>>();
    // Not checked here: the rollout body (tjs reads the schema's oneOf selectors and waves as one
    // merged object); the API checks it at run time and the end-to-end test creates rollouts.
  });
});
