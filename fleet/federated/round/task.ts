import { TASK_ID_PATTERN } from '../../protocol/federated/update-encoding.js';
import { PrivacyBudget } from '../privacy/privacy-budget.js';
import { checkDelta, checkEpsilon, checkNoiseMultiplier, FederatedPrivacyError } from '../privacy/privacy-error.js';
import { MIN_CLIP_BOUND } from '../strategies/clip.js';
import { StrategyError } from '../strategies/errors.js';
import { configureAggregation, refuseSecureAggregationMismatch, strategyByName, type AggregationStrategy, type ConfiguredStrategy } from '../strategies/registry.js';
import type { StrategyOptions } from '../strategies/strategy.js';
import { taskError } from './errors.js';
import { checkJsonValue, type JsonValue } from './json-value.js';
import { parseLatePolicy, type LateUpdatePolicy } from './late-policy.js';
import { ROUND_LIMITS } from './limits.js';
import { at, booleanField, integerField, mapping, numberField, required, show, stringField } from './task-fields.js';

/** How gateways send their delta (fleet/protocol/federated): dense int8, or top-k of each tensor (then int8). */
export type Quantisation = { readonly type: 'int8' } | { readonly type: 'top-k'; readonly density: number };

/**
 * Central differential privacy (privacy/): Gaussian noise of z x clipNorm on the sum of clipped
 * updates, accounted per round, until the target (epsilon, delta) is spent.
 */
export interface DifferentialPrivacy {
  /** z: the noise's standard deviation in units of the clip norm. */
  readonly noiseMultiplier: number;
  readonly targetEpsilon: number;
  readonly delta: number;
  /**
   * N: the task's declared number of eligible gateways, a public constant. The noised sum is
   * divided by samplingShare x N, never by the count that reported (privacy/README).
   */
  readonly population: number;
}

/** A checked task: plain JSON (what the database stores), defaults filled in. */
export interface FederatedTask {
  /** The task id updates carry (`task` in the update message). */
  readonly id: string;
  /** The model the task trains (a model release name). */
  readonly model: string;
  /** Which gateways take part: opaque here, interpreted by the registry when a round lists the eligible ones. */
  readonly gatewaySelector: JsonValue;
  readonly strategy: { readonly type: string; readonly options: StrategyOptions };
  readonly localEpochs: number;
  readonly learningRate: number;
  /** C: every update is clipped to L2 norm <= C (by the gateway before sending, and again by the fleet). */
  readonly clipNorm: number;
  /** The quorum: a round makes a model only from at least this many good updates. */
  readonly minClients: number;
  /** q: each eligible gateway is drawn into a round independently with this probability. */
  readonly samplingShare: number;
  readonly deadlineMs: number;
  readonly lateUpdates: LateUpdatePolicy;
  readonly secureAggregation: boolean;
  readonly privacy: DifferentialPrivacy | null;
  readonly quantisation: Quantisation;
}

/** Model names as model releases spell them (fleet/protocol/model-release.ts). */
export const MODEL_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';

const TASK_KEYS = ['id', 'model', 'gatewaySelector', 'strategy', 'localEpochs', 'learningRate', 'clipNorm', 'minClients', 'samplingShare', 'deadlineMs', 'lateUpdates', 'secureAggregation', 'privacy', 'quantisation'];

/**
 * Checks a task definition (pure) and returns it with defaults filled in. Anything wrong is
 * E_FEDERATED_TASK with `field` naming it (`privacy.delta`, `strategy.options`,
 * `lateUpdates.type`). The rule, its options and the quorum are checked by the strategies
 * registry; the privacy numbers by the privacy module, which must also afford one round.
 */
