import {
  ErrorFeedback,
  FederatedError,
  checkMatchesLayout,
  decodeUpdate,
  dequantizeUpdate,
  encodeUpdate,
  quantizeUpdate,
  seededRandom,
  type FloatTensor,
  type QuantizedTensor,
  type RandomSource,
  type TensorLayout,
} from '../../fleet/protocol/federated/index.js';
import { firstNonFinite } from '../../fleet/federated/strategies/aggregation-input.js';

/**
 * How a gateway's delta travels to the fleet:
 * - `float32`: the raw weight delta, 4 bytes per parameter (the FedAvg baseline the issue's
 *   bytes ratio is measured against; no codec, so no quantisation error);
 * - `int8`: the real codec, dense int8 with a per-tensor scale and stochastic rounding;
 * - `top-k`: the real codec, the `density` share of each tensor's largest values, int8, with
 *   error feedback (what was not sent is added to the next round's delta).
 */
export type Transport = { readonly type: 'float32' } | { readonly type: 'int8' } | { readonly type: 'top-k'; readonly density: number };

/** What a gateway hands the uplink: the codec's bytes, or (float32) the delta itself. */
export type UpdatePayload =
  | { readonly kind: 'encoded'; readonly bytes: Uint8Array }
  | { readonly kind: 'float32'; readonly round: number; readonly client: string; readonly samples: number; readonly validationLoss: number | null; readonly tensors: readonly Float32Array[] };

export interface UpdateMeta {
  readonly round: number;
  readonly task: string;
  readonly client: string;
  readonly samples: number;
  readonly validationLoss: number | null;
}

/** Bytes a payload costs on the wire: the encoded message, or 4 per float32 parameter. */
export function payloadBytes(p: UpdatePayload): number {
  return p.kind === 'encoded' ? p.bytes.length : p.tensors.reduce((n, t) => n + 4 * t.length, 0);
}

/**
 * A gateway's sending side for one task: it holds the error-feedback residual (top-k) and the
 * stochastic-rounding source across rounds. Seeded, because the simulation must be
 * reproducible; a real gateway rounds with cryptoRandomSource().
 */
export class GatewayEncoder {
  private readonly feedback: ErrorFeedback | undefined;
  private readonly random: RandomSource;

  constructor(
    readonly transport: Transport,
    layout: readonly TensorLayout[],
    seed: number,
  ) {
    this.feedback = transport.type === 'top-k' ? new ErrorFeedback(layout) : undefined;
    this.random = seededRandom(seed);
  }

  encode(delta: readonly FloatTensor[], meta: UpdateMeta): UpdatePayload {
    if (this.transport.type === 'float32') return { kind: 'float32', round: meta.round, client: meta.client, samples: meta.samples, validationLoss: meta.validationLoss, tensors: delta.map((t) => t.values.slice()) };
    const tensors: QuantizedTensor[] = this.feedback === undefined ? quantizeUpdate(delta, this.random) : this.feedback.compress(delta, this.random, { density: (this.transport as { density: number }).density });
    return { kind: 'encoded', bytes: encodeUpdate({ ...meta, tensors }) };
  }
}

/** Why the fleet refused an update (counted per reason, as the round service will). */
export type RejectReason = 'malformed' | 'wrong-shape' | 'non-finite' | 'stale' | 'duplicate';

export type Intake =
  | { readonly accepted: true; readonly client: string; readonly samples: number; readonly validationLoss: number | null; readonly tensors: Float32Array[] }
  | { readonly accepted: false; readonly reason: RejectReason; readonly detail: string };

/**
 * The fleet's checks on one update of the open round, in the order the round service applies
 * them: it must decode (the codec refuses a NaN or infinite scale, a value out of range, an
 * unknown field: E_FEDERATED_UPDATE), answer this round, come from a gateway that has not
 * answered it yet, and fit the model's layout. Dequantised values are finite by construction
 * of the codec; float32 payloads are checked for NaN and infinities. `answered` is the round's
 * set of clients, updated on acceptance.
 */
export function acceptUpdate(payload: UpdatePayload, round: number, layout: readonly TensorLayout[], answered: Set<string>): Intake {
  let client: string;
  let samples: number;
  let validationLoss: number | null = null;
  let tensors: Float32Array[];
  let answers: number;
  if (payload.kind === 'encoded') {
    let m;
    try {
      m = decodeUpdate(payload.bytes);
    } catch (err) {
      if (!(err instanceof FederatedError)) throw err;
      return { accepted: false, reason: 'malformed', detail: err.message };
    }
    try {
      checkMatchesLayout(m.tensors, layout);
    } catch (err) {
      if (!(err instanceof FederatedError)) throw err;
      return { accepted: false, reason: 'wrong-shape', detail: err.message };
    }
    ({ client, samples, validationLoss } = m);
    answers = m.round;
    tensors = dequantizeUpdate(m.tensors).map((t) => t.values);
  } else {
    ({ client, samples, validationLoss, round: answers } = payload);
    tensors = payload.tensors.map((t) => t.slice());
    if (tensors.length !== layout.length || tensors.some((t, k) => t.length !== (layout[k] as TensorLayout).shape.reduce((a, b) => a * b, 1))) return { accepted: false, reason: 'wrong-shape', detail: 'tensor lengths differ from the model' };
    const bad = tensors.findIndex((t) => firstNonFinite(t) >= 0);
    if (bad >= 0) return { accepted: false, reason: 'non-finite', detail: `tensor ${bad} holds NaN or an infinity` };
  }
  if (answers !== round) return { accepted: false, reason: 'stale', detail: `answers round ${answers}, round ${round} is open` };
  if (answered.has(client)) return { accepted: false, reason: 'duplicate', detail: `${client} has answered round ${round} already` };
  answered.add(client);
  return { accepted: true, client, samples, validationLoss, tensors };
}
