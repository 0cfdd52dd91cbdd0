import { cborEncode } from '../../fleet/protocol/cbor.js';
import type { FloatTensor, RandomSource } from '../../fleet/protocol/federated/index.js';
import type { GatewayEncoder, UpdateMeta, UpdatePayload } from './update-transport.js';

/**
 * What a Byzantine gateway sends instead of its honest delta (it trains like the others, then
 * corrupts the result):
 * - `sign-flip`: the delta negated (pushes the model away from where its data says);
 * - `scale-100`: the delta times 100 (a boosted update, the classic model-replacement push);
 * - `nan`: NaN in its values, written as CBOR by hand since our encoder refuses non-finite
 *   values: the fleet's decoder rejects the NaN scale (E_FEDERATED_UPDATE), so this update is
 *   counted as rejected and never reaches the aggregation rule;
 * - `random`: uniform noise of 10 times the largest value of its honest delta, per tensor.
 * The corrupted deltas (but `nan`) go through the gateway's real encoder, as a compromised
 * gateway running our software would send them.
 */
export const ATTACKS = ['sign-flip', 'scale-100', 'nan', 'random'] as const;
export type AttackKind = (typeof ATTACKS)[number];

const RANDOM_MAGNITUDE = 10;

export function corruptDelta(kind: Exclude<AttackKind, 'nan'>, delta: readonly FloatTensor[], random: RandomSource): FloatTensor[] {
  return delta.map((t) => {
    const v = t.values;
    const out = new Float32Array(v.length);
    if (kind === 'sign-flip') for (let j = 0; j < v.length; j += 1) out[j] = -(v[j] as number);
    else if (kind === 'scale-100') for (let j = 0; j < v.length; j += 1) out[j] = 100 * (v[j] as number);
    else {
      let max = 0;
      for (const x of v) max = Math.max(max, Math.abs(x));
      for (let j = 0; j < v.length; j += 1) out[j] = (random() * 2 - 1) * RANDOM_MAGNITUDE * max;
    }
    return { name: t.name, shape: t.shape, values: out };
  });
}

/** The payload a Byzantine gateway of `kind` sends in place of `delta`. */
export function byzantinePayload(kind: AttackKind, delta: readonly FloatTensor[], meta: UpdateMeta, encoder: GatewayEncoder, random: RandomSource): UpdatePayload {
  if (kind !== 'nan') return encoder.encode(corruptDelta(kind, delta, random), meta);
  if (encoder.transport.type === 'float32') return { kind: 'float32', round: meta.round, client: meta.client, samples: meta.samples, validationLoss: meta.validationLoss, tensors: delta.map((t) => new Float32Array(t.values.length).fill(Number.NaN)) };
  // A hand-written message in the update format (fleet/protocol/federated/README.md) with NaN scales.
  const tensors = delta.map((t) => ({ name: t.name, shape: [...t.shape], scale: Number.NaN, q: new Uint8Array(t.values.length).fill(1) }));
  return { kind: 'encoded', bytes: cborEncode({ v: 1, round: meta.round, task: meta.task, client: meta.client, samples: meta.samples, valLoss: meta.validationLoss, tensors }) };
}