export function parseFederatedTask(raw: unknown): FederatedTask {
  const f = mapping(raw, 'task', TASK_KEYS, (key) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : `task[${JSON.stringify(key)}]`));
  const id = stringField(required(f, 'id'), 'id', new RegExp(TASK_ID_PATTERN), `a task id (${TASK_ID_PATTERN})`);
  const model = stringField(required(f, 'model'), 'model', new RegExp(MODEL_NAME_PATTERN), `a model name (${MODEL_NAME_PATTERN})`);
  const gatewaySelector = checkJsonValue(required(f, 'gatewaySelector'), 'gatewaySelector');
  const localEpochs = integerField(required(f, 'localEpochs'), 'localEpochs', 1, ROUND_LIMITS.maxLocalEpochs);
  const learningRate = numberField(required(f, 'learningRate'), 'learningRate', 0, ROUND_LIMITS.maxLearningRate, true);
  const clipNorm = numberField(required(f, 'clipNorm'), 'clipNorm', MIN_CLIP_BOUND, ROUND_LIMITS.maxClipNorm, false, ' (the L2 bound of one update)');
  const minClients = integerField(required(f, 'minClients'), 'minClients', 1, ROUND_LIMITS.maxEligibleGateways);
  const samplingShare = numberField(required(f, 'samplingShare'), 'samplingShare', 0, 1, true, " (each eligible gateway's chance of being drawn into a round)");
  const deadlineMs = integerField(required(f, 'deadlineMs'), 'deadlineMs', ROUND_LIMITS.minDeadlineMs, ROUND_LIMITS.maxDeadlineMs);
  const secureAggregation = f['secureAggregation'] === undefined ? false : booleanField(f['secureAggregation'], 'secureAggregation');
  const { strategy, configured } = parseStrategy(required(f, 'strategy'), minClients, secureAggregation);
  const lateUpdates = parseLatePolicy(f['lateUpdates'], 'lateUpdates');
  const quantisation = parseQuantisation(f['quantisation']);
  const privacy = f['privacy'] === undefined || f['privacy'] === null ? null : parsePrivacy(f['privacy']);

  if (lateUpdates.type === 'buffer' && secureAggregation) {
    throw taskError('lateUpdates.type', 'a late buffer cannot work with secure aggregation: the fleet sees only the masked sum of the round\'s survivors, never a single late update to keep; use "drop"');
  }
  if (quantisation.type === 'top-k' && secureAggregation) {
    throw taskError('quantisation.type', 'top-k cannot work with secure aggregation: every coordinate is masked, so a sparse update saves nothing, and masked integers need one shared scale (fleet/protocol/secure-aggregation); use "int8"');
  }
  if (privacy !== null) checkPrivacyFits(privacy, { strategy, lateUpdates, samplingShare, minClients });
  return { id, model, gatewaySelector, strategy: { type: strategy.name, options: configured.options }, localEpochs, learningRate, clipNorm, minClients, samplingShare, deadlineMs, lateUpdates, secureAggregation, privacy, quantisation };
}

/** The task's rule with its options bound (pure; cheap enough to call again for each round). */
export function taskAggregation(task: FederatedTask): ConfiguredStrategy {
  return configureAggregation({ strategy: task.strategy.type, options: task.strategy.options, minClients: task.minClients, secureAggregation: task.secureAggregation });
}

function parseStrategy(raw: unknown, minClients: number, secureAggregation: boolean): { strategy: AggregationStrategy; configured: ConfiguredStrategy } {
  const s = mapping(raw, 'strategy', ['type', 'options']);
  const type = required(s, 'type', 'strategy');
  const strategy = asTaskError('strategy.type', () => strategyByName(type));
  asTaskError('secureAggregation', () => refuseSecureAggregationMismatch(strategy, secureAggregation));
  const configured = asTaskError('strategy.options', () => strategy.configure(s['options'], { minClients }));
  if (minClients < configured.minUpdates) throw taskError('minClients', `${strategy.name} needs at least ${configured.minUpdates} updates per round with these options, but minClients is ${minClients}`);
  // The registry's whole check, as the authority; the steps above only name the field.
  asTaskError('strategy', () => configureAggregation({ strategy: type, options: s['options'], minClients, secureAggregation }));
  return { strategy, configured };
}

