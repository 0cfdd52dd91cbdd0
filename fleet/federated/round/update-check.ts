import { FederatedError } from '../../protocol/federated/errors.js';
import { dequantizeTensor } from '../../protocol/federated/quantize.js';
import { checkMatchesLayout, type QuantizedTensor, type TensorLayout } from '../../protocol/federated/tensor.js';
import { MAX_CALIBRATION_WINDOWS, MAX_SAMPLES, type LogErrorMomentsWire, type UpdateMessage } from '../../protocol/federated/update-encoding.js';
import { firstNonFinite } from '../strategies/aggregation-input.js';
import { l2Norm } from '../strategies/flat.js';
import { largestSentTensor, normTolerance } from './norm-bound.js';
import type { RejectionReason } from './rejection.js';

/** An update that passed every check of its own content: its delta dequantised, one Float32Array per tensor of the layout. */
export interface CheckedUpdate {
  readonly gateway: string;
  readonly round: number;
  readonly samples: number;
  readonly validationLoss: number | null;
  /** The log-error moments of the client's held-out windows under the round's global model; null when it sent none. */
  readonly calibration: LogErrorMomentsWire | null;
  readonly tensors: readonly Float32Array[];
  /** L2 norm of the dequantised delta (before the fleet's clip). */
  readonly norm: number;
}

export type ContentCheck = { readonly ok: true; readonly update: CheckedUpdate } | { readonly ok: false; readonly reason: RejectionReason; readonly detail: string };

const fail = (reason: RejectionReason, detail: string): ContentCheck => ({ ok: false, reason, detail });

/**
 * The checks of an update's content, in order: the model's layout (wrong-shape), the message's
 * own consistency (malformed: decoded messages always pass, typed ones handed in-process may
 * not), dequantised values (non-finite), and the norm against the clip norm times the
 * tolerance of norm-bound.ts (norm-over-bound). Each looks at this update alone, never at the
 * others of the round, which the privacy guarantee needs (privacy/README).
 */
export function checkUpdateContent(message: UpdateMessage, layout: readonly TensorLayout[], clipNorm: number): ContentCheck {
  if (!Number.isInteger(message.samples) || message.samples < 1 || message.samples > MAX_SAMPLES) return fail('malformed', `samples ${String(message.samples)}: expected an integer from 1 to ${MAX_SAMPLES}`);
  const loss = message.validationLoss;
  if (loss !== null && !(typeof loss === 'number' && Number.isFinite(loss) && loss >= 0)) return fail('malformed', `validationLoss ${String(loss)}: expected a finite number >= 0 or null`);
  const calibration = message.calibration ?? null;
  if (calibration !== null) {
    const { n, sum, sumSq } = calibration;
    if (!Number.isInteger(n) || n < 1 || n > MAX_CALIBRATION_WINDOWS || !Number.isFinite(sum) || !Number.isFinite(sumSq) || sumSq < 0) {
      return fail('malformed', `calibration {n: ${String(n)}, sum: ${String(sum)}, sumSq: ${String(sumSq)}}: expected n from 1 to ${MAX_CALIBRATION_WINDOWS}, finite sums, sumSq >= 0`);
    }
  }
  if (!Array.isArray(message.tensors)) return fail('malformed', 'tensors: expected a list');
  try {
    checkMatchesLayout(message.tensors, layout);
  } catch (err) {
    if (err instanceof FederatedError) return fail('wrong-shape', err.message);
    throw err;
  }
  for (const [i, t] of message.tensors.entries()) {
    const problem = structureProblem(t);
    if (problem !== null) return fail('malformed', `tensors[${i}] "${t.name}": ${problem}`);
  }
  const tensors = message.tensors.map((t) => dequantizeTensor(t).values);
  for (const [i, values] of tensors.entries()) {
    const bad = firstNonFinite(values);
    if (bad >= 0) return fail('non-finite', `${(layout[i] as TensorLayout).name}[${bad}] is ${String(values[bad])} (scale ${String(message.tensors[i]?.scale)})`);
  }
  const norm = l2Norm(tensors);
  const tolerance = normTolerance(largestSentTensor(message.tensors));
  if (norm > clipNorm * tolerance) return fail('norm-over-bound', `L2 norm ${norm.toPrecision(6)} is over ${(clipNorm * tolerance).toPrecision(6)} (clip norm ${clipNorm} x tolerance ${tolerance.toPrecision(6)} for int8 rounding)`);
  return { ok: true, update: { gateway: message.client, round: message.round, samples: message.samples, validationLoss: loss, calibration, tensors, norm } };
}

/** What is wrong with a quantised tensor whose name and shape are right, or null. */
function structureProblem(t: QuantizedTensor): string | null {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (!(t.q instanceof Int8Array)) return 'q is not an Int8Array';
  if (typeof t.scale !== 'number') return 'scale is not a number';
  if (t.q.includes(-128)) return 'q holds -128 (outside -127..127)';
  if (t.indices === undefined) return t.q.length === n ? null : `${t.q.length} values for ${n} elements`;
  if (!(t.indices instanceof Uint32Array)) return 'indices is not a Uint32Array';
  if (t.indices.length !== t.q.length) return `${t.q.length} values for ${t.indices.length} indices`;
  for (let j = 0; j < t.indices.length; j += 1) {
    const x = t.indices[j] as number;
    if (x >= n || (j > 0 && x <= (t.indices[j - 1] as number))) return `indices[${j}] = ${x}: expected ascending distinct indices below ${n}`;
  }
  return null;
}
