import { MAX_SCALE } from '../../protocol/federated/quantize.js';
import { decodeSignedSum, INT8_LEVELS, type SecAggReason } from '../../protocol/secure-aggregation/index.js';
import { applyDelta, type AggregationResult } from './aggregate-round.js';
import { roundError } from './errors.js';
import type { ClosedBy, GlobalModel, NoModelReason } from './record.js';

/**
 * What a secure round's record says about the protocol (record.ts `secureAggregation`): the
 * shared scale, who was left after each step, who dropped, and every refused message by the
 * protocol's reason. Counts and ids only: the fleet never holds an individual update to record.
 */
export interface SecureRoundSummary {
  /** The shared int8 scale announced: one quantisation step, in the delta's units. */
  readonly scale: number;
  readonly levels: number;
  readonly threshold: number;
  readonly graph: 'complete' | 'harary';
  /** |U1|, |U2|, |U3|: gateways that advertised keys, whose shares were delivered, whose masked input is in the sum. */
  readonly advertised: number;
  readonly dealt: number;
  readonly masked: number;
  /** Survivors that answered the unmasking request. */
  readonly responded: number;
  /** U2 \ U3: dealt shares, sent no masked input; their pairwise masks were rebuilt and removed. */
  readonly dropped: readonly string[];
  /** How the mean is taken: the decoded sum over |U3|, every survivor weighted 1 (sample counts are not sent). */
  readonly weighting: 'mean-over-survivors';
  /** Secure-aggregation messages refused, by the protocol's reason (E_SECAGG `reason`, `malformed` for bytes that do not decode). */
  readonly refusals: Readonly<Partial<Record<SecAggReason, number>>>;
  /** Shares that failed their dealer's digest (left out of the reconstruction). */
  readonly rejectedShares: number;
}

/** How a secure round's collection ended, handed to FederatedRound.closeSecure by the round service. */
export type SecureSumOutcome =
  | { readonly ok: true; readonly sum: Uint32Array; readonly survivors: readonly string[]; readonly closedBy: ClosedBy; readonly closedAtMs: number; readonly summary: SecureRoundSummary }
  | { readonly ok: false; readonly reason: NoModelReason; readonly detail: string; readonly survivors: readonly string[]; readonly closedBy: ClosedBy; readonly closedAtMs: number; readonly summary: SecureRoundSummary };

/**
 * The shared scale of a secure round: clipNorm / 127, rounded UP to a float32 (the announcement
 * carries a float32). Every gateway clips its delta to L2 norm <= clipNorm, so no coordinate
 * exceeds clipNorm and q = stochasticRound(delta / scale) lies in [-127, 127]: nothing
 * overflows int8 and nothing is cut off. Rounding up keeps clipNorm / scale <= 127 exactly.
 */
export function secureScale(clipNorm: number): number {
  if (!(Number.isFinite(clipNorm) && clipNorm > 0)) throw roundError('clipNorm', `expected a positive finite number, got ${clipNorm}`);
  let s = Math.fround(clipNorm / INT8_LEVELS);
  while (s * INT8_LEVELS < clipNorm) s = nextUpFloat32(s);
  if (s > MAX_SCALE) throw roundError('clipNorm', `${clipNorm} gives a shared scale over ${MAX_SCALE}`);
  return s;
}

function nextUpFloat32(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] as number) + 1;
  return f[0] as number;
}

/**
 * From the unmasked sum of the survivors' quantised deltas (mod 2^32) to the new global model:
 * read the sum as signed integers (decodeSignedSum refuses a count for which it could have
 * wrapped), times the shared scale, divided by the number of survivors (the plain mean: sample
 * counts are not sent, since in the clear they would tell the fleet about each gateway, and
 * inside the masked vector they would cost a second ring word per coordinate), added to the
 * global model. No fleet-side clip: the fleet never sees an update to clip; each gateway clipped
 * its own before quantising, and an int8 word cannot exceed 127 steps.
 */
export function aggregateSecureSum(r: { readonly globalModel: GlobalModel; readonly sum: Uint32Array; readonly survivors: number; readonly scale: number }): AggregationResult {
  const combination = 'rule' as const;
  const length = r.globalModel.parameters.reduce((n, t) => n + t.values.length, 0);
  if (r.sum.length !== length) return { ok: false, reason: 'aggregation-failed', detail: `the unmasked sum has ${r.sum.length} words, the model ${length} parameters`, clipped: 0, combination };
  const q = decodeSignedSum(r.sum, r.survivors, INT8_LEVELS);
  const factor = r.scale / r.survivors;
  let at = 0;
  const delta = r.globalModel.parameters.map((t) => {
    const d = new Float64Array(t.values.length);
    for (let j = 0; j < d.length; j += 1) d[j] = (q[at + j] as number) * factor;
    at += d.length;
    return d;
  });
  return applyDelta(r.globalModel, delta, { clipped: 0, combination, selected: null, privacy: null });
}
