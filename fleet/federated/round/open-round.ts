import { checkFloatTensor } from '../../protocol/federated/quantize.js';
import { checkLayout, type TensorLayout } from '../../protocol/federated/tensor.js';
import type { PrivacyBudget } from '../privacy/privacy-budget.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import type { RoundAnnouncement, RoundInvitation } from './announcement.js';
import { FederatedRoundError, roundError } from './errors.js';
import { ROUND_LIMITS } from './limits.js';
import type { GlobalModel } from './record.js';
import { Roster } from './roster.js';
import { FederatedRound } from './round.js';
import { checkEligible, poissonSample } from './sampling.js';
import { secureScale } from './secure-sum.js';
import type { FederatedTask } from './task.js';

export interface OpenRoundParams {
  readonly task: FederatedTask;
  /** The round's number, a counter per task (updates carry it; a smaller one is stale). */
  readonly round: number;
  readonly globalModel: GlobalModel;
  /** The gateways the task's selector matches now (the registry's answer), each drawn with probability samplingShare. */
  readonly eligibleGateways: readonly string[];
  /** Draws the sample now and, for a private task, the noise at close: `cryptoUniformSource()` in a real round, a seeded source in tests. */
  readonly random: UniformSource;
  /** Milliseconds, from a clock that does not jump. */
  readonly now: () => number;
  /** The registry's word on a gateway: known and not revoked. Asked for every update. */
  readonly isActiveGateway: (gatewayId: string) => boolean;
  /** The task's privacy budget: required when the task is private, absent otherwise. */
  readonly privacyBudget?: PrivacyBudget;
}

export type OpenRoundResult =
  | { readonly status: 'opened'; readonly round: FederatedRound; readonly announcement: RoundAnnouncement; readonly invitations: readonly RoundInvitation[] }
  /** The budget cannot pay for one more round: the task stops training. Nothing was drawn. */
  | { readonly status: 'refused'; readonly reason: 'privacy-budget-spent'; readonly detail: string };

/**
 * Opens a round: checks what it is given, asks a private task's budget whether one more round
 * fits, draws the sample (Poisson, sampling.ts) and returns the announcement every gateway
 * reads and one invitation per drawn gateway.
 */
export function openRound(p: OpenRoundParams): OpenRoundResult {
  const { task } = p;
  if (!Number.isSafeInteger(p.round) || p.round < 1) throw roundError('round', `expected an integer >= 1, got ${p.round}`);
  const layout = checkGlobalModel(p.globalModel);
  const eligible = checkEligible(p.eligibleGateways);
  const parameters = layout.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  // One dequantised update per drawn gateway, plus the late buffer when the task keeps one.
  const updatesHeld = eligible.length + (task.lateUpdates.type === 'buffer' ? task.lateUpdates.maxBuffered : 0);
  if (updatesHeld * parameters > ROUND_LIMITS.maxHeldValues) {
    throw roundError('eligibleGateways', `${eligible.length} gateways (and ${updatesHeld - eligible.length} buffered late updates) x ${parameters} parameters could mean holding ${updatesHeld * parameters} values, at most ${ROUND_LIMITS.maxHeldValues}: select fewer gateways per round`);
  }
  const budget = p.privacyBudget ?? null;
  if ((task.privacy === null) !== (budget === null)) throw roundError('privacyBudget', task.privacy === null ? 'given for a task without privacy' : 'required: the task is private');
  if (task.privacy !== null && budget !== null) {
    const decision = budget.decide({ samplingRate: task.samplingShare, noiseMultiplier: task.privacy.noiseMultiplier });
    if (!decision.allowed) {
      return { status: 'refused', reason: 'privacy-budget-spent', detail: `one more round would spend epsilon ${decision.epsilonAfter.toPrecision(4)} at delta ${task.privacy.delta}, over targetEpsilon ${task.privacy.targetEpsilon}; training of task "${task.id}" stops` };
    }
  }
  const sampled = poissonSample(eligible, task.samplingShare, p.random);
  const round = new FederatedRound(p, layout, eligible.length, new Roster(p.round, new Set(sampled)), budget);
  const announcement: RoundAnnouncement = {
    v: 1,
    task: task.id,
    round: p.round,
    model: task.model,
    globalModelVersion: p.globalModel.version,
    localEpochs: task.localEpochs,
    learningRate: task.learningRate,
    clipNorm: task.clipNorm,
    strategy: task.strategy,
    quantisation: task.quantisation,
    secureAggregation: task.secureAggregation,
    sharedScale: task.secureAggregation ? secureScale(task.clipNorm) : null,
    openedAtMs: round.openedAtMs,
    deadlineAtMs: round.deadlineAtMs,
  };
  const invitations = sampled.map((gateway): RoundInvitation => ({ v: 1, task: task.id, round: p.round, gateway }));
  return { status: 'opened', round, announcement, invitations };
}

function checkGlobalModel(model: GlobalModel): TensorLayout[] {
  if (!Number.isSafeInteger(model.version) || model.version < 0) throw roundError('globalModel.version', `expected an integer >= 0, got ${model.version}`);
  try {
    if (model.parameters.length < 1) throw roundError('globalModel.parameters', 'a model has at least one tensor');
    checkLayout(model.parameters);
    model.parameters.forEach((t, i) => {
      checkFloatTensor(t, `globalModel.parameters[${i}]`);
      const bad = t.values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw roundError(`globalModel.parameters[${i}].values[${bad}]`, `${t.values[bad]} is not finite`);
    });
  } catch (err) {
    if (err instanceof FederatedRoundError) throw err;
    throw roundError('globalModel', err instanceof Error ? err.message : String(err));
  }
  return model.parameters.map((t) => ({ name: t.name, shape: [...t.shape] }));
}