function parseQuantisation(raw: unknown): Quantisation {
  if (raw === undefined) return { type: 'int8' };
  const q = mapping(raw, 'quantisation', ['type', 'density']);
  const type = required(q, 'type', 'quantisation');
  if (type === 'int8') {
    mapping(raw, 'quantisation', ['type']);
    return { type: 'int8' };
  }
  if (type !== 'top-k') throw taskError('quantisation.type', `expected "int8" or "top-k", got ${show(type)}`);
  const density = numberField(required(q, 'density', 'quantisation'), 'quantisation.density', 0, 1, true, ' (the share of each tensor sent)');
  if (density === 1) throw taskError('quantisation.density', 'density 1 sends every value: choose "int8"');
  return { type: 'top-k', density };
}

function parsePrivacy(raw: unknown): DifferentialPrivacy {
  const p = mapping(raw, 'privacy', ['noiseMultiplier', 'targetEpsilon', 'delta', 'population']);
  const field = (key: string): string => at('privacy', key);
  return {
    noiseMultiplier: asTaskError(field('noiseMultiplier'), () => checkNoiseMultiplier(required(p, 'noiseMultiplier', 'privacy'), field('noiseMultiplier'))),
    targetEpsilon: asTaskError(field('targetEpsilon'), () => checkEpsilon(required(p, 'targetEpsilon', 'privacy'), field('targetEpsilon'))),
    delta: asTaskError(field('delta'), () => checkDelta(required(p, 'delta', 'privacy'), field('delta'))),
    population: integerField(required(p, 'population', 'privacy'), field('population'), 1, ROUND_LIMITS.maxEligibleGateways),
  };
}

/** The cross-field rules of a private task, and whether the budget affords even one round. */
function checkPrivacyFits(privacy: DifferentialPrivacy, t: { strategy: AggregationStrategy; lateUpdates: LateUpdatePolicy; samplingShare: number; minClients: number }): void {
  if (!t.strategy.composesWithSecureAggregation) {
    throw taskError('privacy', `differential privacy is accounted for the noised SUM of clipped updates (sensitivity: one clip norm); ${t.strategy.name} does not work from the sum, so one gateway's effect on it is not bounded by that and the accountant's epsilon would not hold. Use fedavg or fedprox with privacy`);
  }
  if (t.lateUpdates.type === 'buffer') {
    throw taskError('lateUpdates.type', 'a late buffer cannot work with differential privacy: a buffered update joins a later round\'s sum, where the same gateway may also be drawn and send a fresh one, so it would count twice in one release (sensitivity 2C, not the C accounted); use "drop"');
  }
  const expected = t.samplingShare * privacy.population;
  if (expected < t.minClients) {
    throw taskError('samplingShare', `samplingShare ${t.samplingShare} of a population of ${privacy.population} draws ${expected.toPrecision(4)} gateways per round on average, fewer than minClients ${t.minClients}: most rounds would close without a model`);
  }
  const budget = asTaskError('privacy', () => new PrivacyBudget({ epsilon: privacy.targetEpsilon, delta: privacy.delta }));
  const first = budget.decide({ samplingRate: t.samplingShare, noiseMultiplier: privacy.noiseMultiplier });
  if (!first.allowed) {
    throw taskError('privacy', `one round with samplingShare ${t.samplingShare} and noiseMultiplier ${privacy.noiseMultiplier} already spends epsilon ${first.epsilonAfter.toPrecision(4)} at delta ${privacy.delta}, over targetEpsilon ${privacy.targetEpsilon}: raise the noise, lower the share, or raise the target`);
  }
}

/** Runs a check of another module and turns its error into E_FEDERATED_TASK naming `field`. */
function asTaskError<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof StrategyError) throw taskError(field, err.message, { cause: err });
    if (err instanceof FederatedPrivacyError) throw taskError(err.field.startsWith('privacy') ? err.field : field, err.message.replace(/^[^:]*: /, ''), { cause: err });
    throw err;
  }
}
