import { at, integerField, mapping, numberField, required, show } from './task-fields.js';
import { taskError } from './errors.js';

/**
 * What happens to an update that arrives after its round closed (a straggler):
 * - `drop`: it is counted (`late-dropped`) and thrown away. The default, and the only policy
 *   that composes with differential privacy and secure aggregation (task.ts says why).
 * - `buffer`: it is checked like any update and kept for the next round that closes with a
 *   model, where it joins the aggregation with its delta scaled by 1 / (1 + staleness)^a, as
 *   FedBuff does (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous
 *   Aggregation"): staleness is how many rounds after its own it is applied (1 for the next
 *   round). The delta was computed against an older global model, so the older it is the less
 *   it should move the current one. At most `maxBuffered` are held; past `maxStaleness` rounds
 *   an update is dropped (`expired` in the round record).
 */
export type LateUpdatePolicy =
  | { readonly type: 'drop' }
  | {
      readonly type: 'buffer';
      /** a in 1 / (1 + staleness)^a: 0 applies stale updates at full weight, 0.5 is FedBuff's choice, larger forgets faster. */
      readonly stalenessExponent: number;
      /** Rounds after its own that a buffered update may still be applied. */
      readonly maxStaleness: number;
      /** Buffered updates at once: each holds a dequantised copy of the model's delta. */
      readonly maxBuffered: number;
    };

export const LATE_POLICY_DEFAULTS = { stalenessExponent: 0.5, maxStaleness: 4, maxBuffered: 64 } as const;
export const LATE_POLICY_LIMITS = { maxStalenessExponent: 8, maxStaleness: 64, maxBuffered: 1000 } as const;

/** The FedBuff staleness weight 1 / (1 + staleness)^a: 1 for a fresh update, decreasing in staleness. */
export function stalenessWeight(staleness: number, exponent: number): number {
  if (!Number.isInteger(staleness) || staleness < 0) throw new RangeError(`staleness must be an integer >= 0, got ${staleness}`);
  return (1 + staleness) ** -exponent;
}

export function parseLatePolicy(raw: unknown, field: string): LateUpdatePolicy {
  if (raw === undefined) return { type: 'drop' };
  const f = mapping(raw, field, ['type', 'stalenessExponent', 'maxStaleness', 'maxBuffered']);
  const type = required(f, 'type', field);
  if (type === 'drop') {
    mapping(raw, field, ['type']);
    return { type: 'drop' };
  }
  if (type !== 'buffer') throw taskError(at(field, 'type'), `expected "drop" or "buffer", got ${show(type)}`);
  return {
    type: 'buffer',
    stalenessExponent: f['stalenessExponent'] === undefined ? LATE_POLICY_DEFAULTS.stalenessExponent : numberField(f['stalenessExponent'], at(field, 'stalenessExponent'), 0, LATE_POLICY_LIMITS.maxStalenessExponent, false),
    maxStaleness: f['maxStaleness'] === undefined ? LATE_POLICY_DEFAULTS.maxStaleness : integerField(f['maxStaleness'], at(field, 'maxStaleness'), 1, LATE_POLICY_LIMITS.maxStaleness),
    maxBuffered: f['maxBuffered'] === undefined ? LATE_POLICY_DEFAULTS.maxBuffered : integerField(f['maxBuffered'], at(field, 'maxBuffered'), 1, LATE_POLICY_LIMITS.maxBuffered),
  };
}
