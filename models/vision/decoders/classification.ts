import type { Tensor, TensorSpec } from '../../engine/engine.js';
import { ModelError } from '../../engine/errors.js';
import { softmax } from '../classify.js';
import { describeOutput, outputOf, type Decoded, type Fit, type LayoutDecoder } from './decoder.js';

/**
 * Already probabilities (the model ends in Softmax): every value in 0..1 and the sum 1 within
 * float32 rounding. Logits are softmaxed; softmax of probabilities would flatten them.
 */
function areProbabilities(v: Float32Array): boolean {
  let sum = 0;
  for (const x of v) {
    if (!(x >= 0 && x <= 1)) return false;
    sum += x;
  }
  return Math.abs(sum - 1) <= 1e-3;
}

/** A whole-frame classifier: one output `[1, C]` (or `[1, C, 1, 1]`, as some CNN exports end) of logits or probabilities, C >= 2. */
export const classificationDecoder: LayoutDecoder = {
  layout: 'classification',
  task: 'classification',
  fit(outputs: readonly TensorSpec[]): Fit {
    if (outputs.length !== 1) return { ok: false, reason: `classification has one output [1, C], the model has ${outputs.length}` };
    const out = outputs[0] as TensorSpec;
    const s = out.shape;
    const trailingOnes = s.slice(2).every((d) => d === 1);
    if (!((s.length === 2 || (s.length === 4 && trailingOnes)) && (typeof s[0] !== 'number' || s[0] === 1))) return { ok: false, reason: `classification is [1, C], ${describeOutput(out)} is not` };
    const c = s[1] as number | string;
    if (typeof c === 'number' && c < 2) return { ok: false, reason: `classification is [1, C] with C >= 2, ${describeOutput(out)} has ${c} class` };
    const classes = typeof c === 'number' ? c : undefined;
    const name = out.name;
    return {
      ok: true,
      decoder: {
        layout: 'classification',
        task: 'classification',
        classes,
        plausible: true,
        decode(outputs: Readonly<Record<string, Tensor>>): Decoded {
          const t = outputOf(outputs, name);
          if (typeof t === 'string') throw new ModelError('E_MODEL_OUTPUT', `classification: ${t}`);
          const n = t.dims.reduce((a, b) => a * b, 1);
          if (t.dims[0] !== 1 || (classes !== undefined && n !== classes) || t.data.length !== n) throw new ModelError('E_MODEL_OUTPUT', `classification: expected [1, ${classes ?? 'C'}], got [${t.dims.join(', ')}]`);
          return { kind: 'classes', probabilities: areProbabilities(t.data) ? Float64Array.from(t.data) : softmax(t.data) };
        },
      },
    };
  },
};
