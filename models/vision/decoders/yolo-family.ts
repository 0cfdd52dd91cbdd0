import type { Tensor, TensorSpec } from '../../engine/engine.js';
import { ModelError } from '../../engine/errors.js';
import { decodeYolo, type YoloLayout } from '../yolo.js';
import { describeOutput, outputOf, type DecodeContext, type Decoded, type Fit, type FittedDecoder, type LayoutDecoder } from './decoder.js';

/**
 * The two YOLO layouts over one output; the decoding itself is yolo.ts's, unchanged (it was
 * checked against an independent reference). `valuesDim` is the dimension that holds the
 * values per anchor (YOLOv8 channels first: 1; YOLOv5 rows: 2), `extra` how many of them are
 * not class scores (box, and YOLOv5's objectness).
 */
export function yoloDecoder(layout: YoloLayout, valuesDim: 1 | 2, extra: number, form: string): LayoutDecoder {
  return {
    layout,
    task: 'detection',
    fit(outputs: readonly TensorSpec[]): Fit {
      if (outputs.length !== 1) return { ok: false, reason: `${layout} has one output ${form}, the model has ${outputs.length}` };
      const out = outputs[0] as TensorSpec;
      const s = out.shape;
      if (s.length !== 3) return { ok: false, reason: `${layout} is ${form}, ${describeOutput(out)} is not of rank 3` };
      if (typeof s[0] === 'number' && s[0] !== 1) return { ok: false, reason: `${layout} is ${form} with a batch of 1, ${describeOutput(out)} has ${s[0]}` };
      const values = s[valuesDim] as number | string;
      const anchors = s[3 - valuesDim] as number | string;
      if (typeof values === 'number' && values < extra + 1) return { ok: false, reason: `${layout} is ${form} with C >= 1, ${describeOutput(out)} has ${values - extra} classes` };
      const classes = typeof values === 'number' ? values - extra : undefined;
      const name = out.name;
      const decoder: FittedDecoder = {
        layout,
        task: 'detection',
        classes,
        // Every real export has a fixed number of values per anchor, and far more anchors than that.
        plausible: typeof values === 'number' && (typeof anchors !== 'number' || anchors > values),
        decode(outputs: Readonly<Record<string, Tensor>>, ctx: DecodeContext): Decoded {
          const t = outputOf(outputs, name);
          if (typeof t === 'string') throw new ModelError('E_MODEL_OUTPUT', `${layout}: ${t}`);
          return { kind: 'boxes', candidates: decodeYolo(t.data, t.dims, { layout, confidence: ctx.confidence, ...(classes === undefined ? {} : { numClasses: classes }) }) };
        },
      };
      return { ok: true, decoder };
    },
  };
}
