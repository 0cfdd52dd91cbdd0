import type { Tensor, TensorSpec } from '../../engine/engine.js';
import { ModelError } from '../../engine/errors.js';
import type { Detection } from '../nms.js';
import { describeOutput, outputOf, type DecodeContext, type Decoded, type Fit, type LayoutDecoder } from './decoder.js';

const FORM = 'two outputs, scores [1, N, 1 + C] and boxes [1, N, 4]';

/** Which of two outputs holds the boxes: the one named so, else the only one whose last dimension is 4. */
function boxesIndex(outputs: readonly TensorSpec[]): number | string {
  const named = outputs.map((o) => /box/i.test(o.name));
  if (named.filter(Boolean).length === 1) return named.indexOf(true);
  const fours = outputs.map((o) => o.shape[2] === 4);
  if (fours.filter(Boolean).length === 1) return fours.indexOf(true);
  return `cannot tell boxes from scores in ${outputs.map(describeOutput).join(' and ')} (name one of them "boxes")`;
}

/**
 * SSD-style heads with the boxes and the class scores as separate outputs, as UltraFace
 * (version-RFB-320: `scores [1, 4420, 2]` (background, face), `boxes [1, 4420, 4]`) and other
 * raw SSD exports give them: per anchor, the probability of each class with class 0 the
 * background (so a model of C classes has 1 + C scores; class id k is score column k + 1),
 * and the box as x1, y1, x2, y2 normalised to the model's input (0..1).
 */
export const ssdDecoder: LayoutDecoder = {
  layout: 'ssd',
  task: 'detection',
  fit(outputs: readonly TensorSpec[]): Fit {
    if (outputs.length !== 2) return { ok: false, reason: `ssd has ${FORM}, the model has ${outputs.length} output${outputs.length === 1 ? '' : 's'}` };
    for (const o of outputs) {
      if (o.shape.length !== 3 || (typeof o.shape[0] === 'number' && o.shape[0] !== 1)) return { ok: false, reason: `ssd has ${FORM}, ${describeOutput(o)} is not [1, N, k]` };
    }
    const bi = boxesIndex(outputs);
    if (typeof bi === 'string') return { ok: false, reason: `ssd: ${bi}` };
    const boxes = outputs[bi] as TensorSpec;
    const scores = outputs[1 - bi] as TensorSpec;
    if (typeof boxes.shape[2] === 'number' && boxes.shape[2] !== 4) return { ok: false, reason: `ssd boxes are [1, N, 4], ${describeOutput(boxes)} is not` };
    const [nb, ns] = [boxes.shape[1], scores.shape[1]];
    if (typeof nb === 'number' && typeof ns === 'number' && nb !== ns) return { ok: false, reason: `ssd scores and boxes have one row per anchor, ${describeOutput(scores)} and ${describeOutput(boxes)} differ` };
    const width = scores.shape[2];
    if (typeof width === 'number' && width < 2) return { ok: false, reason: `ssd scores are [1, N, 1 + C] (background first), ${describeOutput(scores)} has no class besides the background` };
    const classes = typeof width === 'number' ? width - 1 : undefined;
    const [scoresName, boxesName] = [scores.name, boxes.name];
    return {
      ok: true,
      decoder: {
        layout: 'ssd',
        task: 'detection',
        classes,
        plausible: true,
        decode(out: Readonly<Record<string, Tensor>>, ctx: DecodeContext): Decoded {
          const s = outputOf(out, scoresName);
          const b = outputOf(out, boxesName);
          if (typeof s === 'string' || typeof b === 'string') throw new ModelError('E_MODEL_OUTPUT', `ssd: ${typeof s === 'string' ? s : String(b)}`);
          const n = s.dims[1] as number;
          const k = s.dims[2] as number;
          if (s.dims.length !== 3 || b.dims.length !== 3 || b.dims[1] !== n || b.dims[2] !== 4 || (classes !== undefined && k !== classes + 1) || s.data.length < n * k || b.data.length < n * 4) {
            throw new ModelError('E_MODEL_OUTPUT', `ssd: expected scores [1, N, ${classes === undefined ? '1 + C' : classes + 1}] and boxes [1, N, 4], got [${s.dims.join(', ')}] and [${b.dims.join(', ')}]`);
          }
          const { width: W, height: H } = ctx.input;
          const candidates: Detection[] = [];
          for (let a = 0; a < n; a += 1) {
            let best = -1;
            let score = -Infinity;
            for (let c = 1; c < k; c += 1) {
              const v = s.data[a * k + c] as number;
              if (v > score) {
                score = v;
                best = c - 1;
              }
            }
            if (!(score >= ctx.confidence)) continue;
            const x1 = (b.data[a * 4] as number) * W;
            const y1 = (b.data[a * 4 + 1] as number) * H;
            const w = (b.data[a * 4 + 2] as number) * W - x1;
            const h = (b.data[a * 4 + 3] as number) * H - y1;
            if (!(w > 0 && h > 0)) continue;
            candidates.push({ box: { x: x1, y: y1, w, h }, score, classId: best });
          }
          return { kind: 'boxes', candidates };
        },
      },
    };
  },
};
