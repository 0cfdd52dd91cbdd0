import type { FloatTensor } from '../../protocol/federated/tensor.js';
import { addGaussianNoise, averageOverExpectedClients } from '../privacy/gaussian-noise.js';
import type { PrivacyBudget, PrivacyRoundReport } from '../privacy/privacy-budget.js';
import { FederatedPrivacyError } from '../privacy/privacy-error.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import { clipUpdate } from '../strategies/clip.js';
import { StrategyError } from '../strategies/errors.js';
import type { ConfiguredStrategy } from '../strategies/registry.js';
import type { ModelUpdate } from '../strategies/strategy.js';
import type { StaleUpdate } from './late-buffer.js';
import type { GlobalModel, NoModelReason, RoundRecord } from './record.js';
import type { FederatedTask } from './task.js';
import type { CheckedUpdate } from './update-check.js';

export interface AggregationRequest {
  readonly task: FederatedTask;
  readonly aggregation: ConfiguredStrategy;
  readonly globalModel: GlobalModel;
  /** The round's accepted updates, sorted by gateway (so the result does not depend on arrival order). */
  readonly fresh: readonly CheckedUpdate[];
  /** Buffered late updates of earlier rounds (never with privacy: task.ts refuses that). */
  readonly stale: readonly StaleUpdate[];
  /** The task's budget and the noise's randomness, when the task is private. */
  readonly privacy: { readonly budget: PrivacyBudget; readonly random: UniformSource } | null;
}

interface Common {
  readonly clipped: number;
  readonly combination: RoundRecord['strategy']['combination'];
}

export type AggregationResult =
  | (Common & { readonly ok: true; readonly parameters: FloatTensor[]; readonly deltaNorm: number; readonly selected: readonly string[] | null; readonly privacy: PrivacyRoundReport | null })
  | (Common & { readonly ok: false; readonly reason: NoModelReason; readonly detail: string });

/**
 * A round's close, from accepted updates to new parameters:
 * 1. every update (already dequantised) is clipped to the clip norm by the fleet: the gateway's
 *    own clip is not trusted, and int8 rounding may have pushed a clipped update past C;
 * 2. buffered late updates are scaled by their staleness weight (FedBuff);
 * 3. without privacy, the task's rule combines them (fedavg/fedprox: weighted by sample count);
 *    with privacy, the budget is SPENT first (a round it cannot pay for releases nothing), then
 *    the clipped updates are summed with weight 1, noised with N(0, (z C)^2) per coordinate and
 *    divided by the expected client count q x N (privacy/README: the fixed-denominator estimator);
 * 4. the combined delta is added to the global model's parameters (float32, as the model holds them).
 */
export function aggregateRound(r: AggregationRequest): AggregationResult {
  if (r.fresh.length === 0) return { ok: false, reason: 'below-quorum', detail: 'no accepted updates', clipped: 0, combination: r.privacy === null ? 'rule' : 'dp-noised-sum' };
  const C = r.task.clipNorm;
  let clipped = 0;
  const clip = (tensors: readonly Float32Array[], samples: number): ModelUpdate => {
    const result = clipUpdate({ tensors, samples }, C);
    if (result.clipped) clipped += 1;
    return result.update;
  };
  const fresh = r.fresh.map((u) => clip(u.tensors, u.samples));
  const stale = r.stale.map((s) => {
    const u = clip(s.update.tensors, s.update.samples);
    return { tensors: u.tensors.map((t) => t.map((v) => v * s.weight)), samples: u.samples };
  });

  if (r.privacy !== null && r.task.privacy !== null) {
    const combination = 'dp-noised-sum' as const;
    if (stale.length > 0) return { ok: false, reason: 'aggregation-failed', detail: 'late updates cannot join a private round', clipped, combination };
    const { noiseMultiplier, population } = r.task.privacy;
    let report: PrivacyRoundReport;
    try {
      report = r.privacy.budget.spend({ samplingRate: r.task.samplingShare, noiseMultiplier });
    } catch (err) {
      if (err instanceof FederatedPrivacyError) return { ok: false, reason: 'privacy-budget-spent', detail: err.message, clipped, combination };
      throw err;
    }
    const sum = (fresh[0] as ModelUpdate).tensors.map((t, k) => {
      const acc = new Float64Array(t.length);
      for (const u of fresh) {
        const src = u.tensors[k] as Float32Array;
        for (let j = 0; j < acc.length; j += 1) acc[j] = (acc[j] as number) + (src[j] as number);
      }
      return acc;
    });
    const noisy = addGaussianNoise(sum, { clipNorm: C, noiseMultiplier }, r.privacy.random);
    const delta = averageOverExpectedClients(noisy, r.task.samplingShare * population);
    return applyDelta(r.globalModel, delta, { clipped, combination, selected: null, privacy: report });
  }

  const combination = 'rule' as const;
  const updates = [...fresh, ...stale];
  const owners = [...r.fresh.map((u) => u.gateway), ...r.stale.map((s) => s.update.gateway)];
  try {
    const aggregate = r.aggregation.aggregate(updates);
    const selected = aggregate.selected === null ? null : aggregate.selected.map((i) => owners[i] as string);
    return applyDelta(r.globalModel, aggregate.tensors, { clipped, combination, selected, privacy: null });
  } catch (err) {
    if (err instanceof StrategyError) return { ok: false, reason: 'aggregation-failed', detail: err.message, clipped, combination };
    throw err;
  }
}

/** Adds the combined delta to the global model's parameters (float32); a non-finite result is `aggregation-failed`. */
export function applyDelta(model: GlobalModel, delta: readonly (Float32Array | Float64Array)[], rest: Common & { selected: readonly string[] | null; privacy: PrivacyRoundReport | null }): AggregationResult {
  let norm2 = 0;
  const parameters: FloatTensor[] = [];
  for (const [k, p] of model.parameters.entries()) {
    const d = delta[k] as Float32Array | Float64Array;
    const values = new Float32Array(p.values.length);
    for (let j = 0; j < values.length; j += 1) {
      const x = d[j] as number;
      norm2 += x * x;
      values[j] = (p.values[j] as number) + x;
      if (!Number.isFinite(values[j])) {
        return { ok: false, reason: 'aggregation-failed', detail: `${p.name}[${j}] would be ${values[j]} (${p.values[j]} + ${x})`, clipped: rest.clipped, combination: rest.combination };
      }
    }
    parameters.push({ name: p.name, shape: [...p.shape], values });
  }
  return { ok: true, parameters, deltaNorm: Math.sqrt(norm2), ...rest };
}
