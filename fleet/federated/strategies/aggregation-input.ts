import { updateError } from './errors.js';
import { STRATEGY_LIMITS } from './limits.js';
import type { ModelUpdate } from './strategy.js';

/** The shape every update of an aggregation shares. */
export interface UpdateShape {
  /** Length of each tensor. */
  readonly lengths: readonly number[];
  /** Sum of the lengths. */
  readonly parameters: number;
}

/**
 * Checks what a rule is given before it computes anything: at least one and at most
 * `maxUpdates` updates, every one with the first one's tensor shapes, a positive integer sample
 * count, and only finite values. The fleet's update checks reject such updates before they get
 * here; this is the rule's own guard, so a bad input is refused by name instead of turning the
 * global model into NaN.
 */
export function checkAggregationInput(updates: readonly ModelUpdate[], maxUpdates: number = STRATEGY_LIMITS.maxUpdates): UpdateShape {
  if (!Array.isArray(updates)) throw updateError(`updates must be a list of updates, got ${typeof updates}`);
  if (updates.length === 0) throw updateError('no updates to aggregate: a round needs at least one accepted update');
  if (updates.length > maxUpdates) throw updateError(`${updates.length} updates is more than this rule takes at once (${maxUpdates})`);
  const first = updates[0] as ModelUpdate;
  if (!Array.isArray(first.tensors) || first.tensors.length === 0) throw updateError('update 0 has no tensors');
  if (first.tensors.length > STRATEGY_LIMITS.maxTensors) throw updateError(`update 0 has ${first.tensors.length} tensors, more than ${STRATEGY_LIMITS.maxTensors}`);
  const lengths = first.tensors.map((t, k) => {
    if (!(t instanceof Float32Array)) throw updateError(`update 0, tensor ${k}: expected a Float32Array, got ${describe(t)}`);
    return t.length;
  });
  const parameters = lengths.reduce((a, b) => a + b, 0);
  if (parameters > STRATEGY_LIMITS.maxParameters) throw updateError(`updates of ${parameters} parameters are more than ${STRATEGY_LIMITS.maxParameters}`);
  updates.forEach((u, i) => {
    const s = u.samples;
    if (!Number.isInteger(s) || s < 1 || s > STRATEGY_LIMITS.maxSamples) throw updateError(`update ${i}: samples must be an integer from 1 to ${STRATEGY_LIMITS.maxSamples}, got ${String(s)}`);
    if (!Array.isArray(u.tensors) || u.tensors.length !== lengths.length) throw updateError(`update ${i} has ${Array.isArray(u.tensors) ? u.tensors.length : 'no'} tensors, update 0 has ${lengths.length}: every update of a round must have the model's shapes`);
    u.tensors.forEach((t: unknown, k: number) => {
      if (!(t instanceof Float32Array)) throw updateError(`update ${i}, tensor ${k}: expected a Float32Array, got ${describe(t)}`);
      if (t.length !== lengths[k]) throw updateError(`update ${i}, tensor ${k} has ${t.length} values, update 0's has ${lengths[k] as number}: every update of a round must have the model's shapes`);
      const bad = firstNonFinite(t);
      if (bad >= 0) throw updateError(`update ${i}, tensor ${k}, value ${bad} is ${String(t[bad])}: updates must be finite`);
    });
  });
  return { lengths, parameters };
}

/** Index of the first NaN or infinity, or -1. */
export function firstNonFinite(values: Float32Array): number {
  // x * 0 is 0 for every finite x and NaN otherwise: one multiply-add per value, and the slow
  // search only when something is wrong.
  let probe = 0;
  for (let j = 0; j < values.length; j += 1) probe += (values[j] as number) * 0;
  if (probe === 0) return -1;
  return values.findIndex((v) => !Number.isFinite(v));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'an object';
}
