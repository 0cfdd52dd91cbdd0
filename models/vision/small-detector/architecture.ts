import { Conv2d, type Activations, type ConvSpec } from '../../train/conv/conv2d.js';
import type { Parameter } from '../../train/conv/tensor-adam.js';

/**
 * The small-object detector: a fully convolutional network from an RGB image to a grid of
 * cells at stride 8 (80 x 80 cells at 640 x 640), each predicting a box and C class scores
 * (see README.md, "A detector for small defects", for why this shape).
 *
 *   conv 3x3 stride 2        3 -> 16   ReLU     320 x 320
 *   conv 3x3 stride 2       16 -> 16   ReLU     160 x 160
 *   conv 3x3 stride 2       16 -> 32   ReLU      80 x  80
 *   conv 3x3 dilation 2     32 -> 32   ReLU      80 x  80   receptive field 47 px
 *   conv 1x1                32 -> 32   ReLU
 *   conv 1x1 (head)         32 -> 5 + C
 *
 * Head values per cell (gx, gy): t0, t1 the centre's offset from the cell's centre in cells,
 * t2, t3 the log of the box size in cells, an objectness logit, then one logit per class.
 * Decoded: cx = S (gx + 0.5 + t0), w = S exp(t2), score of class c = sigmoid(objectness)
 * times softmax(class logits)[c] (YOLOv3's split of "is something here" from "what is it").
 */
/** Head channels: 4 box values, then objectness, then the classes. */
export const HEAD_BOX = 4;
export const HEAD_OBJECT = 4;
export const STRIDE = 8;
export const ARCHITECTURE = 'small-detector-s8';
/** Receptive field of a cell, in input pixels (3 -> 7 -> 15 -> 47): it covers a 40 px defect and some of its surroundings. */
export const RECEPTIVE_FIELD = 47;
/** Inputs are normalised as (v - mean) / std on 0..1 values (what the vision stage's `mean`/`std` do). */
export const INPUT_MEAN = [0.5, 0.5, 0.5] as const;
export const INPUT_STD = [0.25, 0.25, 0.25] as const;
/** Objectness bias at the start: every cell says p = 0.01 (RetinaNet's prior), so the many empty cells do not swamp the first steps. */
const PRIOR_PROBABILITY = 0.01;

const conv = (inChannels: number, outChannels: number, kernel: number, stride: number, dilation: number): ConvSpec => ({ inChannels, outChannels, kernel, stride, dilation, pad: (dilation * (kernel - 1)) / 2 });

export function layerSpecs(classes: number): ConvSpec[] {
  return [conv(3, 16, 3, 2, 1), conv(16, 16, 3, 2, 1), conv(16, 32, 3, 2, 1), conv(32, 32, 3, 1, 2), conv(32, 32, 1, 1, 1), conv(32, HEAD_OBJECT + 1 + classes, 1, 1, 1)];
}

/**
 * The network's parameters (what training updates, checkpoints and export read) and its forward
 * pass in TypeScript: the reference the exported ONNX model is tested against. Training itself
 * runs the same layers in ONNX Runtime (../../train/conv/onnx-conv-chain.ts).
 */
export class SmallDetectorNet {
  readonly layers: Conv2d[];

  constructor(readonly classes: number) {
    if (!(Number.isInteger(classes) && classes >= 1)) throw new RangeError(`small detector: classes must be a whole number >= 1, got ${classes}`);
    this.layers = layerSpecs(classes).map((s) => new Conv2d(s));
  }

  initialise(random: () => number): void {
    for (const l of this.layers) l.initialise(random);
    const head = this.layers[this.layers.length - 1] as Conv2d;
    // Small outputs at the start (offset 0, size one cell, classes even), and the prior on objectness.
    head.weight.forEach((w, i) => (head.weight[i] = w * 0.1));
    head.bias[HEAD_OBJECT] = -Math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY);
  }

  /** Every weight and bias by a stable name (`w0`, `b0`, ...): the checkpoint's and the ONNX initializers' names. */
  parameters(): Parameter[] {
    return this.layers.flatMap((l, i) => [
      { name: `w${i}`, value: l.weight, grad: l.gradWeight },
      { name: `b${i}`, value: l.bias, grad: l.gradBias },
    ]);
  }

  zeroGrad(): void {
    for (const l of this.layers) l.zeroGrad();
  }

  /** Raw head values, channel-major over the batch: [5 + C, batch, gridH, gridW]. ReLU is applied in place on each hidden layer's output. */
  forward(x: Activations): Activations {
    let a = x;
    this.layers.forEach((l, i) => {
      a = l.forward(a);
      if (i < this.layers.length - 1) {
        const d = a.data;
        for (let k = 0; k < d.length; k += 1) if ((d[k] as number) < 0) d[k] = 0;
      }
    });
    return a;
  }
}
